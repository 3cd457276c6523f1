"""Simulated connections: a pair of Trio streams joined by a pipe each way.

Why: the links must meet, in simulation, what a real network does to them
— latency, a peer that closes, a peer that vanishes — and what a
misbehaving middlebox or peer does — frames lost, repeated, late or out of
order — without a socket, a thread or the wall clock, and the same way
every time for one seed. The pipes (``_pipe.py``) carry the bytes and
apply the per-frame faults; this module holds the two ends and what
happens to the connection as a whole (closed, cut, broken, vanished).

Ends behave as Trio's own streams do: ``receive_some`` returns ``b""``
after the peer's orderly close, raises :class:`trio.BrokenResourceError`
after an abortive one (what had already arrived can still be read first)
and :class:`trio.ClosedResourceError` after the end's own ``aclose``; two
tasks sending (or receiving) at once get :class:`trio.BusyResourceError`.
Once the peer closed its end, writing raises
:class:`trio.BrokenResourceError` at once, as with Trio's memory streams
(the close need not travel first: a writer that never blocks could
otherwise spin forever in virtual time). Writing to a peer that vanished
(a node killed without reset) succeeds, and the bytes go nowhere.
"""

from __future__ import annotations

import operator

import trio

from ..iso import Dialect
from ._faults import Faults
from ._pipe import Pipe
from ._world import Busy, Node, World

__all__ = ["SimConnection", "SimStream"]


