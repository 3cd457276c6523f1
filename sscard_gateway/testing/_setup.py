"""The simulated lab: the gateway's configuration, the switch's declines, the run's log lines.

Kept apart from :mod:`._simulation` so that the run itself reads on its
own: what the gateway is configured with (two centers, the switch, the lab
routes, store-and-forward backing off fast in virtual time), which cards
the switch declines, and how the library's log lines reach the trace.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import trio

from ..gateway import GatewayConfig, SafPolicy
from ..link import Backoff
from ..sim import Decision, Rule, SwitchRules
from ..sim.lab import lab_config, lab_security
from ._schedule import Schedule

_SECURITY: Any = None


def security() -> Any:
    global _SECURITY
    if _SECURITY is None:  # the same keys for every run of a process: key generation costs
        _SECURITY = lab_security()
    return _SECURITY


def config() -> GatewayConfig:
    """The lab's gateway: 30 s legs, backoffs sized for a day in virtual time."""
    lab = lab_config(0, timeout=30.0)
    return attrs.evolve(
        lab,
        upstream=attrs.evolve(lab.upstream, backoff=Backoff(initial=0.2, maximum=5.0)),
        saf=SafPolicy(initial=0.5, maximum=10.0, expiry=2 * 86400.0, attempt_timeout=5.0),
    )


def declines(schedule: Schedule) -> SwitchRules:
    rules = SwitchRules()
    for ref in schedule.declines:
        serial = f"{ref:07d}"
        rules = rules.with_rule(
            Rule(mti=("02",), pan_suffixes=(serial,), decision=Decision(response_code="51"))
        )
    return rules


def fast_tmp() -> str | None:
    shm = Path("/dev/shm")  # noqa: S108 - a private temporary folder is made inside it
    return str(shm) if shm.is_dir() else None


class _TraceHandler(logging.Handler):
    def __init__(self, write: Callable[[str], None], t0: Callable[[], float], level: int) -> None:
        super().__init__(level)
        self._write = write
        self._t0 = t0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            at = trio.current_time() - self._t0()
        except RuntimeError:
            at = -1.0
        self._write(f"{at:10.3f} log {record.levelname.lower()} {record.getMessage()}")


@contextlib.contextmanager
def logs_in(write: Callable[[str], None], t0: Callable[[], float], level: int) -> Iterator[None]:
    """The library's log lines go to ``write`` (virtual time since ``t0()``), not the console."""
    logger = logging.getLogger("sscard_gateway")
    handler = _TraceHandler(write, t0, level)
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
