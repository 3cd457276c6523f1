"""Property: any sequence of batches of groups through SQLiteJournal equals a plain model.

The model is the journal's meaning in a few lines: dicts kept in insertion
order, compare-and-set updates, groups applied whole or not at all.
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from sscard_gateway.ids import AmountSplit
from sscard_gateway.store import (
    LEG_TRANSITIONS,
    OWED_TRANSITIONS,
    TRANSACTION_TRANSITIONS,
    AddOwed,
    Duplicate,
    GroupResult,
    InsertLeg,
    InsertTransaction,
    JournalStatistics,
    LegKind,
    LegRecord,
    LegState,
    NotFound,
    Op,
    OpResult,
    OwedItem,
    OwedKind,
    OwedStatus,
    Refused,
    SQLiteJournal,
    TransactionQuery,
    TransactionRecord,
    TransactionStatus,
    UpdateLeg,
    UpdateOwed,
    UpdateTransaction,
)

KEYS = [f"K{i}" for i in range(4)]
IDS = [f"o{i}" for i in range(4)]
LEGS = [f"K{i}#{s}" for i in range(2) for s in (1, 2)]
small_times = st.integers(0, 20).map(float)
codes = st.none() | st.sampled_from(["00", "05", "51", "98"])
# Mostly OWED, so the due queue often holds several items to order.
owed_statuses = st.sampled_from([OwedStatus.OWED] * 3 + list(OwedStatus))


@st.composite
def inserts(draw: st.DrawFn) -> InsertTransaction:
    return InsertTransaction(
        TransactionRecord(
            transaction_key=draw(st.sampled_from(KEYS)),
            kind=draw(st.sampled_from(["purchase", "medical_settlement"])),
            mti="0200",
            source="center",
            created_at=draw(small_times),
            settlement_date=draw(st.sampled_from(["20241126", "20241127"])),
            amount=AmountSplit.from_parts(
                fund=draw(st.integers(0, 10**6)), personal_account=0, cash=draw(st.integers(0, 99))
            ),
            status=draw(st.sampled_from(TransactionStatus)),
        )
    )


def moves(draw: st.DrawFn, table: Any) -> tuple[frozenset[Any] | None, Any]:
    """A state change the table allows from every expected state, or a guard, or nothing."""
    targets = [new for new in table if any(new in table[old] for old in table)]
    choice = draw(st.sampled_from(["none", "guard", "move"]))
    if choice == "none":
        return None, None
    if choice == "guard":
        return frozenset(draw(st.lists(st.sampled_from(list(table)), min_size=1))), None
    new = draw(st.sampled_from(targets))
    sources = [old for old in table if new in table[old]]
    return frozenset(draw(st.lists(st.sampled_from(sources), min_size=1))), new


@st.composite
def transaction_updates(draw: st.DrawFn) -> UpdateTransaction:
    expect, status = moves(draw, TRANSACTION_TRANSITIONS)
    return UpdateTransaction(
        transaction_key=draw(st.sampled_from(KEYS)),
        updated_at=draw(small_times),
        expect=expect,
        status=status,
        response_code=draw(codes),
        responded_at=draw(st.none() | small_times),
        destination=draw(st.none() | st.sampled_from(["cups", "center"])),
        upstream_key=draw(st.none() | st.sampled_from(["U1", "U2"])),
    )


@st.composite
def leg_inserts(draw: st.DrawFn) -> InsertLeg:
    leg_id = draw(st.sampled_from(LEGS))
    key, step = leg_id.split("#")
    return InsertLeg(
        LegRecord(
            leg_id=leg_id,
            transaction_key=key,
            step=int(step),
            kind=draw(st.sampled_from(LegKind)),
            destination=draw(st.sampled_from(["cups", "center-110000"])),
            mti="0200",
            stan=draw(st.sampled_from(["000001", "000002"])),
            leg_key="0101000000|000001|48020000|48020000",
            amount=draw(st.integers(0, 10**6)),
            payload=draw(st.binary(max_size=40)),
            created_at=draw(small_times),
            state=draw(st.sampled_from(LegState)),
        )
    )


@st.composite
def leg_updates(draw: st.DrawFn) -> UpdateLeg:
    expect, state = moves(draw, LEG_TRANSITIONS)
    if expect is None:
        expect = frozenset(LegState)
    return UpdateLeg(
        leg_id=draw(st.sampled_from(LEGS)),
        updated_at=draw(small_times),
        expect=expect,
        state=state,
        response_code=draw(codes),
    )


@st.composite
def owed_adds(draw: st.DrawFn) -> AddOwed:
    return AddOwed(
        OwedItem(
            id=draw(st.sampled_from(IDS)),
            kind=draw(st.sampled_from(OwedKind)),
            destination="cups",
            transaction_key=draw(st.sampled_from(KEYS)),
            payload=draw(st.binary(max_size=40)),
            created_at=draw(small_times),
            next_attempt_at=draw(small_times),
            status=draw(owed_statuses),
            stan=draw(st.sampled_from(["", "000003"])),
        )
    )


@st.composite
def owed_updates(draw: st.DrawFn) -> UpdateOwed:
    expect, status = moves(draw, OWED_TRANSITIONS)
    return UpdateOwed(
        id=draw(st.sampled_from(IDS)),
        updated_at=draw(small_times),
        expect=expect,
        attempts=draw(st.none() | st.integers(0, 9)),
        next_attempt_at=draw(st.none() | small_times),
        status=status,
        last_response_code=draw(codes),
        repeat=draw(st.none() | st.booleans()),
        reason=draw(st.none() | st.just("expired")),
    )


ops = st.one_of(
    inserts(),
    transaction_updates(),
    leg_inserts(),
    leg_updates(),
    owed_adds(),
    owed_adds(),
    owed_updates(),
)
groups = st.lists(st.lists(ops, max_size=4), max_size=5)
batches = st.lists(groups, max_size=5)


def changes(op: Any, names: tuple[str, ...]) -> dict[str, Any]:
    found = {name: getattr(op, name) for name in names if getattr(op, name) is not None}
    found["updated_at"] = op.updated_at
    return found


class Model:
    """The journal's meaning: dicts in insertion order, compare-and-set, whole groups."""

    def __init__(self) -> None:
        self.transactions: dict[str, TransactionRecord] = {}
        self.legs: dict[str, LegRecord] = {}
        self.owed: dict[str, OwedItem] = {}

    def group(self, group: list[Op]) -> GroupResult:
        saved = (dict(self.transactions), dict(self.legs), dict(self.owed))
        results = []
        for index, op in enumerate(group):
            result = self.apply(op)
            if isinstance(result, Duplicate | Refused | NotFound):
                self.transactions, self.legs, self.owed = saved
                return GroupResult(stopped_at=index, stopper=result)
            results.append(result)
        return GroupResult(results=tuple(results))

    @staticmethod
    def _update(
        table: dict[str, Any], key: str, op: Any, state: str, names: tuple[str, ...]
    ) -> Any:
        if key not in table:
            return NotFound(key)
        current = table[key]
        if op.expect is not None and getattr(current, state) not in op.expect:
            return Refused(current)
        new = attrs.evolve(current, **changes(op, names))
        table[key] = new
        return new

    def apply(self, op: Op) -> OpResult:
        if isinstance(op, InsertTransaction):
            key = op.record.transaction_key
            if key in self.transactions:
                return Duplicate(self.transactions[key])
            self.transactions[key] = op.record
            return op.record
        if isinstance(op, InsertLeg):
            if op.leg.leg_id in self.legs:
                return Duplicate(self.legs[op.leg.leg_id])
            self.legs[op.leg.leg_id] = op.leg
            return op.leg
        if isinstance(op, AddOwed):
            if op.item.id in self.owed:
                return Duplicate(self.owed[op.item.id])
            self.owed[op.item.id] = op.item
            return op.item
        if isinstance(op, UpdateTransaction):
            names: tuple[str, ...] = (
                "status",
                "response_code",
                "responded_at",
                "destination",
                "upstream_key",
            )
            return self._update(self.transactions, op.transaction_key, op, "status", names)  # type: ignore[no-any-return]
        if isinstance(op, UpdateLeg):
            return self._update(self.legs, op.leg_id, op, "state", ("state", "response_code"))  # type: ignore[no-any-return]
        assert isinstance(op, UpdateOwed)
        names = (
            "attempts",
            "next_attempt_at",
            "status",
            "last_response_code",
            "repeat",
            "reason",
        )
        return self._update(self.owed, op.id, op, "status", names)  # type: ignore[no-any-return]

    def due(self, now: float) -> list[OwedItem]:
        order = {id: n for n, id in enumerate(self.owed)}
        due = [
            i
            for i in self.owed.values()
            if i.status is OwedStatus.OWED and i.next_attempt_at <= now
        ]
        return sorted(due, key=lambda i: (i.next_attempt_at, order[i.id]))

    def statistics(self, now: float) -> JournalStatistics:
        owed = [i for i in self.owed.values() if i.status is OwedStatus.OWED]

        def count(status: OwedStatus) -> int:
            return sum(i.status is status for i in self.owed.values())

        return JournalStatistics(
            transactions=len(self.transactions),
            pending=sum(r.status is TransactionStatus.PENDING for r in self.transactions.values()),
            owed=len(owed),
            due=len(self.due(now)),
            oldest_owed_age=max(0.0, now - min(i.created_at for i in owed)) if owed else 0.0,
            done=count(OwedStatus.DONE),
            exceptions=count(OwedStatus.EXCEPTION),
            resolved=count(OwedStatus.RESOLVED),
            legs={s: sum(leg.state is s for leg in self.legs.values()) for s in LegState},
        )


