"""Which faults a simulated network injects, and what it counted.

Why: a deterministic simulation (FoundationDB's simulator, TigerBeetle's
VOPR) finds bugs by running the real code through many different mixes of
faults, each one replayable from its seed. :class:`Faults` is that mix as a
value: per-frame probabilities of loss, duplication, delay, reordering, a
connection cut or a node falling silent. :meth:`Faults.from_seed` is swarm
testing (Groce et al., "Swarm Testing", ISSTA 2012): each seed switches
some faults off altogether and picks rates for the others, so that runs
explore mixes a single fixed rate would never reach (e.g. heavy reordering
with no loss at all).

:class:`NetworkStatistics` is a frozen snapshot of the counters, for a
harness to check that a run actually exercised the faults it meant to.
"""

from __future__ import annotations

import random as _random
from typing import Any

import attrs

__all__ = ["Faults", "NetworkStatistics"]


def _probability(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"Faults.{attribute.name} is a probability in [0, 1], got {value!r}")


def _non_negative(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not value >= 0.0:
        raise ValueError(f"Faults.{attribute.name} must be >= 0 seconds, got {value!r}")


def _positive(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0.0:
        raise ValueError(f"Faults.{attribute.name} must be > 0 seconds, got {value!r}")


_RATES = ("drop", "duplicate", "delay", "reorder", "cut", "silence")


@attrs.frozen(kw_only=True, slots=True)
class Faults:
    """Per-frame fault probabilities of a :class:`~sscard_gateway.testing.SimNetwork`.

    Each probability applies independently to every frame cut out of a
    framed stream (bytes of an unframed stream get no per-frame faults).

    Attributes:
        drop: the frame is lost (the stream stays framed: whole frames only).
        duplicate: the frame arrives twice in a row.
        delay: the frame waits an extra ``uniform(0, max_delay)`` seconds;
            the stream stays in order, so the frames behind it wait too
            (head-of-line blocking, as on TCP).
        max_delay: the longest extra delay, in seconds.
        reorder: the frame is held and swapped with the next frame in the
            same direction; released in order if none comes within
            ``reorder_window`` seconds.
        reorder_window: how long a held frame waits for a frame to swap with.
        cut: the connection breaks abortively right after this frame
            arrives (its sender cannot know whether it arrived; the answer
            cannot come back).
        silence: the sending node falls silent (see
            :meth:`~sscard_gateway.testing.SimNetwork.silence`) for
            ``uniform(0, max_silence)`` seconds before this frame leaves.
        max_silence: the longest such silence, in seconds.
    """

    drop: float = attrs.field(default=0.0, validator=_probability)
    duplicate: float = attrs.field(default=0.0, validator=_probability)
    delay: float = attrs.field(default=0.0, validator=_probability)
    max_delay: float = attrs.field(default=1.0, validator=_non_negative)
    reorder: float = attrs.field(default=0.0, validator=_probability)
    reorder_window: float = attrs.field(default=0.05, validator=_positive)
    cut: float = attrs.field(default=0.0, validator=_probability)
    silence: float = attrs.field(default=0.0, validator=_probability)
    max_silence: float = attrs.field(default=2.0, validator=_non_negative)

    @classmethod
    def none(cls) -> Faults:
        """No faults at all: bytes arrive intact, in order, after the latency.

        Returns:
            The fault-free mix.
        """
        return cls()

    @classmethod
    def from_seed(cls, random: _random.Random) -> Faults:
        """A swarm-testing mix: some faults off, the others at random rates.

        Each fault is off with probability 1/2; an enabled one gets a rate
        from 0 to a few percent (connection cuts and silences up to 1 %, as
        each is costly), extra delays up to 3 s, silences up to 5 s. The
        same number of draws is made whatever comes out, so a seed's mix
        does not shift when a draw lands differently.

        Args:
            random: the source (seed it from the simulation's seed).

        Returns:
            The mix.
        """

        def rate(top: float) -> float:
            enabled = random.random() >= 0.5
            value = random.uniform(0.0, top)
            return value if enabled else 0.0

        return cls(
            drop=rate(0.03),
            duplicate=rate(0.03),
            delay=rate(0.05),
            max_delay=random.uniform(0.1, 3.0),
            reorder=rate(0.03),
            reorder_window=random.uniform(0.01, 0.5),
            cut=rate(0.01),
            silence=rate(0.01),
            max_silence=random.uniform(0.1, 5.0),
        )

    @property
    def active(self) -> bool:
        """Whether any per-frame fault can happen."""
        return any(getattr(self, name) > 0.0 for name in _RATES)

    def describe(self) -> str:
        """One line naming the enabled faults and their rates (for a run's log).

        Returns:
            E.g. ``"drop 1.20%, delay 0.40% up to 2.10 s"``, or ``"no faults"``.
        """
        parts = []
        for name in _RATES:
            value = getattr(self, name)
            if value <= 0.0:
                continue
            part = f"{name} {value:.2%}"
            if name == "delay":
                part += f" up to {self.max_delay:.2f} s"
            elif name == "reorder":
                part += f" within {self.reorder_window:.3f} s"
            elif name == "silence":
                part += f" up to {self.max_silence:.2f} s"
            parts.append(part)
        return ", ".join(parts) if parts else "no faults"


@attrs.frozen(kw_only=True, slots=True)
class NetworkStatistics:
    """A snapshot of what a :class:`~sscard_gateway.testing.SimNetwork` did.

    Attributes:
        frames_sent: frames cut out of framed streams.
        frames_delivered: frames that reached their receiver (a duplicate
            counts twice).
        frames_dropped, frames_duplicated, frames_delayed, frames_reordered:
            per-frame faults applied (a reordered frame is one that another
            overtook).
        frames_lost: frames in flight when their connection broke or their
            receiver closed.
        bytes_sent, bytes_delivered, bytes_lost: the same in bytes, framed
            or not (a frame dropped by the drop fault is not "lost").
        connections_opened, connections_refused: connection attempts.
        connections_cut: :meth:`~sscard_gateway.testing.SimNetwork.cut` on a
            connection, and random cuts.
        connections_broken: connections that ended abortively (cut, node
            killed, listener closed before accepting them).
        kills, revivals, silences: node faults applied.
    """

    frames_sent: int = 0
    frames_delivered: int = 0
    frames_dropped: int = 0
    frames_duplicated: int = 0
    frames_delayed: int = 0
    frames_reordered: int = 0
    frames_lost: int = 0
    bytes_sent: int = 0
    bytes_delivered: int = 0
    bytes_lost: int = 0
    connections_opened: int = 0
    connections_refused: int = 0
    connections_cut: int = 0
    connections_broken: int = 0
    kills: int = 0
    revivals: int = 0
    silences: int = 0
