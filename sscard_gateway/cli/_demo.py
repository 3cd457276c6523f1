"""``sscard-gateway demo``: the library at work, end to end, on this machine.

1. one sample message of each dialect, encoded and decoded (secrets masked);
2. the payment cryptography (check values, PIN translation, a POS MAC);
3. a short day through a real gateway on loopback: the UnionPay switch
   simulator, two regional centers, the SQLite journal in a temporary
   folder, and a summary of the day;
4. the end of the day: cross-region clearing from the journal, and
   reconciliation against the clearing file the switch simulator writes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import trio

from ..iso import load_dialect, specs_dir
from ..iso.jsonio import message_from_dict
from ._crypto import demo as crypto_demo
from ._wire import print_message


def register(sub: Any) -> None:
    """Add the ``demo`` command."""
    p = sub.add_parser("demo", help="show the library at work, end to end, on loopback")
    p.add_argument("--transactions", type=int, default=40, help="transactions in the day")
    p.set_defaults(run=_demo)


def _samples() -> None:
    print("== 1. one sample message of each dialect ==")
    for path in sorted((specs_dir() / "samples").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        dialect = load_dialect(data["dialect"])
        frame = dialect.encode(message_from_dict(dialect, data))
        print(f"\n-- {path.name}: {data['description']}")
        # never print the frame itself: a BCD PAN reads in clear in its hex
        print(f"encoded to a {len(frame)}-byte frame, decoded back:")
        print_message(dialect.decode(frame))


async def _day(transactions: int) -> str:
    from ..clearing import clearing_demo
    from ..sim.day import run_day
    from ..sim.lab import open_lab

    with tempfile.TemporaryDirectory(prefix="sscard-demo-") as folder:
        async with open_lab(folder, timeout=0.5) as lab:
            summary = await run_day(lab, transactions=transactions)
            stats = lab.journal.statistics(trio.current_time())
            day = summary.table() + f"\njournal: {stats.transactions} transactions recorded"
            clearing = clearing_demo(lab, Path(folder) / "clearing")
            return day + "\n\n== 4. end of day: clearing and reconciliation ==\n" + clearing


def _demo(args: argparse.Namespace) -> int:
    _samples()
    print("\n== 2. payment cryptography ==")
    crypto_demo()
    print("\n== 3. a day through the gateway (switch simulator, two centers, SQLite journal) ==")
    print(trio.run(_day, args.transactions))
    return 0
