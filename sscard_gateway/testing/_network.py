"""An in-memory network for deterministic fault simulation of the links.

Why: the gateway's promises — nothing lost, every unknown outcome reversed,
no answer ever reaching the wrong request — hold or fail in the
interleavings of a faulty network: a response lost after the switch
approved, a center that crashes mid-request, a frame repeated by a
misbehaving peer. Real sockets give those interleavings rarely and never
twice. :class:`SimNetwork` gives them on purpose and exactly again: it runs
the real links (``open_link``, ``serve_links``) over in-memory
:class:`trio.abc.Stream` objects under ``trio.testing.MockClock``, with
every latency and every fault drawn from one ``random.Random``, so a
failing run replays from its seed (the approach of FoundationDB's
simulator and TigerBeetle's VOPR).

Nodes are names. A node listens with :meth:`SimNetwork.listen` (a
:class:`trio.abc.Listener` for ``serve_links(listeners=[...])``) and
connects with :meth:`SimNetwork.connector` (what ``open_link`` takes).
Faults come two ways: per frame, at the rates of a
:class:`~sscard_gateway.testing.Faults` (frames are cut with the
listener's dialect framing), and on command of the harness —
:meth:`SimNetwork.cut`, :meth:`SimNetwork.silence`, :meth:`SimNetwork.kill`
and :meth:`SimNetwork.revive`. Every connection event and fault goes to
the ``trace`` callback as a line with its virtual time; frames are named by
direction, number and length only, never by content (they carry card data).
"""

from __future__ import annotations

import errno
import random as _random
from collections import deque
from collections.abc import Awaitable, Callable
from typing import NoReturn

import trio

from ..iso import Dialect
from ._faults import Faults, NetworkStatistics
from ._stream import SimConnection, SimStream
from ._world import Busy, Node, Trace, World

__all__ = ["SimListener", "SimNetwork"]


class SimListener(trio.abc.Listener[SimStream]):
    """A listening address of a :class:`SimNetwork` (from :meth:`SimNetwork.listen`).

    ``accept()`` returns the server end of each new connection. Closing it
    frees the address and refuses new connections; connections not yet
    accepted are reset. If its node is killed it accepts nothing ever
    again (a revived node listens anew).

    Attributes:
        address: the address it listens at.
        node: the node listening.
        dialect: the framing of its connections' byte streams (``None``: unframed).
        faults: the per-frame faults of its connections.
    """

    def __init__(
        self, network: SimNetwork, address: str, node: Node, dialect: Dialect | None, faults: Faults
    ) -> None:
        self._network = network
        self.address = address
        self.node = node.name
        self.dialect = dialect
        self.faults = faults
        self._backlog: deque[SimStream] = deque()
        self._closed = False
        self._dead = False
        self._waiter: trio.Event | None = None
        self._accepting = Busy("another task is accepting on this listener")

    def __repr__(self) -> str:
        return f"<SimListener {self.node} at {self.address!r}>"

    def _wake(self) -> None:
        if self._waiter is not None:
            self._waiter.set()

    async def accept(self) -> SimStream:
        """Wait for a connection and return its server end.

        Returns:
            The server end (its ``connection`` names the client node).

        Raises:
            trio.BusyResourceError: another task is accepting on this listener.
            trio.ClosedResourceError: the listener was closed (before or during the call).
        """
        with self._accepting:
            await trio.lowlevel.checkpoint()
            while True:
                if self._closed:
                    raise trio.ClosedResourceError("this listener was closed")
                if self._backlog and not self._dead:
                    return self._backlog.popleft()
                self._waiter = trio.Event()
                try:
                    await self._waiter.wait()
                finally:
                    self._waiter = None

    async def aclose(self) -> None:
        """Stop listening: the address is free again."""
        if not self._closed:
            self._closed = True
            self._network._unlisten(self, "closed")
            self._wake()
        await trio.lowlevel.checkpoint()


