"""The simulated network: Trio stream semantics, frames and their faults, cuts, crashes, replay.

Everything runs in virtual time (MockClock with autojump); the frames are
the shipped ``center`` and ``cups`` dialects' sample messages.
"""

from __future__ import annotations

import errno
import functools
import json
import math
import random
import re
from datetime import datetime

import pytest
import trio
import trio.testing

from sscard_gateway.errors import LinkClosed, LinkError, RequestTimeout
from sscard_gateway.iso import FrameDecoder, load_dialect, specs_dir
from sscard_gateway.iso.framing import add_prefix
from sscard_gateway.iso.jsonio import message_from_dict
from sscard_gateway.link import Backoff, LinkConfig, open_link, serve_links
from sscard_gateway.testing import Faults, NetworkStatistics, SimNetwork, seed_trio_scheduler

CENTER = load_dialect("center")
CUPS = load_dialect("cups")
SAMPLES = {"center": "center_0200_medical.json", "cups": "cups_0200_purchase.json"}
BOTH_DIALECTS = pytest.mark.parametrize("dialect", [CENTER, CUPS], ids=["center", "cups"])
NO_SIGN_ON = LinkConfig(sign_on=False, echo_interval=None)


def wallclock() -> datetime:
    return datetime(2026, 11, 26, 10, 15, 30)


def sample(dialect):
    path = specs_dir() / "samples" / SAMPLES[dialect.name]
    return message_from_dict(dialect, json.loads(path.read_text(encoding="utf-8")))


def frames(dialect, count: int, first: int = 1) -> list[bytes]:
    """Encoded sample messages with STANs first, first + 1, ..."""
    base = sample(dialect)
    return [dialect.encode(base.with_fields({11: f"{n:06d}"})) for n in range(first, first + count)]


def stan(dialect, frame: bytes) -> int:
    return int(dialect.decode(frame).fields[11])


class Net:
    """A network with its trace kept as lines."""

    def __init__(self, faults: Faults | None = None, seed: int = 1, **kwargs) -> None:
        self.lines: list[str] = []
        self.network = SimNetwork(random.Random(seed), faults=faults, trace=self._trace, **kwargs)

    def _trace(self, now: float, line: str) -> None:
        self.lines.append(f"{now:.6f} {line}")

    def grep(self, pattern: str) -> list[str]:
        return [line for line in self.lines if re.search(pattern, line)]

    async def pair(self, dialect=CENTER, *, faults: Faults | None = None):
        """A center -> gateway connection: (listener, center's end, gateway's end)."""
        listener = self.network.listen("gw", node="gateway", dialect=dialect, faults=faults)
        client = await self.network.connector("gw", node="center")()
        server = await listener.accept()
        assert server.connection is client.connection
        return listener, client, server


async def read_frames(stream, dialect, *, count: int | None = None, within: float = math.inf):
    """(arrival time, frame) read until end of stream, ``count`` frames or ``within`` seconds."""
    spec = dialect.spec
    decoder = FrameDecoder(
        spec.prefix, max_length=spec.max_length, includes_itself=spec.prefix_includes_itself
    )
    out: list[tuple[float, bytes]] = []
    with trio.move_on_after(within):
        while count is None or len(out) < count:
            data = await stream.receive_some()
            if not data:
                break
            decoder.receive_data(data)
            now = trio.current_time()
            out += [(now, add_prefix(spec.prefix, body)) for body in decoder.frames()]
    return out


# -- the streams are Trio streams ------------------------------------------------------------


async def test_unframed_streams_pass_trios_own_stream_checks(autojump_clock):
    network = SimNetwork(random.Random(3))
    listener = network.listen("raw", node="server", dialect=None)
    connect = network.connector("raw", node="client")

    async def make_pair():
        client = await connect()
        return client, await listener.accept()

    await trio.testing.check_two_way_stream(make_pair, None)


