"""The client end of a link with Trio: connect, sign on, reconnect, close gracefully.

Why: a member institution keeps one long-lived connection to CUPS (or a
regional center to the gateway) and must sign on after every connect
before any traffic (DOMAIN.md §2: 0820 F70 001; §3: POS 0800 F60.3 003
with the working keys in the answer). :func:`open_link` owns that
connection: it connects through an injectable function (TCP, TLS, or a
Trio memory stream in tests), signs on, keeps the line alive with echo
tests, reconnects after any loss with capped, jittered exponential backoff,
bounds the requests in flight (callers wait for a slot: backpressure) and,
when its block exits, refuses new requests, lets those in flight finish up
to a bound, signs off and closes.

All timing is Trio's clock, so tests run it under ``MockClock`` in virtual
time; the random source of the jitter is injected too.
"""

from __future__ import annotations

import logging
import random as _random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import attrs
import trio

from ..crypto import SecurityModule
from ..errors import LinkError, LinkUnavailable
from ..iso import Dialect, Message
from ._driver import RequestHandler, SentHandler, StateHandler, StreamDriver, UnmatchedHandler
from ._security import LinkKeys
from ._state import LinkState
from .protocol import LinkConfig, LinkProtocol

__all__ = ["Backoff", "Connector", "Link", "open_link", "tcp_connector"]

log = logging.getLogger("sscard_gateway.link")

Connector = Callable[[], Awaitable[trio.abc.Stream]]
"""Opens a new stream to the peer (raises ``OSError`` or a Trio error on failure)."""


@attrs.frozen(kw_only=True)
class Backoff:
    """Delays between connection attempts: capped, jittered, exponential.

    Attempt ``n`` (from 0) waits ``min(maximum, initial * multiplier**n)``
    reduced by up to ``jitter`` of itself at random, so that many links
    restarting together do not reconnect in step.
    """

    initial: float = 0.5
    maximum: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def delay(self, attempt: int, random: Callable[[], float]) -> float:
        """The delay before attempt ``attempt + 1``.

        Args:
            attempt: failures so far (0 for the first retry).
            random: returns a float in ``[0, 1)``.

        Returns:
            Seconds to wait.
        """
        base = min(self.maximum, self.initial * self.multiplier ** min(attempt, 64))
        return base * (1.0 - self.jitter * random())


