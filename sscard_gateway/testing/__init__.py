"""Deterministic simulation support: an in-memory network with faults from one seed.

Why: the gateway's guarantees (nothing lost, unknown outcomes reversed, no
late answer reaching a newer request) are about what happens when the
network misbehaves. :class:`SimNetwork` runs the real links over in-memory
Trio streams in virtual time, with latency and faults — frames dropped,
duplicated, delayed, reordered; connections cut; nodes silenced, killed,
revived — all drawn from one seed, so that a failing run replays exactly
(in the manner of FoundationDB's simulator and TigerBeetle's VOPR).
:func:`seed_trio_scheduler` makes Trio's own choice among ready tasks part
of that seed.

On it, one simulated day (:func:`run_schedule`) runs the real gateway, the
switch simulator with its ledger and two centers through a
:class:`Schedule` of requests and faults drawn from a seed
(:func:`make_schedule`), and the judge (:func:`judge`) checks the money
invariants after the day drained; :func:`shrink` makes a failing schedule
short. ``python -m sscard_gateway.testing.simulate --seed N`` replays one.
See ``docs/testing.md``.
"""

from ._clearing_check import day_clears as day_clears
from ._faults import Faults as Faults
from ._faults import NetworkStatistics as NetworkStatistics
from ._judge import Violation as Violation
from ._judge import judge as judge
from ._network import SimListener as SimListener
from ._network import SimNetwork as SimNetwork
from ._schedule import Crash as Crash
from ._schedule import Cutover as Cutover
from ._schedule import DiskFull as DiskFull
from ._schedule import Request as Request
from ._schedule import Restart as Restart
from ._schedule import Schedule as Schedule
from ._schedule import SlowSwitch as SlowSwitch
from ._schedule import make_schedule as make_schedule
from ._scheduling import seed_trio_scheduler as seed_trio_scheduler
from ._shrink import regression_test as regression_test
from ._shrink import shrink as shrink
from ._simulation import Result as Result
from ._simulation import run_schedule as run_schedule
from ._stream import SimConnection as SimConnection
from ._stream import SimStream as SimStream

__all__ = [
    "Crash",
    "Cutover",
    "DiskFull",
    "Faults",
    "NetworkStatistics",
    "Request",
    "Restart",
    "Result",
    "Schedule",
    "SimConnection",
    "SimListener",
    "SimNetwork",
    "SimStream",
    "SlowSwitch",
    "Violation",
    "day_clears",
    "judge",
    "make_schedule",
    "regression_test",
    "run_schedule",
    "seed_trio_scheduler",
    "shrink",
]
