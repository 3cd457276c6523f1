"""Driving a LinkProtocol over a Trio stream: the part both link ends share.

Why: the sans-I/O :class:`~sscard_gateway.link.LinkProtocol` decides; this
layer only moves bytes and sleeps (docs/architecture.md principle 1, "Trio at
the edge"). Per connection three tasks run: a reader feeding the protocol,
a writer draining a queue of frames (several frames written in one call
when they pile up), and a timer sleeping until ``next_deadline()``. Events
are dispatched synchronously right after each protocol call, so a waiting
request is resolved in the same scheduling step its response is read.

Every request has one waiter; the protocol guarantees exactly one ending
event per request (response, timeout, connection failure), and a caller
that goes away abandons its request so that a late answer goes to the
unmatched handler. Inbound requests run the application's handler in a
task of their own; its response goes back only on the connection the
request came from. Logs show masked messages and typed errors, never raw
frames (docs/architecture.md principle 5).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from collections.abc import Awaitable, Callable

import attrs
import trio

from ..errors import (
    LinkClosed,
    LinkUnavailable,
    ProtocolError,
    RequestTimeout,
    SscardError,
)
from ..iso import Message
from ._events import (
    NEED_DATA,
    EchoDue,
    FrameRejected,
    KeepaliveReceived,
    KeyExchangeFailed,
    KeysChanged,
    NetworkRequestAnswered,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    StateChanged,
    UnmatchedResponse,
)
from ._state import LinkState
from ._waiter import Waiter
from .protocol import LinkProtocol, LinkStatistics

__all__ = ["RequestHandler", "SentHandler", "StateHandler", "StreamDriver", "UnmatchedHandler"]

log = logging.getLogger("sscard_gateway.link")

RequestHandler = Callable[[Message], Awaitable[Message | None]]
"""Answers an inbound request: a response to send, or ``None`` for none."""
UnmatchedHandler = Callable[[Message, bool], None]
"""Receives a response that matched no request, and whether it was late."""
SentHandler = Callable[[Message, Message, bool], None]
"""Told of every answer the handler gave: (request, response, whether it went out on the
connection its request came in on). An answer that could not go out is the application's to
act on (an approval nobody received is reversed)."""
StateHandler = Callable[[LinkState], None]
"""Told of every state change of the link (signed on, closed...)."""

_RECEIVE_SIZE = 65536


class StreamDriver:
    """One :class:`LinkProtocol` driven over successive Trio streams.

    Args:
        proto: the protocol (reused across connections).
        handler: answers inbound requests; ``None`` answers them with
            ``unhandled_code``.
        on_unmatched: told about late and unknown responses (they are
            logged in any case).
        unhandled_code: F39 for requests when there is no handler.
        name: the link's name in logs.
        on_sent: told of each answer the handler gave and whether it went out.
        on_state: told of each state change.
    """

    def __init__(
        self,
        proto: LinkProtocol,
        *,
        handler: RequestHandler | None,
        on_unmatched: UnmatchedHandler | None,
        unhandled_code: str,
        name: str,
        on_sent: SentHandler | None = None,
        on_state: StateHandler | None = None,
    ) -> None:
        self.proto = proto
        self.name = name
        self._handler = handler
        self._on_unmatched = on_unmatched
        self._on_sent = on_sent
        self._on_state = on_state
        self._unhandled_code = unhandled_code
        self._timeout_code = proto.dialect.spec.timeout_response
        self._waiters: dict[int, Waiter] = {}
        self._ready = trio.Event()
        self._session = 0
        self._out: trio.MemorySendChannel[bytes] | None = None
        self._scope: trio.CancelScope | None = None
        self._nursery: trio.Nursery | None = None
        self._handlers: trio.Nursery | None = None
        self._wake = trio.Event()
        self._timer_at = math.inf
        self._closing = False
        self._finished = trio.Event()
        self._handling = 0  # inbound requests in hand
        self._busy = 0  # inbound requests answered busy_code at once

    # -- public ---------------------------------------------------------------------

    @property
    def state(self) -> LinkState:
        """The protocol's state."""
        return self.proto.state

    def statistics(self) -> LinkStatistics:
        """A snapshot of the protocol's counters (and of the requests refused busy)."""
        return attrs.evolve(self.proto.statistics(), busy=self._busy)

    async def wait_ready(self) -> None:
        """Wait until the link is signed on (at once if it is)."""
        while self.proto.state is not LinkState.SIGNED_ON:
            await self._ready.wait()

    async def request(self, message: Message, *, timeout: float | None = None) -> Message:
        """Send a request and wait for its response.

        Waits (within ``timeout``) for the link to be signed on first.

        Args:
            message: the request or advice; its match key must be free.
            timeout: seconds for the whole exchange (the link's default if
                ``None``).

        Returns:
            The response (MAC verified when MACs are configured).

        Raises:
            RequestTimeout: no response in time (``response_code`` is the
                dialect's timeout answer, 98 or 68).
            LinkUnavailable: not signed on in time, or the link is closing;
                the request was not sent.
            LinkClosed: the connection was lost after sending.
            RejectedByPeer: CUPS returned it with a reject header.
            DuplicateRequest: a request with its match key is in flight.
            EncodeError: it cannot be encoded.
        """
        return await self._request_by(message, self._deadline(timeout))

    def _deadline(self, timeout: float | None) -> float:
        if timeout is None:
            timeout = self.proto.config.request_timeout
        return trio.current_time() + timeout

    async def _request_by(self, message: Message, deadline: float) -> Message:
        if message.is_response:
            raise ProtocolError(f"{message.mti} is a response: use send()")
        while True:
            if self._closing:
                raise LinkUnavailable("the link is closing")
            if self.proto.state is not LinkState.SIGNED_ON:
                with trio.move_on_at(deadline):
                    await self.wait_ready()
            now = trio.current_time()
            if now >= deadline:
                raise LinkUnavailable("the link did not sign on before the request's deadline")
            try:
                send = functools.partial(self.proto.send_request, message, now, deadline - now)
                return await self._exchange(send)
            except ProtocolError:
                if self.proto.state is LinkState.SIGNED_ON:
                    raise
                # the connection went down between wait_ready and sending: wait again

    async def send(self, message: Message) -> None:
        """Send a response, or an advice whose answer nobody waits for.

        Args:
            message: the response or advice (MAC added when MACs are on).

        Raises:
            LinkUnavailable: no connection.
            ProtocolError: not allowed in this state.
            EncodeError: it cannot be encoded.
        """
        if self._out is None:
            raise LinkUnavailable("not connected")
        data = self.proto.send(message, trio.current_time())
        self._write(data)
        self._dispatch()

    def drop(self) -> None:
        """Close the current connection at once, without signing off.

        Requests in flight on it fail with
        :class:`~sscard_gateway.errors.LinkClosed`; a client link reconnects
        (simulators and tests use this to cut a line).
        """
        self._close_connection()

    # -- requests -------------------------------------------------------------------

    async def _exchange(self, register: Callable[[], tuple[int, bytes]]) -> Message:
        request_id, data = register()
        waiter = Waiter()
        self._waiters[request_id] = waiter
        self._write(data)
        self._dispatch()  # e.g. the state change of a sign-on; re-arms the timer
        try:
            await waiter.wait()
        finally:
            if not waiter.finished:  # the caller went away (cancelled)
                self._waiters.pop(request_id, None)
                self.proto.abandon(request_id, trio.current_time())
                self._dispatch()
        return waiter.result()

    def _write(self, data: bytes | None) -> None:
        if data is None or self._out is None:
            return  # nothing to write, or no connection: the protocol fails what is pending
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            self._out.send_nowait(data)

    def _rearm_timer(self) -> None:
        """Wake the timer when the protocol's next deadline came before its sleep's end."""
        deadline = self.proto.next_deadline()
        if deadline is not None and deadline < self._timer_at:
            self._wake.set()

    def _resolve(self, request_id: int, message: Message | None, error: SscardError | None) -> None:
        waiter = self._waiters.pop(request_id, None)
        if waiter is not None:
            waiter.done(message, error)

    # -- events ---------------------------------------------------------------------

    def _dispatch(self) -> None:
        proto = self.proto
        while (event := proto.next_event()) is not NEED_DATA:
            if isinstance(event, ResponseReceived):
                self._resolve(event.request_id, event.message, None)
            elif isinstance(event, RequestTimedOut):
                error = RequestTimeout(response_code=self._timeout_code)
                self._resolve(event.request_id, None, error)
            elif isinstance(event, RequestFailed):
                self._resolve(event.request_id, None, event.error)
            elif isinstance(event, RequestReceived):
                self._spawn_handler(event.message)
            elif isinstance(event, UnmatchedResponse):
                kind = "late" if event.late else "unknown"
                log.warning("%s: %s response dropped: %r", self.name, kind, event.message)
                if self._on_unmatched is not None:
                    self._on_unmatched(event.message, event.late)
            elif isinstance(event, FrameRejected):
                log.error("%s: frame rejected: %s: %s", self.name, type(event.error).__name__,
                          event.error)  # fmt: skip
                self._write(event.reply)
                if event.close:
                    self._close_connection()
            elif isinstance(event, NetworkRequestAnswered | KeepaliveReceived):
                self._write(event.reply)
            elif isinstance(event, KeysChanged):
                log.info("%s: keys changed: %s", self.name, ", ".join(map(str, event.keys)))
                self._write(event.reply)
            elif isinstance(event, KeyExchangeFailed):
                log.error("%s: key exchange refused: %s", self.name, event.error)
                self._write(event.reply)
            elif isinstance(event, EchoDue):
                if self._nursery is not None:
                    self._nursery.start_soon(self._echo)
            elif isinstance(event, StateChanged):
                self._state_changed(event)
        self._rearm_timer()  # a state change, a frame or new keys may bring a deadline forward

    def _state_changed(self, event: StateChanged) -> None:
        log.info("%s: %s -> %s", self.name, event.previous.value, event.state.value)
        if event.state is LinkState.SIGNED_ON:
            self._ready.set()
        elif event.previous is LinkState.SIGNED_ON:
            self._ready = trio.Event()
        if self._on_state is not None:
            self._on_state(event.state)

    def _spawn_handler(self, message: Message) -> None:
        nursery = self._handlers if self._handlers is not None else self._nursery
        if nursery is None:
            return
        config = self.proto.config
        if self._handling >= config.max_handling:
            self._busy += 1
            log.warning("%s: %d requests in hand; answering %s at once: %r", self.name,
                        self._handling, config.busy_code, message)  # fmt: skip
            try:
                busy = message.response_to(config.busy_code)
            except SscardError as exc:  # nothing to answer it with: dropped
                log.error("%s: cannot answer %r: %s", self.name, message, exc)
                return
            self._respond(busy, self._session)
            return
        self._handling += 1
        nursery.start_soon(self._handle, message, self._session)

    async def _handle(self, message: Message, session: int) -> None:
        response: Message | None
        try:
            if self._handler is None:
                log.warning("%s: no handler for %r", self.name, message)
                response = message.response_to(self._unhandled_code)
            else:
                try:
                    response = await self._handler(message)
                except Exception as exc:
                    code = getattr(exc, "response_code", None) or "96"
                    log.exception(
                        "%s: handler failed on %r; answering %s", self.name, message, code
                    )
                    response = message.response_to(code)
        finally:
            self._handling -= 1
        if response is not None:
            sent = self._respond(response, session)
            if self._on_sent is not None:
                self._on_sent(message, response, sent)
            self._dispatch()

    def _respond(self, response: Message, session: int) -> bool:
        """Send an answer on the connection its request came in on (if it is still up).

        It does not dispatch the events the send may raise: its callers do
        (a busy answer is sent from inside :meth:`_dispatch`, which must not
        recurse once per buffered request).

        Returns:
            Whether it was handed to that connection.
        """
        if session != self._session or self._out is None:
            log.warning("%s: connection gone, response dropped: %r", self.name, response)
            return False
        try:
            data = self.proto.send(response, trio.current_time())
        except SscardError as exc:
            log.error("%s: cannot send response %r: %s", self.name, response, exc)
            return False
        self._write(data)
        return True

    async def _echo(self) -> None:
        try:
            await self._exchange(lambda: self.proto.echo(trio.current_time()))
        except RequestTimeout:
            log.warning("%s: echo test unanswered; closing the connection", self.name)
            self._close_connection()
        except (LinkClosed, ProtocolError) as exc:
            log.info("%s: echo test not completed: %s", self.name, exc)

    # -- one connection ---------------------------------------------------------------

    def _close_connection(self) -> None:
        if self._scope is not None:
            self._scope.cancel()

    async def _run_connection(
        self, stream: trio.abc.Stream, *, task_status: trio.TaskStatus[None]
    ) -> None:
        """Drive ``stream`` until it ends; the protocol is closed again afterwards."""
        send, receive = trio.open_memory_channel[bytes](math.inf)
        self._session += 1
        self._finished = trio.Event()
        try:
            with trio.CancelScope() as scope:
                self._scope = scope
                self.proto.connect(trio.current_time())
                if not self.proto.config.sign_on:
                    self.proto.skip_sign_on()
                self._out = send
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    nursery.start_soon(self._reader, stream, scope)
                    nursery.start_soon(self._writer, stream, receive, scope)
                    nursery.start_soon(self._timer)
                    self._dispatch()
                    task_status.started()
        finally:
            self._out = None
            self._nursery = None
            self._scope = None
            send.close()
            self.proto.connection_lost()
            self._dispatch()
            with trio.CancelScope(shield=True), trio.move_on_after(1.0):
                await stream.aclose()
            self._finished.set()

    async def _reader(self, stream: trio.abc.Stream, scope: trio.CancelScope) -> None:
        proto = self.proto
        try:
            while True:
                data = await stream.receive_some(_RECEIVE_SIZE)
                if not data:
                    log.info("%s: the peer closed the connection", self.name)
                    break
                proto.receive_data(data, trio.current_time())
                self._dispatch()
                if proto.state is LinkState.CLOSED:
                    break
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            log.warning("%s: connection lost: %s", self.name, type(exc).__name__)
        scope.cancel()

    async def _writer(
        self,
        stream: trio.abc.Stream,
        receive: trio.MemoryReceiveChannel[bytes],
        scope: trio.CancelScope,
    ) -> None:
        try:
            async for data in receive:
                batch = [data]
                while True:
                    try:
                        batch.append(receive.receive_nowait())
                    except trio.WouldBlock:
                        break
                await stream.send_all(b"".join(batch) if len(batch) > 1 else data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            log.warning("%s: cannot write: %s", self.name, type(exc).__name__)
        scope.cancel()

    async def _timer(self) -> None:
        proto = self.proto
        while True:
            deadline = proto.next_deadline()
            self._timer_at = math.inf if deadline is None else deadline
            with trio.move_on_at(self._timer_at):
                await self._wake.wait()
            self._wake = trio.Event()
            proto.on_tick(trio.current_time())
            self._dispatch()
