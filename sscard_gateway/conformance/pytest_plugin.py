"""A pytest plugin: the conformance kit as one test per case, in an integrator's CI.

Why pytest: most integrators already run pytest in CI and read its JUnit
output, skips and failure texts; with this plugin the kit needs no script
of its own — ``pytest --sscard-peer HOST:PORT --sscard-role gateway``
adds a ``sscard-conformance::<case id>`` item per case, a failing case
fails its item with the kit's reason and message log, and a case the kit
cannot run is skipped with the reason.

The plugin is registered under the ``pytest11`` entry point
``sscard_conformance``, so it loads in every pytest run of an environment
where sscard-gateway is installed: it adds its options and nothing else
unless ``--sscard-peer`` (or ``--sscard-offline-only``) is given, and it
imports the kit only then, so an ordinary test run is neither slowed nor
changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from . import Case, CaseResult

__all__ = ["ConformanceItem", "pytest_addoption", "pytest_collection_modifyitems"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``--sscard-*`` options (they do nothing until ``--sscard-peer``)."""
    group = parser.getgroup("sscard-conformance", "sscard-gateway protocol conformance kit")
    group.addoption("--sscard-peer", metavar="HOST:PORT", help="run the kit against this peer")
    group.addoption(
        "--sscard-role",
        default="gateway",
        choices=("switch", "gateway", "center"),
        help="what the peer is (default gateway)",
    )
    group.addoption("--sscard-dialect", help="dialect name or file (default: the role's)")
    group.addoption("--sscard-cases", action="append", metavar="PATH", help="case file or folder")
    group.addoption("--sscard-keys", metavar="STORE", help="the kit's key store file")
    group.addoption("--sscard-master-key", metavar="FILE", help="the store's master key file")
    group.addoption("--sscard-mac-key", metavar="NAME", help="MAC key name")
    group.addoption("--sscard-pin-key", metavar="NAME", help="PIN key name")
    group.addoption("--sscard-kek", metavar="NAME", help="zone master key name")
    group.addoption(
        "--sscard-set", action="append", default=[], metavar="NAME=VALUE", help="case variable"
    )
    group.addoption("--sscard-timeout", type=float, default=10.0, help="seconds per answer")
    group.addoption("--sscard-offline-only", action="store_true", help="run only the offline cases")
    group.addoption(
        "--sscard-upstream-silent",
        action="store_true",
        help="the peer's upstream ignores the silent amount (upstream-timeout case)",
    )


def _enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("sscard_peer") or config.getoption("sscard_offline_only"))


class _Run:
    """The options read once, and the security module opened once, per session."""

    def __init__(self, config: pytest.Config) -> None:
        from . import KitKeys, Peer, RunSettings

        option = config.getoption
        variables: dict[str, str] = {}
        for pair in option("sscard_set"):
            name, sep, value = str(pair).partition("=")
            if not sep or not name:
                raise pytest.UsageError(f"--sscard-set {pair}: must be NAME=VALUE")
            variables[name] = value
        peer = option("sscard_peer")
        self.peer = Peer.parse(peer) if peer else None
        self.role: str = option("sscard_role")
        self.dialect: str | None = option("sscard_dialect")
        self.keys = KitKeys(
            mac_key=option("sscard_mac_key"),
            pin_key=option("sscard_pin_key"),
            kek=option("sscard_kek"),
            mac_classes=(),
        )
        self.settings = RunSettings(
            timeout=option("sscard_timeout"),
            variables=variables,
            assume_silent_upstream=option("sscard_upstream_silent"),
            offline_only=option("sscard_offline_only"),
        )
        self._store: str | None = option("sscard_keys")
        self._master: str | None = option("sscard_master_key")
        self._security: Any = None

    def security(self) -> Any:
        if self._store is None or self._security is not None:
            return self._security
        from ..crypto import MasterKey, SoftwareSecurityModule

        master = MasterKey.from_file(self._master) if self._master else MasterKey.from_env()
        self._security = SoftwareSecurityModule.open(self._store, master)
        return self._security

    def run(self, case: Case) -> CaseResult:
        from . import run_conformance

        report = run_conformance(
            [case],
            self.peer,
            self.role,
            self.dialect,
            self.security(),
            self.keys,
            settings=self.settings,
        )
        return report.results[0]


class ConformanceFailure(Exception):
    """A case failed or ended in error; carries the kit's result."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.reason)
        self.result = result


class ConformanceItem(pytest.Item):
    """One conformance case as a pytest item."""

    def __init__(self, *, case: Case, run: _Run, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self._run = run

    def runtest(self) -> None:
        """Run the case; skip it when not applicable, fail it when it fails."""
        from . import Outcome

        result = self._run.run(self.case)
        self.user_properties.append(("sscard_outcome", result.outcome.value))
        if result.outcome is Outcome.NOT_APPLICABLE:
            pytest.skip(f"not applicable: {result.reason}")
        if result.outcome in (Outcome.FAILED, Outcome.ERROR):
            raise ConformanceFailure(result)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str:
        """The kit's reason and message log instead of a traceback."""
        if isinstance(excinfo.value, ConformanceFailure):
            result = excinfo.value.result
            lines = [f"{self.case.id} {result.outcome.value}: {result.reason}", *result.log]
            return "\n".join(lines)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the case is defined."""
        return self.case.file.path, None, f"conformance case {self.case.id}"


class _Suite(pytest.Collector):
    """The parent of the case items (``sscard-conformance::<case id>``)."""

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        return []


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Append one item per applicable case when the kit is enabled (before ``-k`` applies)."""
    if not _enabled(config):
        return
    from ..errors import SscardError
    from ..iso import load_dialect
    from . import DEFAULT_DIALECTS, Role, load_cases, select_cases

    try:
        run = _Run(config)
        cases = load_cases(config.getoption("sscard_cases"))
        role = Role(run.role)
        dialect = load_dialect(run.dialect or DEFAULT_DIALECTS[role]).name
    except SscardError as exc:
        raise pytest.UsageError(f"sscard conformance: {exc}") from None
    chosen = select_cases(cases, role, dialect, offline_only=run.settings.offline_only)
    suite = _Suite.from_parent(session, name="sscard-conformance", nodeid="sscard-conformance")
    added = [
        ConformanceItem.from_parent(suite, name=case.id, case=case, run=run) for case in chosen
    ]
    items.extend(added)
    # so the terminal's "collected N items" counts them
    config.hook.pytest_collectreport(
        report=pytest.CollectReport(suite.nodeid, "passed", None, list(added))
    )
