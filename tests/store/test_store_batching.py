"""BatchingJournal: group commit from many Trio tasks, errors, closing, cancellation."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import pytest
import trio
import trio.testing

from sscard_gateway.errors import JournalClosed, JournalError, JournalKeyError
from sscard_gateway.store import (
    AddOwed,
    BatchingJournal,
    Duplicate,
    GroupResult,
    InsertTransaction,
    Journal,
    NotFound,
    Op,
    OwedItem,
    OwedStatus,
    SetSetting,
    Setting,
    SQLiteJournal,
    TransactionQuery,
    TransactionRecord,
    TransactionStatus,
    UpdateOwed,
    UpdateTransaction,
    open_batching_journal,
)

Record = Callable[..., TransactionRecord]
Item = Callable[..., OwedItem]
Opener = Callable[..., SQLiteJournal]


class Spy:
    """Wraps a journal: records each batch, can hold a batch in its thread or fail it."""

    def __init__(self, inner: SQLiteJournal) -> None:
        self.inner = inner
        self.batches: list[list[Op]] = []
        self.committed: set[str] = set()
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.calls = 0
        self.failures: dict[int, BaseException] = {}  # call number -> error to raise

    def apply_groups(self, groups: Sequence[Sequence[Op]]) -> list[GroupResult]:
        self.entered.set()
        self.gate.wait(timeout=10)
        self.calls += 1
        if self.calls - 1 in self.failures:
            raise self.failures[self.calls - 1]
        results = self.inner.apply_groups(groups)
        ops = [op for group in groups for op in group]
        self.batches.append(ops)
        for op in ops:
            if isinstance(op, InsertTransaction):
                self.committed.add(op.record.transaction_key)
        return results

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def journal(self) -> Journal:
        return cast(Journal, self)


async def hold_first_batch(spy: Spy) -> None:
    """Close the gate and wait until a batch is inside the journal's thread."""
    spy.gate.clear()
    spy.entered.clear()


async def until_entered(spy: Spy) -> None:
    while not spy.entered.is_set():
        await trio.sleep(0)  # zero-length: a checkpoint while the thread starts
    await trio.testing.wait_all_tasks_blocked()


async def test_many_tasks_share_few_commits_and_return_only_when_committed(
    tmp_path: Path, open_journal: Opener, record: Record
) -> None:
    path = tmp_path / "journal.db"
    spy = Spy(open_journal(path))
    reader = open_journal(path)  # a second connection sees only committed rows
    calls = 300
    seen_after: list[str] = []

    async def one(n: int, bj: BatchingJournal) -> None:
        key = f"K{n:04d}"
        result = await bj.apply(InsertTransaction(record(key)))
        assert result == record(key)
        assert key in spy.committed
        assert reader.get_transaction(key) == record(key)
        seen_after.append(key)

    async with open_batching_journal(spy.journal, max_batch=64) as bj:
        async with trio.open_nursery() as nursery:
            for n in range(calls):
                nursery.start_soon(one, n, bj)
        stats = bj.statistics()
    assert len(seen_after) == calls
    assert stats.ops == calls
    assert stats.batches == len(spy.batches) < calls
    assert stats.largest_batch <= 64
    assert stats.failed_batches == stats.queued_ops == stats.committing_ops == 0
    assert reader.statistics(0).transactions == calls


async def test_batches_form_while_a_commit_runs_and_respect_max_batch(
    journal: SQLiteJournal, record: Record
) -> None:
    spy = Spy(journal)
    async with open_batching_journal(spy.journal, max_batch=4) as bj, trio.open_nursery() as n:
        await hold_first_batch(spy)
        n.start_soon(bj.apply, InsertTransaction(record("first")))
        await until_entered(spy)
        for i in range(10):
            n.start_soon(bj.apply, InsertTransaction(record(f"K{i}")))
        n.start_soon(bj.apply_many, [InsertTransaction(record(f"G{i}")) for i in range(6)])
        await trio.testing.wait_all_tasks_blocked()
        assert bj.statistics().queued_ops == 16
        assert bj.statistics().committing_ops == 1
        spy.gate.set()
    # Tasks start in any order; whatever the order, the group of 6 is one
    # batch of its own, in order, and the singles come in batches of <= 4.
    assert len(spy.batches[0]) == 1
    keys = [[op.record.transaction_key for op in b] for b in spy.batches[1:]]  # type: ignore[union-attr]
    groups = [b for b in keys if b[0].startswith("G")]
    assert groups == [[f"G{i}" for i in range(6)]]
    singles = [b for b in keys if not b[0].startswith("G")]
    assert all(len(b) <= 4 for b in singles)
    assert sorted(k for b in singles for k in b) == sorted(f"K{i}" for i in range(10))
    assert 3 <= len(singles) <= 4  # a batch ends early when the group of 6 is next


