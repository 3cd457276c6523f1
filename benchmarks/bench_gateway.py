"""Gateway throughput and latency against a plain byte relay, same run.

Both sides drive the same UnionPay switch simulator with the same load
generator (N requests, C in flight) over loopback:

* gateway: a regional center link sends contribution payments (PIN block,
  X9.19 MAC) to the gateway, which verifies the MAC, journals the request
  in SQLite (group commit, fsync), routes and translates it, re-enciphers
  the PIN under the switch key, MACs it (X9.9), forwards it, journals the
  response and answers — the full path;
* relay: a CUPS-dialect link (X9.9 MAC, same PIN block) sends equivalent
  purchases through a plain Trio byte relay that copies bytes both ways.

Prints throughput and p50/p99 latency of both, then one JSON line with
``ratio`` = gateway TPS / relay TPS. Targets: ratio >= 0.5 and gateway
p99 <= 3 x relay p99.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Awaitable
from datetime import datetime
from pathlib import Path

import attrs
import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sscard_gateway.crypto import MasterKey
from sscard_gateway.iso import load_dialect
from sscard_gateway.link import (
    LinkConfig,
    LinkKeys,
    StanCounter,
    open_link,
    tcp_connector,
    transmission_time,
)
from sscard_gateway.sim import CenterSimulator, Kind, SwitchSimulator
from sscard_gateway.sim.lab import CARDS, CENTERS, center_link, lab_security
from sscard_gateway.sim.load import LoadResult, run_load

TOTAL = 2000
CONCURRENCY = 32
PEER = Path(__file__).resolve().parent / "_peer.py"
CENTER = "center-110000"


async def start_peer(*args: str) -> tuple[trio.Process, dict[str, int]]:
    """Start the system under test in its own process; read its ports."""
    process = await trio.lowlevel.open_process(
        [sys.executable, str(PEER), *args], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    line = b""
    with trio.fail_after(30):
        while not line.endswith(b"\n"):
            chunk = await process.stdout.receive_some(4096)
            if not chunk:
                raise RuntimeError("the peer process ended before it was ready")
            line += chunk
    return process, json.loads(line)


@attrs.frozen
class Measured:
    """A load run with the CPU seconds the process under test and this process spent."""

    result: LoadResult
    peer_cpu: float  # the gateway's or the relay's process
    own_cpu: float  # the load generator and the switch simulator (this process)

    @property
    def peer_ms_per_request(self) -> float:
        return 1000 * self.peer_cpu / self.result.requests

    @property
    def own_busy(self) -> float:
        """The share of one core this process used: near 1, it limited the run."""
        return self.own_cpu / self.result.seconds


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, from ``/proc/PID/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measured(pid: int, run: Awaitable[LoadResult]) -> Measured:
    peer, own = process_cpu(pid), sum(os.times()[:2])
    result = await run
    return Measured(result, process_cpu(pid) - peer, sum(os.times()[:2]) - own)


async def gateway_run(hsm, port: int) -> LoadResult:
    sim = CenterSimulator(CENTERS[CENTER], security=hsm, pin_key=f"{CENTER}.zpk")
    card = CARDS[CENTER]

    def make(i: int):
        return sim.build(Kind.CONTRIBUTION_PAYMENT, card, amount=100 + i % 900)

    async with center_link(hsm, CENTER, port) as link:
        await link.wait_ready()
        return await run_load(
            functools.partial(link.request, timeout=10), make, total=TOTAL, concurrency=CONCURRENCY
        )


async def relay_run(hsm, port: int, stan: StanCounter) -> LoadResult:
    cups = load_dialect("cups")
    card = CARDS[CENTER]
    block = hsm.encrypt_pin(card.pin, card.pan, "cups.zpk", "iso0")

    def make(i: int):
        now = datetime.now()
        number = stan()
        return cups.message(
            "0200",
            {
                2: card.pan,
                3: "000000",
                4: f"{100 + i % 900:012d}",
                7: transmission_time(now),
                11: number,
                12: now.strftime("%H%M%S"),
                13: now.strftime("%m%d"),
                18: "9399",
                22: "051",
                25: "00",
                32: "48020000",
                33: "48020000",
                37: now.strftime("%m%d%H") + number,
                41: "SSC00001",
                42: "SSCENTER0000001",
                49: "156",
                52: block,
                53: "2600000000000000",
            },
            header=cups.default_header(),
        )

    async with open_link(
        cups,
        tcp_connector("127.0.0.1", port),
        security=hsm,
        keys=LinkKeys(mac_key="cups.zak", pin_key="cups.zpk"),
        config=LinkConfig(echo_interval=None, network_fields={33: "48020000"}),
        name="relay-client",
    ) as link:
        await link.wait_ready()
        return await run_load(
            functools.partial(link.request, timeout=10), make, total=TOTAL, concurrency=CONCURRENCY
        )


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sscard-bench-") as folder:
        master = MasterKey.generate()
        master.write_file(Path(folder) / "master.key")
        hsm = lab_security(Path(folder) / "keys.store", master)
        switch = SwitchSimulator(
            security=hsm, keys=LinkKeys(mac_key="cups.zak", pin_key="cups.zpk")
        )
        async with trio.open_nursery() as nursery:
            switch_port = await nursery.start(switch.serve)
            relay, relay_ports = await start_peer("relay", str(switch_port))
            gateway, gateway_ports = await start_peer(
                "gateway",
                str(Path(folder) / "keys.store"),
                str(Path(folder) / "master.key"),
                folder,
                str(switch_port),
            )
            stan = StanCounter(start=500_000)
            try:
                await relay_run(hsm, relay_ports["relay"], stan)  # warm-up
                await gateway_run(hsm, gateway_ports[CENTER])
                results: dict[str, list[Measured]] = {"gateway": [], "relay": []}
                for _ in range(2):
                    results["relay"].append(
                        await measured(relay.pid, relay_run(hsm, relay_ports["relay"], stan))
                    )
                    results["gateway"].append(
                        await measured(gateway.pid, gateway_run(hsm, gateway_ports[CENTER]))
                    )
            finally:
                for process in (relay, gateway):
                    process.send_signal(signal.SIGINT)  # a clean stop: the journal closes
                    with trio.move_on_after(10):
                        await process.wait()
                    process.kill()
            nursery.cancel_scope.cancel()
    report(results)


def report(results: dict[str, list[Measured]]) -> None:
    best = {k: max(v, key=lambda m: m.result.throughput) for k, v in results.items()}
    gw, rl = best["gateway"].result, best["relay"].result
    print(f"{TOTAL} requests, {CONCURRENCY} in flight, loopback; the gateway or the relay in a")
    print("process of its own, the load generator and the switch simulator in another;")
    print("best of 2 runs each; CPU from /proc/PID/stat (user + system)")
    print(
        f"{'path':10}{'TPS':>10}{'p50 ms':>10}{'p99 ms':>10}"
        f"{'CPU ms/req':>12}{'load busy':>11}{'codes':>14}"
    )
    for name in ("gateway", "relay"):
        m = best[name]
        r = m.result
        codes = ",".join(f"{k}:{v}" for k, v in sorted(r.codes.items()))
        print(
            f"{name:10}{r.throughput:10,.0f}{r.percentile(50):10.2f}{r.percentile(99):10.2f}"
            f"{m.peer_ms_per_request:12.3f}{m.own_busy:11.0%}{codes:>14}"
        )
    ratio = gw.throughput / rl.throughput
    p99_ratio = gw.percentile(99) / rl.percentile(99)
    print(
        f"ratio gateway/relay TPS = {ratio:.2f} (target >= 0.5); "
        f"p99 gateway/relay = {p99_ratio:.2f} (target <= 3)"
    )
    print(
        json.dumps(
            {
                "benchmark": "gateway",
                "requests": TOTAL,
                "in_flight": CONCURRENCY,
                "gateway_tps": round(gw.throughput),
                "relay_tps": round(rl.throughput),
                "gateway_p50_ms": round(gw.percentile(50), 3),
                "gateway_p99_ms": round(gw.percentile(99), 3),
                "relay_p50_ms": round(rl.percentile(50), 3),
                "relay_p99_ms": round(rl.percentile(99), 3),
                "p99_ratio": round(p99_ratio, 2),
                "gateway_cpu_ms_per_request": round(best["gateway"].peer_ms_per_request, 3),
                "relay_cpu_ms_per_request": round(best["relay"].peer_ms_per_request, 3),
                "load_busy_in_relay_run": round(best["relay"].own_busy, 2),
                "ratio": round(ratio, 3),
            }
        )
    )


if __name__ == "__main__":
    trio.run(main)