class SimNetwork:
    """Nodes, listeners and connections in memory, with faults from one seed.

    Everything happens in the Trio thread in Trio's (virtual) time: run it
    under ``trio.testing.MockClock(autojump_threshold=0)``, and seed Trio's
    scheduler with :func:`~sscard_gateway.testing.seed_trio_scheduler`, so
    that the same seed and the same calls give the same run, trace line for
    trace line. A network belongs to the ``trio.run`` that first used it.

    Args:
        random: the source of every latency and fault (seed it).
        faults: per-frame faults of every connection (none by default;
            :meth:`listen` may set others per address).
        trace: called with ``(virtual time, line)`` for every connection
            event and every fault; lines carry no payload bytes.
        latency: the one-way delay of every frame, in seconds.
        jitter: the most extra delay, drawn uniformly per frame.

    Raises:
        ValueError: a negative latency or jitter.
    """

    def __init__(
        self,
        random: _random.Random,
        *,
        faults: Faults | None = None,
        trace: Trace | None = None,
        latency: float = 0.001,
        jitter: float = 0.001,
    ) -> None:
        if not (latency >= 0.0 and jitter >= 0.0):
            raise ValueError(f"latency and jitter must be >= 0, got {latency!r}, {jitter!r}")
        self._world = World(random, faults or Faults.none(), trace, latency, jitter)

    @property
    def faults(self) -> Faults:
        """The per-frame faults of connections whose listener set none."""
        return self._world.faults

    def calm(self) -> None:
        """Stop every per-frame fault, on the connections open now and on later ones.

        A simulation's faults stop before its judge reads the records:
        the run must then drain (what is owed, delivered) on a sound network.
        """
        calm = Faults.none()
        self._world.faults = calm
        for listener in list(self._world.listeners.values()):
            listener.faults = calm
        for connection in self.connections():
            connection.faults = calm

    # -- listening and connecting ----------------------------------------------------------

    def listen(
        self, address: str, *, node: str, dialect: Dialect | None, faults: Faults | None = None
    ) -> SimListener:
        """Listen at ``address`` on behalf of ``node``.

        Args:
            address: any name (``"gateway:7001"``); one listener at a time.
            node: the listening node.
            dialect: its connections' framing (``spec.prefix``,
                ``spec.max_length``, ``spec.prefix_includes_itself``), used to
                cut each direction into frames for the per-frame faults;
                ``None`` for a stream of raw bytes (no per-frame faults).
            faults: the per-frame faults of connections to this address
                (the network's by default), e.g. to spare some links.

        Returns:
            The listener; pass it to ``serve_links(..., listeners=[listener])``.

        Raises:
            OSError: ``EADDRINUSE`` when another listener holds the address,
                ``EADDRNOTAVAIL`` when ``node`` is down.
        """
        world = self._world
        host = world.node(node)
        if not host.alive:
            raise OSError(errno.EADDRNOTAVAIL, f"cannot listen at {address!r}: {node} is down")
        if address in world.listeners:
            raise OSError(errno.EADDRINUSE, f"{address!r} is in use")
        listener = SimListener(self, address, host, dialect, faults or world.faults)
        world.listeners[address] = listener
        host.listeners.append(listener)
        framing = "unframed" if dialect is None else dialect.name
        world.log(f"{node} listens at {address} ({framing})")
        return listener

    def _unlisten(self, listener: SimListener, why: str) -> None:
        world = self._world
        if world.listeners.get(listener.address) is listener:
            del world.listeners[listener.address]
        host = world.node(listener.node)
        if listener in host.listeners:
            host.listeners.remove(listener)
        if listener._dead:
            return  # its node was killed: its connections are handled there
        world.log(f"{listener.node} stops listening at {listener.address} ({why})")
        while listener._backlog:
            stream = listener._backlog.popleft()
            stream.connection._break("the listener closed before accepting it")

    def connector(self, address: str, *, node: str) -> Callable[[], Awaitable[SimStream]]:
        """A connector for ``open_link``: each call opens a connection from ``node``.

        The connector belongs to ``node``'s current incarnation: once the
        node is killed it refuses forever, even after :meth:`revive` (make
        a new one for the new incarnation).

        Args:
            address: where to connect.
            node: the connecting node.

        Returns:
            An async function returning the client end of a new connection,
            after one latency (and after any silence of either node ends);
            it raises :class:`ConnectionRefusedError` (an ``OSError``) when
            nothing listens at ``address`` or either node is down.
        """
        world = self._world
        client = world.node(node)
        incarnation = client.incarnation

        async def connect() -> SimStream:
            if not client.alive or client.incarnation != incarnation:
                self._refuse(node, address, f"{node} is down")
            await trio.sleep(world.transit())
            while True:
                listener = world.listeners.get(address)
                until = client.silenced_until
                if listener is not None:
                    until = max(until, world.node(listener.node).silenced_until)
                if until <= trio.current_time():
                    break
                await trio.sleep_until(until)
            if not client.alive or client.incarnation != incarnation:
                self._refuse(node, address, f"{node} is down")
            if listener is None:
                self._refuse(node, address, "nothing listens there")
            return self._open(listener, client)

        return connect

    def _refuse(self, node: str, address: str, why: str) -> NoReturn:
        world = self._world
        world.counts["connections_refused"] += 1
        world.log(f"{node} -> {address} refused: {why}")
        raise ConnectionRefusedError(
            errno.ECONNREFUSED, f"connection to {address!r} refused: {why}"
        )

    def _open(self, listener: SimListener, client: Node) -> SimStream:
        world = self._world
        world.connection_count += 1
        number = world.connection_count
        server = world.node(listener.node)
        connection = SimConnection(
            world, number, listener.address, client, server, listener.dialect, listener.faults
        )
        listener._backlog.append(connection.server_end)
        listener._wake()
        world.counts["connections_opened"] += 1
        world.log(f"conn {number} open {client.name} -> {server.name} at {listener.address}")
        return connection.client_end

    # -- looking ---------------------------------------------------------------------------

    def connections(self, node: str | None = None) -> list[SimConnection]:
        """The open connections (of ``node``, or all), oldest first.

        Returns:
            The connections, a copy.
        """
        if node is not None:
            return list(self._world.node(node).connections.values())
        found: dict[int, SimConnection] = {}
        for host in self._world.nodes.values():
            found.update(host.connections)
        return [found[number] for number in sorted(found)]

    def alive(self, node: str) -> bool:
        """Whether ``node`` is up (not killed, or revived since)."""
        return self._world.node(node).alive

    def statistics(self) -> NetworkStatistics:
        """A snapshot of the counters (frames, bytes, connections, node faults)."""
        return self._world.statistics()

    # -- faults on command -----------------------------------------------------------------

    def cut(
        self, target: SimConnection | str, *, orderly: bool = False, side: str | None = None
    ) -> int:
        """Cut a connection, or every connection of a node.

        Abortive (the default): both ends break at once — ``receive_some``
        raises :class:`trio.BrokenResourceError` once what already arrived
        is read, bytes in flight either way are lost. Orderly: the ``side``
        end (both ends when ``None``) is closed for writing on its node's
        behalf, as by a FIN: its peer reads what is in flight, then ``b""``;
        the closed end can still read what its peer sends.

        Args:
            target: a :class:`SimConnection`, or a node name (all its connections).
            orderly: close in an orderly way instead of breaking.
            side: the node whose end closes; ``None`` for both ends. With a
                node as ``target`` it must be that node. An abortive cut
                breaks both ends whatever the side (it only shows in the trace).

        Returns:
            How many open connections were cut.

        Raises:
            ValueError: ``side`` is not a node of the connection (or not ``target``).
        """
        world = self._world
        if isinstance(target, SimConnection):
            connections = [target] if target.is_open else []
            if side is not None and side not in (target.client, target.server):
                raise ValueError(f"{side!r} is not a node of connection {target.number}")
        else:
            if side is not None and side != target:
                raise ValueError(f"cutting node {target!r}: side must be {target!r} or None")
            connections = list(world.node(target).connections.values())
        for connection in connections:
            world.counts["connections_cut"] += 1
            if not orderly:
                how = "cut" if side is None else f"cut from {side}'s side"
                connection._break(how)
                continue
            for end in (connection.client_end, connection.server_end):
                if side is None or end.node == side:
                    connection._shutdown(end)
        return len(connections)

    def silence(self, node: str, duration: float) -> float:
        """Hold every frame from or to ``node`` for ``duration`` seconds (a partition).

        Nothing is lost: frames in flight and frames written meanwhile
        arrive, in order, when the silence ends; connection attempts from
        or to the node wait for it too. Silences overlap to the latest end.

        Args:
            node: the node falling silent.
            duration: seconds of virtual time.

        Returns:
            The virtual time the silence ends.

        Raises:
            ValueError: a negative duration.
        """
        if not duration >= 0.0:
            raise ValueError(f"a silence lasts >= 0 s, got {duration!r}")
        return self._world.silence(node, duration)

    def kill(self, node: str, *, reset: bool = True) -> None:
        """Crash ``node``: its connections, listeners and bytes in flight are gone.

        Every connection of the node breaks at once (its peers get
        :class:`trio.BrokenResourceError` once they have read what had
        already arrived), what is in flight from or to it is lost, its
        listeners accept nothing more and free their addresses, and its
        listeners, connectors and streams stay dead for good: code that
        keeps running after the "crash" reaches no peer, even after
        :meth:`revive`. Killing a dead node does nothing.

        Args:
            node: the node.
            reset: ``False`` for a host that vanishes without resetting its
                connections: its peers hear nothing at all (what they send is
                lost, nothing arrives) and must notice by their own timeouts.
        """
        world = self._world
        host = world.node(node)
        if not host.alive:
            return
        host.alive = False
        host.incarnation += 1
        world.counts["kills"] += 1
        world.log(f"node {node} killed" + ("" if reset else " (no reset)"))
        for listener in list(host.listeners):
            listener._dead = True
            self._unlisten(listener, "killed")
        for connection in list(host.connections.values()):
            if reset:
                connection._break(f"node {node} killed", dead=host)
            else:
                connection._vanish(host)

    def revive(self, node: str) -> None:
        """Bring ``node`` back up: it may listen and connect again (with new objects).

        Args:
            node: the node (reviving a live node does nothing).
        """
        world = self._world
        host = world.node(node)
        if host.alive:
            return
        host.alive = True
        world.counts["revivals"] += 1
        world.log(f"node {node} revived")
