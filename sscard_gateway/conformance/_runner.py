"""Running the kit: choose the cases for a role and dialect, run them, build the report.

Why one entry point: the command line, the pytest plugin and an
integrator's own Python all run the same cases the same way, so a case that
passes in CI passes from the console. :func:`run_cases` is the async core
(Trio); :func:`run_conformance` wraps it in ``trio.run`` for synchronous
callers. Offline cases run first and need no peer; live cases run one
connection each, in file order, and only those whose ``roles`` and
``dialects`` name the run's role and dialect.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

import attrs
import trio

from ..crypto import SecurityModule
from ..errors import SpecError
from ..iso import Dialect, load_dialect
from ..link import StanCounter, tcp_connector
from ._cases import Case, Kind, KitKeys, Role
from ._controls import UpstreamControl
from ._live import LiveContext, run_live
from ._offline import run_offline
from ._report import CaseResult, Outcome, Report
from ._session import Connector

__all__ = [
    "DEFAULT_DIALECTS",
    "Peer",
    "RunSettings",
    "run_cases",
    "run_conformance",
    "select_cases",
]

DEFAULT_DIALECTS: Mapping[Role, str] = {
    Role.SWITCH: "cups",
    Role.GATEWAY: "center",
    Role.CENTER: "center",
}
"""The dialect the kit speaks for each role unless told otherwise."""


@attrs.frozen
class Peer:
    """The address of the implementation under test."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Peer:
        """Read ``HOST:PORT`` (``[v6-address]:PORT`` for IPv6).

        Raises:
            SpecError: not a host and a port number.
        """
        host, sep, port = text.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise SpecError("--peer", text, "must be HOST:PORT")
        return cls(host, int(port))

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def connector(self) -> Connector:
        """A connector opening a TCP connection to the peer."""
        return tcp_connector(self.host, self.port)


@attrs.frozen(kw_only=True)
class RunSettings:
    """How the live cases run.

    Attributes:
        timeout: seconds to wait for each answer unless a step says otherwise.
        reversal_timeout: seconds to wait for an upstream reversal.
        case_timeout: seconds after which a case is stopped as an error.
        variables: placeholder values replacing the case files' ``[variables]``.
        assume_silent_upstream: the operator has configured the peer's
            upstream to stay silent for the upstream-timeout case's amount
            (without an :class:`UpstreamControl`, the reversal is then
            noted as not observed).
        offline_only: run only the offline cases.
        clock: the wall clock for F7 and the other date fields.
    """

    timeout: float = 10.0
    reversal_timeout: float = 30.0
    case_timeout: float = 180.0
    variables: Mapping[str, str] = attrs.field(factory=dict)
    assume_silent_upstream: bool = False
    offline_only: bool = False
    clock: Callable[[], datetime] = datetime.now


def select_cases(
    cases: Iterable[Case], role: Role | str, dialect: str, *, offline_only: bool = False
) -> list[Case]:
    """The cases a run for ``role`` and ``dialect`` includes: offline first, then live.

    Args:
        cases: candidate cases (from :func:`load_cases`).
        role: what the peer is.
        dialect: the dialect's name.
        offline_only: leave out every live case.

    Returns:
        The cases to run, in order.
    """
    role = Role(role)
    chosen = [c for c in cases if c.applies_to(role, dialect)]
    offline = [c for c in chosen if c.kind is Kind.OFFLINE]
    live = [] if offline_only else [c for c in chosen if c.kind is Kind.LIVE]
    return offline + live


def _result(
    case: Case, outcome: Outcome, reason: str, duration: float, log: tuple[str, ...] = ()
) -> CaseResult:
    return CaseResult(
        case_id=case.id,
        title=case.title,
        kind=case.kind.value,
        outcome=outcome,
        reason=reason,
        duration=duration,
        log=log,
    )


def _offline_result(case: Case) -> CaseResult:
    began = time.perf_counter()
    try:
        checked, problems = run_offline(case)
    except (OSError, ValueError) as exc:
        reason = f"cannot read {case.source}: {exc}"
        return _result(case, Outcome.ERROR, reason, time.perf_counter() - began)
    duration = time.perf_counter() - began
    outcome = Outcome.FAILED if problems else Outcome.PASSED
    reason = f"{len(problems)} of {checked} checks failed" if problems else ""
    return _result(case, outcome, reason, duration, (*problems, f"{checked} checked"))


