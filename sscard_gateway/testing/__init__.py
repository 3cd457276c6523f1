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
"""

from ._faults import Faults as Faults
from ._faults import NetworkStatistics as NetworkStatistics
from ._network import SimListener as SimListener
from ._network import SimNetwork as SimNetwork
from ._scheduling import seed_trio_scheduler as seed_trio_scheduler
from ._stream import SimConnection as SimConnection
from ._stream import SimStream as SimStream

__all__ = [
    "Faults",
    "NetworkStatistics",
    "SimConnection",
    "SimListener",
    "SimNetwork",
    "SimStream",
    "seed_trio_scheduler",
]
