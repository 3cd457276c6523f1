"""``sscard-gateway run`` and ``sscard-gateway check-config``: the production entry points.

``check-config FILE`` reads a ``gateway.toml`` and prints ``OK`` and a
summary, or every mistake it finds (each naming the key path), with exit
status 0 or 2; ``--keys`` also opens the key store and checks every key
name and its usage. ``run FILE`` runs the gateway it describes until
SIGTERM or SIGINT, then stops gracefully (docs/operations.md) and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import trio

from ..config import InvalidConfig, load_config
from ..errors import SpecError

__all__ = ["register"]

log = logging.getLogger("sscard_gateway.service")


def register(sub: Any) -> None:
    """Add ``run`` and ``check-config`` to ``sub``."""
    p = sub.add_parser("run", help="run the gateway a gateway.toml describes (until SIGTERM)")
    p.add_argument("config", type=Path, metavar="FILE", help="the gateway.toml")
    p.set_defaults(run=_run)

    p = sub.add_parser("check-config", help="check a gateway.toml and summarise it")
    p.add_argument("config", type=Path, metavar="FILE", help="the gateway.toml")
    p.add_argument(
        "--keys",
        action="store_true",
        help="also open the key store and check every key name and usage",
    )
    p.set_defaults(run=_check_config)


def _check_config(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        if args.keys:
            from ..service import check_keys, open_security

            check_keys(config, open_security(config))
    except InvalidConfig as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return 2
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{args.config}: OK")
    print(config.summary())
    if args.keys:
        print(f"keys: all {len(config.keys)} key names found with the right usage")
    return 0


def _run(args: argparse.Namespace) -> int:
    from ..service import Service, configure_logging

    try:
        config = load_config(args.config)
    except InvalidConfig as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return 2
    configure_logging(config.logging)
    log.info("starting from %s", args.config)
    service = Service(config)
    try:
        trio.run(service.run)
    except InvalidConfig as exc:
        for error in exc.errors:
            log.error("%s", error)
        return 2
    except SpecError as exc:
        log.error("%s", exc)
        return 2
    return 0
