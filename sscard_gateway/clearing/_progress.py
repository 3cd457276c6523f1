"""Progress of long runs: a callback the core calls, and a bar for the terminal.

Why a callback: clearing and reconciliation are sans-I/O in spirit
(docs/architecture.md principle 1); they report ``(phase, done, total)`` and know
nothing of terminals. The command line passes a :class:`StderrProgress`,
which draws a plain text bar on standard error (no dependency) and redraws
at most ten times a second.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO, TypeAlias

__all__ = ["Progress", "StderrProgress"]

Progress: TypeAlias = Callable[[str, int, "int | None"], None]
"""``progress(phase, done, total)``: ``total`` is ``None`` when unknown."""


class StderrProgress:
    """A text progress bar: ``reading file  [#######.....]  58%  580000/1000000``.

    Args:
        stream: where to draw (standard error by default).
        width: the bar's width in characters.
        interval: the least time between redraws, in seconds.
        clock: a monotonic clock (injected by tests).
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        width: int = 30,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.interval = interval
        self._clock = clock
        self._phase: str | None = None
        self._last = -1.0

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        """Redraw for ``phase`` (a new phase ends the previous line).

        Args:
            phase: what is being done.
            done: units done.
            total: units in all, or ``None`` when unknown.
        """
        now = self._clock()
        finished = total is not None and done >= total
        if phase == self._phase and not finished and now - self._last < self.interval:
            return
        if self._phase is not None and phase != self._phase:
            self.stream.write("\n")
        self._phase, self._last = phase, now
        if total:
            share = min(done / total, 1.0)
            filled = int(share * self.width)
            bar = "#" * filled + "." * (self.width - filled)
            line = f"{phase:<18} [{bar}] {share:4.0%}  {done}/{total}"
        else:
            line = f"{phase:<18} {done}"
        self.stream.write("\r" + line)
        self.stream.flush()

    def close(self) -> None:
        """End the last line."""
        if self._phase is not None:
            self.stream.write("\n")
            self.stream.flush()
            self._phase = None
