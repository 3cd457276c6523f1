"""Crash tests on real processes: ``kill -9`` the gateway under load, judged by money invariants.

The deployment is the product's own, one process each, on 127.0.0.1: the
switch simulator (``sim switch --record``: its ledger of the day survives
its restarts), the gateway (``run``, a SQLite journal), and one load per
regional center (``sim load --unique-cards --record --home-record
--reverse-unknown --serve``): each center sends its requests, answers the
gateway's home-center legs for cards of its own region from its ledger
(``--home-record``: the gateway listens for centers and sends those legs on
the center's own connection), reverses at once what it got no answer to,
and keeps its record. The switch answers some requests late (past the
center's timeout: the center reverses a request still in flight), some
never (past the gateway's: the gateway owes the reversal), and declines
some cards.

While the loads run, the gateway is killed with SIGKILL ``SSCARD_KILLS``
times (default 5; ``make soak`` 100), each time when the loads' progress
passes a point drawn from ``SSCARD_KILL_SEED`` (printed, to replay a
failure), and started again at once on the same journal. Then the loads
end, every center reverses what it never learned until acknowledged, the
gateway drains what it owes, everything stops cleanly, and the judge of
the fault simulation (:func:`sscard_gateway.testing.judge`) reads
the records: the centers', the switch's, the home centers' ledgers and the
journal. No invariant may break.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import time
from collections import Counter
from pathlib import Path

from service_helpers import cli, example_config, free_port, metrics, poll, spawn, stop

from sscard_gateway.config import load_config
from sscard_gateway.gateway import link_dialects
from sscard_gateway.ids import luhn_check_digit
from sscard_gateway.iso import load_dialect
from sscard_gateway.sim import CenterSimulator, Kind, Ledger, RequesterRecord
from sscard_gateway.sim.lab import CENTERS as LAB
from sscard_gateway.sim.lab import lab_security
from sscard_gateway.sim.load import MIXED_KINDS, LoadRecord, UniqueWorkload, reverse_unknown
from sscard_gateway.store import SQLiteJournal
from sscard_gateway.testing import Violation, judge

CENTERS = ("center-110000", "center-310000")
KILLS = int(os.environ.get("SSCARD_KILLS", "5"))
SEED = int(os.environ.get("SSCARD_KILL_SEED", str(random.SystemRandom().randrange(1_000_000))))
CENTER_TIMEOUT = 2.0  # a center waits this long for an answer; the gateway's legs twice that
GATEWAY_TIMEOUT = 4.0

# the switch (by the last digits of the card: ~10% declined, ~4% answered after the
# center's timeout, ~2% never answered: the gateway's leg times out and it owes the reversal)
RULES = """
[[rules]]
mti = ["02"]
pan_suffixes = ["3"]
code = "51"

[[rules]]
mti = ["02"]
pan_suffixes = ["29", "68"]
action = "silent"

[[rules]]
mti = ["02"]
pan_suffixes = ["17", "41", "50", "86"]
delay = 3.0
"""

# the example's settings, scaled down to a test's seconds
EDITS = {
    "request_timeout = 30.0": f"request_timeout = {GATEWAY_TIMEOUT}",
    "drain_timeout = 10.0": "drain_timeout = 2.0",
    "echo_interval = 60.0": "echo_interval = 0",
    "initial = 0.2": "initial = 0.05",
    "maximum = 5.0": "maximum = 0.5",
    "initial = 1.0": "initial = 0.1",
    "maximum = 60.0": "maximum = 1.0",
    "attempt_timeout = 10.0": "attempt_timeout = 2.0",
    'level = "info"': 'level = "warning"',
    "interval = 5.0": "interval = 0.1",
}


def keys_of(folder: Path) -> list[str | Path]:
    return ["--keys", folder / "keys.store", "--master-key", folder / "master.key"]


class Progress:
    """Requests the centers wrote down as sent, read from their growing records."""

    def __init__(self, records: dict[str, Path]) -> None:
        self.records = records
        self._read = dict.fromkeys(records, 0)  # bytes read so far, whole lines only
        self._sent = dict.fromkeys(records, 0)

    def of(self, name: str) -> int:
        """Requests center ``name`` sent so far."""
        try:
            with self.records[name].open("rb") as stream:
                stream.seek(self._read[name])
                data = stream.read()
        except FileNotFoundError:
            return 0
        data = data[: data.rfind(b"\n") + 1]
        self._read[name] += len(data)
        self._sent[name] += data.count(b'"event": "sent"')
        return self._sent[name]

    def total(self) -> int:
        """Requests all centers sent so far."""
        return sum(self.of(name) for name in self.records)


def switch_port(log: Path) -> int | None:
    """The port ``sim switch --port 0`` printed it listens on, once it did."""
    found = re.search(r"listening on [\d.]+:(\d+)\n", log.read_text(encoding="utf-8"))
    return int(found.group(1)) if found else None


def serving(out: Path) -> int:
    """How many of a center's loads ended their load and reversals (and serve)."""
    return out.read_bytes().count(b"serving the gateway's requests")


