"""The state tables row by row, on a real SQLite journal.

For every (from, to) pair of ``TRANSACTION_TRANSITIONS``, ``LEG_TRANSITIONS``
and ``OWED_TRANSITIONS``: an allowed move is applied by a compare-and-set
update; a move the table does not allow cannot even be built, and the
compare-and-set that names the states it *does* allow from is refused with
the row unchanged. An update whose ``expect`` is not the stored state is
refused even when its move is legal. A refusal inside a saga is counted and
logged by the engine.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from engine_helpers import DATA_KEY, PAN_KEY, Bench, approve
from hypothesis import given
from hypothesis import strategies as st

from sscard_gateway.errors import ValidationError
from sscard_gateway.ids import AmountSplit
from sscard_gateway.sim import Kind
from sscard_gateway.store import (
    LEG_TRANSITIONS,
    OWED_TRANSITIONS,
    TRANSACTION_TRANSITIONS,
    AddOwed,
    InsertLeg,
    InsertTransaction,
    LegKind,
    LegRecord,
    LegState,
    NotFound,
    OwedItem,
    OwedKind,
    OwedStatus,
    Refused,
    SQLiteJournal,
    TransactionRecord,
    TransactionStatus,
    UpdateLeg,
    UpdateOwed,
    UpdateTransaction,
    allowed,
)

T0 = 1_781_517_600.0
KEY = "center-110000:tx:2026:615100000:1:11010500"
LEG = f"{KEY}#1"
ITEM = f"{LEG}/reversal"


@pytest.fixture
def journal(tmp_path) -> Iterator[SQLiteJournal]:
    with SQLiteJournal(tmp_path / "journal.db", pan_key=PAN_KEY, data_key=DATA_KEY) as journal:
        yield journal


def _record(status: TransactionStatus, key: str = KEY) -> TransactionRecord:
    return TransactionRecord(
        transaction_key=key,
        kind="benefit_payout",
        mti="0200",
        source="center-110000",
        created_at=T0,
        settlement_date="20260615",
        amount=AmountSplit(8800, 0, 0, 8800),
        status=status,
    )


def _leg(state: LegState) -> LegRecord:
    return LegRecord(
        leg_id=LEG,
        transaction_key=KEY,
        step=1,
        kind=LegKind.ADVICE
        if state in (LegState.ADVICE_OWED, LegState.ADVISED)
        else LegKind.REQUEST,
        destination="cups",
        mti="0200",
        stan="000001",
        leg_key="0615100000|000001|48020000|48020000",
        amount=8800,
        payload=b"the leg as sent",
        created_at=T0,
        state=state,
    )


def _item(status: OwedStatus) -> OwedItem:
    return OwedItem(
        id=ITEM,
        kind=OwedKind.REVERSAL,
        destination="cups",
        transaction_key=KEY,
        payload=b"the reversal",
        created_at=T0,
        status=status,
        leg_id=LEG,
    )


# -- one row in a given state, and how to move it ------------------------------------


class _Table:
    """One of the three tables: how to store a row in a state, move it, read it back."""

    name: str
    table: Any

    def insert(self, state: Any) -> Any:
        raise NotImplementedError

    def update(self, expect: Any, state: Any) -> Any:
        raise NotImplementedError

    def state_of(self, journal: SQLiteJournal) -> Any:
        raise NotImplementedError

    def row(self, journal: SQLiteJournal) -> Any:
        raise NotImplementedError


class _Transactions(_Table):
    name, table = "transaction", TRANSACTION_TRANSITIONS

    def insert(self, state: TransactionStatus) -> Any:
        return InsertTransaction(_record(state))

    def update(self, expect: Any, state: TransactionStatus) -> Any:
        return UpdateTransaction(
            transaction_key=KEY, updated_at=T0 + 1, expect=expect, status=state, response_code="00"
        )

    def row(self, journal: SQLiteJournal) -> Any:
        return journal.get_transaction(KEY)

    def state_of(self, journal: SQLiteJournal) -> Any:
        return self.row(journal).status


class _Legs(_Table):
    name, table = "leg", LEG_TRANSITIONS

    def insert(self, state: LegState) -> Any:
        return InsertLeg(_leg(state))

    def update(self, expect: Any, state: LegState) -> Any:
        return UpdateLeg(
            leg_id=LEG, updated_at=T0 + 1, expect=expect, state=state, response_code="00"
        )

    def row(self, journal: SQLiteJournal) -> Any:
        (leg,) = journal.legs(KEY)
        return leg

    def state_of(self, journal: SQLiteJournal) -> Any:
        return self.row(journal).state


class _Owed(_Table):
    name, table = "owed", OWED_TRANSITIONS

    def insert(self, state: OwedStatus) -> Any:
        return AddOwed(_item(state))

    def update(self, expect: Any, state: OwedStatus) -> Any:
        return UpdateOwed(
            id=ITEM, updated_at=T0 + 1, expect=expect, status=state, attempts=1, reason="test"
        )

    def row(self, journal: SQLiteJournal) -> Any:
        return journal.get_owed(ITEM)

    def state_of(self, journal: SQLiteJournal) -> Any:
        return self.row(journal).status


TABLES = {"transaction": _Transactions(), "leg": _Legs(), "owed": _Owed()}


def _pairs(allowed_ones: bool) -> list[Any]:
    out = []
    for name, table in TABLES.items():
        states = list(table.table)
        for old, new in itertools.product(states, states):
            if allowed(table.table, old, new) == allowed_ones:
                out.append(pytest.param(name, old, new, id=f"{name}:{old.value}->{new.value}"))
    return out


ALLOWED = _pairs(True)
NOT_ALLOWED = _pairs(False)


def test_the_parametrization_covers_every_pair_of_every_table():
    total = sum(len(t.table) ** 2 for t in TABLES.values())
    assert len(ALLOWED) + len(NOT_ALLOWED) == total == 6 * 6 + 9 * 9 + 4 * 4
    assert len(ALLOWED) == sum(len(v) for t in TABLES.values() for v in t.table.values())


@pytest.mark.parametrize(("name", "old", "new"), ALLOWED)
def test_an_allowed_move_is_applied_by_compare_and_set(journal, name, old, new):
    table = TABLES[name]
    assert journal.apply_groups([[table.insert(old)]])[0].applied
    (result,) = journal.apply_groups([[table.update(old, new)]])
    assert result.applied, result.stopper
    assert table.state_of(journal) is new
    assert journal.statistics(T0).transactions == (1 if name == "transaction" else 0)


@pytest.mark.parametrize(("name", "old", "new"), NOT_ALLOWED)
def test_a_move_not_in_the_table_is_refused_and_the_row_is_unchanged(journal, name, old, new):
    table = TABLES[name]
    assert journal.apply_groups([[table.insert(old)]])[0].applied
    before = table.row(journal)
    counts_before = journal.statistics(T0)
    # the move itself cannot be built: the caller learns at once (96), nothing reaches the journal
    with pytest.raises(ValidationError) as refused:
        table.update(old, new)
    assert refused.value.response_code == "96"
    # a compare-and-set that expects the states the move *is* allowed from is refused by the
    # journal, since the row is in none of them
    sources = frozenset(s for s in table.table if allowed(table.table, s, new))
    assert old not in sources
    if sources:
        (result,) = journal.apply_groups([[table.update(sources, new)]])
        assert not result.applied
        assert isinstance(result.stopper, Refused)
        assert result.stopper.current == before
    assert table.row(journal) == before
    assert journal.statistics(T0) == counts_before


@pytest.mark.parametrize(("name", "old", "new"), ALLOWED)
def test_an_update_whose_expect_does_not_match_is_refused(name, old, new):
    """Even a legal move is refused when the row is not in the state the update names."""
    table = TABLES[name]
    for actual in table.table:
        if actual is old:
            continue
        with SQLiteJournal(":memory:", pan_key=PAN_KEY, data_key=DATA_KEY) as journal:
            assert journal.apply_groups([[table.insert(actual)]])[0].applied
            before = table.row(journal)
            (result,) = journal.apply_groups([[table.update(old, new)]])
            assert isinstance(result.stopper, Refused), (actual, old, new)
            assert result.stopper.current == before
            assert table.row(journal) == before


def test_approved_never_follows_reversed(journal):
    journal.apply([InsertTransaction(_record(TransactionStatus.REVERSED))])
    with pytest.raises(ValidationError):
        UpdateTransaction(
            transaction_key=KEY,
            updated_at=T0,
            expect=TransactionStatus.REVERSED,
            status=TransactionStatus.APPROVED,
        )
    late = UpdateTransaction(  # a late approval of a saga that still believes it pending
        transaction_key=KEY,
        updated_at=T0 + 5,
        expect=TransactionStatus.PENDING,
        status=TransactionStatus.APPROVED,
        response_code="00",
    )
    (result,) = journal.apply_groups([[late]])
    assert isinstance(result.stopper, Refused)
    record = journal.get_transaction(KEY)
    assert record.status is TransactionStatus.REVERSED and record.response_code is None


def _reachable(table: Any, start: Any) -> set[Any]:
    seen, todo = set(), [start]
    while todo:
        state = todo.pop()
        for nxt in table[state]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_no_path_of_the_tables_leads_from_reversed_back_to_approved_or_held():
    assert TransactionStatus.APPROVED not in _reachable(
        TRANSACTION_TRANSITIONS, TransactionStatus.REVERSED
    )
    for final in (LegState.REVERSED, LegState.ADVISED, LegState.NOT_SENT, LegState.RESOLVED):
        assert not _reachable(LEG_TRANSITIONS, final)
    # a leg answered can only be reversed, never answered again or "sent" again
    assert _reachable(LEG_TRANSITIONS, LegState.ANSWERED) >= {LegState.REVERSAL_OWED}
    assert LegState.SENT not in _reachable(LEG_TRANSITIONS, LegState.ANSWERED)


@given(
    st.sampled_from(list(TABLES)),
    st.data(),
)
def test_a_random_walk_applies_exactly_the_moves_of_the_table(name, data):
    """Whatever moves are tried in whatever order, the row only ever follows the table."""
    table = TABLES[name]
    states = list(table.table)
    with SQLiteJournal(":memory:", pan_key=PAN_KEY, data_key=DATA_KEY) as journal:
        state = data.draw(st.sampled_from(states))
        journal.apply([table.insert(state)])
        for _ in range(data.draw(st.integers(1, 8))):
            expect = data.draw(st.sampled_from(states))
            new = data.draw(st.sampled_from(states))
            if not allowed(table.table, expect, new):
                with pytest.raises(ValidationError):
                    table.update(expect, new)
                continue
            (result,) = journal.apply_groups([[table.update(expect, new)]])
            assert result.applied == (expect is state)
            if result.applied:
                state = new
            assert table.state_of(journal) is state


def test_a_refusal_stops_its_whole_group(journal):
    journal.apply([InsertTransaction(_record(TransactionStatus.REVERSED))])
    other = _record(TransactionStatus.PENDING, key=KEY + "-other")
    group = [
        InsertTransaction(other),
        InsertLeg(_leg(LegState.SENT)),
        AddOwed(_item(OwedStatus.OWED)),
        UpdateTransaction(
            transaction_key=KEY,
            updated_at=T0,
            expect=TransactionStatus.PENDING,
            status=TransactionStatus.APPROVED,
        ),
    ]
    (result,) = journal.apply_groups([group])
    assert result.stopped_at == 3 and isinstance(result.stopper, Refused)
    assert journal.get_transaction(other.transaction_key) is None
    assert journal.legs(KEY) == [] and journal.get_owed(ITEM) is None


def test_an_update_of_a_missing_row_is_not_found(journal):
    (result,) = journal.apply_groups([[TABLES["leg"].update(LegState.SENT, LegState.ANSWERED)]])
    assert isinstance(result.stopper, NotFound) and result.stopper.key == LEG


def test_a_refused_transition_in_a_saga_is_counted_and_logged(tmp_path, caplog):
    """A leg's answer arriving after its transaction was reversed under it: refused, counted."""
    bench = Bench(tmp_path)
    try:
        request = bench.request("center-110000", Kind.BENEFIT_PAYOUT, "bank", amount=8800)
        saga = bench.start("center-110000", request)
        reversed_under_it = []

        def answer(send: Any, now: Any) -> Any:
            # while the leg is in flight, the transaction is reversed (what a reversal saga does)
            key = send.leg.transaction_key
            bench.journal.apply(
                [
                    UpdateTransaction(
                        transaction_key=key,
                        updated_at=now.timestamp(),
                        expect=TransactionStatus.PENDING,
                        status=TransactionStatus.REVERSED,
                    )
                ]
            )
            reversed_under_it.append(key)
            return approve()(send, now)

        with caplog.at_level(logging.WARNING, logger="sscard_gateway.engine"):
            run = bench.drive(saga, answer)
        assert run.finished and reversed_under_it
        assert bench.engine.counts["refused"] >= 1
        assert any("refused by the journal" in r.getMessage() for r in caplog.records)
        record = bench.journal.get_transaction(reversed_under_it[0])
        assert record.status is TransactionStatus.REVERSED
        assert run.code != "00"
        # refused, the saga owes what its leg holds instead of approving
        (leg,) = bench.journal.legs(record.transaction_key)
        assert leg.state is LegState.REVERSAL_OWED
        (item,) = bench.journal.owed_items(transaction_key=record.transaction_key)
        assert item.kind is OwedKind.REVERSAL
    finally:
        bench.close()
