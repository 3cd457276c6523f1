"""The judge: money invariants checked against the peers' records, after the faults stopped.

Why a judge outside the gateway: the gateway's journal says what the
gateway believes; the switch's ledger and each requester's record say what
happened. A gateway that lost money can hold a perfectly consistent
journal. So every rule here compares the peers' records first, and the
journal second:

1. **one answer**: no requester got two different final answers to one request;
2. **money agreement**: for every card, each ledger (the switch's, each home
   center's) holds an approved, unreversed debit exactly when its requester
   was told it was approved, did not reverse it, and expected that ledger to
   hold it (a debit whose reversal the switch refused ``C3``, after its
   date was cut over, counts as reversed: reconciliation claims it back);
   every advice a requester was told was accepted is held once, or refused
   for good by its destination and in the exception queue;
3. **no double effect**: no reversal or advice took effect twice anywhere;
4. **legal journal**: every row in a state of the transition tables, no
   leg left ``sent``, no transaction ``pending``, an approved transaction's
   legs all approved, a transaction that is not approved holding no leg
   that holds money;
5. **journal equals ledgers**: a leg the journal holds approved is held by
   its destination's ledger; a leg the journal holds reversed is not;
6. **nothing owed**: nothing left owed but items of the exception queue,
   each with its reason.

The day's clearing and reconciliation are judged apart
(:func:`~._clearing_check.day_clears`).

A requester's card numbers identify its requests here (the workloads give
every transaction a card of its own), so a violation names the request by
its key and the card masked, never in clear.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import attrs

from ..engine import holds_money
from ..ids import mask_pan
from ..iso import Dialect
from ..sim import EntryKind, Ledger, RequesterRecord
from ..store import (
    Journal,
    LegKind,
    LegState,
    OwedItem,
    OwedKind,
    OwedStatus,
    TransactionStatus,
)

__all__ = ["Violation", "judge"]


@attrs.frozen
class Violation:
    """One broken invariant.

    Attributes:
        rule: the invariant's name (``money``, ``one-answer``...).
        detail: what was found (card numbers masked).
    """

    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


def _held(ledger: Ledger) -> tuple[Counter[str], Counter[str]]:
    """Held financial entries and advices of a ledger, counted by card."""
    financial: Counter[str] = Counter()
    advices: Counter[str] = Counter()
    for entry in ledger.held():
        (advices if entry.kind is EntryKind.ADVICE else financial)[entry.pan] += 1
    return financial, advices


def refused_advices(journal: Journal) -> list[OwedItem]:
    """Advices in the exception queue: their destination refused them for good."""
    items = journal.owed_items(status=OwedStatus.EXCEPTION, limit=1_000_000)
    return [item for item in items if item.kind is OwedKind.ADVICE]


def _refused_advices(journal: Journal, dialects: Mapping[str, Dialect]) -> dict[str, Counter[str]]:
    """:func:`refused_advices`, counted by destination and card."""
    refused: dict[str, Counter[str]] = {}
    for item in refused_advices(journal):
        dialect = dialects.get(item.destination)
        if dialect is None:
            continue
        pan = str(dialect.decode(item.payload).fields.get(2, ""))
        refused.setdefault(item.destination, Counter())[pan] += 1
    return refused


def _money(
    requesters: Mapping[str, RequesterRecord],
    ledgers: Mapping[str, Ledger],
    refused: Mapping[str, Counter[str]],
) -> list[Violation]:
    found: list[Violation] = []
    expected: dict[str, Counter[str]] = {name: Counter() for name in ledgers}
    advised: dict[str, Counter[str]] = {name: Counter() for name in ledgers}
    for requester, record in requesters.items():
        if record.duplicate_answers:
            found.append(Violation("one-answer", f"{requester}: {record.duplicate_answers}"))
        for told in record.entries():
            for name in told.expects:
                if name not in ledgers:
                    continue
                if told.advice and told.approved:
                    advised[name][told.pan] += 1
                elif not told.advice and told.holds:
                    expected[name][told.pan] += 1
    for name, ledger in ledgers.items():
        held, advices = _held(ledger)
        for entry in ledger.held():  # refused C3: claimed back by reconciliation, not held
            if entry.kind is EntryKind.FINANCIAL and ledger.effects(entry.key).next_day:
                held[entry.pan] -= 1
        for pan in sorted(set(held) | set(expected[name])):
            if held[pan] != expected[name][pan]:
                found.append(
                    Violation(
                        "money",
                        f"{name} holds {held[pan]} debit(s) of card {mask_pan(pan)}; "
                        f"its requester knows of {expected[name][pan]}",
                    )
                )
        excused = refused.get(name, Counter())
        for pan in sorted(set(advices) | set(advised[name])):
            if advices[pan] + excused[pan] != advised[name][pan]:
                found.append(
                    Violation(
                        "advice",
                        f"{name} holds {advices[pan]} advice(s) of card {mask_pan(pan)}; "
                        f"{advised[name][pan]} were accepted from a requester",
                    )
                )
        for key, effects in ledger.effect_counts().items():
            if effects.applied > 1 or effects.reversed > 1:
                found.append(Violation("double", f"{name} applied {key} twice: {effects}"))
    return found


def _normal(dialect: Dialect, leg_key: str) -> tuple[str, ...]:
    parts = leg_key.split("|")
    fields = dialect.spec.transaction_key
    return tuple(p.lstrip("0") if n in (32, 33) else p for n, p in zip(fields, parts, strict=False))


def _journal(
    journal: Journal, ledgers: Mapping[str, Ledger], dialects: Mapping[str, Dialect]
) -> list[Violation]:
    found: list[Violation] = []
    for record in journal.transactions():
        key = record.transaction_key
        if record.status is TransactionStatus.PENDING:
            found.append(Violation("journal", f"{key} is still pending"))
        for leg in journal.legs(key):
            dialect = dialects[leg.destination]
            if leg.state is LegState.SENT:
                found.append(Violation("journal", f"leg {leg.leg_id} is still sent"))
            money = holds_money(leg, dialect)
            if record.status is TransactionStatus.APPROVED:
                if leg.kind is LegKind.REQUEST and not money:
                    found.append(Violation("journal", f"{key} approved, leg {leg.leg_id} not"))
            elif money:
                found.append(
                    Violation("journal", f"{key} is {record.status.value}, leg {leg.leg_id} holds")
                )
            ledger = ledgers.get(leg.destination)
            if ledger is None:
                continue
            entry = ledger.entry(_normal(dialect, leg.leg_key))
            held = (
                entry is not None
                and not entry.reversed
                and entry.response_code == "00"
                and not ledger.effects(entry.key).next_day
            )
            if leg.state is LegState.ANSWERED and money and not held:
                found.append(Violation("view", f"leg {leg.leg_id} approved, not held by peer"))
            if leg.state is LegState.REVERSED and held:
                found.append(Violation("view", f"leg {leg.leg_id} reversed, held by peer"))
            if leg.state is LegState.ADVISED and entry is None:
                found.append(Violation("view", f"advice {leg.leg_id} delivered, peer has none"))
    for item in journal.owed_items(status=OwedStatus.OWED, limit=1_000_000):
        found.append(Violation("owed", f"{item.kind.value} {item.id} is still owed"))
    for item in journal.owed_items(status=OwedStatus.EXCEPTION, limit=1_000_000):
        if not item.reason:
            found.append(Violation("owed", f"{item.id} is in the exception queue with no reason"))
    return found


def judge(
    *,
    requesters: Mapping[str, RequesterRecord],
    ledgers: Mapping[str, Ledger],
    journal: Journal,
    dialects: Mapping[str, Dialect],
) -> list[Violation]:
    """Check every invariant (module docs); an empty list means none is broken.

    Args:
        requesters: each requester's record, by the link name it sends on
            (a center's name; the switch's name for the requests it
            originates).
        ledgers: each peer's ledger by the link name the gateway reaches it
            on (the switch's name; each home center's name).
        journal: the gateway's journal.
        dialects: each link's dialect.

    Returns:
        The violations found.
    """
    refused = _refused_advices(journal, dialects)
    return _money(requesters, ledgers, refused) + _journal(journal, ledgers, dialects)