class SimStream(trio.abc.Stream):
    """One end of a :class:`SimConnection`: a :class:`trio.abc.Stream`.

    Attributes:
        connection: the connection this end belongs to.
        node: the node holding this end.
        peer: the node at the other end.
    """

    def __init__(self, connection: SimConnection, node: str, peer: str) -> None:
        self.connection = connection
        self.node = node
        self.peer = peer
        self._out: Pipe
        self._in: Pipe
        self._buffer = bytearray()
        self._eof = False
        self._peer_closed = False
        self._broken = False
        self._shut = False
        self._closed = False
        self._waiter: trio.Event | None = None
        self._sending = Busy("another task is using this stream to send")
        self._receiving = Busy("another task is using this stream to receive")

    def __repr__(self) -> str:
        return f"<SimStream conn {self.connection.number} {self.node}>{self.peer}>"

    def _wake(self) -> None:
        if self._waiter is not None:
            self._waiter.set()

    def _check_send(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("this stream was closed")
        if self._broken:
            raise trio.BrokenResourceError(f"connection {self.connection.number} broken")
        if self._shut:
            raise trio.BrokenResourceError("the network closed this end for writing")
        if self._peer_closed:
            raise trio.BrokenResourceError("the peer closed the connection")

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send ``data`` (it is buffered at once: sending never blocks).

        Raises:
            trio.BusyResourceError: another task is sending on this end.
            trio.ClosedResourceError: this end was closed.
            trio.BrokenResourceError: the connection broke, or the peer closed it.
        """
        payload = bytes(data)
        with self._sending:
            await trio.lowlevel.checkpoint()
            self._check_send()
            if payload:
                self._out.write(payload)

    async def wait_send_all_might_not_block(self) -> None:
        """Return at once (sending never blocks) after a checkpoint.

        Raises:
            trio.BusyResourceError: another task is sending on this end.
            trio.ClosedResourceError: this end was closed.
            trio.BrokenResourceError: the connection broke.
        """
        with self._sending:
            await trio.lowlevel.checkpoint()
            if self._closed:
                raise trio.ClosedResourceError("this stream was closed")
            if self._broken:
                raise trio.BrokenResourceError(f"connection {self.connection.number} broken")

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Wait for bytes from the peer.

        Args:
            max_bytes: the most bytes to return (all that arrived if ``None``).

        Returns:
            The bytes, or ``b""`` once the peer closed in an orderly way.

        Raises:
            ValueError: ``max_bytes`` is below 1.
            trio.BusyResourceError: another task is receiving on this end.
            trio.ClosedResourceError: this end was closed (before or during the call).
            trio.BrokenResourceError: the connection broke (node killed, cut).
        """
        if max_bytes is not None:
            max_bytes = operator.index(max_bytes)
            if max_bytes < 1:
                raise ValueError("max_bytes must be >= 1")
        with self._receiving:
            await trio.lowlevel.checkpoint()
            while True:
                if self._closed:
                    raise trio.ClosedResourceError("this stream was closed")
                if self._buffer:
                    size = len(self._buffer) if max_bytes is None else max_bytes
                    data = bytes(self._buffer[:size])
                    del self._buffer[:size]
                    return data
                if self._broken:
                    raise trio.BrokenResourceError(f"connection {self.connection.number} broken")
                if self._eof:
                    return b""
                self._waiter = trio.Event()
                try:
                    await self._waiter.wait()
                finally:
                    self._waiter = None

    async def aclose(self) -> None:
        """Close this end: the peer reads what is in flight, then ``b""``."""
        if not self._closed:
            self._closed = True
            self._buffer.clear()
            self.connection._closed_by(self)
            self._wake()
        await trio.lowlevel.checkpoint()


class SimConnection:
    """A connection of a :class:`~sscard_gateway.testing.SimNetwork`.

    Get it from :attr:`SimStream.connection` or
    :meth:`~sscard_gateway.testing.SimNetwork.connections`, and cut it with
    :meth:`~sscard_gateway.testing.SimNetwork.cut`.

    Attributes:
        number: its number in the trace (``conn 3``), from 1 per network.
        address: the address it was opened to.
        client: the node that connected.
        server: the node that accepted.
        faults: the per-frame faults applied to it.
        client_end: the client's stream.
        server_end: the server's stream.
    """

    def __init__(
        self,
        world: World,
        number: int,
        address: str,
        client: Node,
        server: Node,
        dialect: Dialect | None,
        faults: Faults,
    ) -> None:
        self._world = world
        self._nodes = (client, server)
        self.number = number
        self.address = address
        self.client = client.name
        self.server = server.name
        self.faults = faults
        self.client_end = SimStream(self, client.name, server.name)
        self.server_end = SimStream(self, server.name, client.name)
        up = Pipe(self, self.client_end, self.server_end, dialect)
        down = Pipe(self, self.server_end, self.client_end, dialect)
        self.client_end._out = self.server_end._in = up
        self.server_end._out = self.client_end._in = down
        self._pipes = (up, down)
        self._finished = False
        client.connections[number] = self
        server.connections[number] = self

    def __repr__(self) -> str:
        return f"<SimConnection {self.number} {self.client}->{self.server} at {self.address!r}>"

    @property
    def is_open(self) -> bool:
        """Whether either end may still carry bytes (not closed nor broken)."""
        return not self._finished

    def _silence_end(self) -> float:
        return max(node.silenced_until for node in self._nodes)

    def _hold_until(self, until: float) -> None:
        for pipe in self._pipes:
            pipe.hold_until(until)

    def _done(self, end: SimStream) -> bool:
        return end._closed or end._broken

    def _check_finished(self) -> None:
        if not self._finished and self._done(self.client_end) and self._done(self.server_end):
            self._finished = True
            for node in self._nodes:
                node.connections.pop(self.number, None)

    def _closed_by(self, end: SimStream) -> None:
        if not end._broken:
            self._world.log(f"conn {self.number} closed by {end.node}")
            end._in.receiver_gone = True
            frames, size = end._in.discard()
            if size:
                self._world.log(f"conn {self.number} {end.peer}>{end.node} lost {frames} frames, "
                                f"{size} bytes in flight to a closed end")  # fmt: skip
            end._out.send_end()
            end._in.sender._peer_closed = True
        self._check_finished()

    def _shutdown(self, end: SimStream) -> None:
        """Close ``end`` for writing on its node's behalf (an orderly cut)."""
        if self._done(end) or end._shut:
            return
        end._shut = True
        end._out.send_end()
        self._world.log(f"conn {self.number} closed from {end.node}'s side (orderly)")

    def _break(self, reason: str, *, dead: Node | None = None) -> None:
        """End the connection abortively: both ends raise BrokenResourceError."""
        if self._finished:
            return
        world = self._world
        notes = []
        for pipe in self._pipes:
            frames, size = pipe.discard()
            pipe.receiver_gone = pipe.ended = True
            if size:
                notes.append(f"{pipe.sender.node}>{pipe.receiver.node} lost {frames} frames, "
                             f"{size} bytes")  # fmt: skip
        for end in (self.client_end, self.server_end):
            end._broken = True
            if dead is not None and end.node == dead.name:
                end._buffer.clear()
            end._wake()
        world.counts["connections_broken"] += 1
        world.log(f"conn {self.number} broken: {reason}" + "".join(f"; {n}" for n in notes))
        self._finished = True
        for node in self._nodes:
            node.connections.pop(self.number, None)

    def _cut_by_fault(self, pipe: str, frame: int | None) -> None:
        self._world.counts["connections_cut"] += 1
        self._break(f"random cut after {pipe} frame {frame} arrived")

    def _vanish(self, dead: Node) -> None:
        """``dead`` crashed without a reset: its ends die, its peers hear nothing."""
        ends = [e for e in (self.client_end, self.server_end) if e.node == dead.name]
        if len(ends) == 2:
            self._break(f"node {dead.name} killed", dead=dead)
            return
        (end,) = ends
        world = self._world
        out_frames, out_size = end._out.discard()
        end._out.ended = True
        end._in.receiver_gone = True
        in_frames, in_size = end._in.discard()
        end._broken = True
        end._buffer.clear()
        end._wake()
        world.log(f"conn {self.number}: {dead.name} vanished (no reset); lost "
                  f"{out_frames + in_frames} frames, {out_size + in_size} bytes")  # fmt: skip
        dead.connections.pop(self.number, None)
        self._check_finished()
