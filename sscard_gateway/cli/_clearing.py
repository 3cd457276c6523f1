"""``sscard-gateway clear`` and ``sscard-gateway reconcile``: the end of a settlement day.

Why two commands (DOMAIN.md §1, §6): clearing needs only the journal (the
cross-region totals and the net settlement instructions between regions);
reconciliation needs UnionPay's clearing file as well, which arrives later.
Both read a closed settlement date and write CSV files, a text summary (also
printed) and, for clearing, the chart of the net settlement.

The journal needs its keys to open (``docs/journal.md``): a journal opened
with another PAN or data key is refused. Each key is 64 hex digits, read
from a file of mode 0600 (``--pan-key-file``, ``--data-key-file``) or from
the environment (``SSCARD_JOURNAL_PAN_KEY``, ``SSCARD_JOURNAL_DATA_KEY``),
the same as the gateway's ``[journal]`` configuration.

Exit status: ``0`` when the day is clean (clearing balanced; reconciliation
without discrepancies or bad lines), ``1`` when it is not (the reports say
what), ``2`` on an error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

from ..clearing import (
    ClearingRules,
    ReconciliationStore,
    RegionLevel,
    StderrProgress,
    clear,
    clearing_summary,
    load_acom_layout,
    reconcile,
    reconciliation_summary,
    write_clearing_reports,
    write_reconciliation_reports,
)
from ..config import SecretSource
from ..errors import ClearingError
from ..store import SQLiteJournal

__all__ = ["register"]

PAN_KEY_ENV = "SSCARD_JOURNAL_PAN_KEY"
DATA_KEY_ENV = "SSCARD_JOURNAL_DATA_KEY"


def register(sub: Any) -> None:
    """Add the ``clear`` and ``reconcile`` commands."""
    p = sub.add_parser(
        "clear",
        help="clear a settlement date: totals, cross-region matrix, net settlement",
        description="Clear a settlement date from the journal (docs/clearing.md).",
    )
    _common(p)
    p.add_argument(
        "--regions",
        choices=("province", "city", "full"),
        default="full",
        help="aggregate region codes by province (2 digits), city (4) or the full code",
    )
    p.add_argument("--upstream", default="cups", help="name of the CUPS link (default cups)")
    p.set_defaults(run=_clear)

    p = sub.add_parser(
        "reconcile",
        help="reconcile a settlement date against UnionPay's clearing file",
        description="Reconcile the journal against an ACOM file (docs/clearing.md).",
    )
    _common(p)
    p.add_argument("--file", type=Path, required=True, help="UnionPay's ACOM file of the date")
    p.add_argument("--layout", type=Path, help="file layout (default specs/formats/cups_acom.toml)")
    p.add_argument(
        "--store", type=Path, help="where results are kept (default: the journal's file)"
    )
    p.add_argument("--workdir", type=Path, help="folder for temporary work files")
    p.add_argument("--upstream", default="cups", help="name of the CUPS link (default cups)")
    p.set_defaults(run=_reconcile)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--journal", type=Path, required=True, help="the journal's SQLite file")
    p.add_argument("--date", required=True, metavar="YYYYMMDD", help="the settlement date")
    p.add_argument("--out", type=Path, default=Path("."), metavar="DIR", help="report folder")
    p.add_argument("--pan-key-file", type=Path, help=f"PAN key file (default ${PAN_KEY_ENV})")
    p.add_argument("--data-key-file", type=Path, help=f"data key file (default ${DATA_KEY_ENV})")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on standard error (default: when it is a terminal)",
    )


def _secret(where: str, file: Path | None, env: str) -> bytes:
    source = SecretSource(where=where, file=file) if file else SecretSource(where=where, env=env)
    return source.read()


def _open_journal(args: argparse.Namespace) -> SQLiteJournal:
    try:
        dt.datetime.strptime(args.date, "%Y%m%d")
    except ValueError:
        raise ClearingError("--date must be YYYYMMDD") from None
    if len(args.date) != 8:
        raise ClearingError("--date must be YYYYMMDD")
    if not args.journal.is_file():
        raise ClearingError(f"no journal at {args.journal}")
    pan_key = _secret("--pan-key-file", args.pan_key_file, PAN_KEY_ENV)
    data_key = _secret("--data-key-file", args.data_key_file, DATA_KEY_ENV)
    return SQLiteJournal(args.journal, pan_key=pan_key, data_key=data_key)


def _progress(args: argparse.Namespace) -> StderrProgress | None:
    wanted = args.progress if args.progress is not None else sys.stderr.isatty()
    return StderrProgress() if wanted else None


def _written(paths: list[Path]) -> None:
    print("\nwritten:")
    for path in paths:
        print(f"  {path}")


def _clear(args: argparse.Namespace) -> int:
    level = {"province": RegionLevel.PROVINCE, "city": RegionLevel.CITY}.get(
        args.regions, RegionLevel.FULL
    )
    progress = _progress(args)
    with _open_journal(args) as journal:
        report = clear(
            journal,
            args.date,
            region_level=level,
            rules=ClearingRules(upstream=args.upstream),
            progress=progress,
        )
    if progress is not None:
        progress.close()
    print(clearing_summary(report))
    _written(write_clearing_reports(report, args.out))
    return 0 if report.balanced else 1


def _reconcile(args: argparse.Namespace) -> int:
    layout = load_acom_layout(args.layout) if args.layout else None
    progress = _progress(args)
    with (
        _open_journal(args) as journal,
        ReconciliationStore(args.store or args.journal) as store,
    ):
        report = reconcile(
            journal,
            args.file,
            args.date,
            store=store,
            now=time.time(),
            journal_file=args.journal,
            layout=layout,
            rules=ClearingRules(upstream=args.upstream),
            workdir=args.workdir,
            progress=progress,
        )
        if progress is not None:
            progress.close()
        print(reconciliation_summary(report))
        _written(write_reconciliation_reports(report, store, args.out))
    return 0 if report.discrepancies == 0 and report.problem_count == 0 else 1
