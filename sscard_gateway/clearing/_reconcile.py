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
hash join in partitions, :mod:`._partition`): this process scans the file
(:mod:`._acom_scan`) and writes each good line's key, amount and number to
its partition on disk; the journal side is read and partitioned the same
way (:mod:`._journal_side`), by a helper process too when the journal is a
SQLite file (:mod:`._journal_child`), so both sides are read at once on
two cores, the rows shared by claims (:mod:`._blocks`). Then the
partitions are paired, by both processes (:func:`~._matching.pair`), and
the odd pairs become findings here. No side is ever held in memory whole,
nothing is sorted, and only discrepancies become objects. The clear PAN is
never written to the work files: keys, amounts and line numbers only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
import sqlite3
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from ..errors import ClearingError
from ..store import Journal
from ._acom_layout import AcomLayout, load_acom_layout
from ._acom_scan import AcomProblem, Scanner
from ._blocks import Claims, RowBlocks
from ._journal_child import Helper
from ._journal_side import read_generic, read_sqlite, seq_bounds
from ._matching import NOT_SETTLING, Matcher, Paired, pair
from ._partition import PARTITIONS, PartitionWriter
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
    problem_count: int = 0
    problems: list[AcomProblem] = attrs.Factory(list)
    runs: list[tuple[int, int, int]] = attrs.Factory(list)


def _read_file(
    path: Path,
    folder: Path,
    layout: AcomLayout,
    progress: Progress | None,
    max_problems: int,
) -> _FileSide:
    """Each good line to its key's partition as ``(key, amount, line number)``."""
    side = _FileSide()

    def report(problem: AcomProblem) -> None:
        side.problem_count += 1
        if len(side.problems) < max_problems:
            side.problems.append(problem)

    scanner = Scanner(layout, _WANTED)
    writer = PartitionWriter(folder, "f", width=3)
    buffers, crc32, partitions = writer.buffers, zlib.crc32, PARTITIONS
    settling: dict[tuple[bytes, bytes, bytes], bool] = {}
    runs = side.runs
    size = path.stat().st_size
    next_report = 0
    try:
        with path.open("rb") as stream:
            for number, offset, stride, rows in scanner.runs(stream, report):
                runs.append((number, offset, stride))
                for rrn, f7, stan, acquirer, amount, mti, pc, code in rows:
                    settles = settling.get((mti, pc, code))
                    if settles is None:
                        settles = _settles(layout, settling, mti, pc, code)
                    # the match key exactly as match_key() builds it
                    key = b"|".join(
                        (rrn.strip(b" "), f7, stan, (_ZEROS + acquirer.strip(b" "))[-11:])
                    )
                    if settles:
                        try:
                            value = int(amount)
                        except ValueError:  # blank (a layout where it may be)
                            value = 0
                        buffers[crc32(key) % partitions] += (key, value, number)
                    else:
                        buffers[crc32(key) % partitions] += (key, NOT_SETTLING, number)
                    number += 1
                writer.flush_full()
                if progress is not None and number >= next_report:
                    progress("reading file", offset, size)
                    next_report = number + 0x10000
    except OSError as exc:
        raise ClearingError(f"cannot read the clearing file {path.name}: {exc.strerror}") from None
    finally:
        writer.close()
    if progress is not None:
        progress("reading file", size, size)
    side.lines, side.bad_lines = scanner.lines, scanner.bad_lines
    side.sha256 = scanner.digest.hexdigest()
    return side


def _settles(
    layout: AcomLayout,
    known: dict[tuple[bytes, bytes, bytes], bool],
    mti: bytes,
    pc: bytes,
    code: bytes,
) -> bool:
    """Whether a line settles, by the layout's rules (remembered for common values)."""
    settles = layout.settles(*(v.decode("ascii").rstrip(" ") for v in (mti, pc, code)))
    if len(known) < 4096:
        known[mti, pc, code] = settles
    return settles


@contextlib.contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector for the run (as it was, after).

    Reconciliation allocates millions of short-lived tuples and makes no
    reference cycles; the collector's passes over them cost about 4% of the
    run and free nothing. Reference counting still frees everything.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
        parallel: share the work with a helper process (it reads
            ``journal_file`` while this process reads the file, then both
            pair partitions); ``False``: everything here.

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
    with (
        tempfile.TemporaryDirectory(prefix="sscard-recon-", dir=workdir) as work,
        _without_cycle_collection(),
    ):
        folder = Path(work)
        file_side, summary, helper = _read_both(
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
        try:
            if progress is not None:
                progress("reading journal", summary["records"], summary["records"])
                progress("matching", 0, 1)
            matcher = Matcher(folder, journal, path, layout, settlement_date, file_side.runs)
            findings = matcher.findings(_paired(folder, helper))
            changes = store.record_discrepancies(settlement_date, findings, now=now)
        finally:
            if helper is not None:
                helper.kill()  # only if it has not finished (a failure here)
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
            file_settled=matcher.file_settled,
            adjustments_total=matcher.adjustments_total,
            claims_total=matcher.claims_total,
        )
        changes = changes + store.record_run(report, file_side.problems, now=now)
        if progress is not None:
            progress("matching", 1, 1)
        return attrs.evolve(report, changes=changes)


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
) -> tuple[_FileSide, dict[str, Any], Helper | None]:
    """Both sides into partitions: the journal by a helper process too, when it can be.

    Returns:
        The file's side, the journal's summary, and the helper (still
        running, waiting to pair) or ``None``.
    """
    summary: dict[str, Any] | None = None
    bounds = None
    if journal_file is not None and parallel:
        bounds = seq_bounds(os.fspath(journal_file), date)
    if journal_file is not None and bounds is not None:
        # the helper reads the records apart from the ordinary ones, then
        # claims blocks of those from the first up; this process reads the
        # file, then claims from the last block down (:mod:`._blocks`)
        blocks = RowBlocks(str(folder), *bounds)
        helper = Helper.start(os.fspath(journal_file), str(folder), date, rules, blocks=blocks)
        try:
            file_side = _read_file(path, folder, layout, progress, max_problems)
            rest = read_sqlite(
                os.fspath(journal_file),
                str(folder),
                date,
                rules,
                part="b",
                others=False,
                blocks=blocks,
                backwards=True,
            )
            summary = helper.summary()
            if summary is None or rest is None:
                raise ClearingError("cannot read the journal file: it changed")
        except BaseException as exc:
            helper.kill()
            if isinstance(exc, sqlite3.Error):
                raise ClearingError(f"cannot read the journal file: {exc}") from exc
            raise
        summary["records"] += rest["records"]
        summary["settled"] += rest["settled"]
        summary["unkeyed"] = dict(Counter(summary["unkeyed"]) + Counter(rest["unkeyed"]))
        return file_side, summary, helper
    file_side = _read_file(path, folder, layout, progress, max_problems)
    if journal_file is not None:
        try:
            summary = read_sqlite(os.fspath(journal_file), str(folder), date, rules)
        except sqlite3.Error as exc:
            raise ClearingError(f"cannot read the journal file: {exc}") from exc
    if summary is None:  # not a SQLite journal of a known schema: the interface
        summary = read_generic(journal, folder, date, rules)
    return file_side, summary, None


def _paired(folder: Path, helper: Helper | None) -> Iterator[Paired]:
    """Every partition paired: those this process claims, then the helper's."""
    if helper is None:
        yield from (pair(folder, p) for p in range(PARTITIONS))
        return
    helper.pair()
    yield from (pair(folder, p) for p in Claims(str(folder), "pair", PARTITIONS).take())
    yield from helper.pairs()
