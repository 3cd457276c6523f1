"""``sscard-gateway conformance``: run the conformance kit against a live peer.

Why a command: an integrator certifying their switch, gateway or center
needs the kit without writing Python — point it at ``HOST:PORT``, say what
the peer is, give it the keys its side of the link holds, and get a text
report for people and JUnit XML for CI (docs/conformance.md). The exit
status is 0 when no case failed or ended in error, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ..conformance import (
    KitKeys,
    Peer,
    Role,
    RunSettings,
    load_cases,
    run_conformance,
)
from ..crypto import SoftwareSecurityModule
from ..errors import SpecError
from ._crypto import KEY_STORE_ENV, load_master_key

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``conformance`` command."""
    p = sub.add_parser(
        "conformance",
        help="run the protocol conformance kit against a live switch, gateway or center",
        description="Run the conformance cases (specs/conformance/) against a live peer and "
        "write a text report and JUnit XML. Exit status 0 when no case failed.",
    )
    p.add_argument("--peer", metavar="HOST:PORT", help="the implementation under test")
    p.add_argument(
        "--role",
        choices=[r.value for r in Role],
        default=Role.GATEWAY.value,
        help="what the peer is (the kit plays the other side; default gateway)",
    )
    p.add_argument(
        "--dialect", help="dialect name or file (default: cups for switch, center otherwise)"
    )
    p.add_argument(
        "--cases",
        action="append",
        type=Path,
        metavar="PATH",
        help="case file or folder (repeatable; default: the shipped cases)",
    )
    p.add_argument("--offline-only", action="store_true", help="run only the offline cases")
    p.add_argument("--report", type=Path, metavar="FILE", help="write the text report here")
    p.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML here")
    p.add_argument("--verbose", action="store_true", help="print every case's message log")
    keys = p.add_argument_group("keys of the kit's side of the link")
    keys.add_argument(
        "--keys",
        type=Path,
        default=os.environ.get(KEY_STORE_ENV),
        metavar="STORE",
        help=f"key store file (default ${KEY_STORE_ENV}); without it no MACs are sent",
    )
    keys.add_argument(
        "--master-key",
        type=Path,
        metavar="FILE",
        help="master key file of the store (default $SSCARD_MASTER_KEY)",
    )
    keys.add_argument("--mac-key", metavar="NAME", help="MAC key name (default: the case file's)")
    keys.add_argument("--pin-key", metavar="NAME", help="PIN key name (default: the case file's)")
    keys.add_argument("--kek", metavar="NAME", help="zone master key name (key exchange cases)")
    run = p.add_argument_group("how the cases run")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="replace a case file variable (pan, amount, institution...); repeatable",
    )
    run.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for an answer")
    run.add_argument(
        "--upstream-silent",
        action="store_true",
        help="the peer's upstream is configured to ignore the silent amount "
        "(runs the upstream-timeout case; the reversal cannot be observed)",
    )
    p.set_defaults(run=_conformance)


def _variables(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SpecError("--set", pair, "must be NAME=VALUE")
        out[name] = value
    return out


def _conformance(args: argparse.Namespace) -> int:
    if args.peer is None and not args.offline_only:
        raise SpecError("conformance", "--peer", "give the peer's HOST:PORT, or --offline-only")
    security = None
    if args.keys is not None:
        security = SoftwareSecurityModule.open(args.keys, load_master_key(args.master_key))
    keys = KitKeys(mac_key=args.mac_key, pin_key=args.pin_key, kek=args.kek, mac_classes=())
    settings = RunSettings(
        timeout=args.timeout,
        variables=_variables(args.set),
        assume_silent_upstream=args.upstream_silent,
        offline_only=args.offline_only,
    )
    cases = load_cases(args.cases)
    peer = None if args.peer is None else Peer.parse(args.peer)
    report = run_conformance(
        cases, peer, args.role, args.dialect, security, keys, settings=settings
    )
    print(report.text(verbose=args.verbose), end="")
    report.write(text=args.report, junit=args.junit)
    return 0 if report.ok else 1
