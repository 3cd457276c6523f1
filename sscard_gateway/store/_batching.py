"""Group commit for Trio: many tasks' writes, one transaction, one fsync.

Why: a durable commit costs an fsync (milliseconds on a disk), the gateway
must journal every request before forwarding it and every response before
returning it, and it handles thousands of transactions a second. One
commit per write would cap it at the disk's fsync rate; one commit per
*batch* lets the rate of transactions grow with the batch instead.

How: :meth:`BatchingJournal.write` puts the caller's group of operations
(all or nothing, :meth:`Journal.apply_groups`) in a queue and waits. A
single writer task (:meth:`BatchingJournal.run`, :mod:`._writer`) takes
what is queued — whole callers' groups, up to ``max_batch`` operations —
and hands them to :meth:`Journal.apply_groups` in a worker thread
(``trio.to_thread``), one transaction. While that commit runs, new writes
queue up and form the next batch, so batches grow with the load and no
timer is needed: an idle gateway commits a lone write at once. Each waiter
wakes only when its batch is committed (or failed), with its own results.
A caller's operations are never split across batches.
:meth:`BatchingJournal.apply` and :meth:`BatchingJournal.apply_many` apply
each operation as a group of its own (independent results, one commit).

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
With ``threads=False`` every call runs in the Trio thread instead: the
fault simulation does this so that a run is deterministic under a mock
clock (a worker thread's timing is the operating system's).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, overload

import trio

from ._journal import Journal
from ._ops import (
    AddOwed,
    Duplicate,
    GroupResult,
    InsertLeg,
    InsertTransaction,
    NotFound,
    Op,
    OpResult,
    Refused,
    SetSetting,
    Setting,
    UpdateLeg,
    UpdateOwed,
    UpdateTransaction,
    flatten,
)
from ._records import (
    JournalStatistics,
    LegRecord,
    OwedItem,
    OwedStatus,
    TransactionQuery,
    TransactionRecord,
)
from ._states import LegState
from ._writer import BatchingStatistics, GroupWriter

__all__ = ["BatchingJournal", "BatchingStatistics", "open_batching_journal"]


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
        threads: call the journal from worker threads (``False``: in the
            Trio thread, for deterministic simulation).

    Raises:
        ValueError: ``max_batch`` is below 1.
    """

    def __init__(self, journal: Journal, *, max_batch: int = 256, threads: bool = True) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._journal = journal
        self._threads = threads
        self._writer = GroupWriter(journal, max_batch=max_batch, call=self._call)

    @property
    def journal(self) -> Journal:
        """The journal written to."""
        return self._journal

    def statistics(self) -> BatchingStatistics:
        """A snapshot of the writer's queue and counters."""
        return self._writer.statistics()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The writer task: commit batches until closed and drained.

        Args:
            task_status: for ``nursery.start``; started once the writer runs.

        Raises:
            RuntimeError: the writer was already started.
        """
        await self._writer.run(task_status=task_status)

    async def aclose(self) -> None:
        """Stop taking writes, commit everything queued, and stop the writer.

        Writes submitted after this raise ``JournalClosed``. Idempotent.
        """
        await self._writer.aclose()

    async def _call(self, function: Any, *args: Any) -> Any:
        if self._threads:
            return await trio.to_thread.run_sync(function, *args)
        await trio.lowlevel.checkpoint()
        return function(*args)

    # -- writes --------------------------------------------------------------

    async def write(self, ops: Sequence[Op]) -> GroupResult:
        """Apply ``ops`` as one group, whole or not at all; return once committed.

        Args:
            ops: the operations, applied in order, never split across batches.

        Returns:
            The group's result: applied, or stopped by the operation that
            returned ``Duplicate``, ``Refused`` or ``NotFound`` (nothing of
            the group stored).

        Raises:
            JournalError: the batch holding it failed; none was stored.
            JournalClosed: the writer is closed.
            TypeError: an element is not an operation.
        """
        return (await self._writer.submit([list(ops)]))[0]

    @overload
    async def apply(
        self, op: InsertTransaction
    ) -> TransactionRecord | Duplicate[TransactionRecord]: ...
    @overload
    async def apply(
        self, op: UpdateTransaction
    ) -> TransactionRecord | Refused[TransactionRecord] | NotFound: ...
    @overload
    async def apply(self, op: InsertLeg) -> LegRecord | Duplicate[LegRecord]: ...
    @overload
    async def apply(self, op: UpdateLeg) -> LegRecord | Refused[LegRecord] | NotFound: ...
    @overload
    async def apply(self, op: AddOwed) -> OwedItem | Duplicate[OwedItem]: ...
    @overload
    async def apply(self, op: UpdateOwed) -> OwedItem | Refused[OwedItem] | NotFound: ...
    @overload
    async def apply(self, op: SetSetting) -> Setting: ...

    async def apply(self, op: Op) -> OpResult:
        """Apply one operation; return once it is committed.

        Args:
            op: the operation.

        Returns:
            Its result (typed by the operation: a record, ``Duplicate``,
            ``Refused`` or ``NotFound``).

        Raises:
            JournalError: the batch holding it failed (of the same class as
                the journal's error, the journal's error as ``__cause__``).
            JournalClosed: the writer is closed.
            TypeError: ``op`` is not an operation.
        """
        return (await self.apply_many([op]))[0]

    async def apply_many(self, ops: Sequence[Op]) -> list[OpResult]:
        """Apply each operation as a group of its own, in one commit; return once committed.

        Args:
            ops: the operations, applied in order, never split across batches.

        Returns:
            One result per operation, in order.

        Raises:
            JournalError: the batch holding them failed; none was stored.
            JournalClosed: the writer is closed.
            TypeError: an element is not an operation.
        """
        return flatten(await self._writer.submit([[op] for op in ops]))

    # -- reads ---------------------------------------------------------------

    async def get_transaction(self, transaction_key: str) -> TransactionRecord | None:
        """:meth:`Journal.get_transaction` in a worker thread."""
        result: TransactionRecord | None = await self._call(
            self._journal.get_transaction, transaction_key
        )
        return result

    async def legs(self, transaction_key: str) -> list[LegRecord]:
        """:meth:`Journal.legs` in a worker thread."""
        result: list[LegRecord] = await self._call(self._journal.legs, transaction_key)
        return result

    async def legs_in(self, states: frozenset[LegState], *, limit: int = 10_000) -> list[LegRecord]:
        """:meth:`Journal.legs_in` in a worker thread."""
        result: list[LegRecord] = await self._call(
            lambda: self._journal.legs_in(states, limit=limit)
        )
        return result

    async def last_stan(self) -> int:
        """:meth:`Journal.last_stan` in a worker thread."""
        result: int = await self._call(self._journal.last_stan)
        return result

    async def setting(self, name: str) -> str | None:
        """:meth:`Journal.setting` in a worker thread."""
        result: str | None = await self._call(self._journal.setting, name)
        return result

    async def get_owed(self, id: str) -> OwedItem | None:
        """:meth:`Journal.get_owed` in a worker thread."""
        result: OwedItem | None = await self._call(self._journal.get_owed, id)
        return result

    async def due_owed(
        self, now: float, limit: int = 100, *, destinations: frozenset[str] | None = None
    ) -> list[OwedItem]:
        """:meth:`Journal.due_owed` in a worker thread."""
        result: list[OwedItem] = await self._call(
            lambda: self._journal.due_owed(now, limit, destinations=destinations)
        )
        return result

    async def next_due_at(self, *, destinations: frozenset[str] | None = None) -> float | None:
        """:meth:`Journal.next_due_at` in a worker thread."""
        result: float | None = await self._call(
            lambda: self._journal.next_due_at(destinations=destinations)
        )
        return result

    async def owed_items(
        self,
        *,
        status: OwedStatus | None = OwedStatus.OWED,
        transaction_key: str | None = None,
        limit: int = 1000,
    ) -> list[OwedItem]:
        """:meth:`Journal.owed_items` in a worker thread."""
        result: list[OwedItem] = await self._call(
            lambda: self._journal.owed_items(
                status=status, transaction_key=transaction_key, limit=limit
            )
        )
        return result

    async def journal_statistics(self, now: float) -> JournalStatistics:
        """:meth:`Journal.statistics` in a worker thread."""
        result: JournalStatistics = await self._call(self._journal.statistics, now)
        return result

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
            page: list[TransactionRecord] = await self._call(_next_page, iterator, page_size)
            for record in page:
                yield record
            if len(page) < page_size:
                return


@asynccontextmanager
async def open_batching_journal(
    journal: Journal, *, max_batch: int = 256, threads: bool = True
) -> AsyncIterator[BatchingJournal]:
    """Run a :class:`BatchingJournal` writer for the duration of a block.

    Leaving the block commits everything queued, then stops the writer (the
    journal itself stays open: close it yourself).

    Args:
        journal: the journal written to.
        max_batch: operations per batch.
        threads: call the journal from worker threads (``False``: in the
            Trio thread, for deterministic simulation).

    Returns:
        An async context manager giving the :class:`BatchingJournal`.

    Raises:
        ValueError: ``max_batch`` is below 1.
    """
    batching = BatchingJournal(journal, max_batch=max_batch, threads=threads)
    async with trio.open_nursery() as nursery:
        await nursery.start(batching.run)
        try:
            yield batching
        finally:
            with trio.CancelScope(shield=True):
                await batching.aclose()
