"""The listening end of links with Trio: accept, authenticate, serve each connection.

Why: the gateway listens for regional centers (and terminals), each a
separate connection with its own sign-on, echo and request traffic
(DOMAIN.md §2, §3). A task serves each connection with the same driver
as the client end; a connection that fails, or sends a frame over the
maximum length, ends alone while the others carry on.

Peers are admitted by an allow-list: by IP address (networks allowed),
and with TLS by the common name of the client certificate that mutual
authentication verified; a connection limit refuses connections beyond
it. TLS is ``trio.SSLStream`` over TCP with the caller's ``ssl.SSLContext``
(:func:`tls_server_context` and :func:`tls_client_context` build the usual
mutual-authentication contexts).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import ssl
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs
import trio

from ..crypto import SecurityModule
from ..iso import Dialect
from ._driver import RequestHandler, SentHandler, StreamDriver, UnmatchedHandler
from ._security import LinkKeys
from ._state import LinkState
from .protocol import LinkConfig, LinkProtocol

__all__ = [
    "PeerAllowList",
    "ServedLink",
    "serve_link_stream",
    "serve_links",
    "tls_client_context",
    "tls_server_context",
]

log = logging.getLogger("sscard_gateway.link")

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LinkCallback = Callable[["ServedLink"], None]


class ServedLink(StreamDriver):
    """The listening end of one connected link.

    The application may send requests to the peer with :meth:`request`
    (e.g. CUPS-originated transactions forwarded to a center) and responses
    or advices with :meth:`send`.

    Attributes:
        peer: the peer's address and, with TLS, its certificate common name.
    """

    peer: str


@attrs.frozen
class PeerAllowList:
    """Which peers may connect.

    Attributes:
        networks: allowed addresses and networks; ``None`` allows any.
        common_names: allowed client certificate common names (TLS);
            ``None`` allows any verified certificate.
    """

    networks: tuple[_Network, ...] | None = None
    common_names: frozenset[str] | None = None

    @classmethod
    def of(
        cls, addresses: Iterable[str] | None = None, common_names: Iterable[str] | None = None
    ) -> PeerAllowList:
        """Build an allow-list from strings (``"127.0.0.1"``, ``"10.0.0.0/8"``).

        Raises:
            ValueError: an address or network is malformed.
        """
        networks = None
        if addresses is not None:
            networks = tuple(ipaddress.ip_network(a, strict=False) for a in addresses)
        names = frozenset(common_names) if common_names is not None else None
        return cls(networks, names)

    def allows_address(self, address: str | None) -> bool:
        """Whether a peer at ``address`` (``None``: not a socket) may connect."""
        if self.networks is None:
            return True
        if address is None:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def allows_name(self, common_name: str | None) -> bool:
        """Whether a client certificate with ``common_name`` may connect."""
        if self.common_names is None:
            return True
        return common_name is not None and common_name in self.common_names


def tls_server_context(certfile: str, keyfile: str, cafile: str) -> ssl.SSLContext:
    """A server context that requires a client certificate issued by ``cafile``.

    Args:
        certfile: our certificate chain (PEM).
        keyfile: its private key (PEM).
        cafile: the CA certificates client certificates must chain to.

    Returns:
        The context (TLS 1.2 or later, client certificate required).

    Raises:
        OSError, ssl.SSLError: a file cannot be read or does not hold what it should.
    """
    context = _tls_context(ssl.Purpose.CLIENT_AUTH, certfile, keyfile, cafile)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def tls_client_context(certfile: str, keyfile: str, cafile: str) -> ssl.SSLContext:
    """A client context presenting our certificate and trusting only ``cafile``.

    Args:
        certfile: our client certificate chain (PEM).
        keyfile: its private key (PEM).
        cafile: the CA certificates the server's certificate must chain to.

    Returns:
        The context (TLS 1.2 or later, server name checked).

    Raises:
        OSError, ssl.SSLError: a file cannot be read or does not hold what it should.
    """
    return _tls_context(ssl.Purpose.SERVER_AUTH, certfile, keyfile, cafile)


def _tls_context(purpose: ssl.Purpose, certfile: str, keyfile: str, cafile: str) -> ssl.SSLContext:
    context = ssl.create_default_context(purpose, cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    return context


def _peer_address(stream: trio.abc.Stream) -> str | None:
    if isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    if isinstance(stream, trio.SocketStream):
        try:
            peer: Any = stream.socket.getpeername()
        except OSError:
            return None
        return str(peer[0]) if isinstance(peer, tuple) else None
    return None


def _common_name(stream: trio.SSLStream[Any]) -> str | None:
    cert = stream.getpeercert()
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


async def _handshake(
    tls: trio.SSLStream[Any], timeout: float, name: str, address: str | None
) -> str | None:
    """The verified client certificate's common name, or ``None`` on failure."""
    with trio.move_on_after(timeout):
        try:
            await tls.do_handshake()
        except trio.BrokenResourceError as exc:
            log.warning("%s: TLS handshake with %s failed: %s", name, address, exc.__cause__)
            return None
        return _common_name(tls)
    log.warning("%s: TLS handshake with %s timed out", name, address)
    return None


