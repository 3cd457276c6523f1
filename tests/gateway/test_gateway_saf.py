"""Store-and-forward: an item owed to a link that stays down still expires."""

from __future__ import annotations

from datetime import datetime, timedelta

import trio
import trio.testing

from sscard_gateway.engine import SafPolicy
from sscard_gateway.gateway._saf import StoreAndForward
from sscard_gateway.iso import load_dialect
from sscard_gateway.store import (
    AddOwed,
    InsertLeg,
    LegKind,
    LegRecord,
    LegState,
    OwedItem,
    OwedKind,
    OwedStatus,
    SQLiteJournal,
    open_batching_journal,
)

START = datetime(2026, 6, 15, 10, 0, 0)
POLICY = SafPolicy(initial=1.0, maximum=60.0, expiry=3600.0)


def _journal() -> SQLiteJournal:
    journal = SQLiteJournal(":memory:", pan_key=bytes(32), data_key=bytes(range(32)))
    leg = LegRecord(
        leg_id="k#1",
        transaction_key="k",
        step=1,
        kind=LegKind.REQUEST,
        destination="cups",
        mti="0200",
        stan="000001",
        leg_key="0615100000|000001|48020000|48020000",
        amount=100,
        payload=b"the leg",
        created_at=START.timestamp(),
        state=LegState.REVERSAL_OWED,
    )
    item = OwedItem(
        id="k#1/reversal",
        kind=OwedKind.REVERSAL,
        destination="cups",
        transaction_key="k",
        payload=b"the reversal",
        created_at=START.timestamp(),
        expires_at=START.timestamp() + POLICY.expiry,
        leg_id="k#1",
    )
    journal.apply_groups([[InsertLeg(leg), AddOwed(item)]])
    return journal


async def test_an_item_owed_to_a_link_that_stays_down_expires_to_the_exception_queue(
    autojump_clock,
):
    journal = _journal()
    t0 = trio.current_time()

    def clock() -> datetime:
        return START + timedelta(seconds=trio.current_time() - t0)

    async with open_batching_journal(journal, threads=False) as batching:
        saf = StoreAndForward(
            batching,
            links=lambda name: None,
            ready=frozenset,
            dialects={"cups": load_dialect("cups")},
            policy=POLICY,
            wallclock=clock,
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(saf.run)
            await trio.sleep(POLICY.expiry / 2)
            assert journal.owed_items(status=OwedStatus.OWED)  # no attempt, not expired yet
            await trio.sleep(POLICY.expiry / 2 + 2 * POLICY.maximum)
            nursery.cancel_scope.cancel()
    [item] = journal.owed_items(status=OwedStatus.EXCEPTION)
    assert item.attempts == 0 and "expiry" in (item.reason or "")
    assert journal.legs("k")[0].state is LegState.EXCEPTION
    assert saf.counts.exceptions == 1


async def test_an_item_owed_to_a_link_that_stays_down_gets_no_attempt(autojump_clock):
    journal = _journal()
    async with open_batching_journal(journal, threads=False) as batching:
        saf = StoreAndForward(
            batching,
            links=lambda name: None,
            ready=frozenset,
            dialects={"cups": load_dialect("cups")},
            policy=POLICY,
            wallclock=lambda: START,
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(saf.run)
            await trio.sleep(600)
            nursery.cancel_scope.cancel()
    [item] = journal.owed_items(status=OwedStatus.OWED)
    assert item.attempts == 0 and saf.counts.retried == 0