async def test_own_close_peer_close_and_busy_errors(autojump_clock):
    net = Net()
    _, client, server = await net.pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.receive_some)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            await server.receive_some()
        await client.send_all(frames(CENTER, 1)[0])
    await client.aclose()
    assert await server.receive_some() == b""  # orderly close: end of stream
    assert await server.receive_some() == b""
    with pytest.raises(trio.BrokenResourceError):
        await server.send_all(b"0000")  # the peer is gone
    with pytest.raises(trio.ClosedResourceError):
        await client.receive_some()
    with pytest.raises(trio.ClosedResourceError):
        await client.send_all(b"0000")
    assert server.connection.is_open  # until both ends are done with it
    await server.aclose()
    assert not server.connection.is_open


# -- frames intact without faults ------------------------------------------------------------


@BOTH_DIALECTS
async def test_bytes_and_frames_arrive_intact_and_in_order(autojump_clock, dialect):
    net = Net(latency=0.01, jitter=0.005)
    _, client, server = await net.pair(dialect)
    sent = frames(dialect, 7)
    start = trio.current_time()
    for i in range(0, len(sent[0]), 7):  # one frame over many send_all calls
        await client.send_all(sent[0][i : i + 7])
    await client.send_all(b"".join(sent[1:4]))  # several frames in one call
    await client.send_all(sent[4] + sent[5][:3])  # a prefix split across calls
    await client.send_all(sent[5][3:] + sent[6])
    replies = frames(dialect, 3, first=100)
    await server.send_all(b"".join(replies))
    got = await read_frames(client, dialect, count=3)
    assert [stan(dialect, f) for _, f in got] == [100, 101, 102]
    await client.aclose()

    received = b""
    while data := await server.receive_some(100):
        received += data
    assert received == b"".join(sent)
    assert all(0.01 <= t - start <= 0.015 + 1e-9 for t, _ in got)  # latency + jitter
    stats = net.network.statistics()
    assert isinstance(stats, NetworkStatistics)
    assert stats.frames_sent == stats.frames_delivered == 10
    assert stats.bytes_delivered == sum(map(len, sent + replies))
    assert stats.frames_dropped == stats.frames_duplicated == stats.frames_lost == 0


async def test_a_partial_frame_waits_for_the_rest(autojump_clock):
    net = Net()
    _, client, server = await net.pair()
    frame = frames(CENTER, 1)[0]
    await client.send_all(frame[:50])
    with trio.move_on_after(1.0) as waited:
        await server.receive_some()
    assert waited.cancelled_caught
    await client.send_all(frame[50:])
    assert await server.receive_some() == frame


@pytest.mark.parametrize(
    ("dialect", "garbage", "error"),
    [
        (CENTER, b"GET / HTTP/1.0\r\n\r\n", "FramingError"),
        (CUPS, b"9999" + b"x" * 20, "FrameTooLarge"),
    ],
    ids=["unreadable prefix", "over max_length"],
)
async def test_an_unframed_stream_travels_raw_without_frame_faults(
    autojump_clock, dialect, garbage, error
):
    net = Net(Faults(drop=1.0))
    _, client, server = await net.pair(dialect)
    await client.send_all(garbage)
    await client.send_all(frames(dialect, 1)[0])  # too late: the stream is raw now
    await client.aclose()
    received = b""
    while data := await server.receive_some():
        received += data
    assert received == garbage + frames(dialect, 1)[0]
    assert net.grep(f"unframed after frame 0: {error}")
    assert net.network.statistics().frames_sent == 0


# -- per-frame faults ------------------------------------------------------------------------


async def send_and_collect(net: Net, count: int, *, spacing: float = 0.0, dialect=CENTER):
    """Send ``count`` frames center -> gateway, close; the STANs that arrived, with times."""
    _, client, server = await net.pair(dialect)
    sent_at = {}
    for frame in frames(dialect, count):
        sent_at[stan(dialect, frame)] = trio.current_time()
        await client.send_all(frame)
        if spacing:
            await trio.sleep(spacing)
    await client.aclose()
    got = [(t, stan(dialect, f)) for t, f in await read_frames(server, dialect)]
    return got, sent_at