async def serve_link_stream(
    stream: trio.abc.Stream,
    dialect: Dialect,
    *,
    handler: RequestHandler | None,
    config: LinkConfig | None = None,
    security: SecurityModule | None = None,
    keys: LinkKeys | None = None,
    stan: Callable[[], str] | None = None,
    wallclock: Callable[[], datetime] | None = None,
    on_unmatched: UnmatchedHandler | None = None,
    on_connect: LinkCallback | None = None,
    on_disconnect: LinkCallback | None = None,
    unhandled_code: str = "40",
    name: str = "peer",
    on_sent: SentHandler | None = None,
    on_state: Callable[[ServedLink, LinkState], None] | None = None,
) -> None:
    """Serve the listening end of one link on an accepted stream until it ends.

    The peer signs on (answered by the link unless ``config.answer_network``
    is off); its requests go to ``handler``; echo tests are answered. The
    stream is closed on return.

    Args:
        stream: the accepted stream (TCP, TLS, or a memory stream in tests).
        dialect: the peer's dialect.
        handler: answers the peer's requests; ``None`` answers ``unhandled_code``.
        config: protocol settings (by default: expect a sign-on, no echo of our own).
        security: the security module for MACs and key exchange.
        keys: key names in ``security``.
        stan: F11 source of the network requests we build.
        wallclock: F7 clock of those requests (local time by default).
        on_unmatched: called with late and unknown responses.
        on_connect: called with the :class:`ServedLink` once it runs (to
            send it requests).
        on_disconnect: called with it when the connection has ended.
        unhandled_code: F39 answering requests when there is no handler.
        name: the connection's name in logs (and ``ServedLink.peer``).
        on_sent: told of each answer the handler gave and whether it went out.
        on_state: told of each state change of this connection's link, with
            the link (a peer is routable once it has signed on).
    """
    proto = LinkProtocol(
        dialect,
        config=config if config is not None else LinkConfig(echo_interval=None),
        security=security,
        keys=keys,
        stan=stan,
        wallclock=wallclock if wallclock is not None else datetime.now,
    )
    link = ServedLink(
        proto,
        handler=handler,
        on_unmatched=on_unmatched,
        unhandled_code=unhandled_code,
        name=name,
        on_sent=on_sent,
    )
    if on_state is not None:
        link._on_state = functools.partial(on_state, link)
    link.peer = name
    started = False
    try:
        async with trio.open_nursery() as nursery:
            link._handlers = nursery
            await nursery.start(link._run_connection, stream)
            started = True
            if on_connect is not None:
                on_connect(link)
            await link._finished.wait()
            nursery.cancel_scope.cancel()
    finally:
        if started and on_disconnect is not None:
            on_disconnect(link)


