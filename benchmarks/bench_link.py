"""Link throughput: request/response round trips per second, ours against raw Trio.

Both runs use one TCP connection on 127.0.0.1 with 64 requests in flight
and the same minimal responder (a raw Trio server answering each request
frame with a reply it computed beforehand, so its cost is the same for
both). "ours" goes through ``open_link`` (sign-on, match keys, deadlines,
encode and decode of every message, MAC off); "raw" is a plain Trio loop
writing the same pre-encoded frames (64 tasks, one ``send_all`` per frame
under a lock) and waking each task when its reply's bytes come back.

Each side runs ``--repeats`` times, alternating, and its best rate is kept
(scheduling noise only ever slows a run down). Prints a table, then ONE
JSON line whose ``ratio`` is ours / raw.

    .venv/bin/python benchmarks/bench_link.py [--requests N]
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from datetime import datetime

import trio

from sscard_gateway.iso import FrameDecoder, Message, load_dialect
from sscard_gateway.link import LinkConfig, open_link, tcp_connector

IN_FLIGHT = 64
DIALECT = load_dialect("cups")


def build_requests(count: int) -> list[Message]:
    out = []
    for i in range(count):
        fields = {2: "6225880137654324", 3: "000000", 4: "000000012345", 7: "1126101530"}
        fields.update({11: f"{i + 1:06d}", 18: "8062", 25: "00", 32: "48020000"})
        fields.update({33: "48020000", 41: "HOSP0001", 42: "110105806200001", 49: "156"})
        out.append(DIALECT.message("0200", fields))
    return out


class Responder:
    """Answers known request frames with precomputed replies, others by decoding."""

    def __init__(self, requests: list[Message]) -> None:
        self.replies: dict[bytes, bytes] = {}
        prefix = DIALECT.spec.prefix.size
        for message in requests:
            frame = DIALECT.encode(message)
            reply = DIALECT.encode(DIALECT.decode(frame).response_to("00", {38: "123456"}))
            self.replies[frame[prefix:]] = reply

    async def serve(self, stream: trio.SocketStream) -> None:
        spec = DIALECT.spec
        decoder = FrameDecoder(spec.prefix, max_length=spec.max_length)
        try:
            async with stream:
                while data := await stream.receive_some(65536):
                    decoder.receive_data(data)
                    out = []
                    for payload in decoder.frames():
                        reply = self.replies.get(payload)
                        if reply is None:  # network management: sign-on, sign-off, echo
                            message = DIALECT.decode_payload(payload)
                            reply = DIALECT.encode(message.response_to("00"))
                        out.append(reply)
                    await stream.send_all(b"".join(out))
        except trio.BrokenResourceError:
            pass


async def run_ours(port: int, requests: list[Message], rounds: int) -> float:
    config = LinkConfig(network_fields={33: "48020000"}, echo_interval=None)
    connect = tcp_connector("127.0.0.1", port)
    async with open_link(DIALECT, connect, config=config, max_in_flight=IN_FLIGHT) as link:
        await link.wait_ready()

        async def worker(start: int) -> None:
            for i in range(start, rounds, IN_FLIGHT):
                await link.request(requests[i % len(requests)], timeout=30.0)

        begin = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for w in range(IN_FLIGHT):
                nursery.start_soon(worker, w)
        return time.perf_counter() - begin


async def run_raw(port: int, responder: Responder, requests: list[Message], rounds: int) -> float:
    prefix = DIALECT.spec.prefix.size
    frames = [DIALECT.encode(m) for m in requests]
    replies = [responder.replies[f[prefix:]][prefix:] for f in frames]
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    waiting: dict[bytes, trio.Event] = {}
    lock = trio.Lock()

    async def reader() -> None:
        buffer = b""
        while data := await stream.receive_some(65536):
            buffer += data
            while len(buffer) >= 4:
                end = 4 + int(buffer[:4])
                if len(buffer) < end:
                    break
                waiting.pop(buffer[4:end]).set()
                buffer = buffer[end:]

    async def worker(start: int) -> None:
        for i in range(start, rounds, IN_FLIGHT):
            k = i % len(frames)
            event = trio.Event()
            waiting[replies[k]] = event
            async with lock:
                await stream.send_all(frames[k])
            await event.wait()

    async with stream, trio.open_nursery() as outer:
        outer.start_soon(reader)
        begin = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for w in range(IN_FLIGHT):
                nursery.start_soon(worker, w)
        elapsed = time.perf_counter() - begin
        outer.cancel_scope.cancel()
    return elapsed


async def main(rounds: int, repeats: int) -> dict[str, float]:
    """Best rate of each side over ``repeats`` alternating runs (after a warm-up)."""
    requests = build_requests(1024)
    responder = Responder(requests)
    best = {"ours": 0.0, "raw": 0.0}
    async with trio.open_nursery() as nursery:
        serve = functools.partial(trio.serve_tcp, responder.serve, 0, host="127.0.0.1")
        listeners = await nursery.start(serve)
        port = listeners[0].socket.getsockname()[1]
        await run_raw(port, responder, requests, rounds // 8)  # warm up
        await run_ours(port, requests, rounds // 8)
        for _ in range(repeats):
            raw = await run_raw(port, responder, requests, rounds)
            ours = await run_ours(port, requests, rounds)
            best["raw"] = max(best["raw"], rounds / raw)
            best["ours"] = max(best["ours"], rounds / ours)
        nursery.cancel_scope.cancel()
    return best


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2048, help="round trips per run")
    parser.add_argument("--repeats", type=int, default=8, help="alternating runs; best kept")
    args = parser.parse_args()
    started = datetime.now()
    rates = trio.run(main, args.requests, args.repeats)
    ratio = rates["ours"] / rates["raw"]
    print(f"{'run':<28}{'round trips/s':>16}{'us/round trip':>16}")
    for name, label in (("raw", "raw Trio, pre-encoded"), ("ours", "open_link (MAC off)")):
        rate = rates[name]
        print(f"{label:<28}{rate:>16,.0f}{1e6 / rate:>16.1f}")
    print(f"{'ratio ours/raw':<28}{ratio:>16.2f}")
    sys.stdout.flush()
    result = {
        "benchmark": "link_round_trips",
        "connection": "tcp 127.0.0.1",
        "in_flight": IN_FLIGHT,
        "requests": args.requests,
        "repeats": args.repeats,
        "mac": "off",
        "ours_per_s": round(rates["ours"]),
        "raw_per_s": round(rates["raw"]),
        "ratio": round(ratio, 3),
        "seconds": round((datetime.now() - started).total_seconds(), 2),
    }
    print(json.dumps(result))
