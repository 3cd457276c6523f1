"""Links over real sockets on 127.0.0.1: TLS with mutual authentication, allow-lists,
the connection limit, and a link surviving a malformed frame and a peer restart.

These use the real clock with short, bounded waits (``trio.fail_after``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import ssl

import pytest
import trio

from sscard_gateway.errors import LinkUnavailable
from sscard_gateway.iso import FrameDecoder
from sscard_gateway.link import (
    Backoff,
    LinkConfig,
    PeerAllowList,
    open_link,
    serve_links,
    tcp_connector,
    tls_client_context,
    tls_server_context,
)

BOUND = 10.0
FAST = Backoff(initial=0.02, maximum=0.1, jitter=0.0)


def _link(h, connect, **kwargs):
    config = LinkConfig(network_fields=h.CLIENT_FIELDS, echo_interval=None)
    return open_link(h.CUPS, connect, config=config, wallclock=h.wallclock, backoff=FAST, **kwargs)


async def _server(nursery, h, **kwargs):
    serve = functools.partial(serve_links, h.CUPS, handler=h.approve, **kwargs)
    listeners = await nursery.start(serve)
    return listeners[0].socket.getsockname()[1]


async def test_tls_with_mutual_authentication_and_a_common_name_allow_list(h, tls_files):
    server_ctx = tls_server_context(*tls_files["gateway"], tls_files["ca"])
    client_ctx = tls_client_context(*tls_files["center-110105"], tls_files["ca"])
    allow = PeerAllowList.of(addresses=["127.0.0.1"], common_names=["center-110105"])
    peers = []
    with trio.fail_after(BOUND):
        async with trio.open_nursery() as nursery:
            port = await _server(
                nursery, h, ssl_context=server_ctx, allow=allow, on_connect=peers.append
            )
            connect = tcp_connector("127.0.0.1", port, ssl_context=client_ctx)
            async with _link(h, connect) as link:
                response = await link.request(h.purchase("000001"), timeout=5.0)
                assert response[39] == "00"
            assert peers[0].peer.endswith("center-110105")
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize("client", ["intruder", None])
async def test_tls_peer_not_allowed_or_without_certificate_is_refused(h, tls_files, client, caplog):
    server_ctx = tls_server_context(*tls_files["gateway"], tls_files["ca"])
    if client is None:
        client_ctx = ssl.create_default_context(cafile=tls_files["ca"])
    else:
        client_ctx = tls_client_context(*tls_files[client], tls_files["ca"])
    allow = PeerAllowList.of(common_names=["center-110105"])
    with trio.fail_after(BOUND), caplog.at_level(logging.WARNING, "sscard_gateway.link"):
        async with trio.open_nursery() as nursery:
            port = await _server(nursery, h, ssl_context=server_ctx, allow=allow)
            connect = tcp_connector("127.0.0.1", port, ssl_context=client_ctx)
            async with _link(h, connect) as link:
                with pytest.raises(LinkUnavailable):
                    await link.request(h.purchase("000001"), timeout=0.5)
            nursery.cancel_scope.cancel()
    assert "refused" in caplog.text or "handshake" in caplog.text


async def test_an_unexpected_failure_in_a_tls_handshake_ends_only_that_connection(
    h, tls_files, caplog, monkeypatch
):
    from sscard_gateway.link import _server as server_module

    real = server_module._handshake
    calls = []

    async def once_broken(*args):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("unexpected")
        return await real(*args)

    monkeypatch.setattr(server_module, "_handshake", once_broken)
    server_ctx = tls_server_context(*tls_files["gateway"], tls_files["ca"])
    client_ctx = tls_client_context(*tls_files["center-110105"], tls_files["ca"])
    with trio.fail_after(BOUND), caplog.at_level(logging.ERROR, "sscard_gateway.link"):
        async with trio.open_nursery() as nursery:
            port = await _server(nursery, h, ssl_context=server_ctx)
            connect = tcp_connector("127.0.0.1", port, ssl_context=client_ctx)
            async with _link(h, connect) as link:  # its first connection fails; it reconnects
                assert (await link.request(h.purchase("000001"), timeout=5.0))[39] == "00"
            nursery.cancel_scope.cancel()
    assert len(calls) >= 2
    assert "connection failed" in caplog.text


async def test_address_allow_list_and_connection_limit(h, caplog):
    with trio.fail_after(BOUND), caplog.at_level(logging.WARNING, "sscard_gateway.link"):
        async with trio.open_nursery() as nursery:
            closed = await _server(nursery, h, allow=PeerAllowList.of(addresses=["10.0.0.0/8"]))
            async with _link(h, tcp_connector("127.0.0.1", closed)) as link:
                with pytest.raises(LinkUnavailable):
                    await link.request(h.purchase("000001"), timeout=0.3)
            assert "not allowed" in caplog.text

            port = await _server(nursery, h, max_connections=1)
            connect = tcp_connector("127.0.0.1", port)
            async with _link(h, connect) as first, _link(h, connect, name="second") as second:
                assert (await first.request(h.purchase("000002"), timeout=5.0))[39] == "00"
                with pytest.raises(LinkUnavailable):
                    await second.request(h.purchase("000003"), timeout=0.3)
            assert "limit" in caplog.text
            nursery.cancel_scope.cancel()


async def _raw_peer(stream, dialect, first_frames):
    """Answer every request with 00; after the sign-on, first write ``first_frames``."""
    decoder = FrameDecoder(dialect.spec.prefix, max_length=dialect.spec.max_length)
    async with stream:
        while data := await stream.receive_some(65536):
            decoder.receive_data(data)
            for payload in decoder.frames():
                message = dialect.decode_payload(payload)
                if message.is_response:
                    continue
                await stream.send_all(dialect.encode(message.response_to("00")))
                if message.get(70) == "001":
                    await stream.send_all(b"".join(first_frames))


async def test_link_survives_a_malformed_frame_and_a_peer_restart(h):
    malformed = h.CUPS.encode(h.purchase("000042")).replace(b"HOSP0001", b"HOSP\x01001")
    garbage = b"0020" + bytes(20)

    async def serve(stream):
        with contextlib.suppress(trio.BrokenResourceError):
            await _raw_peer(stream, h.CUPS, [malformed, garbage])

    async def server(listeners, *, task_status):
        with trio.CancelScope() as scope:
            task_status.started(scope)
            await trio.serve_listeners(serve, listeners)

    done = False
    with trio.fail_after(BOUND):
        async with trio.open_nursery() as nursery:
            listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
            port = listeners[0].socket.getsockname()[1]
            first = await nursery.start(server, listeners)
            async with _link(h, tcp_connector("127.0.0.1", port)) as link:
                response = await link.request(h.purchase("000001"), timeout=5.0)
                assert response[39] == "00"
                first.cancel()  # the peer goes down ...
                while link.state.value == "signed on":  # until the link sees it (BOUND)
                    await trio.sleep(0.005)
                assert link.state.value != "signed on"
                listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
                second = await nursery.start(server, listeners)  # ... and comes back
                response = await link.request(h.purchase("000002"), timeout=5.0)
                assert response[39] == "00"
                assert link.connections >= 2
                done = True
            second.cancel()
    assert done


async def test_one_bad_connection_does_not_disturb_the_others(h, caplog):
    with trio.fail_after(BOUND), caplog.at_level(logging.ERROR, "sscard_gateway.link"):
        async with trio.open_nursery() as nursery:
            port = await _server(nursery, h)
            async with _link(h, tcp_connector("127.0.0.1", port)) as link:
                await link.wait_ready()
                bad = await trio.open_tcp_stream("127.0.0.1", port)
                async with bad:
                    await bad.send_all(b"9999" + bytes(100))  # over the maximum length
                    assert await bad.receive_some(100) == b""  # the server closed it
                response = await link.request(h.purchase("000001"), timeout=5.0)
                assert response[39] == "00"
                assert link.connections == 1
            nursery.cancel_scope.cancel()
    assert "FrameTooLarge" in caplog.text
