"""The ``sscard-gateway`` command.

Each group of subcommands lives in its own module that exposes
``register(subparsers)``; this module only assembles them, so adding a
command never touches another command's code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import SscardError
from . import _clearing, _conformance, _crypto, _demo, _owed, _run, _sim, _wire

__all__ = ["main"]

_GROUPS = (_wire, _crypto, _demo, _run, _sim, _conformance, _clearing, _owed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sscard-gateway",
        description="Social security card gateway between regional centers and UnionPay.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in _GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.run(args)
    except SscardError as exc:
        print(f"sscard-gateway: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # pragma: no cover - output piped to `head`
        return 0
    return status