def traced_frames(net: Net, what: str) -> list[int]:
    return [int(m) for m in re.findall(rf"frame (\d+) len \d+ {what}", "\n".join(net.lines))]


async def test_dropped_frames_are_missing(autojump_clock):
    net = Net(Faults(drop=0.4), seed=11)
    got, _ = await send_and_collect(net, 30)
    dropped = traced_frames(net, "dropped")
    assert 0 < len(dropped) < 30
    assert [s for _, s in got] == [n for n in range(1, 31) if n not in dropped]
    assert net.network.statistics().frames_dropped == len(dropped)


async def test_duplicated_frames_arrive_twice(autojump_clock):
    net = Net(Faults(duplicate=0.4), seed=12)
    got, _ = await send_and_collect(net, 20)
    doubled = [
        int(m)
        for m in re.findall(r"frame (\d+) len \d+ arrives [\d.]+, duplicated", "\n".join(net.lines))
    ]
    assert 0 < len(doubled) < 20
    expected = []
    for n in range(1, 21):
        expected += [n, n] if n in doubled else [n]
    assert [s for _, s in got] == expected
    stats = net.network.statistics()
    assert stats.frames_duplicated == len(doubled)
    assert stats.frames_delivered == 20 + len(doubled)


async def test_reordered_frames_swap_with_the_next(autojump_clock):
    net = Net(Faults(reorder=1.0))
    got, _ = await send_and_collect(net, 4)
    assert [s for _, s in got] == [2, 1, 4, 3]
    assert net.network.statistics().frames_reordered == 2
    assert net.grep("frame 1 reordered behind frame 2")


async def test_a_held_frame_is_released_when_no_next_frame_comes(autojump_clock):
    net = Net(Faults(reorder=1.0, reorder_window=0.3))
    _, client, server = await net.pair()
    await client.send_all(frames(CENTER, 1)[0])
    [(arrived, frame)] = await read_frames(server, CENTER, count=1)
    assert stan(CENTER, frame) == 1
    assert 0.3 <= arrived <= 0.3 + 0.01
    assert net.grep("frame 1 released unswapped")
    assert net.network.statistics().frames_reordered == 0


async def test_delayed_frames_arrive_later_and_hold_back_those_behind(autojump_clock):
    net = Net(Faults(delay=0.3, max_delay=2.0), seed=5, latency=0.001, jitter=0.0)
    got, sent_at = await send_and_collect(net, 20, spacing=0.01)
    assert [s for _, s in got] == list(range(1, 21))  # still in order
    delays = dict(
        (int(n), float(d))
        for n, d in re.findall(
            r"frame (\d+) len \d+ arrives [\d.]+, delayed ([\d.]+) s", "\n".join(net.lines)
        )
    )
    assert delays
    arrivals = {s: t for t, s in got}
    for n, extra in delays.items():
        assert arrivals[n] - sent_at[n] >= 0.001 + extra - 1e-6
    assert any(arrivals[n] - sent_at[n] > 0.01 for n in range(1, 21) if n not in delays)
    assert net.network.statistics().frames_delayed == len(delays)


async def test_a_random_cut_breaks_the_connection_after_the_frame_arrived(autojump_clock):
    net = Net(Faults(cut=1.0))
    _, client, server = await net.pair()
    await client.send_all(frames(CENTER, 1)[0])
    assert len(await read_frames(server, CENTER, count=1)) == 1  # it arrived...
    with pytest.raises(trio.BrokenResourceError):  # ...then the line broke
        await server.receive_some()
    with pytest.raises(trio.BrokenResourceError):
        await client.receive_some()
    stats = net.network.statistics()
    assert stats.connections_cut == stats.connections_broken == 1


