"""Deterministic fault simulation: many seeded days judged by the money invariants.

``make test`` runs ``SSCARD_SIM_SEEDS`` seeds (1,000 by default; ``make soak``
runs 100,000 through the command line) of 24 requests each, in two worker
processes. This count is separate from Hypothesis' profile: each seed is a
whole day, not an example. A failing seed prints the command that replays
and shrinks it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import attrs
import pytest

from sscard_gateway.engine import Compensator
from sscard_gateway.testing import (
    Crash,
    Request,
    Schedule,
    SlowSwitch,
    make_schedule,
    regression_test,
    run_schedule,
    shrink,
)
from sscard_gateway.testing._actors import card_of
from sscard_gateway.testing._faults import Faults
from sscard_gateway.testing.simulate import sweep

SEEDS = int(os.environ.get("SSCARD_SIM_SEEDS", "1000"))
CALM = Faults()  # no per-frame fault


def test_every_invariant_holds_on_many_seeds():
    failing = []
    runs = 0
    for seed, violations, counts in sweep(range(SEEDS), jobs=2):
        runs += 1
        assert counts.get("requests", 0) > 0, f"seed {seed} sent nothing"
        if violations:
            failing.append(f"seed {seed}: {'; '.join(violations[:3])}")
    assert runs == SEEDS
    assert not failing, (
        "\n".join(failing[:20])
        + "\nreplay: python -m sscard_gateway.testing.simulate --seed N --shrink"
    )


def test_a_seed_replays_exactly():
    schedule = make_schedule(11)
    first, second = run_schedule(schedule), run_schedule(schedule)
    assert first.trace == second.trace
    assert first.counts == second.counts
    assert len(first.trace) > 100


def test_seeds_differ_in_workload_and_faults():
    schedules = [make_schedule(seed) for seed in range(40)]
    assert len({s.faults for s in schedules}) == 40  # swarm: each seed its own mix
    kinds = {type(e).__name__ for s in schedules for e in s.events}
    assert {"Request", "Crash", "Restart", "DiskFull", "SlowSwitch", "Cutover"} <= kinds
    requests = [e for s in schedules for e in s.events if isinstance(e, Request)]
    assert {r.kind for r in requests} >= {
        "medical_settlement",
        "benefit_payout",
        "contribution_payment",
        "balance_inquiry",
        "refund",
        "purchase",
    }
    assert any(r.reverse_after for r in requests) and any(r.repeat_after for r in requests)
    crashes = [e for s in schedules for e in s.events if isinstance(e, Crash)]
    assert any(c.commit is not None for c in crashes) and any(c.commit is None for c in crashes)


def test_the_trace_holds_no_card_number():
    schedule = make_schedule(5)
    result = run_schedule(schedule, verbose=True)
    pans = {
        card_of(e.card, e.ref).pan for e in schedule.events if isinstance(e, Request)
    } | {card_of(home, e.ref).pan for e in schedule.events if isinstance(e, Request)
         for home in ("center-110000", "center-310000", "bank")}  # fmt: skip
    text = "\n".join(result.trace)
    assert not [pan for pan in pans if pan in text]
    assert re.search(r"622588\*{6}\d{4}", text)  # masked ones are there


def _cross_region(**changes: object) -> Schedule:
    """A cross-region medical settlement with a cash part, the switch slow for a while."""
    request = Request(
        at=1.0,
        ref=1,
        source="center-310000",
        kind="medical_settlement",
        card="center-110000",
        amount=50_000,
        cash=20_000,
    )
    return Schedule(
        seed=7,
        start="2026-06-15 10:00:00",
        faults=CALM,
        events=(attrs.evolve(request, **changes), SlowSwitch(at=0.5, duration=5.0, delay=35.0)),
    )


def test_a_center_reversal_racing_a_slow_leg_leaves_nothing_held():
    result = run_schedule(_cross_region(reverse_after=12.0))
    assert result.ok, result.violations
    assert result.counts["reversed_in_flight"] == 1


def test_the_harness_catches_a_lost_reversal(monkeypatch: pytest.MonkeyPatch):
    """Mutation check: with reversals of unknown legs no longer owed, money is lost."""
    assert run_schedule(_cross_region()).ok
    monkeypatch.setattr(Compensator, "reverse", lambda self, leg, now, message=None: [])
    result = run_schedule(_cross_region())
    assert {v.rule for v in result.violations} & {"money", "view"}, result.violations


def test_shrinking_finds_the_events_that_matter():
    schedule = make_schedule(3)
    refs = [e.ref for e in schedule.events if isinstance(e, Request)]
    culprits = {refs[2], refs[7]}

    class Fake:
        def __init__(self, candidate: Schedule) -> None:
            present = {e.ref for e in candidate.events if isinstance(e, Request)}
            self.ok = not culprits <= present
            from sscard_gateway.testing import Violation

            self.violations = () if self.ok else (Violation("money", "lost"),)

    small, result = shrink(schedule, run=Fake)  # type: ignore[arg-type]
    assert {e.ref for e in small.events if isinstance(e, Request)} == culprits
    assert len(small.events) == 2
    text = regression_test(small, result)  # type: ignore[arg-type]
    compile(text, "regression.py", "exec")
    assert "def test_seed_3_shrunk" in text and "run_schedule(schedule)" in text


def test_shrinking_refuses_a_passing_seed():
    with pytest.raises(ValueError, match="does not fail"):
        shrink(_cross_region())


def test_the_command_replays_a_seed():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sscard_gateway.testing.simulate",
            "--seed",
            "2",
            "--transactions",
            "6",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "seed 2: every invariant holds" in done.stdout
    assert "Schedule(" in done.stdout and " commit " in done.stdout
