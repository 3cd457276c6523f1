"""Property: any sequence of batches through SQLiteJournal equals a plain in-memory model."""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from sscard_gateway.ids import AmountSplit
from sscard_gateway.store import (
    AddOwed,
    Duplicate,
    InsertTransaction,
    JournalStatistics,
    NotFound,
    Op,
    OpResult,
    OwedItem,
    OwedKind,
    OwedStatus,
    SQLiteJournal,
    TransactionQuery,
    TransactionRecord,
    TransactionStatus,
    UpdateOwed,
    UpdateTransaction,
)

KEYS = [f"K{i}" for i in range(4)]
IDS = [f"o{i}" for i in range(4)]
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


@st.composite
def transaction_updates(draw: st.DrawFn) -> UpdateTransaction:
    return UpdateTransaction(
        transaction_key=draw(st.sampled_from(KEYS)),
        updated_at=draw(small_times),
        status=draw(st.none() | st.sampled_from(TransactionStatus)),
        response_code=draw(codes),
        responded_at=draw(st.none() | small_times),
        destination=draw(st.none() | st.sampled_from(["cups", "center"])),
        upstream_key=draw(st.none() | st.sampled_from(["U1", "U2"])),
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
        )
    )


@st.composite
def owed_updates(draw: st.DrawFn) -> UpdateOwed:
    return UpdateOwed(
        id=draw(st.sampled_from(IDS)),
        updated_at=draw(small_times),
        attempts=draw(st.none() | st.integers(0, 9)),
        next_attempt_at=draw(st.none() | small_times),
        status=draw(st.none() | st.sampled_from(OwedStatus)),
        last_response_code=draw(codes),
    )


ops = st.one_of(inserts(), transaction_updates(), owed_adds(), owed_adds(), owed_updates())
batches = st.lists(st.lists(ops, max_size=8), max_size=6)


def changes(op: Any, names: tuple[str, ...]) -> dict[str, Any]:
    found = {name: getattr(op, name) for name in names if getattr(op, name) is not None}
    found["updated_at"] = op.updated_at
    return found


class Model:
    """The journal's meaning in a few lines: dicts kept in insertion order."""

    def __init__(self) -> None:
        self.transactions: dict[str, TransactionRecord] = {}
        self.owed: dict[str, OwedItem] = {}

    def apply(self, op: Op) -> OpResult:
        if isinstance(op, InsertTransaction):
            key = op.record.transaction_key
            if key in self.transactions:
                return Duplicate(self.transactions[key])
            self.transactions[key] = op.record
            return op.record
        if isinstance(op, AddOwed):
            if op.item.id in self.owed:
                return Duplicate(self.owed[op.item.id])
            self.owed[op.item.id] = op.item
            return op.item
        if isinstance(op, UpdateTransaction):
            if op.transaction_key not in self.transactions:
                return NotFound(op.transaction_key)
            names: tuple[str, ...] = (
                "status",
                "response_code",
                "responded_at",
                "destination",
                "upstream_key",
            )
            new = attrs.evolve(self.transactions[op.transaction_key], **changes(op, names))
            self.transactions[op.transaction_key] = new
            return new
        if op.id not in self.owed:
            return NotFound(op.id)
        names = ("attempts", "next_attempt_at", "status", "last_response_code")
        item = attrs.evolve(self.owed[op.id], **changes(op, names))
        self.owed[op.id] = item
        return item

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
            expired=count(OwedStatus.EXPIRED),
            abandoned=count(OwedStatus.ABANDONED),
        )


@given(batches)
def test_the_journal_behaves_like_the_model(batches: list[list[Op]]) -> None:
    model = Model()
    with SQLiteJournal(":memory:", pan_key=bytes(32), data_key=bytes(32)) as journal:
        for batch in batches:
            assert journal.apply(batch) == [model.apply(op) for op in batch]
        assert list(journal.transactions(page_size=3)) == list(model.transactions.values())
        for date in ("20241126", "20241127"):
            query = TransactionQuery(settlement_date=date, statuses=[TransactionStatus.PENDING])
            expected = [r for r in model.transactions.values() if query.matches(r)]
            assert list(journal.transactions(query)) == expected
        assert journal.owed_items(status=None) == list(model.owed.values())
        for key in KEYS:
            assert journal.get_transaction(key) == model.transactions.get(key)
        for now in (0.0, 5.0, 10.0, 20.0):
            assert journal.due_owed(now) == model.due(now)
            assert journal.statistics(now) == model.statistics(now)
        owed = [i.next_attempt_at for i in model.owed.values() if i.status is OwedStatus.OWED]
        assert journal.next_due_at() == (min(owed) if owed else None)
