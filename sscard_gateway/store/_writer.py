"""The group-commit writer behind :class:`~sscard_gateway.store.BatchingJournal`.

One task takes the queued groups of many callers — whole callers, up to
``max_batch`` operations — and hands them to
:meth:`~sscard_gateway.store.Journal.apply_groups` as one transaction (see
:mod:`._batching` for why and how). This module is the queue and that task;
:mod:`._batching` is the face callers use.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from ..errors import JournalClosed, JournalError
from ._journal import Journal
from ._ops import (
    OP_TYPES,
    GroupResult,
    Op,
)

__all__ = ["BatchingStatistics", "GroupWriter"]

Call = Callable[..., Awaitable[Any]]


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
    groups: list[list[Op]]
    size: int
    done: trio.Event = attrs.field(factory=trio.Event)
    results: list[GroupResult] | None = None
    error: BaseException | None = None
    taken: bool = False


class GroupWriter:
    """The queue of groups and the task committing them (see module docs).

    Args:
        journal: the journal written to.
        max_batch: operations per batch (a larger lone caller is one batch).
        call: runs a blocking journal call (in a worker thread, or inline).
    """

    def __init__(self, journal: Journal, *, max_batch: int, call: Call) -> None:
        self._journal = journal
        self._max_batch = max_batch
        self._call = call
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
        while self._queue and (not batch or count + self._queue[0].size <= self._max_batch):
            entry = self._queue.popleft()
            entry.taken = True
            batch.append(entry)
            count += entry.size
        self._queued_ops -= count
        return batch

    async def _commit(self, batch: list[_Entry]) -> None:
        groups = [group for entry in batch for group in entry.groups]
        size = sum(entry.size for entry in batch)
        self._committing_ops = size
        try:
            results = await self._call(self._journal.apply_groups, groups)
            if len(results) != len(groups):
                raise JournalError(
                    f"the journal returned {len(results)} results for {len(groups)} groups"
                )
        except BaseException as exc:
            self._failed += 1
            for entry in batch:
                entry.error = exc
                entry.done.set()
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt and the like: the waiters are told, then it goes on
        else:
            self._batches += 1
            self._ops += size
            self._largest = max(self._largest, size)
            start = 0
            for entry in batch:
                entry.results = results[start : start + len(entry.groups)]
                start += len(entry.groups)
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

    async def submit(self, groups: list[list[Op]]) -> list[GroupResult]:
        size = 0
        for group in groups:
            for op in group:
                if not isinstance(op, OP_TYPES):
                    raise TypeError(f"not a journal operation: {type(op).__name__}")
            size += len(group)
        if self._closing:
            raise JournalClosed("the journal writer is closed")
        if not size:
            await trio.lowlevel.checkpoint()
            return [GroupResult() for _ in groups]
        entry = _Entry(groups, size)
        self._queue.append(entry)
        self._queued_ops += size
        self._wakeup.set()
        try:
            await entry.done.wait()
        except trio.Cancelled:
            if not entry.taken:
                self._queue.remove(entry)
                self._queued_ops -= size
            raise
        if entry.error is not None:
            error = entry.error
            kind = type(error) if isinstance(error, JournalError) else JournalError
            raise kind(f"the journal batch was not committed: {error}") from error
        assert entry.results is not None
        return entry.results
