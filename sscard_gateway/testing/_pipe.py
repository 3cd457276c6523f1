"""One direction of a simulated connection: framing, per-frame faults, bytes in flight.

Why: per-frame faults need frames, and a byte stream has none; the pipe
cuts what its sender writes with the dialect's length prefix
(:class:`~sscard_gateway.iso.FrameDecoder`), decides each frame's fate from
the network's one random source, and hands it to the receiver at its
arrival time through the network's timer task, so that nothing depends on
when anybody happens to read. Bytes that do not complete a frame wait for
the rest; a stream whose prefix cannot be read (TLS, garbage) turns raw and
travels as written, without frame faults.

Arrival time is ``now + latency + uniform jitter`` (+ a delay fault),
never before the frame ahead of it (a stream stays in order, so a delayed
frame holds back those behind it) nor before a silence of either node
ends. A frame held for reordering is released behind the next one, or in
order once the reorder window passes.
"""

from __future__ import annotations

import collections
import functools
from typing import TYPE_CHECKING

import attrs
import trio

from ..errors import FrameTooLarge, FramingError
from ..iso import Dialect, FrameDecoder, LengthPrefix
from ._faults import Faults
from ._world import fmt

if TYPE_CHECKING:
    from ._stream import SimConnection, SimStream

__all__ = ["Pipe"]


@attrs.define(slots=True, eq=False)
class _Entry:
    at: float
    data: bytes | None  # None: the end of the stream
    frame: int | None = None  # frame number; None for raw bytes and the end
    cut_after: bool = False  # the connection breaks once this arrives


@attrs.define(slots=True, eq=False)
class _Held:
    data: bytes
    frame: int
    planned: float
    copies: int
    cut_after: bool