async def test_a_random_silence_holds_the_frame(autojump_clock):
    net = Net(Faults(silence=1.0, max_silence=3.0), seed=2)
    _, client, server = await net.pair()
    await client.send_all(frames(CENTER, 1)[0])
    [(arrived, _)] = await read_frames(server, CENTER, count=1)
    [line] = net.grep("node center silent")
    until = float(re.search(r"until ([\d.]+)", line).group(1))
    assert arrived == pytest.approx(until, abs=1e-6) and until > 0.01


# -- cuts, silences, kills -----------------------------------------------------------------


async def test_an_orderly_cut_gives_the_peer_end_of_stream(autojump_clock):
    net = Net()
    _, client, server = await net.pair()
    await client.send_all(b"".join(frames(CENTER, 2)))  # in flight when the cut comes
    assert net.network.cut(client.connection, orderly=True, side="center") == 1
    assert [stan(CENTER, f) for _, f in await read_frames(server, CENTER)] == [1, 2]  # then b""
    with pytest.raises(trio.BrokenResourceError):
        await client.send_all(b"0000")  # closed for writing
    await server.send_all(frames(CENTER, 1, first=9)[0])  # the other way still works
    assert [stan(CENTER, f) for _, f in await read_frames(client, CENTER, count=1)] == [9]
    await server.aclose()
    assert await client.receive_some() == b""


async def test_an_abortive_cut_breaks_both_ends_and_loses_what_is_in_flight(autojump_clock):
    net = Net()
    _, client, server = await net.pair()
    first, second = frames(CENTER, 2)
    await client.send_all(first)
    await trio.sleep(0.1)  # arrived, not read yet
    await client.send_all(second)  # in flight
    net.network.cut(server.connection)
    assert await server.receive_some() == first  # what arrived is still there...
    with pytest.raises(trio.BrokenResourceError):
        await server.receive_some()  # ...then the break
    for call in (client.receive_some, functools.partial(client.send_all, b"x")):
        with pytest.raises(trio.BrokenResourceError):
            await call()
    stats = net.network.statistics()
    assert stats.frames_lost == 1 and stats.connections_cut == 1
    assert not server.connection.is_open and net.network.connections() == []


async def test_silence_holds_frames_then_delivers_them_all_in_order(autojump_clock):
    net = Net()
    _, client, server = await net.pair()
    await client.send_all(frames(CENTER, 1)[0])  # in flight when the silence starts
    until = net.network.silence("gateway", 5.0)
    await client.send_all(b"".join(frames(CENTER, 3, first=2)))
    await server.send_all(frames(CENTER, 1, first=50)[0])
    got = await read_frames(server, CENTER, count=4)
    assert [stan(CENTER, f) for _, f in got] == [1, 2, 3, 4]
    assert all(t >= until for t, _ in got)
    [(back, _)] = await read_frames(client, CENTER, count=1)
    assert back >= until
    net.network.silence("gateway", 2.0)  # connecting waits for it too
    start = trio.current_time()
    await net.network.connector("gw", node="center-2")()
    assert trio.current_time() - start >= 2.0
    assert net.network.statistics().frames_lost == 0


