"""One request's caller, parked until the request ends.

Why not a ``trio.Event``: a waiter is made for every request a driver sends
(:mod:`._driver`), the hot path; Trio's low-level task API parks and wakes
the one task for less.
"""

from __future__ import annotations

import trio

from ..errors import SscardError
from ..iso import Message

__all__ = ["Waiter"]


class Waiter:
    """A request's caller: :meth:`wait` parks it, :meth:`done` wakes it with the outcome."""

    __slots__ = ("error", "finished", "message", "task")

    def __init__(self) -> None:
        self.task: trio.lowlevel.Task | None = None
        self.finished = False
        self.message: Message | None = None
        self.error: SscardError | None = None

    async def wait(self) -> None:
        if self.finished:
            await trio.lowlevel.checkpoint()
            return
        self.task = trio.lowlevel.current_task()

        def abort(raise_cancel: object) -> trio.lowlevel.Abort:
            self.task = None
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    def done(self, message: Message | None, error: SscardError | None) -> None:
        self.message, self.error, self.finished = message, error, True
        if self.task is not None:
            trio.lowlevel.reschedule(self.task)
            self.task = None

    def result(self) -> Message:
        if self.error is not None:
            raise self.error
        assert self.message is not None
        return self.message