def tcp_connector(
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> Connector:
    """A connector opening TCP (and, with ``ssl_context``, TLS) streams.

    Args:
        host: the peer's address.
        port: its port.
        ssl_context: a client context (with our certificate for mutual
            authentication); TLS is off when ``None``.
        server_hostname: the name the peer's certificate must carry
            (``host`` by default).

    Returns:
        An async function returning a connected (and handshaken) stream.
    """

    async def connect() -> trio.abc.Stream:
        stream = await trio.open_tcp_stream(host, port)
        if ssl_context is None:
            return stream
        tls = trio.SSLStream(stream, ssl_context, server_hostname=server_hostname or host)
        try:
            await tls.do_handshake()
        except BaseException:
            await trio.aclose_forcefully(tls)
            raise
        return tls

    return connect


class Link(StreamDriver):
    """The client end of a link; build it with :func:`open_link`.

    Use :meth:`request` for anything that expects an answer, :meth:`send`
    for responses and unanswered advices, :meth:`wait_ready` to wait for
    sign-on, :meth:`statistics` for a snapshot.
    """

    def __init__(
        self,
        proto: LinkProtocol,
        connect: Connector,
        *,
        handler: RequestHandler | None,
        on_unmatched: UnmatchedHandler | None,
        backoff: Backoff,
        random: Callable[[], float],
        max_in_flight: int,
        connect_timeout: float,
        drain_timeout: float,
        unhandled_code: str,
        name: str,
        on_sent: SentHandler | None = None,
        on_state: StateHandler | None = None,
    ) -> None:
        super().__init__(
            proto,
            handler=handler,
            on_unmatched=on_unmatched,
            unhandled_code=unhandled_code,
            name=name,
            on_sent=on_sent,
            on_state=on_state,
        )
        self._connect = connect
        self._backoff = backoff
        self._random = random
        self._slots = trio.Semaphore(max_in_flight)
        self._connect_timeout = connect_timeout
        self._drain_timeout = drain_timeout
        self._user_in_flight = 0
        self._drained = trio.Event()
        self.connections = 0
        """Connections opened so far."""

    @property
    def in_flight(self) -> int:
        """Application requests started and not yet ended."""
        return self._user_in_flight

    async def request(self, message: Message, *, timeout: float | None = None) -> Message:
        """Send a request and wait for its response.

        At most ``max_in_flight`` requests are in flight; more callers wait
        for a slot, then for sign-on, all within ``timeout``.

        Args:
            message: the request or advice; its match key must be free.
            timeout: seconds for the whole exchange (the link's default if
                ``None``).

        Returns:
            The response (MAC verified when MACs are configured).

        Raises:
            RequestTimeout: sent, no response in time (``response_code`` is
                the dialect's timeout answer, 98 or 68).
            LinkUnavailable: not sent: no slot or no sign-on in time, or the
                link is closing.
            LinkClosed: sent, then the connection was lost.
            RejectedByPeer: CUPS returned it with a reject header.
            DuplicateRequest: a request with its match key is in flight.
            EncodeError: it cannot be encoded.
        """
        if self._closing:
            raise LinkUnavailable("the link is closing")
        deadline = self._deadline(timeout)
        try:
            self._slots.acquire_nowait()
        except trio.WouldBlock:
            with trio.move_on_at(deadline) as waiting:
                await self._slots.acquire()
            if waiting.cancelled_caught:
                raise LinkUnavailable("no free slot before the request's deadline") from None
        self._user_in_flight += 1
        try:
            return await self._request_by(message, deadline)
        finally:
            self._user_in_flight -= 1
            self._slots.release()
            if self._closing and not self._user_in_flight:
                self._drained.set()

    async def _sign_on(self) -> bool:
        proto = self.proto
        if not proto.config.sign_on:  # opened at once by _run_connection
            return True
        try:
            response = await self._exchange(lambda: proto.sign_on(trio.current_time()))
        except LinkError as exc:
            log.warning("%s: sign-on failed: %s", self.name, exc)
            return False
        if proto.state is not LinkState.SIGNED_ON:
            code = response.fields.get(39)
            if code in proto.dialect.spec.approved:
                log.warning("%s: sign-on approved but its keys were refused", self.name)
            else:
                log.warning("%s: sign-on refused with %s", self.name, code)
            return False
        return True

    async def _connection(self, stream: trio.abc.Stream) -> bool:
        signed_on = False
        async with trio.open_nursery() as nursery:
            await nursery.start(self._run_connection, stream)
            signed_on = await self._sign_on()
            if not signed_on:
                self._close_connection()
        return signed_on

    async def _supervise(self, *, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        attempt = 0
        while not self._closing:
            stream: trio.abc.Stream | None = None
            with trio.move_on_after(self._connect_timeout) as connecting:
                try:
                    stream = await self._connect()
                except (OSError, trio.BrokenResourceError) as exc:
                    log.warning("%s: cannot connect: %s", self.name, exc)
            if connecting.cancelled_caught:
                log.warning("%s: connecting timed out", self.name)
            if stream is not None:
                self.connections += 1
                log.info("%s: connected", self.name)
                try:
                    if await self._connection(stream):
                        attempt = 0
                except Exception:  # a fault in one connection: log it and reconnect
                    log.exception("%s: connection failed", self.name)
            if self._closing:
                break
            delay = self._backoff.delay(attempt, self._random)
            attempt += 1
            log.info("%s: reconnecting in %.3f s", self.name, delay)
            await trio.sleep(delay)

    async def _close(self) -> None:
        """Refuse new requests, drain those in flight, sign off."""
        self._closing = True
        if self._user_in_flight:
            with trio.move_on_after(self._drain_timeout):
                await self._drained.wait()
        if self.proto.state is LinkState.SIGNED_ON and self.proto.config.sign_on:
            try:
                await self._exchange(lambda: self.proto.sign_off(trio.current_time()))
            except LinkError as exc:
                log.info("%s: sign-off not answered: %s", self.name, exc)
        self._close_connection()


@asynccontextmanager
async def open_link(
    dialect: Dialect,
    connect: Connector,
    *,
    config: LinkConfig | None = None,
    handler: RequestHandler | None = None,
    on_unmatched: UnmatchedHandler | None = None,
    security: SecurityModule | None = None,
    keys: LinkKeys | None = None,
    stan: Callable[[], str] | None = None,
    wallclock: Callable[[], datetime] | None = None,
    backoff: Backoff | None = None,
    random: Callable[[], float] | None = None,
    max_in_flight: int = 64,
    connect_timeout: float = 10.0,
    drain_timeout: float = 5.0,
    unhandled_code: str = "40",
    name: str = "link",
    on_sent: SentHandler | None = None,
    on_state: StateHandler | None = None,
) -> AsyncIterator[Link]:
    """Open the client end of a link and keep it up until the block exits.

    The link connects in the background; :meth:`Link.request` waits for
    sign-on within its timeout, :meth:`Link.wait_ready` waits for it alone.

    Args:
        dialect: the peer's dialect.
        connect: opens a stream (:func:`tcp_connector`, or a memory stream in tests).
        config: protocol settings (sign-on, echo, timeouts, network fields).
        handler: answers the peer's requests (async; returns a response or
            ``None``); without one they are answered with ``unhandled_code``.
        on_unmatched: called with late and unknown responses.
        security: the security module for MACs and key exchange.
        keys: key names in ``security``.
        stan: F11 source of the network requests (a :class:`StanCounter` by default).
        wallclock: F7 clock of the network requests (local time by default).
        backoff: reconnection delays.
        random: the jitter's random source (``random.random`` by default).
        max_in_flight: requests in flight at most; more callers wait.
        connect_timeout: seconds for one connection attempt (TLS included).
        drain_timeout: seconds the close waits for requests in flight.
        unhandled_code: F39 answering requests when there is no handler.
        name: the link's name in logs.
        on_sent: told of each answer the handler gave and whether it went out.
        on_state: told of each state change (signed on, closed...).

    Yields:
        The :class:`Link`.
    """
    proto = LinkProtocol(
        dialect,
        config=config,
        security=security,
        keys=keys,
        stan=stan,
        wallclock=wallclock if wallclock is not None else datetime.now,
    )
    link = Link(
        proto,
        connect,
        handler=handler,
        on_unmatched=on_unmatched,
        backoff=backoff if backoff is not None else Backoff(),
        random=random if random is not None else _random.random,
        max_in_flight=max_in_flight,
        connect_timeout=connect_timeout,
        drain_timeout=drain_timeout,
        unhandled_code=unhandled_code,
        name=name,
        on_sent=on_sent,
        on_state=on_state,
    )
    async with trio.open_nursery() as nursery:
        link._handlers = nursery
        await nursery.start(link._supervise)
        try:
            yield link
        finally:
            bound = drain_timeout + proto.config.sign_off_timeout + 1.0
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + bound
                await link._close()
            nursery.cancel_scope.cancel()