async def test_kill_breaks_every_connection_and_the_zombie_reaches_nobody(autojump_clock):
    net = Net()
    network = net.network
    listener, center, gateway = await net.pair()
    cups_listener = network.listen("cups", node="cups", dialect=CUPS)
    to_cups = network.connector("cups", node="gateway")
    gateway_up = await to_cups()
    cups = await cups_listener.accept()
    await center.send_all(frames(CENTER, 1)[0])  # in flight to the gateway
    await cups.send_all(frames(CUPS, 1)[0])  # in flight to the gateway
    network.kill("gateway")

    for peer in (center, cups):  # its peers see the crash at once, and lose what was in flight
        with pytest.raises(trio.BrokenResourceError):
            await peer.receive_some()
    for zombie in (gateway, gateway_up):  # what keeps running goes nowhere
        with pytest.raises(trio.BrokenResourceError):
            await zombie.send_all(frames(CENTER, 1)[0])
    with pytest.raises(OSError) as refused:
        await network.connector("gw", node="center")()
    assert refused.value.errno == errno.ECONNREFUSED
    with pytest.raises(OSError):
        await to_cups()  # the gateway is down

    network.revive("gateway")
    with pytest.raises(OSError):
        await to_cups()  # a connector of the dead incarnation stays dead
    with trio.move_on_after(1.0) as waited:
        await listener.accept()  # so does its listener
    assert waited.cancelled_caught
    with pytest.raises(OSError):
        await network.connector("gw", node="center")()  # nobody listens until the new one does
    new_listener = network.listen("gw", node="gateway", dialect=CENTER)
    await network.connector("gw", node="center")()
    await new_listener.accept()
    await network.connector("cups", node="gateway")()  # a new connector works
    stats = network.statistics()
    assert stats.kills == stats.revivals == 1
    assert stats.frames_lost == 2 and stats.connections_broken == 2


async def test_a_node_killed_without_reset_leaves_its_peers_hearing_nothing(autojump_clock):
    net = Net()
    _, center, gateway = await net.pair()
    await center.send_all(frames(CENTER, 1)[0])
    net.network.kill("center", reset=False)
    with pytest.raises(trio.BrokenResourceError):
        await center.send_all(frames(CENTER, 1, first=2)[0])  # the zombie writes: goes nowhere
    await gateway.send_all(frames(CENTER, 1, first=3)[0])  # and nothing reaches it either
    assert await read_frames(gateway, CENTER, within=30.0) == []  # no frame, no end, no error
    assert gateway.connection.is_open  # until the gateway gives up on it
    await gateway.aclose()
    assert net.network.connections() == []


async def test_connect_is_refused_while_nothing_listens_or_a_node_is_down(autojump_clock):
    net = Net()
    network = net.network
    connect = network.connector("gw", node="center")
    with pytest.raises(ConnectionRefusedError):
        await connect()
    listener = network.listen("gw", node="gateway", dialect=CENTER)
    with pytest.raises(OSError) as in_use:
        network.listen("gw", node="other", dialect=CENTER)
    assert in_use.value.errno == errno.EADDRINUSE
    await connect()
    await listener.aclose()  # closing the listener refuses new connections
    with pytest.raises(ConnectionRefusedError):
        await connect()
    with pytest.raises(trio.ClosedResourceError):
        await listener.accept()
    listener = network.listen("gw", node="gateway", dialect=CENTER)  # the address is free again
    network.kill("gateway")
    with pytest.raises(ConnectionRefusedError):
        await connect()
    with pytest.raises(OSError):
        network.listen("gw", node="gateway", dialect=CENTER)  # a dead node cannot listen
    network.revive("gateway")
    listener = network.listen("gw", node="gateway", dialect=CENTER)
    stream = await connect()
    assert (await listener.accept()).connection is stream.connection
    network.kill("center")
    with pytest.raises(ConnectionRefusedError):
        await connect()  # the connecting node is down
    network.revive("center")
    with pytest.raises(ConnectionRefusedError):
        await connect()  # and this connector belonged to its dead incarnation
    await network.connector("gw", node="center")()
    stats = network.statistics()
    assert stats.connections_refused == 5 and stats.connections_opened == 3
    assert len(net.grep("refused")) == 5