async def test_results_are_typed_per_operation(
    journal: SQLiteJournal, record: Record, item: Item
) -> None:
    async with open_batching_journal(journal) as bj:
        owed = item("K1", id="o1")
        first, duplicate, updated, added, missing = await bj.apply_many(
            [
                InsertTransaction(record("K1")),
                InsertTransaction(record("K1", kind="refund")),
                UpdateTransaction(
                    transaction_key="K1",
                    updated_at=2e9,
                    expect=TransactionStatus.PENDING,
                    status=TransactionStatus.APPROVED,
                ),
                AddOwed(owed),
                UpdateOwed(id="nope", updated_at=1),
            ]
        )
        assert first == record("K1") and duplicate == Duplicate(record("K1"))
        assert isinstance(updated, TransactionRecord)
        assert updated.status is TransactionStatus.APPROVED
        assert added == owed and missing == NotFound("nope")
        again = await bj.apply(InsertTransaction(record("K1")))
        assert isinstance(again, Duplicate) and again.existing == updated
        assert await bj.apply_many([]) == []
        assert await bj.apply(SetSetting("cutover.moved", "{}")) == Setting("cutover.moved", "{}")
        assert await bj.setting("cutover.moved") == "{}"
        assert await bj.setting("absent") is None


async def test_an_error_reaches_every_waiter_of_its_batch_and_only_them(
    journal: SQLiteJournal, record: Record
) -> None:
    spy = Spy(journal)
    outcomes: dict[str, object] = {}

    async def one(key: str, bj: BatchingJournal) -> None:
        try:
            outcomes[key] = await bj.apply(InsertTransaction(record(key)))
        except JournalError as exc:
            outcomes[key] = exc

    async with open_batching_journal(spy.journal) as bj:
        async with trio.open_nursery() as n:
            await hold_first_batch(spy)
            n.start_soon(one, "before", bj)
            await until_entered(spy)
            for i in range(5):
                n.start_soon(one, f"doomed{i}", bj)
            await trio.testing.wait_all_tasks_blocked()
            spy.failures[1] = JournalKeyError("disk says no")  # the five's batch
            spy.gate.set()
        after = await bj.apply(InsertTransaction(record("after")))
        assert bj.statistics().failed_batches == 1
    assert outcomes["before"] == record("before") and after == record("after")
    for i in range(5):
        error = outcomes[f"doomed{i}"]
        assert isinstance(error, JournalKeyError)
        assert isinstance(error.__cause__, JournalKeyError)
        assert "disk says no" in str(error)
        assert journal.get_transaction(f"doomed{i}") is None


async def test_a_non_journal_error_is_wrapped(journal: SQLiteJournal, record: Record) -> None:
    spy = Spy(journal)
    spy.failures[0] = OSError("no space left on device")
    async with open_batching_journal(spy.journal) as bj:
        with pytest.raises(JournalError, match="no space left") as info:
            await bj.apply(InsertTransaction(record("K1")))
        assert isinstance(info.value.__cause__, OSError)
        assert info.value.response_code == "96"


async def test_closing_commits_everything_queued(journal: SQLiteJournal, record: Record) -> None:
    spy = Spy(journal)
    results: list[object] = []

    async def one(key: str, bj: BatchingJournal) -> None:
        results.append(await bj.apply(InsertTransaction(record(key))))

    async with trio.open_nursery() as outer:
        async with open_batching_journal(spy.journal) as bj:
            await hold_first_batch(spy)
            for i in range(20):
                outer.start_soon(one, f"K{i}", bj)
            await until_entered(spy)
            spy.gate.set()
        # Leaving the block returned only once all twenty were committed.
        assert journal.statistics(0).transactions == 20
        with pytest.raises(JournalClosed):
            await bj.apply(InsertTransaction(record("late")))
        assert bj.statistics().closed
    assert len(results) == 20


