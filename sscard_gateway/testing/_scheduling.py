"""Determinism under Trio: seeding its scheduler, and the network's one timer task.

Why: a simulation replays from its seed only if *every* choice in the run
comes from that seed. Under ``trio.testing.MockClock`` time is virtual, so
the remaining choice Trio makes is the order in which it runs the tasks
that are ready at the same moment: it shuffles each batch with a private
``random.Random``. :func:`seed_trio_scheduler` seeds that generator (and
turns on the deterministic mode pytest-trio and Hypothesis use).

The simulated network must also act at given virtual times (a frame
arrives, a held frame is released) whether or not anybody is reading. One
Trio *system task* per network does that from a heap of timers ordered by
time and then by creation, so that callbacks due at the same instant run
in a fixed order. A system task needs no nursery from the caller; the
network is bound to the ``trio.run`` that first used it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import trio
from trio._core import _run as _trio_run

__all__ = ["seed_trio_scheduler"]


def seed_trio_scheduler(seed: int) -> None:
    """Make Trio's choice among tasks ready at the same time a function of ``seed``.

    Trio runs the tasks that are ready together in an order it draws from
    a module-level ``random.Random``, the private ``trio._core._run._r``;
    with ``trio._core._run._ALLOW_DETERMINISTIC_SCHEDULING`` set it first
    sorts each batch by task creation order, so that the shuffle does not
    depend on the order in which tasks became ready (e.g. deadlines that
    expire together are broken by ``id()``, a memory address). pytest-trio
    and Hypothesis set the same two hooks; Trio offers no public one. Call
    this before ``trio.run`` (or at the start of the test) of each
    simulation run, with the run's seed.

    Args:
        seed: the simulation's seed.
    """
    _trio_run._r.seed(seed)
    _trio_run.__dict__["_ALLOW_DETERMINISTIC_SCHEDULING"] = True


class Timers:
    """Callbacks at virtual times, run by one system task of the current ``trio.run``."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._count = 0
        self._token: trio.lowlevel.TrioToken | None = None
        self._wake: trio.Event | None = None
        self._sleeping_until = math.inf

    def call_at(self, when: float, callback: Callable[[], None]) -> None:
        """Run ``callback()`` at virtual time ``when`` (at once if it is past).

        Raises:
            RuntimeError: outside ``trio.run``, or in another run than the first.
        """
        token = trio.lowlevel.current_trio_token()
        if self._token is None:
            self._token = token
            trio.lowlevel.spawn_system_task(self._run, name="sscard_gateway.testing timers")
        elif self._token is not token:
            raise RuntimeError("a SimNetwork belongs to the trio.run that first used it")
        heapq.heappush(self._heap, (when, self._count, callback))
        self._count += 1
        if self._wake is not None and when < self._sleeping_until:
            self._wake.set()

    async def _run(self) -> None:
        heap = self._heap
        while True:
            now = trio.current_time()
            while heap and heap[0][0] <= now:
                _, _, callback = heapq.heappop(heap)
                callback()
            self._sleeping_until = heap[0][0] if heap else math.inf
            self._wake = trio.Event()
            with trio.move_on_at(self._sleeping_until):
                await self._wake.wait()
