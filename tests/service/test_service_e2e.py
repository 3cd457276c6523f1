"""The product end to end, in real processes: sim switch, run, sim load / sim center, SIGTERM.

The issue's "done when": ``sscard-gateway run`` on an examples-like
configuration serves traffic from ``sscard-gateway sim load`` through to
``sscard-gateway sim switch``, its metrics are scraped, and it stops cleanly
on SIGTERM with nothing owed lost. Every wait is bounded; ports come from
the switch (``--port 0`` prints its port) or are picked free on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import select
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from service_helpers import CLI, example_config, free_port

from sscard_gateway.config import load_config
from sscard_gateway.sim.lab import CARDS
from sscard_gateway.store import OwedStatus, SQLiteJournal, TransactionStatus

BEIJING, SHANGHAI = "center-110000", "center-310000"


def cli(*args: str | Path) -> list[str]:
    return [*CLI, *map(str, args)]


@contextmanager
def process(*args: str | Path, log: Path | None = None) -> Iterator[subprocess.Popen[str]]:
    """A CLI process, killed on the way out if it is still running."""
    err = log.open("w", encoding="utf-8") if log else subprocess.DEVNULL
    proc = subprocess.Popen(cli(*args), stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()
        if log:
            err.close()


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "no output in time"
    return proc.stdout.readline()


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode("utf-8")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def poll_until(
    holds: Callable[[], bool], *, what: str, timeout: float, alive: subprocess.Popen[str]
) -> None:
    """Ask ``holds`` every 20 ms until it is true; fail after ``timeout`` s or if ``alive`` exits.

    The gateway shows its readiness and its requests in flight only in its
    metrics (its log goes to a file), so there is no event to wait on: this
    is the one polling loop, and it is bounded.
    """
    deadline = time.monotonic() + timeout
    while not holds():
        assert alive.poll() is None, f"the process exited before: {what}"
        assert time.monotonic() < deadline, f"not in {timeout:g} s: {what}"
        time.sleep(0.02)


def wait_ready(gateway: subprocess.Popen[str], metrics_port: int, timeout: float = 20.0) -> None:
    """Until the gateway's metrics say the switch link is signed on."""

    def signed_on() -> bool:
        try:
            return scrape(metrics_port).get(("sscard_link_up", (("link", "cups"),))) == 1
        except OSError:
            return False  # not listening yet

    poll_until(signed_on, what="the gateway is ready", timeout=timeout, alive=gateway)


def key_options(keys: Path) -> list[str | Path]:
    return ["--keys", keys / "keys.store", "--master-key", keys / "master.key"]


def start_world(tmp_path: Path, *switch_args: str) -> tuple[Path, list[str | Path]]:
    keys = tmp_path / "run"
    made = subprocess.run(cli("sim", "keys", "--out", keys), capture_output=True, timeout=30)
    assert made.returncode == 0, made.stderr
    return keys, ["sim", "switch", "--port", "0", *key_options(keys), *switch_args]


def journal_of(config_path: Path) -> SQLiteJournal:
    config = load_config(config_path)
    return SQLiteJournal(
        config.journal.path,
        pan_key=config.journal.pan_key.read(),
        data_key=config.journal.data_key.read(),
    )


