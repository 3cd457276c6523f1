"""The Trio driver over memory streams, in virtual time (MockClock, autojump)."""

from __future__ import annotations

import functools
import logging

import pytest
import trio
import trio.testing

from sscard_gateway.errors import (
    DuplicateRequest,
    LinkClosed,
    LinkUnavailable,
    RequestTimeout,
)
from sscard_gateway.link import (
    Backoff,
    LinkConfig,
    LinkState,
    LinkStatistics,
    open_link,
    serve_link_stream,
)


@pytest.mark.parametrize(
    "pair", [trio.testing.memory_stream_pair, trio.testing.lockstep_stream_pair]
)
async def test_open_link_signs_on_and_round_trips(h, autojump_clock, pair):
    seen = []

    async def handler(message):
        seen.append(message)
        return message.response_to("00", {38: "123456"})

    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, h.peer(handler=handler), pair)
        async with open_link(h.CUPS, net.connect, **h.link_kwargs()) as link:
            await link.wait_ready()
            assert link.state is LinkState.SIGNED_ON
            response = await link.request(h.purchase("000001"), timeout=5.0)
            assert response.mti == "0210" and response[38] == "123456"
            assert seen[0][11] == "000001"
            stats = link.statistics()
            assert isinstance(stats, LinkStatistics) and stats.in_flight == 0
        assert link.state is LinkState.CLOSED
        assert net.connects == [0.0]


async def test_request_waits_for_sign_on_within_its_timeout(h, autojump_clock):
    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, h.peer())
        net.refuse = 1  # first attempt fails; the retry comes 1 s later
        async with open_link(h.CUPS, net.connect, **h.link_kwargs()) as link:
            response = await link.request(h.purchase("000001"), timeout=5.0)
            assert response[39] == "00"
            assert trio.current_time() == 1.0


async def test_second_request_with_the_same_key_is_refused(h, autojump_clock):
    async def slow(message):
        await trio.sleep(1)
        return message.response_to("00")

    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, h.peer(handler=slow))
        async with open_link(h.CUPS, net.connect, **h.link_kwargs()) as link:
            await link.wait_ready()
            async with trio.open_nursery() as callers:
                callers.start_soon(functools.partial(link.request, h.purchase("000002")))
                await trio.sleep(0.1)
                with pytest.raises(DuplicateRequest):
                    await link.request(h.purchase("000002"), timeout=5.0)


async def test_request_times_out_at_its_deadline_with_the_dialect_code(h, autojump_clock):
    async def silent(message):
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, h.peer(handler=silent))
        async with open_link(h.CUPS, net.connect, **h.link_kwargs()) as link:
            await link.wait_ready()
            start = trio.current_time()
            with pytest.raises(RequestTimeout) as info:
                await link.request(h.purchase("000001"), timeout=7.5)
            assert trio.current_time() - start == 7.5
            assert info.value.response_code == "98"


async def test_reconnect_backoff_is_capped_and_jittered(h, autojump_clock):
    draws = iter([0.0, 0.0, 0.0, 0.5, 1.0])
    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, h.peer())
        net.refuse = 5
        kwargs = h.link_kwargs(random=lambda: next(draws))
        async with open_link(h.CUPS, net.connect, **kwargs) as link:
            await link.wait_ready()
        # delays 1, 2, 4 (cap), 4 * (1 - 0.5 * 0.5) = 3, 4 * (1 - 0.5) = 2
        gaps = [b - a for a, b in zip(net.connects, net.connects[1:], strict=False)]
        assert gaps == [1.0, 2.0, 4.0, 3.0, 2.0]


def test_backoff_delays():
    backoff = Backoff(initial=0.5, maximum=30.0, multiplier=2.0, jitter=0.5)
    assert [backoff.delay(n, lambda: 0.0) for n in range(8)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        30.0,
        30.0,
    ]
    assert backoff.delay(3, lambda: 0.999) == pytest.approx(2.002)
    assert backoff.delay(10_000, lambda: 0.0) == 30.0


async def test_peer_closing_fails_requests_once_and_the_link_reconnects(h, autojump_clock):
    streams = []

    async def serve(stream):
        streams.append(stream)
        await serve_link_stream(stream, h.CUPS, handler=slow, wallclock=h.wallclock)

    async def slow(message):
        await trio.sleep(10)
        return message.response_to("00")

    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, serve)
        async with open_link(h.CUPS, net.connect, **h.link_kwargs()) as link:
            await link.wait_ready()
            outcomes = []

            async def call(stan):
                try:
                    outcomes.append(await link.request(h.purchase(stan), timeout=20.0))
                except LinkClosed as exc:
                    outcomes.append(exc)

            async with trio.open_nursery() as callers:
                callers.start_soon(call, "000001")
                callers.start_soon(call, "000002")
                await trio.sleep(1)
                await streams[0].aclose()  # the peer goes away
            assert len(outcomes) == 2 and all(isinstance(o, LinkClosed) for o in outcomes)
            assert trio.current_time() == 1.0
            response = await link.request(h.purchase("000003"), timeout=20.0)
            assert response[39] == "00"
        assert net.connects == [0.0, 2.0]  # reconnected after the first backoff step
        assert link.connections == 2