async def run_cases(
    cases: Iterable[Case],
    peer: Peer | Connector | None,
    role: Role | str,
    dialect: Dialect | str | None = None,
    security: SecurityModule | None = None,
    keys: KitKeys | None = None,
    *,
    settings: RunSettings | None = None,
    control: UpstreamControl | None = None,
) -> Report:
    """Run the cases that apply to ``role`` and ``dialect`` and report.

    Args:
        cases: the cases (from :func:`load_cases`); those for other roles or
            dialects are left out.
        peer: the implementation under test: a :class:`Peer`, or any async
            function returning a connected Trio stream (TLS, memory streams);
            ``None`` runs live cases as not applicable.
        role: what the peer is (``switch``, ``gateway``, ``center``).
        dialect: the dialect to speak (a name, a file path or a
            :class:`~sscard_gateway.iso.Dialect`); the role's default when ``None``.
        security: the kit's security module, holding its side's keys.
        keys: key names replacing those of the case files' ``[keys]``.
        settings: timeouts, variables and options.
        control: a hook into the peer's upstream (the upstream-timeout case).

    Returns:
        The report, one result per case run.

    Raises:
        SpecError: the dialect cannot be loaded.
        ValueError: the role is unknown.
    """
    role = Role(role)
    settings = settings or RunSettings()
    if dialect is None:
        dialect = DEFAULT_DIALECTS[role]
    spoken = dialect if isinstance(dialect, Dialect) else load_dialect(dialect)
    chosen = select_cases(cases, role, spoken.name, offline_only=settings.offline_only)
    started, began = settings.clock(), trio.current_time()
    stan = StanCounter(1 + secrets.randbelow(999_000))
    connect = peer.connector() if isinstance(peer, Peer) else peer
    results: list[CaseResult] = []
    for case in chosen:
        if case.kind is Kind.OFFLINE:
            results.append(_offline_result(case))
            continue
        results.append(
            await _live_result(case, connect, role, spoken, security, keys, settings, control, stan)
        )
    return Report(
        results=tuple(results),
        role=role.value,
        dialect=spoken.name,
        peer="" if peer is None else str(peer) if isinstance(peer, Peer) else "(stream)",
        started=started,
        duration=trio.current_time() - began,
    )


async def _live_result(
    case: Case,
    connect: Connector | None,
    role: Role,
    dialect: Dialect,
    security: SecurityModule | None,
    keys: KitKeys | None,
    settings: RunSettings,
    control: UpstreamControl | None,
    stan: StanCounter,
) -> CaseResult:
    began = trio.current_time()
    if connect is None:
        reason = "no peer was given (--peer)"
        return _result(case, Outcome.NOT_APPLICABLE, reason, trio.current_time() - began)
    ctx = LiveContext(
        connect=connect,
        dialect=dialect,
        security=security,
        keys=case.file.keys.merged(keys),
        variables={**case.file.variables, **settings.variables},
        stan=stan,
        clock=settings.clock,
        control=control if role is Role.GATEWAY else None,
        assume_silent_upstream=settings.assume_silent_upstream,
        timeout=settings.timeout,
        reversal_timeout=settings.reversal_timeout,
    )
    outcome, reason = Outcome.ERROR, f"the case did not finish within {settings.case_timeout:g} s"
    log: tuple[str, ...] = ()
    with trio.move_on_after(settings.case_timeout):
        outcome, reason, log = await run_live(case, ctx)
    return _result(case, outcome, reason, trio.current_time() - began, log)


def run_conformance(
    cases: Iterable[Case],
    peer: Peer | Connector | None,
    role: Role | str,
    dialect: Dialect | str | None = None,
    security: SecurityModule | None = None,
    keys: KitKeys | None = None,
    *,
    settings: RunSettings | None = None,
    control: UpstreamControl | None = None,
) -> Report:
    """:func:`run_cases` for synchronous callers (runs its own Trio loop).

    Raises:
        SpecError, ValueError: as :func:`run_cases`.
    """
    run = functools.partial(
        run_cases, cases, peer, role, dialect, security, keys, settings=settings, control=control
    )
    return trio.run(run)
