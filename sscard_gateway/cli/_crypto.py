"""Operator commands for payment cryptography (kcv, mac, pinblock, keys)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the cryptography subcommands to ``sub``."""
    del sub


def _unused(args: argparse.Namespace) -> int:  # pragma: no cover
    return 0


def demo() -> None:
    """Print the cryptography part of ``make demo`` (filled by the crypto module)."""