class Pipe:
    """One direction of a connection: framing, faults, bytes in flight."""

    def __init__(
        self,
        connection: SimConnection,
        sender: SimStream,
        receiver: SimStream,
        dialect: Dialect | None,
    ) -> None:
        self.connection = connection
        self.world = connection._world
        self.sender = sender
        self.receiver = receiver
        self.name = f"conn {connection.number} {sender.node}>{receiver.node}"
        self._prefix_size = 0
        self.decoder: FrameDecoder | None = None
        if dialect is not None and dialect.spec.prefix is not LengthPrefix.NONE:
            spec = dialect.spec
            self._prefix_size = spec.prefix.size
            self.decoder = FrameDecoder(
                spec.prefix, max_length=spec.max_length, includes_itself=spec.prefix_includes_itself
            )
        self.pending = bytearray()  # bytes of a frame not yet complete
        self.frames = 0
        self.in_flight: collections.deque[_Entry] = collections.deque()
        self.last_at = -1.0
        self.held: _Held | None = None
        self.receiver_gone = False  # closed or dead: what is written is discarded
        self.ended = False  # the end of the stream was sent (or the sender vanished)
        self._token = 0
        self._armed_at: float | None = None

    # -- writing ------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        counts = self.world.counts
        counts["bytes_sent"] += len(data)
        if self.receiver_gone:
            counts["bytes_lost"] += len(data)
            self.world.log(f"{self.name} {len(data)} bytes to a closed end discarded")
            return
        if self.decoder is None:
            self._send_raw(data)
            return
        self.pending += data
        try:
            self.decoder.receive_data(data)
            while (frame := self.decoder.next_frame()) is not None:
                size = self._prefix_size + len(frame)
                raw = bytes(self.pending[:size])
                del self.pending[:size]
                self._send_frame(raw)
        except (FramingError, FrameTooLarge) as exc:
            self.decoder = None
            self.world.log(f"{self.name} unframed after frame {self.frames}: {type(exc).__name__}")
            rest = bytes(self.pending)
            self.pending.clear()
            if rest:
                self._send_raw(rest)

    def _send_frame(self, raw: bytes) -> None:
        world = self.world
        faults: Faults = self.connection.faults
        random = world.random
        counts = world.counts
        self.frames += 1
        number = self.frames
        counts["frames_sent"] += 1
        what = f"{self.name} frame {number} len {len(raw)}"
        if faults.silence and random.random() < faults.silence:
            world.silence(self.sender.node, random.uniform(0.0, faults.max_silence))
        if faults.drop and random.random() < faults.drop:
            counts["frames_dropped"] += 1
            world.log(f"{what} dropped")
            return
        notes = []
        copies = 1
        if faults.duplicate and random.random() < faults.duplicate:
            copies = 2
            counts["frames_duplicated"] += 1
            notes.append("duplicated")
        extra = 0.0
        if faults.delay and random.random() < faults.delay:
            extra = random.uniform(0.0, faults.max_delay)
            counts["frames_delayed"] += 1
            notes.append(f"delayed {fmt(extra)} s")
        reorder = bool(faults.reorder) and random.random() < faults.reorder
        cut_after = bool(faults.cut) and random.random() < faults.cut
        if cut_after:
            notes.append("connection cut on arrival")
        now = trio.current_time()
        planned = now + world.transit() + extra
        held = self.held
        if held is None and reorder:
            self.held = _Held(raw, number, planned, copies, cut_after)
            world.log(f"{what} held to swap with the next frame" + "".join(f", {n}" for n in notes))
            release = functools.partial(self._release, self.held)
            world.timers.call_at(now + faults.reorder_window, release)
            return
        at = self._schedule(raw, number, planned, copies, cut_after)
        world.log(f"{what} arrives {fmt(at)}" + "".join(f", {n}" for n in notes))
        if held is not None:
            self.held = None
            at = self._schedule(held.data, held.frame, held.planned, held.copies, held.cut_after)
            counts["frames_reordered"] += 1
            world.log(f"{self.name} frame {held.frame} reordered behind frame {number}, "
                      f"arrives {fmt(at)}")  # fmt: skip

    def _release(self, held: _Held) -> None:
        """The reorder window ended with no frame to swap with: send it in order."""
        if self.held is not held:
            return
        self.held = None
        now = trio.current_time()
        at = self._schedule(held.data, held.frame, max(held.planned, now), held.copies,
                            held.cut_after)  # fmt: skip
        self.world.log(f"{self.name} frame {held.frame} released unswapped, arrives {fmt(at)}")

    def _send_raw(self, data: bytes) -> None:
        planned = trio.current_time() + self.world.transit()
        at = self._schedule(data, None, planned, 1, False)
        self.world.log(f"{self.name} {len(data)} raw bytes arrive {fmt(at)}")

    def _schedule(
        self, data: bytes | None, frame: int | None, planned: float, copies: int, cut_after: bool
    ) -> float:
        at = max(planned, self.last_at, self.connection._silence_end())
        for copy in range(copies):
            self.in_flight.append(
                _Entry(at, data, frame, cut_after=cut_after and copy == copies - 1)
            )
        self.last_at = at
        self._arm()
        return at

    def send_end(self) -> None:
        """The sender closed its end, or the network shut it: the end of the stream follows."""
        if self.receiver_gone or self.ended:
            self.ended = True
            return
        if self.held is not None:
            held, self.held = self.held, None
            at = self._schedule(held.data, held.frame, held.planned, held.copies, held.cut_after)
            self.world.log(
                f"{self.name} frame {held.frame} released at the close, arrives {fmt(at)}"
            )
        if self.pending:  # the start of a frame never finished: it arrives as it is
            rest = bytes(self.pending)
            self.pending.clear()
            self._send_raw(rest)
        self._schedule(None, None, trio.current_time() + self.world.transit(), 1, False)
        self.ended = True

    # -- arriving -----------------------------------------------------------------------

    def _arm(self, *, force: bool = False) -> None:
        if not self.in_flight:
            return
        head = self.in_flight[0].at
        if head == self._armed_at and not force:
            return
        self._token += 1
        self._armed_at = head
        self.world.timers.call_at(head, functools.partial(self._arrive, self._token))

    def _arrive(self, token: int) -> None:
        if token != self._token:
            return  # re-armed or discarded since
        self._armed_at = None
        now = trio.current_time()
        receiver = self.receiver
        counts = self.world.counts
        while self.in_flight and self.in_flight[0].at <= now:
            entry = self.in_flight.popleft()
            if entry.data is None:
                receiver._eof = True
            else:
                receiver._buffer += entry.data
                counts["bytes_delivered"] += len(entry.data)
                if entry.frame is not None:
                    counts["frames_delivered"] += 1
            receiver._wake()
            if entry.cut_after:
                self.connection._cut_by_fault(self.name, entry.frame)
                return
        self._arm()

    def hold_until(self, until: float) -> None:
        for entry in self.in_flight:
            entry.at = max(entry.at, until)
        self._arm(force=True)

    def discard(self) -> tuple[int, int]:
        """Lose what is in flight (and held, and half-written): (frames, bytes) lost."""
        frames = sum(1 for e in self.in_flight if e.frame is not None)
        size = sum(len(e.data) for e in self.in_flight if e.data is not None)
        if self.held is not None:
            frames += self.held.copies
            size += len(self.held.data) * self.held.copies
            self.held = None
        size += len(self.pending)
        self.pending.clear()
        self.in_flight.clear()
        self._token += 1
        self._armed_at = None
        counts = self.world.counts
        counts["frames_lost"] += frames
        counts["bytes_lost"] += size
        return frames, size