def owes_nothing(port: int) -> bool:
    seen = metrics(port)
    depth = seen.get(("sscard_saf_depth", ()))
    pending = seen.get(("sscard_journal_pending", ()))
    return depth == 0 and pending == 0


def test_kill_9_gateway_under_load_loses_no_money(tmp_path: Path) -> None:
    began = time.monotonic()
    rng = random.Random(SEED)
    per_center = max(400, 40 * KILLS)  # 100 kills: 4000 requests a center
    total = per_center * len(CENTERS)
    events = [
        (point, "gateway") for point in rng.sample(range(total // 20, total * 9 // 10), KILLS)
    ]
    events.append((rng.randrange(total * 3 // 10, total * 8 // 10), rng.choice(CENTERS)))
    events.sort()
    print(f"\nSSCARD_KILL_SEED={SEED} SSCARD_KILLS={KILLS}: {per_center} requests a center")

    keys = tmp_path / "run"
    made = subprocess.run(cli("sim", "keys", "--out", keys), capture_output=True, timeout=30)
    assert made.returncode == 0, made.stderr
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    switch_record = tmp_path / "switch.ledger"
    records = {name: tmp_path / f"{name}.record" for name in CENTERS}
    homes = {name: tmp_path / f"{name}.ledger" for name in CENTERS}
    centers, metrics_port = (free_port(), free_port()), free_port()
    ports = dict(zip(CENTERS, centers, strict=True))
    gateway_log, switch_log = tmp_path / "gateway.log", tmp_path / "switch.log"
    procs: list[subprocess.Popen[bytes]] = []
    switch = spawn(
        "sim", "switch", "--port", 0, "--rules", rules, "--record", switch_record,
        *keys_of(keys), out=switch_log,
    )  # fmt: skip
    procs.append(switch)

    def start_gateway() -> subprocess.Popen[bytes]:
        gateway = spawn("run", config, out=gateway_log)
        procs.append(gateway)
        poll(
            lambda: metrics(metrics_port).get(("sscard_link_up", (("link", "cups"),))) == 1,
            what="the gateway is signed on to the switch",
            timeout=20,
            alive=[gateway],
        )
        return gateway

    def load(name: str, requests: int, first: int, *more: str) -> subprocess.Popen[bytes]:
        """One center: ``requests`` of it (cards from serial ``first``), its record, its ledger."""
        proc = spawn(
            "sim", "load", "--gateway", f"127.0.0.1:{ports[name]}", "--center", name,
            "--requests", requests, "--concurrency", 16, "--kind", "mixed",
            "--unique-cards", "--first-card", first,
            "--record", records[name], "--home-record", homes[name],
            "--reverse-unknown", "--reverse-for", 30,
            "--timeout", CENTER_TIMEOUT, "--connect-timeout", 30, "--json", *more,
            *keys_of(keys), out=tmp_path / f"{name}.out", err=tmp_path / f"{name}.err",
        )  # fmt: skip
        procs.append(proc)
        return proc

    try:
        poll(
            lambda: switch_port(switch_log) is not None,
            what="the switch listens",
            timeout=20,
            alive=[switch],
        )
        config = example_config(
            tmp_path,
            keys=keys,
            switch=switch_port(switch_log) or 0,
            centers=centers,
            metrics=metrics_port,
            extra=EDITS,
        )
        gateway = start_gateway()
        first = {name: 1_000_000 * (n + 1) for n, name in enumerate(CENTERS)}
        loads = {name: load(name, per_center, first[name], "--serve") for name in CENTERS}

        # at each point of the loads' progress, kill -9 the gateway (or, once, a center's
        # load: started again, it reverses what it never learned, then sends the rest)
        kills = 0
        progress = Progress(records)
        servings = dict.fromkeys(CENTERS, 1)  # "serving" lines to see in each output
        for point, victim in events:
            poll(
                lambda point=point: progress.total() >= point,
                what=f"{point} requests sent",
                timeout=60,
                alive=[gateway, *loads.values()],
                every=0.01,
            )
            if victim == "gateway":
                gateway.kill()
                gateway.wait(timeout=10)
                kills += 1
                gateway = start_gateway()
                continue
            loads[victim].kill()
            loads[victim].wait(timeout=10)
            servings[victim] = serving(tmp_path / f"{victim}.out") + 1
            rest = per_center - progress.of(victim)
            print(f"killed the load of {victim} with {rest} requests left to send")
            again = load(victim, 0, 0)  # alone: reverse what the dead process never learned
            assert again.wait(timeout=60) in (0, 1)
            loads[victim] = load(victim, rest, first[victim] + per_center, "--serve")
        load_seconds = time.monotonic() - began

        # the loads end and reverse what they never learned; then the gateway drains
        for name, proc in loads.items():
            out = tmp_path / f"{name}.out"
            poll(
                lambda out=out, name=name: serving(out) == servings[name],
                what=f"{name} ends its load and its reversals",
                timeout=60,
                alive=[proc, gateway],
                every=0.05,
            )
        fresh = time.monotonic() + 0.5  # metrics read the journal every 0.1 s: a fresh read
        poll(
            lambda: time.monotonic() > fresh and owes_nothing(metrics_port),
            what="nothing owed, nothing pending",
            timeout=60,
            alive=[gateway],
            every=0.2,
        )
        for proc in loads.values():
            assert stop(proc) in (0, 1)  # 1: some requests got no answer (the kills)
        assert stop(gateway) == 0
        assert stop(switch) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)

    violations, figures = judged(config, records, homes, switch_record)
    figures.update(kills=kills, seconds=round(time.monotonic() - began, 1))
    figures["load_seconds"] = round(load_seconds, 1)
    print(
        "kill test:",
        ", ".join(f"{k} {v}" for k, v in figures.items()),
        f"(SSCARD_KILL_SEED={SEED})",
    )
    for name in CENTERS:
        print((tmp_path / f"{name}.out").read_text(encoding="utf-8").strip())
    assert kills == KILLS
    assert not violations, "\n".join(map(str, violations)) + f"\nSSCARD_KILL_SEED={SEED}"


def judged(
    config_path: Path, records: dict[str, Path], homes: dict[str, Path], switch_record: Path
) -> tuple[list[Violation], dict[str, int]]:
    """The judge's verdict on the records, and the run's figures."""
    config = load_config(config_path)
    center = load_dialect("center")
    requesters = {
        name: RequesterRecord(center.spec.transaction_key, path) for name, path in records.items()
    }
    ledgers = {"cups": Ledger(load_dialect("cups"), switch_record)}
    ledgers.update({name: Ledger(center, path) for name, path in homes.items()})
    journal = SQLiteJournal(
        config.journal.path,
        pan_key=config.journal.pan_key.read(),
        data_key=config.journal.data_key.read(),
    )
    try:
        violations = judge(
            requesters=requesters,
            ledgers=ledgers,
            journal=journal,
            dialects=link_dialects(config.gateway),
        )
    finally:
        journal.close()
        for ledger in ledgers.values():
            ledger.close()
    told = [t for record in requesters.values() for t in record.entries()]
    rules = Counter(v.rule for v in violations)
    figures = {
        "requests": len(told),
        "approved": sum(t.approved for t in told),
        "reversed": sum(t.reversal_sent for t in told),
        "unknown": sum(t.answer is None for t in told),
        "held": sum(len(ledger.held()) for ledger in ledgers.values()),
        "violations": len(violations),
        "lost": rules["money"],
        "double": rules["double"],
    }
    return violations, figures


# -- the load's record, without processes ------------------------------------------------


def beijing() -> CenterSimulator:
    return CenterSimulator(LAB[CENTERS[0]], security=lab_security(), pin_key=f"{CENTERS[0]}.zpk")


def test_record_file_is_private_and_survives_a_torn_last_line(tmp_path: Path) -> None:
    center = load_dialect("center")
    path = tmp_path / "center.record"
    work = UniqueWorkload(beijing(), center=CENTERS[0], kinds=MIXED_KINDS, first_serial=5)
    first, second = (work.plan(i).message for i in (0, 1))
    record = RequesterRecord.open(center.spec.transaction_key, path)
    assert path.stat().st_mode & 0o777 == 0o600
    record.sent(first, kind="contribution_payment", expects={"cups"})
    with path.open("a", encoding="utf-8") as out:
        out.write('{"event": "told", "key": ')  # the process died mid-line
    again = RequesterRecord.open(center.spec.transaction_key, path)
    again.sent(second, kind="contribution_payment", expects={"cups"})
    keys = [t.key for t in RequesterRecord(center.spec.transaction_key, path).entries()]
    assert keys == [record.key_of(first), record.key_of(second)]


def test_unique_workload_gives_each_request_a_card_and_its_ledgers() -> None:

    sim = beijing()
    work = UniqueWorkload(sim, center=CENTERS[0], kinds=MIXED_KINDS, first_serial=1_000_000)
    plans = [work.plan(i) for i in range(18)]
    pans = [p.message.text(2) for p in plans]
    assert len(set(pans)) == 18 and all(luhn_check_digit(p[:-1]) == p[-1] for p in pans)
    assert {p[:8] for p in pans} == {"62258801", "62258802", "62258899"}
    by = {(p.kind, p.message.text(2)[:8]): p.expects for p in plans}
    assert by[(Kind.MEDICAL_SETTLEMENT, "62258802")] == {"center-310000", "cups"}
    assert by[(Kind.MEDICAL_SETTLEMENT, "62258801")] == {"cups"}
    assert by[(Kind.CONTRIBUTION_PAYMENT, "62258802")] == {"center-310000"}
    assert by[(Kind.BENEFIT_PAYOUT, "62258899")] == {"cups"}


async def test_reverse_unknown_writes_down_first_and_resends_the_same_reversal(
    tmp_path: Path,
) -> None:

    center = load_dialect("center")
    path = tmp_path / "center.record"
    sim = beijing()
    work = UniqueWorkload(sim, center=CENTERS[0], kinds=MIXED_KINDS, first_serial=7)
    plans = [work.plan(i) for i in range(3)]
    record = LoadRecord(path, center)
    for plan in plans:
        record.sent(plan.message, kind=plan.kind.value, expects=plan.expects)
    record.told(plans[0].message, plans[0].message.response_to("00"))
    seen: list[tuple[str, tuple[str, ...]]] = []
    answer: list[str] = []  # the gateway's answer to reversals (none: it is silent)

    async def send(message):
        # written down before it left: the record knows a reversal was sent
        original = next(p.message for p in plans if p.message.text(2) == message.text(2))
        told = RequesterRecord(center.spec.transaction_key, path).get(
            record.record.key_of(original)
        )
        assert told is not None and told.reversal_sent
        seen.append((message.mti, (message.text(7), message.text(11))))
        return message.response_to(answer[0]) if answer else None

    result = await reverse_unknown(record, send, sim.reversal, concurrency=2, bound=0.5, pause=0.1)
    record.close()
    assert (result.unknown, result.acknowledged, result.open) == (2, 0, 2) and result.rounds >= 2
    assert [m for m, _ in seen[:2]] == ["0420", "0420"] and {m for m, _ in seen[2:]} == {"0421"}
    first = {k for _, k in seen[:2]}
    assert {k for _, k in seen[2:]} == first  # the same reversals, sent again

    # a later process over the same files resends those reversals (0421, their keys)
    again = LoadRecord(path, center)
    assert {t.key for t in again.unknown()} == {record.record.key_of(p.message) for p in plans[1:]}
    seen.clear()
    answer.append("25")
    result = await reverse_unknown(again, send, sim.reversal, concurrency=2, bound=5, pause=0)
    again.close()
    assert (result.acknowledged, result.open, result.rounds) == (2, 0, 1)
    assert [m for m, _ in seen] == ["0421", "0421"] and {k for _, k in seen} == first
    last = LoadRecord(path, center)
    last.close()
    assert not last.unknown()
