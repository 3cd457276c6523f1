"""Clearing of a settlement date: totals, the cross-region matrix, net settlement.

Why (DOMAIN.md §1): a card of home region A used in region B is settled by
B with the hospital; A owes B the insurance-fund part, and the personal
account part, reported separately. At cutover the gateway totals each
settlement date from its journal, and nets what every pair of regions owes
each other into **one instruction per pair**: who pays whom how much. Every
fen one region pays another receives, so the net positions of all regions
sum to zero; the report checks and says so.

How: the journal is streamed (``Journal.transactions``, bounded memory), in
two passes. The first reads the day's reversals and voids and keeps the keys
of the originals they cancel in a temporary SQLite table on disk (never a
set in memory as large as the day). The second classifies every record of
the date (:func:`~sscard_gateway.clearing.treatment`) and adds the settling
ones to totals per region and kind and to the matrix (treating region x
home region). A next-day reversal (``C3``) looks its original up and counts
its amounts negatively, on the reversal's own date. Aggregates are keyed by
region codes, whose number is bounded (a few thousand regions at most),
never by transaction.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable

import attrs

from ..ids import AmountSplit
from ..store import Journal, TransactionQuery, TransactionRecord, TransactionStatus
from ._progress import Progress
from ._rules import ClearingRules, RegionLevel, Treatment, treatment, was_approved

__all__ = [
    "ClearingReport",
    "MatrixCell",
    "NetInstruction",
    "Position",
    "TotalRow",
    "clear",
    "net_settlement",
]


@attrs.frozen(kw_only=True)
class TotalRow:
    """Settling records of one region and kind (amounts in fen).

    Attributes:
        region: the treating region at the report's level (``""``: none).
        kind: the transaction kind.
        count: records (a next-day reversal counts as one).
        total, fund, personal_account, cash: sums; a next-day reversal
            subtracts its original's amounts.
    """

    region: str
    kind: str
    count: int
    total: int
    fund: int
    personal_account: int
    cash: int


@attrs.frozen(kw_only=True)
class MatrixCell:
    """What the home region owes the treating region for cross-region settlements.

    Attributes:
        treating: the region where the card was used.
        home: the card's home region.
        count: records.
        fund: the insurance-fund part (fen; refunds and next-day reversals
            negative).
        personal_account: the personal-account part (fen).
    """

    treating: str
    home: str
    count: int
    fund: int
    personal_account: int


@attrs.frozen(kw_only=True)
class NetInstruction:
    """One settlement instruction per region pair: ``payer`` pays ``payee`` ``amount``.

    Attributes:
        payer, payee: region codes.
        amount: fen, never negative (``0``: the pair's debts cancel).
        fund, personal_account: the net of each part in the same direction;
            they add up to ``amount`` (one may be negative).
    """

    payer: str
    payee: str
    amount: int
    fund: int
    personal_account: int


@attrs.frozen(kw_only=True)
class Position:
    """A region's net position: what it receives minus what it pays (fen)."""

    region: str
    receives: int
    pays: int

    @property
    def net(self) -> int:
        """``receives - pays``."""
        return self.receives - self.pays


@attrs.frozen(kw_only=True)
class ClearingReport:
    """The clearing of one settlement date.

    Attributes:
        settlement_date: ``YYYYMMDD``.
        region_level: how regions were aggregated.
        records: journal records of the date.
        treatments: records by :class:`Treatment` value (settling or not).
        totals: settling records per region and kind.
        matrix: cross-region cells (treating != home at the report's level).
        net: one instruction per region pair.
        positions: every region's net position.
    """

    settlement_date: str
    region_level: RegionLevel
    records: int
    treatments: dict[str, int]
    totals: tuple[TotalRow, ...]
    matrix: tuple[MatrixCell, ...]
    net: tuple[NetInstruction, ...]
    positions: tuple[Position, ...]

    @property
    def settling(self) -> int:
        """Records that settle (next-day reversals included)."""
        return sum(n for name, n in self.treatments.items() if Treatment(name).settles)

    @property
    def net_sum(self) -> int:
        """The sum of every region's net position: ``0`` when the books balance."""
        return sum(p.net for p in self.positions)

    @property
    def balanced(self) -> bool:
        """Whether the net positions sum to zero."""
        return self.net_sum == 0


def net_settlement(
    matrix: tuple[MatrixCell, ...] | list[MatrixCell],
) -> tuple[tuple[NetInstruction, ...], tuple[Position, ...]]:
    """Net the matrix into one instruction per region pair, and the positions.

    For a pair ``{a, b}``, ``a`` owes ``b`` the cells where ``b`` treated
    ``a``'s cards, less the cells where ``a`` treated ``b``'s.

    Args:
        matrix: cross-region cells.

    Returns:
        The instructions (sorted by payer, payee) and the positions (sorted
        by region).
    """
    owed: dict[tuple[str, str], tuple[int, int]] = {}
    for cell in matrix:
        fund, personal = owed.get((cell.home, cell.treating), (0, 0))
        owed[(cell.home, cell.treating)] = (fund + cell.fund, personal + cell.personal_account)
    instructions: list[NetInstruction] = []
    receives: Counter[str] = Counter()
    pays: Counter[str] = Counter()
    for a, b in sorted({tuple(sorted(pair)) for pair in owed}):
        ab_fund, ab_personal = owed.get((a, b), (0, 0))
        ba_fund, ba_personal = owed.get((b, a), (0, 0))
        fund, personal = ab_fund - ba_fund, ab_personal - ba_personal
        payer, payee = (a, b) if fund + personal >= 0 else (b, a)
        if payer != a:
            fund, personal = -fund, -personal
        amount = fund + personal
        instructions.append(
            NetInstruction(
                payer=payer, payee=payee, amount=amount, fund=fund, personal_account=personal
            )
        )
        pays[payer] += amount
        receives[payee] += amount
    positions = tuple(
        Position(region=r, receives=receives[r], pays=pays[r])
        for r in sorted(set(receives) | set(pays))
    )
    instructions.sort(key=lambda n: (n.payer, n.payee))
    return tuple(instructions), positions


class _Cancelled:
    """Keys of originals cancelled on the date, in a temporary on-disk SQLite table."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("")  # "": a private temporary file, deleted at close
        self._db.execute("CREATE TABLE cancelled (key TEXT PRIMARY KEY) WITHOUT ROWID")

    def add_all(self, keys: Iterable[str]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO cancelled (key) VALUES (?)", ((k,) for k in keys)
            )

    def __contains__(self, key: str) -> bool:
        return (
            self._db.execute("SELECT 1 FROM cancelled WHERE key = ?", (key,)).fetchone() is not None
        )

    def close(self) -> None:
        self._db.close()


class _Accumulator:
    def __init__(self, level: RegionLevel, rules: ClearingRules) -> None:
        self.level = level
        self.rules = rules
        self.records = 0
        self.treatments: Counter[str] = Counter()
        self.totals: dict[tuple[str, str], list[int]] = {}
        self.cells: dict[tuple[str, str], list[int]] = {}

    def add(
        self, record: TransactionRecord, how: Treatment, sign: int, source: TransactionRecord
    ) -> None:
        # ``source`` carries the amounts and regions: the record itself, or
        # for a next-day reversal its original (with sign -1).
        self.records += 1
        self.treatments[how.value] += 1
        if not how.settles:
            return
        level = self.level
        treating = level.of(source.treating_region)
        home = level.of(source.home_region)
        a: AmountSplit = source.amount
        row = self.totals.setdefault((treating or home, record.kind), [0, 0, 0, 0, 0])
        row[0] += 1
        row[1] += sign * a.total
        row[2] += sign * a.fund
        row[3] += sign * a.personal_account
        row[4] += sign * a.cash
        if treating and home and treating != home and (a.fund or a.personal_account):
            s = sign * self.rules.sign(source.kind)
            cell = self.cells.setdefault((treating, home), [0, 0, 0])
            cell[0] += 1
            cell[1] += s * a.fund
            cell[2] += s * a.personal_account

    def report(self, settlement_date: str) -> ClearingReport:
        totals = tuple(
            TotalRow(
                region=r,
                kind=k,
                count=v[0],
                total=v[1],
                fund=v[2],
                personal_account=v[3],
                cash=v[4],
            )
            for (r, k), v in sorted(self.totals.items())
        )
        matrix = tuple(
            MatrixCell(treating=t, home=h, count=v[0], fund=v[1], personal_account=v[2])
            for (t, h), v in sorted(self.cells.items())
        )
        net, positions = net_settlement(matrix)
        return ClearingReport(
            settlement_date=settlement_date,
            region_level=self.level,
            records=self.records,
            treatments=dict(sorted(self.treatments.items())),
            totals=totals,
            matrix=matrix,
            net=net,
            positions=positions,
        )


def clear(
    journal: Journal,
    settlement_date: str,
    *,
    region_level: RegionLevel = RegionLevel.FULL,
    rules: ClearingRules | None = None,
    page_size: int = 2000,
    progress: Progress | None = None,
) -> ClearingReport:
    """Clear one settlement date from the journal.

    Args:
        journal: any journal (streamed page by page).
        settlement_date: ``YYYYMMDD``; read it once the date is cut over.
        region_level: aggregate regions by province, city or full code.
        rules: the kinds that are inquiries, reversals, voids, credits.
        page_size: journal rows read per page.
        progress: called as ``progress("clearing", records_done, None)``.

    Returns:
        The report.

    Raises:
        JournalError: the journal failed.
        ValueError: ``settlement_date`` is not ``YYYYMMDD``.
    """
    rules = rules or ClearingRules()
    query = TransactionQuery(settlement_date=settlement_date)  # validates the date
    cancelled = _Cancelled()
    try:
        cancelling = TransactionQuery(settlement_date=settlement_date, kinds=rules.cancelling_kinds)
        cancelled.add_all(
            r.original_key
            for r in journal.transactions(cancelling, page_size=page_size)
            if r.status is TransactionStatus.APPROVED and r.original_key
        )
        acc = _Accumulator(region_level, rules)
        for n, record in enumerate(journal.transactions(query, page_size=page_size), 1):
            _add(acc, journal, record, rules, cancelled)
            if progress is not None and n % 10_000 == 0:
                progress("clearing", n, None)
        if progress is not None:
            progress("clearing", acc.records, acc.records)
        return acc.report(settlement_date)
    finally:
        cancelled.close()


def _add(
    acc: _Accumulator,
    journal: Journal,
    record: TransactionRecord,
    rules: ClearingRules,
    cancelled: _Cancelled,
) -> None:
    original = None
    if record.kind in rules.cancelling_kinds and record.original_key:
        original = journal.get_transaction(record.original_key)
        if original is not None and not was_approved(original.response_code):
            original = None  # never approved: nothing of it settled, nothing to claim
    reversed_same_day = record.status is TransactionStatus.REVERSED and (
        record.transaction_key in cancelled or not was_approved(record.response_code)
    )
    how = treatment(record, rules=rules, reversed_same_day=reversed_same_day, original=original)
    if how is Treatment.NEXT_DAY_REVERSAL:
        assert original is not None
        acc.add(record, how, -1, original)
    else:
        acc.add(record, how, 1, record)
