"""Group commit for Trio: many tasks' writes, one transaction, one fsync.

Why: a durable commit costs an fsync (milliseconds on a disk), the gateway
must journal every request before forwarding it and every response before
returning it, and it handles thousands of transactions a second. One
commit per write would cap it at the disk's fsync rate; one commit per
*batch* lets the rate of transactions grow with the batch instead.

How: :meth:`BatchingJournal.apply` puts the caller's operations in a queue
and waits. A single writer task (:meth:`BatchingJournal.run`) takes what is
queued — whole callers' groups, up to ``max_batch`` operations — and hands
them to :meth:`Journal.apply` in a worker thread (``trio.to_thread``), one
transaction. While that commit runs, new writes queue up and form the next
batch, so batches grow with the load and no timer is needed: an idle
gateway commits a lone write at once. Each waiter wakes only when its batch
is committed (or failed), with its own results. A caller's operations
(:meth:`BatchingJournal.apply_many`) are never split across batches, so
they are atomic together.

Failure: when a batch fails, every waiter of that batch gets the error
(a :class:`~sscard_gateway.errors.JournalError`); operations are checked
when built, so only the store's own failures can fail a batch. Closing
(:meth:`BatchingJournal.aclose`, or leaving :func:`open_batching_journal`)
commits everything queued before the writer stops; a writer cancelled from
outside also commits what is queued, shielded, before it exits.

Cancellation of a waiter: before its operations are taken into a batch,
they are withdrawn (not stored); once taken, they are committed anyway and
the waiter only loses the answer.

Reads go to a worker thread too, so the Trio thread never blocks on disk.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import overload

import attrs
import trio

from ..errors import JournalClosed, JournalError
from ._journal import (
    AddOwed,
    Duplicate,
    InsertTransaction,
    Journal,
    NotFound,
    Op,
    OpResult,
    SetSetting,
    Setting,
    UpdateOwed,
    UpdateTransaction,
)
from ._records import JournalStatistics, OwedItem, OwedStatus, TransactionQuery, TransactionRecord

__all__ = ["BatchingJournal", "BatchingStatistics", "open_batching_journal"]

_OPS = (InsertTransaction, UpdateTransaction, AddOwed, UpdateOwed, SetSetting)


@attrs.frozen(kw_only=True)
class BatchingStatistics:
    """A snapshot of the group-commit writer (STYLE.md 10).

    Attributes:
        queued_ops: operations waiting for a batch.
        committing_ops: operations in the batch being committed now.
        batches: batches committed.
        ops: operations committed.
        failed_batches: batches whose commit failed.
        largest_batch: the most operations committed in one batch.
        closed: whether the writer is closing or closed.
    """

    queued_ops: int
    committing_ops: int
    batches: int
    ops: int
    failed_batches: int
    largest_batch: int
    closed: bool


@attrs.define(eq=False)
class _Entry:
    ops: list[Op]
    done: trio.Event = attrs.field(factory=trio.Event)
    results: list[OpResult] | None = None
    error: BaseException | None = None
    taken: bool = False


def _next_page(iterator: Iterator[TransactionRecord], size: int) -> list[TransactionRecord]:
    return list(itertools.islice(iterator, size))


class BatchingJournal:
    """A :class:`Journal` shared by Trio tasks, with writes group-committed.

    Usually opened with :func:`open_batching_journal`. To run the writer in
    a nursery of your own: ``await nursery.start(batching.run)`` and later
    ``await batching.aclose()``. Closing it does not close the journal.

    Args:
        journal: the journal written to (called from worker threads).
        max_batch: operations per batch before the rest wait for the next
            one (a single caller's group larger than this is one batch).

    Raises:
        ValueError: ``max_batch`` is below 1.
    """

    def __init__(self, journal: Journal, *, max_batch: int = 256) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._journal = journal
        self._max_batch = max_batch
        self._queue: deque[_Entry] = deque()
        self._queued_ops = 0
        self._committing_ops = 0
        self._wakeup = trio.Event()
        self._stopped = trio.Event()
        self._started = False
        self._closing = False
        self._batches = 0
        self._ops = 0
        self._failed = 0
        self._largest = 0

    @property
    def journal(self) -> Journal:
        """The journal written to."""
        return self._journal

    def statistics(self) -> BatchingStatistics:
        """A snapshot of the writer's queue and counters."""
        return BatchingStatistics(
            queued_ops=self._queued_ops,
            committing_ops=self._committing_ops,
            batches=self._batches,
            ops=self._ops,
            failed_batches=self._failed,
            largest_batch=self._largest,
            closed=self._closing,
        )

    # -- the writer ----------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The writer task: commit batches until closed and drained.

        Args:
            task_status: for ``nursery.start``; started once the writer runs.

        Raises:
            RuntimeError: the writer was already started.
        """
        if self._started:
            raise RuntimeError("the BatchingJournal writer is already running")
        self._started = True
        task_status.started()
        try:
            while True:
                if self._queue:
                    await self._commit(self._take())
                elif self._closing:
                    return
                else:
                    await self._wakeup.wait()
                    self._wakeup = trio.Event()
        finally:
            self._closing = True
            try:
                with trio.CancelScope(shield=True):
                    while self._queue:
                        await self._commit(self._take())
            finally:
                self._fail_queued("the journal writer stopped")
                self._stopped.set()

    def _fail_queued(self, why: str) -> None:
        while self._queue:
            entry = self._queue.popleft()
            entry.error = JournalClosed(why)
            entry.done.set()
        self._queued_ops = 0

    def _take(self) -> list[_Entry]:
        batch: list[_Entry] = []
        count = 0
        while self._queue and (not batch or count + len(self._queue[0].ops) <= self._max_batch):
            entry = self._queue.popleft()
            entry.taken = True
            batch.append(entry)
            count += len(entry.ops)
        self._queued_ops -= count
        return batch

    async def _commit(self, batch: list[_Entry]) -> None:
        ops = [op for entry in batch for op in entry.ops]
        self._committing_ops = len(ops)
        try:
            results = await trio.to_thread.run_sync(self._journal.apply, ops)
            if len(results) != len(ops):
                raise JournalError(f"the journal returned {len(results)} results for {len(ops)}")
        except BaseException as exc:
            self._failed += 1
            for entry in batch:
                entry.error = exc
                entry.done.set()
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt and the like: the waiters are told, then it goes on
        else:
            self._batches += 1
            self._ops += len(ops)
            self._largest = max(self._largest, len(ops))
            start = 0
            for entry in batch:
                entry.results = results[start : start + len(entry.ops)]
                start += len(entry.ops)
                entry.done.set()
        finally:
            self._committing_ops = 0

    async def aclose(self) -> None:
        """Stop taking writes, commit everything queued, and stop the writer.

        Writes submitted after this raise ``JournalClosed``. Idempotent.
        """
        self._closing = True
        self._wakeup.set()
        if self._started:
            await self._stopped.wait()
            return
        self._fail_queued("the journal writer was closed before it started")

    # -- writes --------------------------------------------------------------

    @overload
    async def apply(
        self, op: InsertTransaction
    ) -> TransactionRecord | Duplicate[TransactionRecord]: ...
    @overload
    async def apply(self, op: UpdateTransaction) -> TransactionRecord | NotFound: ...
    @overload
    async def apply(self, op: AddOwed) -> OwedItem | Duplicate[OwedItem]: ...
    @overload
    async def apply(self, op: UpdateOwed) -> OwedItem | NotFound: ...
    @overload
    async def apply(self, op: SetSetting) -> Setting: ...

    async def apply(self, op: Op) -> OpResult:
        """Apply one operation; return once it is committed.

        Args:
            op: the operation.

        Returns:
            Its result (typed by the operation: a record, ``Duplicate`` or
            ``NotFound``).

        Raises:
            JournalError: the batch holding it failed (of the same class as
                the journal's error, the journal's error as ``__cause__``).
            JournalClosed: the writer is closed.
            TypeError: ``op`` is not an operation.
        """
        return (await self.apply_many([op]))[0]

    async def apply_many(self, ops: Sequence[Op]) -> list[OpResult]:
        """Apply operations together, in one transaction; return once committed.

        Args:
            ops: the operations, applied in order, never split across batches.

        Returns:
            One result per operation, in order.

        Raises:
            JournalError: the batch holding them failed; none was stored.
            JournalClosed: the writer is closed.
            TypeError: an element is not an operation.
        """
        ops = list(ops)
        for op in ops:
            if not isinstance(op, _OPS):
                raise TypeError(f"not a journal operation: {type(op).__name__}")
        if self._closing:
            raise JournalClosed("the journal writer is closed")
        if not ops:
            await trio.lowlevel.checkpoint()
            return []
        entry = _Entry(ops)
        self._queue.append(entry)
        self._queued_ops += len(ops)
        self._wakeup.set()
        try:
            await entry.done.wait()
        except trio.Cancelled:
            if not entry.taken:
                self._queue.remove(entry)
                self._queued_ops -= len(ops)
            raise
        if entry.error is not None:
            error = entry.error
            kind = type(error) if isinstance(error, JournalError) else JournalError
            raise kind(f"the journal batch was not committed: {error}") from error
        assert entry.results is not None
        return entry.results

    # -- reads ---------------------------------------------------------------

    async def get_transaction(self, transaction_key: str) -> TransactionRecord | None:
        """:meth:`Journal.get_transaction` in a worker thread."""
        return await trio.to_thread.run_sync(self._journal.get_transaction, transaction_key)

    async def setting(self, name: str) -> str | None:
        """:meth:`Journal.setting` in a worker thread."""
        return await trio.to_thread.run_sync(self._journal.setting, name)

    async def get_owed(self, id: str) -> OwedItem | None:
        """:meth:`Journal.get_owed` in a worker thread."""
        return await trio.to_thread.run_sync(self._journal.get_owed, id)

    async def due_owed(self, now: float, limit: int = 100) -> list[OwedItem]:
        """:meth:`Journal.due_owed` in a worker thread."""
        return await trio.to_thread.run_sync(self._journal.due_owed, now, limit)

    async def next_due_at(self) -> float | None:
        """:meth:`Journal.next_due_at` in a worker thread."""
        return await trio.to_thread.run_sync(self._journal.next_due_at)

    async def owed_items(
        self,
        *,
        status: OwedStatus | None = OwedStatus.OWED,
        transaction_key: str | None = None,
        limit: int = 1000,
    ) -> list[OwedItem]:
        """:meth:`Journal.owed_items` in a worker thread."""
        return await trio.to_thread.run_sync(
            lambda: self._journal.owed_items(
                status=status, transaction_key=transaction_key, limit=limit
            )
        )

    async def journal_statistics(self, now: float) -> JournalStatistics:
        """:meth:`Journal.statistics` in a worker thread."""
        return await trio.to_thread.run_sync(self._journal.statistics, now)

    async def transactions(
        self, query: TransactionQuery | None = None, *, page_size: int = 500
    ) -> AsyncIterator[TransactionRecord]:
        """:meth:`Journal.transactions` as an async iterator, a page per thread call.

        Args:
            query: the conditions; ``None`` streams everything.
            page_size: rows per page.

        Returns:
            An async iterator of records; memory stays bounded by a page.

        Raises:
            ValueError: ``page_size`` is below 1.
            JournalError: the store failed.
        """
        iterator = self._journal.transactions(query, page_size=page_size)
        while True:
            page = await trio.to_thread.run_sync(_next_page, iterator, page_size)
            for record in page:
                yield record
            if len(page) < page_size:
                return


@asynccontextmanager
async def open_batching_journal(
    journal: Journal, *, max_batch: int = 256
) -> AsyncIterator[BatchingJournal]:
    """Run a :class:`BatchingJournal` writer for the duration of a block.

    Leaving the block commits everything queued, then stops the writer (the
    journal itself stays open: close it yourself).

    Args:
        journal: the journal written to.
        max_batch: operations per batch.

    Returns:
        An async context manager giving the :class:`BatchingJournal`.

    Raises:
        ValueError: ``max_batch`` is below 1.
    """
    batching = BatchingJournal(journal, max_batch=max_batch)
    async with trio.open_nursery() as nursery:
        await nursery.start(batching.run)
        try:
            yield batching
        finally:
            with trio.CancelScope(shield=True):
                await batching.aclose()