async def test_faults_per_address_and_what_the_network_shows(autojump_clock):
    net = Net(Faults(drop=1.0))
    network = net.network
    spared = network.listen("spared", node="gateway", dialect=CENTER, faults=Faults.none())
    client = await network.connector("spared", node="center")()
    server = await spared.accept()
    await client.send_all(frames(CENTER, 1)[0])
    assert len(await read_frames(server, CENTER, count=1)) == 1  # not dropped here
    assert network.faults == Faults(drop=1.0) and spared.faults == Faults.none()
    assert network.connections() == [client.connection] == network.connections("gateway")
    assert network.connections("cups") == [] and network.alive("gateway")
    network.kill("gateway")
    assert not network.alive("gateway") and network.connections() == []
    assert repr(client) == "<SimStream conn 1 center>gateway>"


# -- the links over the network --------------------------------------------------------------


async def approve(request):
    return request.response_to("00")


async def test_open_link_and_serve_links_exchange_a_request_and_its_response(autojump_clock):
    net = Net()
    listener = net.network.listen("gateway:center", node="gateway", dialect=CENTER)
    connect = net.network.connector("gateway:center", node="center-110000")
    async with trio.open_nursery() as nursery:
        await nursery.start(
            functools.partial(
                serve_links, CENTER, handler=approve, listeners=[listener], config=NO_SIGN_ON
            )
        )
        async with open_link(CENTER, connect, config=NO_SIGN_ON, random=lambda: 0.0) as link:
            response = await link.request(sample(CENTER), timeout=5.0)
        nursery.cancel_scope.cancel()
    assert response.mti == "0210" and response[39] == "00" and response[11] == "000456"
    stats = net.network.statistics()
    assert stats.connections_opened == 1
    assert stats.frames_sent == stats.frames_delivered == 2
    text = "\n".join(net.lines)  # frames are described, never shown
    assert "6225880137654324" not in text and "HOSP0001" not in text and "VISIT" not in text


async def test_a_link_rides_out_drops_and_a_crash_of_its_peer(autojump_clock):
    net = Net()
    network = net.network
    connect = network.connector("gw", node="center")
    backoff = Backoff(initial=0.5, maximum=1.0, jitter=0.0)

    async def serve(*, task_status=trio.TASK_STATUS_IGNORED):
        listener = network.listen("gw", node="gateway", dialect=CENTER)
        await serve_links(
            CENTER, handler=slow_approve, listeners=[listener], config=NO_SIGN_ON,
            task_status=task_status,
        )  # fmt: skip

    async def slow_approve(request):
        await trio.sleep(1.0)
        return request.response_to("00")

    async with trio.open_nursery() as nursery:
        server = trio.CancelScope()

        async def run_server(*, task_status=trio.TASK_STATUS_IGNORED):
            with server:
                await serve(task_status=task_status)

        await nursery.start(run_server)
        async with open_link(CENTER, connect, config=NO_SIGN_ON, backoff=backoff) as link:
            assert (await link.request(sample(CENTER), timeout=5.0))[39] == "00"
            async with trio.open_nursery() as requests:

                async def doomed():
                    with pytest.raises(LinkClosed):  # sent, then the gateway died
                        await link.request(sample(CENTER).with_fields({11: "000457"}), timeout=5.0)

                requests.start_soon(doomed)
                await trio.sleep(0.5)
                network.kill("gateway")
                server.cancel()  # the crashed incarnation stops too
            await trio.sleep(3.0)  # the link retries, refused
            network.revive("gateway")
            await nursery.start(serve)  # a new incarnation listens again
            response = await link.request(sample(CENTER).with_fields({11: "000458"}), timeout=10.0)
            assert response[39] == "00"
            assert link.connections == 2
        nursery.cancel_scope.cancel()
    assert network.statistics().connections_refused >= 2


async def test_a_request_whose_frames_are_all_dropped_times_out(autojump_clock):
    net = Net(Faults(drop=1.0))
    listener = net.network.listen("gw", node="gateway", dialect=CENTER)
    async with trio.open_nursery() as nursery:
        await nursery.start(
            functools.partial(
                serve_links, CENTER, handler=approve, listeners=[listener], config=NO_SIGN_ON
            )
        )
        connect = net.network.connector("gw", node="center")
        async with open_link(CENTER, connect, config=NO_SIGN_ON) as link:
            with pytest.raises(RequestTimeout) as timed_out:
                await link.request(sample(CENTER), timeout=5.0)
        nursery.cancel_scope.cancel()
    assert timed_out.value.response_code == "68"
    assert net.network.statistics().frames_dropped == 1


