"""A simulation's schedule: the workload and the faults, drawn from one seed.

Why a schedule of values: a run must replay exactly from its seed, and a
failing run must shrink to a short one that still fails. Drawing every
choice up front into a list of frozen events makes both plain: the same
seed gives the same list; removing events gives a smaller run; the list
prints as Python (:meth:`Schedule.to_python`) to paste as a regression
test. Only the network's per-frame faults are drawn while the run goes
(they depend on the frames), from their own generator seeded by the
schedule's seed.

Swarm testing: each seed also chooses *which* faults are on and how often
(:meth:`~._faults.Faults.from_seed` for the network, and the counts of
crashes, restarts, full disks and slow answers here), so that seeds explore
different mixes instead of all the same average one.
"""

from __future__ import annotations

import random as _random
from typing import Any, TypeAlias

import attrs

from ._faults import Faults

__all__ = [
    "CENTER_KINDS",
    "Crash",
    "Cutover",
    "DiskFull",
    "Event",
    "Request",
    "Restart",
    "Schedule",
    "SlowSwitch",
    "make_schedule",
]

#: The kinds a center originates (the refund refers to an earlier request).
CENTER_KINDS = (
    "medical_settlement",
    "benefit_payout",
    "contribution_payment",
    "balance_inquiry",
    "refund",
)
_CENTERS = ("center-110000", "center-310000")
_CARD_HOMES = (*_CENTERS, "bank")  # "bank": a card of no center (routed to the switch)


@attrs.frozen
class Request:
    """A request a requester sends at ``at`` (virtual seconds from the start).

    Attributes:
        at: when.
        ref: its number in the workload (refunds and repeats name it).
        source: the center that sends it, or ``"cups"`` for the switch.
        kind: one of :data:`CENTER_KINDS` (``"purchase"`` from the switch).
        card: whose card: a center's name, or ``"bank"``.
        amount: the total in fen.
        cash: for a medical settlement, the self-pay part (the rest is fund).
        refund_of: for a refund, the ``ref`` of the request it refunds.
        repeat_after: send it again this long after (a duplicate), or ``None``.
        reverse_after: reverse it this long after, in flight, or ``None``.
    """

    at: float
    ref: int
    source: str
    kind: str
    card: str
    amount: int
    cash: int = 0
    refund_of: int | None = None
    repeat_after: float | None = None
    reverse_after: float | None = None


@attrs.frozen
class Crash:
    """The gateway dies: at ``at``, or at its ``commit``-th journal commit (before or after).

    It is started again ``down_for`` seconds later on the same journal file.
    """

    at: float
    down_for: float
    commit: int | None = None
    after_commit: bool = False


@attrs.frozen
class Restart:
    """A peer process restarts at ``at``: ``"cups"`` (its ledger kept) or a center."""

    at: float
    peer: str
    down_for: float


@attrs.frozen
class DiskFull:
    """The gateway's journal refuses writes from ``at`` for ``duration`` seconds."""

    at: float
    duration: float


@attrs.frozen
class SlowSwitch:
    """The switch answers ``delay`` seconds late (past the gateway's deadline) for ``duration``."""

    at: float
    duration: float
    delay: float


@attrs.frozen
class Cutover:
    """The switch sends its cutover (0820 F70 201, then 202 a few seconds later)."""

    at: float


Event: TypeAlias = Request | Crash | Restart | DiskFull | SlowSwitch | Cutover


@attrs.frozen
class Schedule:
    """Everything a run does, but the network's per-frame faults.

    Attributes:
        seed: the seed (it also seeds the network and Trio's scheduler).
        start: the wall-clock start, ``YYYY-MM-DD hh:mm:ss`` (chosen to
            cross the 23:00 cutover or New Year's midnight).
        faults: the network's per-frame faults.
        events: the workload and the faults, in time order.
        declines: card serials the switch declines (``51``).
    """

    seed: int
    start: str
    faults: Faults
    events: tuple[Event, ...]
    declines: tuple[int, ...] = ()

    def without(self, drop: set[int]) -> Schedule:
        """The schedule without the events at indexes ``drop`` (for shrinking).

        A request whose refund remains keeps the refund pointing nowhere:
        the refund is then sent for an unknown original (a valid test too).
        """
        kept = tuple(e for i, e in enumerate(self.events) if i not in drop)
        return attrs.evolve(self, events=kept)

    def to_python(self) -> str:
        """The schedule as a Python expression (``from sscard_gateway.testing import *``)."""
        lines = [
            "Schedule(",
            f"    seed={self.seed},",
            f"    start={self.start!r},",
            f"    faults={_call(self.faults, 4)},",
            f"    declines={self.declines!r},",
            "    events=(",
            *(f"        {_call(event, 8)}," for event in self.events),
            "    ),",
            ")",
        ]
        return "\n".join(lines)