def test_run_serves_sim_load_to_sim_switch_and_stops_cleanly_on_sigterm(tmp_path):
    keys, switch_args = start_world(tmp_path)
    with process(*switch_args, log=tmp_path / "switch.log") as switch:
        switch_port = int(read_line(switch, 20).rsplit(":", 1)[1])
        centers, metrics = (free_port(), free_port()), free_port()
        config = example_config(
            tmp_path, keys=keys, switch=switch_port, centers=centers, metrics=metrics
        )
        checked = subprocess.run(
            cli("check-config", config, "--keys"), capture_output=True, timeout=30
        )
        assert checked.returncode == 0, checked.stderr
        with process("run", config, log=tmp_path / "gateway.log") as gateway:
            wait_ready(gateway, metrics)
            load = subprocess.run(
                cli(
                    "sim", "load", "--gateway", f"127.0.0.1:{centers[0]}", "--center", BEIJING,
                    "--requests", "200", "--concurrency", "8", "--json", *key_options(keys),
                ),
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert load.returncode == 0, load.stderr
            result = json.loads(load.stdout.splitlines()[-1])
            assert result["codes"] == {"00": 200} and result["errors"] == {}
            assert "throughput" in load.stdout and "p99" in load.stdout
            center = subprocess.run(
                cli(
                    "sim", "center", "--gateway", f"127.0.0.1:{centers[1]}", "--center", SHANGHAI,
                    *key_options(keys),
                ),
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert center.returncode == 0, center.stderr
            answers = center.stdout.splitlines()
            assert len(answers) == 5 and all("  00" in line for line in answers), answers
            assert CARDS[SHANGHAI].pan not in center.stdout  # printed masked

            seen = scrape(metrics)
            kind = (("code", "00"), ("kind", "contribution_payment"))
            assert seen[("sscard_transactions_total", kind)] == 201
            assert seen[("sscard_request_duration_seconds_count", (("link", BEIJING),))] == 200

            gateway.send_signal(signal.SIGTERM)
            assert gateway.wait(timeout=30) == 0
        switch.send_signal(signal.SIGTERM)
        assert switch.wait(timeout=30) == 0
        assert switch.stdout is not None
        stopped = switch.stdout.read()

    log = (tmp_path / "gateway.log").read_text(encoding="utf-8")
    assert "SIGTERM received" in log and "cups: signed on -> signing off" in log
    assert "stopped: 205 transactions journaled, 0 pending" in log
    assert CARDS[BEIJING].pan not in log and CARDS[SHANGHAI].pan not in log
    journal = journal_of(config)
    try:
        stats = journal.statistics(time.time())
        records = list(journal.transactions())
        owed = journal.owed_items(status=None)
    finally:
        journal.close()
    assert stats.transactions == 205 and stats.pending == 0
    assert all(r.status is TransactionStatus.APPROVED for r in records)
    # the refund is an advice: delivered, or still owed for the next start; never dropped
    assert [o.kind.value for o in owed] == ["advice"]
    assert owed[0].status in (OwedStatus.DONE, OwedStatus.OWED)
    delivered = owed[0].status is OwedStatus.DONE
    assert f"stopped: {204 + delivered} requests, {204 + delivered} approved" in stopped


def test_sigterm_during_load_drains_what_is_in_flight(tmp_path):
    rules = tmp_path / "slow.toml"
    rules.write_text("[default]\ndelay = 0.2\n", encoding="utf-8")
    keys, switch_args = start_world(tmp_path, "--rules", str(rules))
    with process(*switch_args, log=tmp_path / "switch.log") as switch:
        switch_port = int(read_line(switch, 20).rsplit(":", 1)[1])
        centers, metrics = (free_port(), free_port()), free_port()
        config = example_config(
            tmp_path, keys=keys, switch=switch_port, centers=centers, metrics=metrics
        )
        with process("run", config, log=tmp_path / "gateway.log") as gateway:
            wait_ready(gateway, metrics)
            with process(
                "sim", "load", "--gateway", f"127.0.0.1:{centers[0]}", "--center", BEIJING,
                "--requests", "400", "--concurrency", "16", "--json", *key_options(keys),
            ) as load:  # fmt: skip
                poll_until(
                    lambda: scrape(metrics).get(("sscard_requests_in_flight", ()), 0) >= 16,
                    what="16 requests in flight",
                    timeout=20,
                    alive=load,
                )
                gateway.send_signal(signal.SIGTERM)
                assert gateway.wait(timeout=30) == 0
                assert load.wait(timeout=60) == 1  # the gateway went away mid-load
                assert load.stdout is not None
                result = json.loads(load.stdout.read().splitlines()[-1])
        switch.send_signal(signal.SIGTERM)
        assert switch.wait(timeout=30) == 0

    log = (tmp_path / "gateway.log").read_text(encoding="utf-8")
    taken = re.search(r"stopping: new requests refused \(91\); (\d+) in flight", log)
    assert taken is not None and int(taken.group(1)) >= 1
    assert "drained: no request in flight" in log
    journal = journal_of(config)
    try:
        stats = journal.statistics(time.time())
        records = list(journal.transactions())
    finally:
        journal.close()
    approved = result["codes"]["00"]
    assert approved >= int(taken.group(1))  # at least those in flight at the signal
    assert stats.pending == 0 and stats.owed == 0
    # every answer the center got is journaled, and nothing else: 91s were never taken
    assert stats.transactions == approved
    assert {r.status for r in records} == {TransactionStatus.APPROVED}
