"""What reconciliation finds: outcomes, discrepancies, adjustments, the report.

Why these shapes (DOMAIN.md §6, reconciliation practice): every approved
journal record with a CUPS leg is matched to UnionPay's file on RRN + F7 +
STAN + acquirer. A match is clean, or differs in **amount** or in
**status** (one side settles, the other does not); a file line with no
journal record is **long** (长款), an approved journal record with no file
line **short** (短款). Each discrepancy gets one **adjustment** (差错): what
to do, and its effect in fen, ``amount = what the file settles - what the
journal settles`` for that match key. So for any date::

    journal settled + sum of adjustments = file settled

which the report checks. A next-day reversal (``C3``) has no line in the
file (UnionPay refuses a reversal after cutover): its adjustment claims the
cash part back from UnionPay and stays outside that sum.

Discrepancies never hold a clear PAN: the masked PAN only.
"""

from __future__ import annotations

import enum

import attrs

from ._acom import AcomProblem

__all__ = [
    "Action",
    "Adjustment",
    "Discrepancy",
    "Outcome",
    "ReconciliationReport",
    "StoreChanges",
]


class Outcome(enum.Enum):
    """What reconciliation found for one match key."""

    MATCHED = "matched"
    AMOUNT_MISMATCH = "amount_mismatch"
    STATUS_MISMATCH = "status_mismatch"
    LONG = "long"
    """In UnionPay's file only."""
    SHORT = "short"
    """Approved in the journal, absent from the file."""
    NEXT_DAY_REVERSAL = "next_day_reversal"
    """A ``C3`` reversal of an earlier date's CUPS transaction."""


class Action(enum.Enum):
    """What an adjustment asks for."""

    BOOK_OR_DISPUTE = "book_or_dispute"
    """UnionPay settled what the journal does not: book it, or dispute it."""
    CLAIM = "claim"
    """The journal settled what UnionPay did not: claim it, or undo it with the center."""
    ADJUST_AMOUNT = "adjust_amount"
    """Both settled, with different amounts: correct the difference."""
    CLAIM_REFUND = "claim_refund"
    """A next-day reversal: claim the cash part back from UnionPay."""


@attrs.frozen(kw_only=True)
class Discrepancy:
    """One match key that does not reconcile cleanly.

    Attributes:
        settlement_date: ``YYYYMMDD``.
        match_key: ``RRN|F7|STAN|ACQUIRER`` (for a next-day reversal, its
            original's).
        outcome: long, short, amount or status mismatch, next-day reversal.
        transaction_key: the journal record's key (``""`` when long).
        file_line: the file's line number (``0`` when not in the file).
        journal_amount, file_amount: fen, ``None`` for the side that has none.
        journal_treatment: how the journal record clears
            (:class:`~sscard_gateway.clearing.Treatment` value), or ``""``.
        file_response_code: the file line's response code, or ``""``.
        mti, processing_code: of the file line, else of the journal record.
        pan_masked: the masked PAN.
    """

    settlement_date: str
    match_key: str
    outcome: Outcome
    transaction_key: str = ""
    file_line: int = 0
    journal_amount: int | None = None
    file_amount: int | None = None
    journal_treatment: str = ""
    file_response_code: str = ""
    mti: str = ""
    processing_code: str = ""
    pan_masked: str = ""


@attrs.frozen(kw_only=True)
class Adjustment:
    """The correction one discrepancy calls for.

    Attributes:
        settlement_date, match_key, outcome: as the discrepancy's.
        action: what to do.
        amount: fen, what the file settles minus what the journal settles
            for this key (a next-day reversal: minus the cash to claim back).
        note: one line for the person who acts on it.
    """

    settlement_date: str
    match_key: str
    outcome: Outcome
    action: Action
    amount: int
    note: str


@attrs.frozen(kw_only=True)
class StoreChanges:
    """What saving a reconciliation changed in the store: ``0, 0, 0`` on a rerun.

    Attributes:
        inserted: new rows (discrepancies, adjustments, problems, the run).
        updated: rows whose content changed.
        cleared: discrepancies and adjustments of an earlier run no longer
            found (kept, with state ``cleared``), and problems removed.
    """

    inserted: int = 0
    updated: int = 0
    cleared: int = 0

    @property
    def total(self) -> int:
        """All changes."""
        return self.inserted + self.updated + self.cleared

    def __add__(self, other: StoreChanges) -> StoreChanges:
        """The changes of both."""
        return StoreChanges(
            inserted=self.inserted + other.inserted,
            updated=self.updated + other.updated,
            cleared=self.cleared + other.cleared,
        )


@attrs.frozen(kw_only=True)
class ReconciliationReport:
    """The reconciliation of one settlement date against UnionPay's file.

    Attributes:
        settlement_date: ``YYYYMMDD``.
        file_name, file_sha256: the file reconciled and its digest.
        file_lines: lines read; malformed_lines: those with a problem.
        problems: the first problems found; problem_count: all of them.
        journal_records: records of the date in the journal.
        matched: clean pairs (one journal record, one file line).
        amount_mismatches, status_mismatches: pairs that differ.
        long: file lines with no journal record.
        short: settling journal records with a CUPS leg and no file line.
        not_settling: the other journal records, by reason: a
            :class:`~sscard_gateway.clearing.Treatment` value, or
            ``no_cups_leg`` (nothing went to CUPS as our transaction).
        journal_settled, file_settled: fen each side settles.
        adjustments_total: the sum of the adjustments' amounts (next-day
            reversal claims excluded); claims_total: those claims.
        changes: what saving the results changed.
    """

    settlement_date: str
    file_name: str
    file_sha256: str
    file_lines: int
    malformed_lines: int
    problems: tuple[AcomProblem, ...]
    problem_count: int
    journal_records: int
    matched: int
    amount_mismatches: int
    status_mismatches: int
    long: int
    short: int
    not_settling: dict[str, int]
    journal_settled: int
    file_settled: int
    adjustments_total: int
    claims_total: int
    changes: StoreChanges = StoreChanges()

    @property
    def pairs(self) -> int:
        """Journal records matched to a file line, cleanly or not."""
        return self.matched + self.amount_mismatches + self.status_mismatches

    @property
    def discrepancies(self) -> int:
        """Match keys with an adjustment (next-day reversals included)."""
        return (
            self.amount_mismatches
            + self.status_mismatches
            + self.long
            + self.short
            + self.not_settling.get(Outcome.NEXT_DAY_REVERSAL.value, 0)
        )

    @property
    def balanced(self) -> bool:
        """``journal_settled + adjustments_total == file_settled``."""
        return self.journal_settled + self.adjustments_total == self.file_settled