async def test_echo_after_idle_and_a_silent_peer_is_reconnected(h, autojump_clock):
    echoes = []
    answered = []

    def peer_config(answer):
        return LinkConfig(echo_interval=None, answer_network=answer)

    async def deaf_to_echo(message):
        if message.mti == "0820" and message[70] == "301":
            echoes.append(trio.current_time())
            await trio.sleep_forever()
        answered.append(message[70])
        return message.response_to("00")

    async def serve(stream):
        config = peer_config(answer=len(echoes) > 0)
        await serve_link_stream(
            stream, h.CUPS, handler=deaf_to_echo, config=config, wallclock=h.wallclock
        )

    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, serve)
        async with open_link(h.CUPS, net.connect, **h.link_kwargs()) as link:
            await link.wait_ready()
            await trio.sleep(45)  # echo at 30 s idle, unanswered for 10 s -> reconnect
            assert echoes == [30.0]
            assert net.connects == [0.0, 41.0]
            await link.wait_ready()
            await trio.sleep(40)  # the new peer answers echo itself: no reconnect
            assert net.connects == [0.0, 41.0]


async def test_echo_interval_shorter_than_the_request_timeouts(h, autojump_clock):
    echoes = []

    async def handler(message):
        if message.mti == "0820" and message[70] == "301":
            echoes.append(trio.current_time())
        return message.response_to("00")

    config = LinkConfig(network_fields=h.CLIENT_FIELDS, echo_interval=3.0, sign_on_timeout=10.0)
    peer_config = LinkConfig(echo_interval=None, answer_network=False)
    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, h.peer(handler=handler, config=peer_config))
        async with open_link(h.CUPS, net.connect, **h.link_kwargs(config=config)) as link:
            await link.wait_ready()
            await trio.sleep(10)
    assert echoes == [3.0, 6.0, 9.0]


async def test_requests_in_flight_are_bounded(h, autojump_clock):
    concurrent = 0
    peak = 0

    async def handler(message):
        nonlocal concurrent, peak
        concurrent += 1
        peak = max(peak, concurrent)
        await trio.sleep(1)
        concurrent -= 1
        return message.response_to("00")

    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, h.peer(handler=handler))
        async with open_link(h.CUPS, net.connect, max_in_flight=3, **h.link_kwargs()) as link:
            await link.wait_ready()
            async with trio.open_nursery() as callers:
                for i in range(9):
                    callers.start_soon(functools.partial(link.request, h.purchase(f"{i + 1:06d}")))
            assert peak == 3
            assert trio.current_time() == 3.0


async def test_graceful_close_drains_then_signs_off(h, autojump_clock):
    codes = []

    async def handler(message):
        codes.append(message.fields.get(70) or message[11])
        if message.mti == "0200":
            await trio.sleep(2)
        return message.response_to("00")

    config = LinkConfig(echo_interval=None, answer_network=False)
    results = []
    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, h.peer(handler=handler, config=config))
        async with open_link(h.CUPS, net.connect, **h.link_kwargs()) as link:
            await link.wait_ready()

            async def call():
                results.append(await link.request(h.purchase("000001"), timeout=5.0))

            nursery.start_soon(call)
            await trio.sleep(0.5)
        assert results and results[0][39] == "00"
        assert codes == ["001", "000001", "002"]
        assert trio.current_time() == 2.0
        with pytest.raises(LinkUnavailable):
            await link.request(h.purchase("000009"), timeout=1.0)


async def test_close_bound_fails_what_does_not_drain(h, autojump_clock):
    async def never(message):
        await trio.sleep_forever()

    results = []
    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, h.peer(handler=never))
        async with open_link(h.CUPS, net.connect, drain_timeout=1.0, **h.link_kwargs()) as link:
            await link.wait_ready()

            async def call():
                try:
                    await link.request(h.purchase("000001"), timeout=100.0)
                except LinkClosed as exc:
                    results.append(exc)

            nursery.start_soon(call)
            await trio.sleep(0.5)
        assert len(results) == 1
        assert trio.current_time() == 1.5


async def test_inbound_requests_reach_the_handler_and_its_answer_goes_back(h, autojump_clock):
    served = []

    async def client_handler(message):
        if message[11] == "000077":
            raise ValueError("boom")
        return message.response_to("00", {38: "ABC123"})

    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, h.peer(on_connect=served.append))
        async with open_link(
            h.CUPS, net.connect, handler=client_handler, **h.link_kwargs()
        ) as link:
            await link.wait_ready()
            peer = served[0]
            await peer.wait_ready()
            answer = await peer.request(h.purchase("000500"), timeout=5.0)
            assert answer[38] == "ABC123"
            failed = await peer.request(h.purchase("000077"), timeout=5.0)
            assert failed[39] == "96"