@given(batches)
def test_the_journal_behaves_like_the_model(batches: list[list[list[Op]]]) -> None:
    model = Model()
    with SQLiteJournal(":memory:", pan_key=bytes(32), data_key=bytes(32)) as journal:
        for batch in batches:
            assert journal.apply_groups(batch) == [model.group(g) for g in batch]
        assert list(journal.transactions(page_size=3)) == list(model.transactions.values())
        for date in ("20241126", "20241127"):
            query = TransactionQuery(settlement_date=date, statuses=[TransactionStatus.PENDING])
            expected = [r for r in model.transactions.values() if query.matches(r)]
            assert list(journal.transactions(query)) == expected
        assert journal.owed_items(status=None) == list(model.owed.values())
        for key in KEYS:
            assert journal.get_transaction(key) == model.transactions.get(key)
            legs = sorted(
                (leg for leg in model.legs.values() if leg.transaction_key == key),
                key=lambda leg: leg.step,
            )
            assert journal.legs(key) == legs
        assert journal.legs_in({LegState.SENT}) == [
            leg for leg in model.legs.values() if leg.state is LegState.SENT
        ]
        for now in (0.0, 5.0, 10.0, 20.0):
            assert journal.due_owed(now) == model.due(now)
            assert journal.statistics(now) == model.statistics(now)
        owed = [i.next_attempt_at for i in model.owed.values() if i.status is OwedStatus.OWED]
        assert journal.next_due_at() == (min(owed) if owed else None)


@given(batches)
def test_single_operations_are_groups_of_their_own(batches: list[list[list[Op]]]) -> None:
    model = Model()
    with SQLiteJournal(":memory:", pan_key=bytes(32), data_key=bytes(32)) as journal:
        for batch in batches:
            ops = [op for group in batch for op in group]
            expected = []
            for op in ops:
                result = model.group([op])
                expected.append(result.results[0] if result.applied else result.stopper)
            assert journal.apply(ops) == expected
