"""Reconciliation of the journal against UnionPay's clearing file for a date.

Why (DOMAIN.md §6): UnionPay's acquirer file says what it cleared for the
gateway's CUPS legs; the journal says what the gateway believes it did.
Each journal record of the date is **matched** to a file line on RRN + F7 +
STAN + acquirer of its CUPS leg, cleanly or with an amount or status
difference, or is **short** (settles, no line) or does **not settle**; each
good file line is **matched** or **long**. Bad lines are reported and the
rest reconciled. Every discrepancy gets an adjustment (:mod:`._results`),
and the findings go to a
:class:`~sscard_gateway.clearing.ReconciliationStore`, idempotently.

How it stays within memory and time on a million records each side (a
hash join in partitions, :mod:`._partition`): the main process scans the
file (:class:`~sscard_gateway.clearing.AcomReader`'s scanner) and writes
each good line's key, amount and place to its partition on disk; the
journal side is read and partitioned the same way (:mod:`._journal_side`),
in a child process when the journal is a SQLite file, so both sides are
read at once on two cores. Then the partitions are joined one at a time
(:mod:`._matching`). No side is ever held in memory whole, nothing is
sorted, and only discrepancies become objects. The clear PAN is never
written to the work files: keys, amounts and line offsets only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from ..errors import ClearingError
from ..store import Journal
from ._acom import AcomProblem, _Scanner
from ._acom_layout import AcomLayout, load_acom_layout
from ._journal_side import read_generic, read_sqlite, split_seq, start_child
from ._matching import Matcher
from ._partition import CHUNK, PARTITIONS, PartitionWriter
from ._progress import Progress
from ._results import Outcome, ReconciliationReport
from ._rules import ClearingRules
from ._store import ReconciliationStore

__all__ = ["reconcile"]

_ZEROS = b"00000000000"
_WANTED = (
    *("rrn", "transmission_time", "stan", "acquirer", "amount"),
    *("mti", "processing_code", "response_code"),
)


@attrs.define
class _FileSide:
    lines: int = 0
    bad_lines: int = 0
    sha256: str = ""
    settled: int = 0
    problem_count: int = 0
    problems: list[AcomProblem] = attrs.Factory(list)


def _read_file(
    path: Path,
    folder: Path,
    layout: AcomLayout,
    progress: Progress | None,
    max_problems: int,
) -> _FileSide:
    side = _FileSide()

    def report(problem: AcomProblem) -> None:
        side.problem_count += 1
        if len(side.problems) < max_problems:
            side.problems.append(problem)

    scanner = _Scanner(layout, _WANTED)
    writer = PartitionWriter(folder, "f")
    buffers, flush, crc32 = writer.buffers, writer.flush, zlib.crc32
    mtis = frozenset(p.encode("ascii") for p in layout.settling_mti_prefixes)
    approved = frozenset(c.encode("ascii") for c in layout.approved_codes)
    inquiries = frozenset(p.encode("ascii") for p in layout.inquiry_prefixes)
    size = path.stat().st_size
    settled = 0
    try:
        with path.open("rb", buffering=1 << 20) as stream:
            for number, offset, values in scanner.scan(stream, report):
                rrn, f7, stan, acquirer, amount, mti, pc, code = values
                # the match key exactly as match_key() builds it
                key = b"|".join((rrn.strip(b" "), f7, stan, (_ZEROS + acquirer.strip(b" "))[-11:]))
                value = int(amount.strip(b" ") or b"0")
                settles = (
                    mti[:2] in mtis and code.strip(b" ") in approved and pc[:2] not in inquiries
                )
                if settles:
                    settled += value
                partition = crc32(key) % PARTITIONS
                buffer = buffers[partition]
                buffer.append((key, value, settles, number, offset))
                if len(buffer) >= CHUNK:
                    flush(partition)
                if progress is not None and not number & 0xFFFF:
                    progress("reading file", offset, size)
        side.settled = settled
    except OSError as exc:
        raise ClearingError(f"cannot read the clearing file {path.name}: {exc.strerror}") from None
    finally:
        writer.close()
    if progress is not None:
        progress("reading file", size, size)
    side.lines, side.bad_lines = scanner.lines, scanner.bad_lines
    side.sha256 = scanner.digest.hexdigest()
    return side


def _check_date(settlement_date: str) -> None:
    try:
        dt.datetime.strptime(settlement_date, "%Y%m%d")
    except (TypeError, ValueError):
        raise ClearingError("the settlement date must be YYYYMMDD") from None
    if len(settlement_date) != 8:
        raise ClearingError("the settlement date must be YYYYMMDD")


def reconcile(
    journal: Journal,
    acom: str | os.PathLike[str],
    settlement_date: str,
    *,
    store: ReconciliationStore,
    now: float,
    journal_file: str | os.PathLike[str] | None = None,
    layout: AcomLayout | None = None,
    rules: ClearingRules | None = None,
    workdir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    max_problems: int = 1000,
    parallel: bool = True,
) -> ReconciliationReport:
    """Reconcile a settlement date of the journal against UnionPay's file, and store it.

    Args:
        journal: the journal (read through its interface, or see ``journal_file``).
        acom: UnionPay's acquirer clearing file of the date.
        settlement_date: ``YYYYMMDD``.
        store: where findings are kept (idempotently).
        now: epoch seconds, stamped on new and changed rows.
        journal_file: the journal's SQLite file, if it is one: read directly
            (read-only, documented schema version 1) for speed.
        layout: the file layout (``specs/formats/cups_acom.toml`` by default).
        rules: the kinds and the upstream link name.
        workdir: where the temporary work files go (the system's default).
        progress: called as ``progress(phase, done, total)``.
        max_problems: bad-line problems kept in the report and the store
            (all are counted).
        parallel: read most of ``journal_file`` in a child Python process,
            at the same time as the file (``False``: all of it, here).

    Returns:
        The report, with what saving it changed.

    Raises:
        ClearingError: a bad date, a file that cannot be read, or the
            store failed.
        JournalError: the journal failed.
    """
    _check_date(settlement_date)
    layout = layout or load_acom_layout()
    rules = rules or ClearingRules()
    path = Path(acom)
    if not path.is_file():
        raise ClearingError(f"no clearing file {path.name}")
    with tempfile.TemporaryDirectory(prefix="sscard-recon-", dir=workdir) as work:
        folder = Path(work)
        file_side, summary = _read_both(
            journal,
            journal_file,
            path,
            folder,
            layout,
            rules,
            settlement_date,
            progress,
            max_problems,
            parallel,
        )
        if progress is not None:
            progress("reading journal", summary["records"], summary["records"])
            progress("matching", 0, 1)
        matcher = Matcher(folder, journal, path, layout, settlement_date)
        changes = store.record_discrepancies(settlement_date, matcher.findings(), now=now)
        counts = matcher.counts
        not_settling = Counter(summary["unkeyed"]) + matcher.not_settling
        report = ReconciliationReport(
            settlement_date=settlement_date,
            file_name=path.name,
            file_sha256=file_side.sha256,
            file_lines=file_side.lines,
            malformed_lines=file_side.bad_lines,
            problems=tuple(file_side.problems),
            problem_count=file_side.problem_count,
            journal_records=summary["records"],
            matched=counts[Outcome.MATCHED.value],
            amount_mismatches=counts[Outcome.AMOUNT_MISMATCH.value],
            status_mismatches=counts[Outcome.STATUS_MISMATCH.value],
            long=counts[Outcome.LONG.value],
            short=counts[Outcome.SHORT.value],
            not_settling=dict(sorted(not_settling.items())),
            journal_settled=summary["settled"],
            file_settled=file_side.settled,
            adjustments_total=matcher.adjustments_total,
            claims_total=matcher.claims_total,
        )
        changes = changes + store.record_run(report, file_side.problems, now=now)
        if progress is not None:
            progress("matching", 1, 1)
        return attrs.evolve(report, changes=changes)


def _child_share(path: Path, layout: AcomLayout) -> Callable[[int], float]:
    """The share of the date's journal rows the child reads, given their count.

    Chosen so that both processes finish together: the child reads ``x`` of
    the rows (J) while this process reads the file (F), then the rest:
    ``start + x J = F + (1 - x) J``. Measured on the benchmark machine: a
    file line about 2.7 µs, a journal row about 3.3 µs, a child's start
    about 0.35 s.
    """
    file_cost = path.stat().st_size / (layout.line_width + 1) * 2.7e-6

    def share(rows: int) -> float:
        journal_cost = max(rows * 3.3e-6, 1e-9)
        return min(max((file_cost + journal_cost - 0.35) / (2 * journal_cost), 0.5), 1.0)

    return share


def _read_both(
    journal: Journal,
    journal_file: str | os.PathLike[str] | None,
    path: Path,
    folder: Path,
    layout: AcomLayout,
    rules: ClearingRules,
    date: str,
    progress: Progress | None,
    max_problems: int,
    parallel: bool,
) -> tuple[_FileSide, dict[str, Any]]:
    """Both sides into partitions: the journal in a child process when it can be."""
    summary: dict[str, Any] | None = None
    split = None
    if journal_file is not None and parallel:
        split = split_seq(os.fspath(journal_file), date, _child_share(path, layout))
    if journal_file is not None and split is not None:
        # the child reads the date's rows before `split`; this process reads
        # the file, then the rows from `split` on (the two finish together)
        child = start_child(os.fspath(journal_file), str(folder), date, rules, seq_to=split)
        try:
            file_side = _read_file(path, folder, layout, progress, max_problems)
            rest = read_sqlite(
                os.fspath(journal_file), str(folder), date, rules, seq_from=split, part="b"
            )
            out, err = child.communicate()
        except BaseException as exc:
            child.kill()
            child.wait()
            if isinstance(exc, sqlite3.Error):
                raise ClearingError(f"cannot read the journal file: {exc}") from exc
            raise
        if child.returncode != 0 or rest is None or out.strip() == b"null":
            last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["it changed"]
            raise ClearingError(f"cannot read the journal file: {last[0]}")
        summary = json.loads(out)
        assert summary is not None
        summary["records"] += rest["records"]
        summary["settled"] += rest["settled"]
        summary["unkeyed"] = dict(Counter(summary["unkeyed"]) + Counter(rest["unkeyed"]))
    else:
        file_side = _read_file(path, folder, layout, progress, max_problems)
        if journal_file is not None:
            try:
                summary = read_sqlite(os.fspath(journal_file), str(folder), date, rules)
            except sqlite3.Error as exc:
                raise ClearingError(f"cannot read the journal file: {exc}") from exc
    if summary is None:  # not a SQLite journal of a known schema: the interface
        summary = read_generic(journal, folder, date, rules)
    return file_side, summary