async def test_no_handler_answers_40(h, autojump_clock):
    served = []
    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, h.peer(on_connect=served.append))
        async with open_link(h.CUPS, net.connect, **h.link_kwargs()) as link:
            await link.wait_ready()
            await served[0].wait_ready()
            answer = await served[0].request(h.purchase("000500"), timeout=5.0)
            assert answer[39] == "40"


async def test_abandoned_request_answer_goes_to_on_unmatched(h, autojump_clock):
    unmatched = []

    async def slow(message):
        await trio.sleep(3)
        return message.response_to("00")

    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, h.peer(handler=slow))
        kwargs = h.link_kwargs(on_unmatched=lambda m, late: unmatched.append((m[11], late)))
        async with open_link(h.CUPS, net.connect, **kwargs) as link:
            await link.wait_ready()
            with trio.move_on_after(1):
                await link.request(h.purchase("000001"), timeout=10.0)
            await trio.sleep(5)
            assert unmatched == [("000001", True)]
            # the late answer ended the quarantine: the key is free again
            response = await link.request(h.purchase("000001"), timeout=10.0)
            assert response[39] == "00"


async def test_sign_on_refused_reconnects_with_backoff(h, autojump_clock, caplog):
    attempts = []

    async def refuse_first(message):
        if message[70] == "001":
            attempts.append(trio.current_time())
        return message.response_to("05" if len(attempts) == 1 else "00")

    config = LinkConfig(echo_interval=None, answer_network=False)
    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, h.peer(handler=refuse_first, config=config))
        with caplog.at_level(logging.WARNING, logger="sscard_gateway.link"):
            async with open_link(h.CUPS, net.connect, **h.link_kwargs()) as link:
                await link.wait_ready()
        assert attempts == [0.0, 1.0]
        assert "sign-on refused with 05" in caplog.text


async def test_link_without_sign_on(h, autojump_clock):
    config = LinkConfig(sign_on=False, echo_interval=None)
    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, h.peer(config=LinkConfig(sign_on=False, echo_interval=None)))
        async with open_link(h.CUPS, net.connect, **h.link_kwargs(config=config)) as link:
            response = await link.request(h.purchase("000001"), timeout=1.0)
            assert response[39] == "00"
            await link.send(h.purchase("000002").evolve(mti="0220"))


async def test_keys_and_macs_over_the_link(h, autojump_clock):
    """The peer (CUPS) resets our PIN key with 0800 F70 101; MACs flow both ways."""
    from sscard_gateway.crypto import Algorithm, KeyUsage

    client_module = h.zone_module()
    peer_module = h.zone_module()
    peer_module.import_components(
        "zpk.new", Algorithm.TDES_2KEY, KeyUsage.ZONE_PIN, [bytes.fromhex("89ABCDEF01234567" * 2)]
    )
    cryptogram, kcv = peer_module.export_key("zpk.new", "zmk")
    served = []
    async with trio.open_nursery() as nursery:
        serve = h.peer(security=peer_module, keys=h.ZONE_KEYS, on_connect=served.append)
        net = h.MemoryNetwork(nursery, serve)
        kwargs = h.link_kwargs(security=client_module, keys=h.ZONE_KEYS)
        async with open_link(h.CUPS, net.connect, **kwargs) as link:
            response = await link.request(h.purchase("000001"), timeout=5.0)
            assert response[39] == "00" and len(response[128]) == 8
            reset = h.CUPS.message(
                "0800",
                {
                    7: "1126101600",
                    11: "000900",
                    33: "00010000",
                    48: "NK" + (cryptogram + kcv).hex().upper(),
                    53: "1600000000000000",
                    70: "101",
                },
            )
            answer = await served[0].request(reset, timeout=5.0)
            assert answer.mti == "0810" and answer[39] == "00"
            assert client_module.check_value("zpk") == kcv


async def test_bad_mac_request_gets_a0_and_the_link_carries_on(h, autojump_clock):
    served = []
    async with trio.open_nursery() as nursery:
        serve = h.peer(on_connect=served.append)  # the peer has no keys: no MAC
        net = h.MemoryNetwork(nursery, serve)
        kwargs = h.link_kwargs(security=h.zone_module(), keys=h.ZONE_KEYS)
        async with open_link(h.CUPS, net.connect, handler=h.approve, **kwargs) as link:
            await link.wait_ready()
            await served[0].wait_ready()
            answer = await served[0].request(h.purchase("000700"), timeout=5.0)
            assert answer[39] == "A0"
            assert link.state is LinkState.SIGNED_ON