def _call(value: Any, indent: int) -> str:
    """``Name(k=v, ...)`` of an attrs instance, one keyword a line when it is long."""
    flat = repr(value)
    if len(flat) + indent <= 88:
        return flat
    pad = " " * (indent + 4)
    items = [f"{pad}{a.name}={getattr(value, a.name)!r}," for a in attrs.fields(type(value))]
    return "\n".join([f"{type(value).__name__}(", *items, " " * indent + ")"])


_STARTS = ("2026-12-31 22:59:40", "2026-12-31 23:59:40", "2026-06-15 10:00:00")


def make_schedule(seed: int, *, transactions: int = 24, spread: float = 60.0) -> Schedule:
    """Draw a schedule from ``seed``.

    Args:
        seed: the seed.
        transactions: how many requests the workload sends (repeats,
            reversals and refunds come on top).
        spread: the virtual seconds the requests are spread over.

    Returns:
        The schedule.
    """
    rng = _random.Random(seed)
    faults = Faults.from_seed(_random.Random(rng.random()))
    events: list[Event] = []
    kinds_done: dict[int, Request] = {}
    for ref in range(transactions):
        at = rng.uniform(0.0, spread)
        if rng.random() < 0.15:
            home = rng.choice(_CENTERS)
            events.append(
                Request(
                    at,
                    ref,
                    "cups",
                    "purchase",
                    home,
                    rng.randrange(100, 200_000),
                    repeat_after=_maybe(rng, 0.1, 1.0, 15.0),
                    reverse_after=_maybe(rng, 0.1, 0.05, 12.0),
                )
            )
            continue
        source = rng.choice(_CENTERS)
        kind = rng.choice(CENTER_KINDS)
        refund_of = None
        if kind == "refund":
            candidates = [r for r in kinds_done.values() if r.source == source and r.at < at]
            if not candidates:
                kind = "contribution_payment"
            else:
                original = rng.choice(candidates)
                refund_of = original.ref
        card = rng.choice(_CARD_HOMES) if kind != "refund" else "own"
        if card == "own" or card == source:
            card = source
        amount = rng.randrange(100, 500_000)
        cash = 0
        if kind == "medical_settlement":
            cash = 0 if rng.random() < 0.3 else rng.randrange(1, amount + 1)
        if kind == "balance_inquiry":
            amount = 0
        request = Request(
            at,
            ref,
            source,
            kind,
            card,
            amount,
            cash,
            refund_of,
            repeat_after=_maybe(rng, 0.1, 0.5, 15.0),
            reverse_after=_maybe(rng, 0.08, 0.05, 12.0) if kind != "refund" else None,
        )
        events.append(request)
        if kind in ("medical_settlement", "contribution_payment"):
            kinds_done[ref] = request
    horizon = spread + 20.0
    for _ in range(_count(rng, 0.5, 3)):
        crash_at = rng.uniform(0.0, horizon)
        if rng.random() < 0.5:
            commit = rng.randrange(1, 4 * transactions + 2)
            events.append(Crash(crash_at, rng.uniform(0.5, 20.0), commit, rng.random() < 0.5))
        else:
            events.append(Crash(crash_at, rng.uniform(0.5, 20.0)))
    for _ in range(_count(rng, 0.4, 2)):
        peer = rng.choice(("cups", *_CENTERS))
        events.append(Restart(rng.uniform(0.0, horizon), peer, rng.uniform(0.5, 15.0)))
    for _ in range(_count(rng, 0.3, 2)):
        events.append(DiskFull(rng.uniform(0.0, horizon), rng.uniform(0.5, 20.0)))
    for _ in range(_count(rng, 0.4, 2)):
        events.append(SlowSwitch(rng.uniform(0.0, horizon), rng.uniform(1.0, 30.0),
                                 rng.uniform(5.0, 45.0)))  # fmt: skip
    start = rng.choice(_STARTS)
    if start.endswith("22:59:40") or rng.random() < 0.2:
        events.append(Cutover(rng.uniform(15.0, 25.0)))
    declines = tuple(sorted(rng.sample(range(transactions), k=min(transactions, rng.randrange(4)))))
    events.sort(key=lambda e: e.at)
    return Schedule(seed=seed, start=start, faults=faults, events=tuple(events), declines=declines)


def _maybe(rng: _random.Random, p: float, low: float, high: float) -> float | None:
    """A delay with probability ``p`` (the draws are made either way)."""
    hit = rng.random() < p
    value = rng.uniform(low, high)
    return value if hit else None


def _count(rng: _random.Random, p: float, most: int) -> int:
    """How many of a fault: none with probability ``1 - p``, else 1 to ``most``."""
    on = rng.random() < p
    n = rng.randint(1, most)
    return n if on else 0
