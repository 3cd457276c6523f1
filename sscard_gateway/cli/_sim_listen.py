"""``sim switch`` and ``sim responder``: the listening simulators as processes.

Why a module of their own: these two keep a record of the day (a
:class:`~sscard_gateway.sim.Ledger`) that a restarted process replays
(``--record``), and the switch writes its clearing file when it stops
(``--acom-out``); with the helpers every ``sim`` command shares (key store
options, quiet logging, serving until a signal) that is more than one
command module should hold.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import os
import signal
import sys
import tomllib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

from ..crypto import MASTER_KEY_ENV, SoftwareSecurityModule
from ..errors import KeyStoreError, SpecError
from ..link import LinkKeys
from ..sim import CenterResponder, SwitchRules, SwitchSimulator
from ._crypto import KEY_STORE_ENV, load_master_key

__all__ = ["add_responder", "add_switch", "key_options", "open_security", "quiet_logging"]


def add_switch(ssub: Any) -> None:
    """Add ``sim switch`` to the ``sim`` subcommands ``ssub``."""
    p = ssub.add_parser("switch", help="the UnionPay switch simulator (until SIGTERM)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7000, help="0: any free port (printed)")
    p.add_argument("--rules", type=Path, metavar="FILE.toml", help="how to answer")
    p.add_argument(
        "--settlement-date",
        type=_settlement_date,
        metavar="[YYYY]MMDD",
        help="F15 of responses (MMDD) and the date of the --acom-out file (default today)",
    )
    p.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="the switch's record of the day (JSON lines, holds clear PANs, mode 0600): "
        "replayed at start, appended to on every change, so a restarted switch keeps its day",
    )
    p.add_argument(
        "--acom-out",
        type=Path,
        metavar="DIR",
        help="on SIGTERM/SIGINT, write the clearing file IND<YYMMDD>01ACOM of what the "
        "switch holds into DIR",
    )
    p.add_argument("--mac-key", default="cups.zak")
    p.add_argument("--pin-key", default="cups.zpk")
    key_options(p)
    p.set_defaults(run=_switch)


def add_responder(ssub: Any) -> None:
    """Add ``sim responder`` to the ``sim`` subcommands ``ssub``."""
    p = ssub.add_parser(
        "responder", help="a regional center's answering side, listening (until SIGTERM)"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7200, help="0: any free port (printed)")
    p.add_argument("--mac-key", default="center-110000.zak")
    p.add_argument("--pin-key", default="center-110000.zpk")
    p.add_argument("--decline-over", type=int, default=10_000_000, help="fen; larger: 51")
    p.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="the center's record of the day (JSON lines, holds clear PANs, mode 0600): "
        "replayed at start, appended to on every change",
    )
    key_options(p)
    p.set_defaults(run=_responder)


def key_options(p: argparse.ArgumentParser) -> None:
    """Add ``--keys`` and ``--master-key`` to a command."""
    p.add_argument(
        "--keys",
        type=Path,
        default=os.environ.get(KEY_STORE_ENV),
        metavar="STORE",
        help=f"key store (default ${KEY_STORE_ENV})",
    )
    p.add_argument(
        "--master-key",
        type=Path,
        metavar="FILE",
        help=f"master key file (default ${MASTER_KEY_ENV})",
    )


def quiet_logging() -> None:
    """Log warnings and errors only, scrubbed like the gateway's (a simulator holds clear PANs)."""
    from ..config import LoggingSettings
    from ..service import configure_logging

    configure_logging(LoggingSettings(level="warning"))


def open_security(args: argparse.Namespace, *, required: bool) -> SoftwareSecurityModule | None:
    """The security module of ``--keys``/``--master-key`` (``None`` without a store).

    Raises:
        KeyStoreError: no store while ``required``, or it cannot be opened.
    """
    if args.keys is None:
        if required:
            raise KeyStoreError(
                "the simulator needs keys: pass --keys STORE and --master-key FILE "
                "(`sscard-gateway sim keys --out DIR` writes a lab set)"
            )
        print("warning: no key store: messages carry no MAC", file=sys.stderr)
        return None
    return SoftwareSecurityModule.open(args.keys, load_master_key(args.master_key))


async def _serve_until_signal(
    serve: Callable[..., Awaitable[None]], args: argparse.Namespace, what: str
) -> None:
    """Run ``serve`` on ``--host``/``--port``, print where it listens, stop on a signal."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(functools.partial(serve, host=args.host, port=args.port))
            print(f"{what} listening on {args.host}:{port}", flush=True)
            async for _ in signals:
                break
            nursery.cancel_scope.cancel()


def _rules(path: Path | None) -> SwitchRules:
    if path is None:
        return SwitchRules()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(str(path), "file", f"cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(str(path), "syntax", str(exc)) from None
    try:
        return SwitchRules.from_dict(data)
    except SpecError as exc:
        raise SpecError(str(path), exc.where, exc.problem) from None


def _settlement_date(text: str) -> str:
    """``MMDD`` or ``YYYYMMDD`` -> ``YYYYMMDD`` (MMDD: the year that puts it nearest today)."""
    if not (text.isascii() and text.isdigit() and len(text) in (4, 8)):
        raise argparse.ArgumentTypeError(f"{text!r} is not MMDD or YYYYMMDD")
    today = datetime.date.today()
    years = (today.year - 1, today.year, today.year + 1)
    candidates = [text] if len(text) == 8 else [f"{year:04d}{text}" for year in years]
    dates = []
    for candidate in candidates:
        try:
            dates.append(datetime.datetime.strptime(candidate, "%Y%m%d").date())
        except ValueError:
            continue
    if not dates:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date")
    return min(dates, key=lambda d: abs(d - today)).strftime("%Y%m%d")


def _switch(args: argparse.Namespace) -> int:
    quiet_logging()
    rules = _rules(args.rules)
    security = open_security(args, required=False)
    keys = LinkKeys(mac_key=args.mac_key, pin_key=args.pin_key) if security else None
    date: str | None = args.settlement_date
    switch = SwitchSimulator(
        rules=rules,
        security=security,
        keys=keys,
        settlement_date=(lambda: date[4:]) if date else None,
        record=args.record,
    )
    try:
        trio.run(_serve_until_signal, switch.serve, args, "switch simulator")
    finally:
        switch.close()
    stats, day_stats = switch.statistics(), switch.ledger.statistics()
    print(
        f"switch simulator stopped: {stats.requests} requests, {stats.approved} approved, "
        f"{stats.declined} declined, {stats.reversals} reversals "
        f"({day_stats.reversals_applied} applied, {day_stats.reversals_refused} refused, "
        f"{day_stats.reversals_unknown} unknown); {len(switch.ledger.held())} held today",
        flush=True,
    )
    if args.acom_out is not None:
        args.acom_out.mkdir(parents=True, exist_ok=True)
        day = date or datetime.date.today().strftime("%Y%m%d")
        path = switch.write_acom(args.acom_out, day)
        print(f"clearing file of {day}: {path}", flush=True)
    return 0


def _responder(args: argparse.Namespace) -> int:
    quiet_logging()
    security = open_security(args, required=False)
    keys = LinkKeys(mac_key=args.mac_key, pin_key=args.pin_key) if security else None
    responder = CenterResponder(
        security=security, keys=keys, decline_over=args.decline_over, record=args.record
    )
    try:
        trio.run(_serve_until_signal, responder.serve, args, "center responder")
    finally:
        responder.ledger.close()
    return 0
