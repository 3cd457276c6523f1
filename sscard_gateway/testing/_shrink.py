"""Shrinking a failing schedule to a short one that still fails, printed as a test.

Why: a seed that breaks an invariant usually runs two dozen requests among
crashes and network faults; the bug needs three of them. Delta debugging
(Zeller's *ddmin*) over the schedule's events finds a small subset that
still breaks the same rule: remove chunks of events, keep a removal when
the run still fails, halve the chunks when none can go. Then each kind of
network fault is switched off in turn and the switch's declines dropped,
for the same reason. Every candidate is a full, deterministic run, so the
result replays exactly; :func:`regression_test` prints it as a test to
paste into ``tests/simulation/``.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from ._schedule import Schedule
from ._simulation import Result, run_schedule

__all__ = ["regression_test", "shrink"]

_FAULT_RATES = ("drop", "duplicate", "delay", "reorder", "cut", "silence")


def shrink(
    schedule: Schedule,
    *,
    run: Callable[[Schedule], Result] = run_schedule,
    budget: int = 400,
    progress: Callable[[str], None] | None = None,
) -> tuple[Schedule, Result]:
    """The smallest schedule found that breaks the rule the first run broke.

    Args:
        schedule: a schedule whose run has violations.
        run: runs a schedule (the real simulation by default).
        budget: runs allowed at most.
        progress: told a line per kept step.

    Returns:
        The shrunk schedule and its run.

    Raises:
        ValueError: ``schedule`` does not fail.
    """
    first = run(schedule)
    if first.ok:
        raise ValueError(f"seed {schedule.seed} does not fail: nothing to shrink")
    rule = first.violations[0].rule
    runs = 1
    best, best_result = schedule, first

    def fails(candidate: Schedule) -> bool:
        nonlocal runs, best, best_result
        if runs >= budget:
            return False
        runs += 1
        result = run(candidate)
        if any(v.rule == rule for v in result.violations):
            best, best_result = candidate, result
            if progress is not None:
                progress(f"{len(candidate.events)} events still break {rule!r}")
            return True
        return False

    chunks = 2
    while len(best.events) >= 2 and runs < budget:
        size = max(1, len(best.events) // chunks)
        removed = False
        for start in range(0, len(best.events), size):
            drop = set(range(start, min(start + size, len(best.events))))
            if len(drop) < len(best.events) and fails(best.without(drop)):
                removed = True
                break
        if removed:
            chunks = max(chunks - 1, 2)
        elif size == 1:
            break
        else:
            chunks = min(chunks * 2, len(best.events))
    for name in _FAULT_RATES:
        if getattr(best.faults, name) > 0:
            fails(attrs.evolve(best, faults=attrs.evolve(best.faults, **{name: 0.0})))
    if best.declines:
        fails(attrs.evolve(best, declines=()))
    return best, best_result


def regression_test(schedule: Schedule, result: Result) -> str:
    """A pytest test that runs ``schedule`` and expects no violation (to paste)."""
    body = "\n".join("    " + line for line in schedule.to_python().splitlines())
    broken = "".join(f"    # broke: {v}\n" for v in result.violations[:3])
    return (
        "from sscard_gateway.testing import *  # noqa: F403\n\n\n"
        f"def test_seed_{schedule.seed}_shrunk():\n"
        f'    """Seed {schedule.seed}, shrunk to {len(schedule.events)} events."""\n'
        f"{broken}"
        f"    schedule = {body.lstrip()}\n"
        "    result = run_schedule(schedule)\n"
        '    assert result.ok, "\\n".join(map(str, result.violations))\n'
    )