async def serve_links(
    dialect: Dialect,
    *,
    handler: RequestHandler | None,
    host: str = "127.0.0.1",
    port: int = 0,
    listeners: Sequence[trio.abc.Listener[Any]] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    allow: PeerAllowList | None = None,
    max_connections: int = 64,
    handshake_timeout: float = 10.0,
    config: LinkConfig | None = None,
    security: SecurityModule | None = None,
    keys: LinkKeys | None = None,
    on_unmatched: UnmatchedHandler | None = None,
    on_connect: LinkCallback | None = None,
    on_disconnect: LinkCallback | None = None,
    unhandled_code: str = "40",
    name: str = "server",
    on_sent: SentHandler | None = None,
    on_state: Callable[[ServedLink, LinkState], None] | None = None,
    wallclock: Callable[[], datetime] | None = None,
    task_status: trio.TaskStatus[list[trio.abc.Listener[Any]]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Accept links until cancelled, one task per connection.

    Start it with ``listeners = await nursery.start(functools.partial(serve_links, ...))``.

    Args:
        dialect: the peers' dialect.
        handler: answers inbound requests.
        host: the address to listen on (``127.0.0.1`` by default).
        port: the port (0: any free port; read it from the listeners).
        listeners: listen on these instead of ``host``/``port``.
        ssl_context: TLS server context; mutual authentication when it
            requires client certificates (:func:`tls_server_context`).
        allow: which peers may connect (any when ``None``).
        max_connections: connections served at once; more are closed at once.
        handshake_timeout: seconds for a TLS handshake.
        config, security, keys, on_unmatched, on_connect, on_disconnect,
            unhandled_code, on_sent: as for :func:`serve_link_stream`, for every
            connection.
        on_state: told of each state change of any connection, with its link.
        wallclock: F7 clock of the network requests each connection builds.
        name: the server's name in logs.
        task_status: receives the listeners once listening.
    """
    serving: Sequence[trio.abc.Listener[Any]] = listeners or await trio.open_tcp_listeners(
        port, host=host
    )
    active = 0

    async def accept(stream: trio.abc.Stream) -> None:
        nonlocal active
        address = _peer_address(stream)
        if allow is not None and not allow.allows_address(address):
            log.warning("%s: connection from %s refused: not allowed", name, address)
            await trio.aclose_forcefully(stream)
            return
        if active >= max_connections:
            log.warning("%s: connection from %s refused: limit %d", name, address, active)
            await trio.aclose_forcefully(stream)
            return
        active += 1
        try:
            link_stream: trio.abc.Stream = stream
            if ssl_context is not None:
                tls = trio.SSLStream(stream, ssl_context, server_side=True)
                common_name = await _handshake(tls, handshake_timeout, name, address)
                refused = allow is not None and not allow.allows_name(common_name)
                if common_name is None or refused:
                    log.warning("%s: TLS peer %s (%s) refused", name, address, common_name)
                    await trio.aclose_forcefully(tls)
                    return
                link_stream = tls
                address = f"{address} {common_name}"
            await serve_link_stream(
                link_stream,
                dialect,
                handler=handler,
                config=config,
                security=security,
                keys=keys,
                on_unmatched=on_unmatched,
                on_connect=on_connect,
                on_disconnect=on_disconnect,
                unhandled_code=unhandled_code,
                name=f"{name} {address}",
                on_sent=on_sent,
                on_state=on_state,
                wallclock=wallclock,
            )
        except Exception:  # one connection's failure must not end the others (DOMAIN.md §2)
            log.exception("%s %s: connection failed", name, address)
        finally:
            active -= 1

    async with trio.open_nursery() as nursery:
        bound = await nursery.start(trio.serve_listeners, accept, list(serving))
        task_status.started(bound)
