"""The state a simulated network shares between its nodes, connections and streams.

Why: streams, connections and the network facade all draw from one random
source, count into one set of counters, write one trace and read the same
nodes' liveness; keeping that in one plain object (and the behaviour in
the modules that own it) avoids a web of back references.

A node is a name (``"gateway"``, ``"center-110000"``, ``"cups"``). It has an
*incarnation* number, bumped by every kill: listeners and connectors are
bound to the incarnation they were made in, so an object that keeps running
after its node "crashed" can never reach a peer again, even once the node
is revived.

:class:`Busy` is Trio's conflict detection (two tasks sending on one
stream, or accepting on one listener, is an error) for the streams and
listeners.
"""

from __future__ import annotations

import random as _random
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

import attrs
import trio

from ._faults import Faults, NetworkStatistics
from ._scheduling import Timers

if TYPE_CHECKING:
    from ._network import SimListener
    from ._stream import SimConnection

__all__ = ["Busy", "Node", "World"]

Trace = Callable[[float, str], None]


class Node:
    """One simulated host."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.alive = True
        self.incarnation = 0
        self.silenced_until = -1.0
        self.connections: dict[int, SimConnection] = {}
        self.listeners: list[SimListener] = []


class World:
    """Shared state of one :class:`~sscard_gateway.testing.SimNetwork`."""

    def __init__(
        self,
        random: _random.Random,
        faults: Faults,
        trace: Trace | None,
        latency: float,
        jitter: float,
    ) -> None:
        self.random = random
        self.faults = faults
        self.latency = latency
        self.jitter = jitter
        self.timers = Timers()
        self.nodes: dict[str, Node] = {}
        self.listeners: dict[str, SimListener] = {}
        self.counts: Counter[str] = Counter()
        self.connection_count = 0
        self._trace = trace

    def node(self, name: str) -> Node:
        """The node called ``name`` (created, alive, on first mention)."""
        node = self.nodes.get(name)
        if node is None:
            node = self.nodes[name] = Node(name)
        return node

    def transit(self) -> float:
        """One draw of the one-way latency: ``latency + uniform(0, jitter)``."""
        if self.jitter <= 0.0:
            return self.latency
        return self.latency + self.random.uniform(0.0, self.jitter)

    def log(self, line: str) -> None:
        """Hand ``line`` to the trace with the virtual time (no payload, ever)."""
        if self._trace is not None:
            try:
                now = trio.current_time()
            except RuntimeError:  # set up before trio.run (a MockClock starts at 0)
                now = 0.0
            self._trace(now, line)

    def statistics(self) -> NetworkStatistics:
        """The counters as a frozen snapshot."""
        names = attrs.fields_dict(NetworkStatistics)
        return NetworkStatistics(**{name: self.counts[name] for name in names})

    def silence(self, name: str, duration: float) -> float:
        """Hold every frame from or to node ``name`` for ``duration`` seconds.

        Returns:
            The virtual time the silence ends.
        """
        node = self.node(name)
        until = trio.current_time() + duration
        node.silenced_until = max(node.silenced_until, until)
        self.counts["silences"] += 1
        self.log(f"node {name} silent for {duration:.6f} s, until {node.silenced_until:.6f}")
        for connection in list(node.connections.values()):
            connection._hold_until(node.silenced_until)
        return node.silenced_until


def fmt(t: float) -> str:
    """A virtual time or duration as the trace writes it."""
    return f"{t:.6f}"


class Busy:
    """Trio's conflict detection: one task at a time per operation."""

    __slots__ = ("_held", "_message")

    def __init__(self, message: str) -> None:
        self._held = False
        self._message = message

    def __enter__(self) -> None:
        if self._held:
            raise trio.BusyResourceError(self._message)
        self._held = True

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._held = False