async def test_a_cancelled_writer_still_commits_what_is_queued(
    journal: SQLiteJournal, record: Record
) -> None:
    spy = Spy(journal)
    bj = BatchingJournal(spy.journal)
    done: list[object] = []

    async def one(key: str) -> None:
        done.append(await bj.apply(InsertTransaction(record(key))))

    async with trio.open_nursery() as waiters:
        with trio.CancelScope() as writer_scope:
            async with trio.open_nursery() as writer:
                await writer.start(bj.run)
                await hold_first_batch(spy)
                for i in range(5):
                    waiters.start_soon(one, f"K{i}")
                await until_entered(spy)
                writer_scope.cancel()
                spy.gate.set()
    assert len(done) == 5
    assert journal.statistics(0).transactions == 5
    with pytest.raises(JournalClosed):
        await bj.apply(InsertTransaction(record("late")))


async def test_a_cancelled_waiter_is_withdrawn_before_its_batch(
    journal: SQLiteJournal, record: Record
) -> None:
    spy = Spy(journal)
    async with open_batching_journal(spy.journal) as bj, trio.open_nursery() as n:
        await hold_first_batch(spy)
        n.start_soon(bj.apply, InsertTransaction(record("taken")))
        await until_entered(spy)
        with trio.move_on_after(0) as scope:
            await bj.apply(InsertTransaction(record("withdrawn")))
        assert scope.cancelled_caught
        assert bj.statistics().queued_ops == 0
        spy.gate.set()
    assert journal.get_transaction("taken") is not None
    assert journal.get_transaction("withdrawn") is None


async def test_a_cancelled_waiter_whose_batch_was_taken_is_still_committed(
    journal: SQLiteJournal, record: Record
) -> None:
    spy = Spy(journal)
    async with open_batching_journal(spy.journal) as bj:
        await hold_first_batch(spy)
        with trio.CancelScope() as scope:

            async def cancel_soon() -> None:
                await until_entered(spy)
                scope.cancel()
                spy.gate.set()

            async with trio.open_nursery() as n:
                n.start_soon(cancel_soon)
                await bj.apply(InsertTransaction(record("committed")))
        assert scope.cancelled_caught
    assert journal.get_transaction("committed") is not None


async def test_reads_go_through(journal: SQLiteJournal, record: Record, item: Item) -> None:
    async with open_batching_journal(journal) as bj:
        await bj.apply_many(
            [InsertTransaction(record(f"K{i}", created_at=i)) for i in range(7)]
            + [AddOwed(item("K1", id="o1", next_attempt_at=50, created_at=10))]
        )
        assert await bj.get_transaction("K3") == record("K3", created_at=3)
        assert await bj.get_transaction("nope") is None
        assert [i.id for i in await bj.due_owed(50)] == ["o1"]
        assert await bj.due_owed(49) == []
        assert await bj.next_due_at() == 50.0
        assert (await bj.get_owed("o1")) == item("K1", id="o1", next_attempt_at=50, created_at=10)
        assert [i.id for i in await bj.owed_items(status=OwedStatus.OWED)] == ["o1"]
        assert await bj.owed_items(transaction_key="K2") == []
        stats = await bj.journal_statistics(60)
        assert (stats.transactions, stats.owed, stats.due, stats.oldest_owed_age) == (7, 1, 1, 50)
        keys = [r.transaction_key async for r in bj.transactions(page_size=3)]
        assert keys == [f"K{i}" for i in range(7)]
        query = TransactionQuery(created_from=2, created_before=4)
        assert [r.transaction_key async for r in bj.transactions(query)] == ["K2", "K3"]
        assert bj.journal is journal


async def test_misuse(journal: SQLiteJournal, record: Record) -> None:
    with pytest.raises(ValueError, match="max_batch"):
        BatchingJournal(journal, max_batch=0)
    bj = BatchingJournal(journal)
    with pytest.raises(TypeError, match="not a journal operation"):
        await bj.apply(record("K1"))  # type: ignore[call-overload]
    async with trio.open_nursery() as n:
        await n.start(bj.run)
        with pytest.raises(RuntimeError, match="already running"):
            await bj.run()
        await bj.aclose()
        await bj.aclose()


async def test_closing_a_writer_that_never_ran_fails_its_waiters(
    journal: SQLiteJournal, record: Record
) -> None:
    bj = BatchingJournal(journal)
    errors: list[Exception] = []

    async def one() -> None:
        try:
            await bj.apply(InsertTransaction(record("K1")))
        except JournalClosed as exc:
            errors.append(exc)

    async with trio.open_nursery() as n:
        n.start_soon(one)
        await trio.testing.wait_all_tasks_blocked()
        await bj.aclose()
    assert len(errors) == 1 and "before it started" in str(errors[0])
    assert journal.get_transaction("K1") is None