# -- replay from a seed ----------------------------------------------------------------------


def simulate(seed: int) -> tuple[list[str], list[str]]:
    """Four center links to one server through heavy faults: (trace, outcomes)."""
    seed_trio_scheduler(seed)
    rng = random.Random(seed)
    net = Net(
        Faults(drop=0.05, duplicate=0.05, delay=0.1, max_delay=1.0, reorder=0.05, cut=0.03,
               silence=0.02, max_silence=1.0),
        seed=seed,
    )  # fmt: skip
    outcomes: list[str] = []
    config = LinkConfig(echo_interval=2.0, echo_timeout=1.0)

    async def handler(request):
        await trio.sleep(rng.uniform(0.0, 0.5))
        return request.response_to("00")

    async def center(name: str, base: int) -> None:
        connect = net.network.connector("gw", node=name)
        async with open_link(
            CENTER, connect, config=config, random=rng.random, name=name, wallclock=wallclock,
            backoff=Backoff(initial=0.2, maximum=1.0),
        ) as link:  # fmt: skip
            for n in range(12):
                message = sample(CENTER).with_fields({11: f"{base + n:06d}"})
                try:
                    response = await link.request(message, timeout=3.0)
                    outcomes.append(f"{name} {n} {response[39]}")
                except LinkError as exc:
                    outcomes.append(f"{name} {n} {type(exc).__name__}")

    async def main() -> None:
        listener = net.network.listen("gw", node="gateway", dialect=CENTER)
        async with trio.open_nursery() as nursery:
            await nursery.start(
                functools.partial(serve_links, CENTER, handler=handler, listeners=[listener])
            )
            async with trio.open_nursery() as centers:
                for i in range(4):
                    centers.start_soon(center, f"center-{i}", 100 * i)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return net.lines, outcomes


def test_the_same_seed_gives_the_same_trace_byte_for_byte():
    first, outcomes = simulate(2024)
    again, outcomes_again = simulate(2024)
    assert len(first) > 100 and len(outcomes) == 48
    assert "\n".join(first) == "\n".join(again)
    assert outcomes == outcomes_again
    faults = " ".join(first)
    assert all(word in faults for word in ("dropped", "duplicated", "delayed", "held to swap",
                                           "silent", "broken"))  # fmt: skip
    other, _ = simulate(2025)
    assert other != first


def test_faults_from_a_seed_explore_different_mixes():
    mixes = [Faults.from_seed(random.Random(seed)) for seed in range(200)]
    assert Faults.from_seed(random.Random(7)) == Faults.from_seed(random.Random(7))
    for name, top in (("drop", 0.03), ("duplicate", 0.03), ("delay", 0.05), ("reorder", 0.03),
                      ("cut", 0.01), ("silence", 0.01)):  # fmt: skip
        rates = [getattr(m, name) for m in mixes]
        assert 60 < rates.count(0.0) < 140, name  # off in about half the seeds
        assert max(rates) <= top and max(rates) > top / 2, name
    assert all(0.1 <= m.max_delay <= 3.0 for m in mixes)
    assert len({m.describe() for m in mixes}) > 190  # all off in 1 seed of 64
    assert (
        not Faults.none().active
        and Faults(cut=0.1).active
        and Faults.none().describe() == "no faults"
    )
    assert Faults(drop=0.012, delay=0.004, max_delay=2.1).describe() == (
        "drop 1.20%, delay 0.40% up to 2.10 s"
    )
    with pytest.raises(ValueError, match="drop"):
        Faults(drop=1.5)