async def _raw_peer(stream, frames_after_sign_on, log):
    """A peer that signs the client on, then writes raw frames and answers requests."""
    from sscard_gateway.iso import FrameDecoder

    dialect = h_cups()
    decoder = FrameDecoder(dialect.spec.prefix, max_length=dialect.spec.max_length)
    try:
        while True:
            data = await stream.receive_some(65536)
            if not data:
                return
            decoder.receive_data(data)
            for payload in decoder.frames():
                message = dialect.decode_payload(payload)
                log.append(message)
                if message.is_response:
                    continue
                await stream.send_all(dialect.encode(message.response_to("00")))
                if message.mti == "0820" and message[70] == "001":
                    for frame in frames_after_sign_on:
                        await stream.send_all(frame)
    except trio.BrokenResourceError:
        return


def h_cups():
    from sscard_gateway.iso import load_dialect

    return load_dialect("cups")


async def test_malformed_frames_are_logged_answered_and_survived(h, autojump_clock, caplog):
    bad_request = h.CUPS.encode(h.purchase("000042")).replace(b"HOSP0001", b"HOSP\x01001")
    stray = h.CUPS.encode(h.purchase("000043").response_to("00"))
    seen = []

    async def serve(stream):
        await _raw_peer(stream, [bad_request, stray], seen)

    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, serve)
        with caplog.at_level(logging.INFO, logger="sscard_gateway.link"):
            async with open_link(h.CUPS, net.connect, **h.link_kwargs()) as link:
                await link.wait_ready()
                response = await link.request(h.purchase("000044"), timeout=5.0)
                assert response[39] == "00"
        format_errors = [m for m in seen if m.mti == "0210"]
        assert format_errors and format_errors[0][39] == "30"
        assert net.connects == [0.0]
        assert "frame rejected: DecodeError" in caplog.text
        assert "unknown response dropped" in caplog.text
        assert h.PAN not in caplog.text
        assert "622588******4324" in caplog.text


async def test_frame_over_the_maximum_closes_only_that_connection(h, autojump_clock, caplog):
    seen = []
    connections = []

    async def serve(stream):
        connections.append(stream)
        frames = [b"9999" + b"x" * 20] if len(connections) == 1 else []
        await _raw_peer(stream, frames, seen)

    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, serve)
        with caplog.at_level(logging.ERROR, logger="sscard_gateway.link"):
            async with open_link(h.CUPS, net.connect, **h.link_kwargs()) as link:
                await trio.sleep(0.5)
                response = await link.request(h.purchase("000044"), timeout=5.0)
                assert response[39] == "00"
        assert len(net.connects) == 2
        assert "FrameTooLarge" in caplog.text


async def test_drop_cuts_the_line_and_the_client_reconnects(h, autojump_clock):
    served = []
    config = LinkConfig(sign_on=False, echo_interval=None)
    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, h.peer(config=config, on_connect=served.append))
        async with open_link(h.CUPS, net.connect, **h.link_kwargs()) as link:
            await link.wait_ready()
            assert served[0].state is LinkState.SIGNED_ON  # open at once: no sign-on expected
            assert (await served[0].request(h.purchase("000600"), timeout=5.0))[39] == "40"
            served[0].drop()
            await trio.sleep(1.5)
            assert len(net.connects) == 2 and link.state is LinkState.SIGNED_ON
            link.drop()
            await trio.sleep(1.5)
            assert len(net.connects) == 3


async def test_requests_beyond_max_handling_are_answered_busy_at_once(h, autojump_clock):
    release = trio.Event()

    async def slow(message):
        await release.wait()
        return message.response_to("00")

    served = []
    answers: dict[str, str] = {}
    config = LinkConfig(network_fields=h.CLIENT_FIELDS, echo_interval=30.0, max_handling=2)
    async with trio.open_nursery() as nursery:
        net = h.MemoryNetwork(nursery, h.peer(on_connect=served.append))
        async with open_link(
            h.CUPS, net.connect, handler=slow, **h.link_kwargs(config=config)
        ) as link:
            await link.wait_ready()
            peer = served[0]
            await peer.wait_ready()

            async def call(stan):
                answers[stan] = (await peer.request(h.purchase(stan), timeout=50.0))[39]

            async with trio.open_nursery() as callers:
                for i in range(5):
                    callers.start_soon(call, f"{i + 1:06d}")
                await trio.sleep(1)
                # two in hand, three answered busy at once
                assert sorted(answers.values()) == ["91", "91", "91"]
                assert link.statistics().busy == 3
                release.set()
            assert sorted(answers.values()) == ["00", "00", "91", "91", "91"]
            answer = await peer.request(h.purchase("000009"), timeout=5.0)
            assert answer[39] == "00"  # the slots were given back
