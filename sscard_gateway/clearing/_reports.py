"""Reports: CSV files, text summaries, the chart (DOMAIN.md §1, §6).

Why CSV: the people who settle between regions and chase UnionPay's
discrepancies work in spreadsheets. Every amount column is integer fen
(named ``*_fen``), so a spreadsheet never meets a rounded float; the text
summaries show yuan with two decimals, computed from fen. No report holds
a clear PAN: discrepancies carry the masked PAN only.

Files, for settlement date ``D`` in the output folder:

* clearing: ``clearing-D-totals.csv``, ``-matrix.csv``, ``-net.csv``,
  ``-positions.csv``, ``-summary.txt``, ``-net.svg``;
* reconciliation: ``reconciliation-D-discrepancies.csv``,
  ``-adjustments.csv``, ``-problems.csv``, ``-summary.txt``.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ClearingError
from ..ids import format_yuan
from ._clearing import ClearingReport
from ._results import ReconciliationReport
from ._store import ReconciliationStore
from ._svg import net_settlement_svg

__all__ = [
    "clearing_summary",
    "reconciliation_summary",
    "write_clearing_reports",
    "write_reconciliation_reports",
]


def _yuan(fen: int) -> str:
    return format_yuan(fen)


def _dated(date: str) -> str:
    return f"{date[:4]}-{date[4:6]}-{date[6:]}"


def _reasons(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"


def clearing_summary(report: ClearingReport) -> str:
    """The clearing report as text.

    Args:
        report: a clearing report.

    Returns:
        A few short tables, amounts in yuan.
    """
    not_settling = {k: v for k, v in report.treatments.items() if k != "settles"}
    lines = [
        f"Clearing of settlement date {_dated(report.settlement_date)}"
        f" (regions: {report.region_level.name.lower()} code)",
        f"  journal records {report.records}, settling {report.settling},"
        f" not settling {report.records - report.settling} ({_reasons(not_settling)})",
        "",
        f"  {'region':<8} {'kind':<24} {'count':>7} {'total CNY':>14} {'fund CNY':>14}",
    ]
    for t in report.totals:
        lines.append(
            f"  {t.region or '-':<8} {t.kind:<24} {t.count:>7} {_yuan(t.total):>14}"
            f" {_yuan(t.fund):>14}"
        )
    lines += ["", "  Cross-region (the home region owes the treating region):"]
    lines.append(
        f"  {'treating':<8} {'home':<8} {'count':>7} {'fund CNY':>14} {'personal CNY':>14}"
    )
    for c in report.matrix:
        lines.append(
            f"  {c.treating:<8} {c.home:<8} {c.count:>7} {_yuan(c.fund):>14}"
            f" {_yuan(c.personal_account):>14}"
        )
    if not report.matrix:
        lines.append("  (none)")
    lines += ["", "  Net settlement, one instruction per region pair:"]
    for n in report.net:
        lines.append(
            f"  {n.payer} pays {n.payee} {_yuan(n.amount):>14} CNY"
            f" (fund {_yuan(n.fund)}, personal account {_yuan(n.personal_account)})"
        )
    if not report.net:
        lines.append("  (nothing to pay)")
    lines += ["", "  Net positions:"]
    for p in report.positions:
        sign = "+" if p.net > 0 else ""
        lines.append(f"  {p.region:<8} {sign + _yuan(p.net):>15}")
    verdict = "balanced: every fen paid is received" if report.balanced else "NOT BALANCED"
    lines.append(f"  sum of net positions: {_yuan(report.net_sum)} CNY, {verdict}")
    return "\n".join(lines)


def reconciliation_summary(report: ReconciliationReport, *, problems_shown: int = 10) -> str:
    """The reconciliation report as text.

    Args:
        report: a reconciliation report.
        problems_shown: bad lines listed at most.

    Returns:
        Counts, amounts in yuan, the balance check and the first problems.
    """
    r = report
    verdict = "balanced" if r.balanced else "NOT BALANCED"
    changes = r.changes
    lines = [
        f"Reconciliation of settlement date {_dated(r.settlement_date)} against {r.file_name}",
        f"  file: {r.file_lines} lines, {r.malformed_lines} malformed"
        f" (sha256 {r.file_sha256[:16]}...); journal: {r.journal_records} records",
        f"  matched                 {r.matched:>9}",
        f"  amount mismatches       {r.amount_mismatches:>9}",
        f"  status mismatches       {r.status_mismatches:>9}",
        f"  long (file only)        {r.long:>9}",
        f"  short (journal only)    {r.short:>9}",
        f"  not settling            {sum(r.not_settling.values()):>9}"
        f"  ({_reasons(r.not_settling)})",
        f"  journal settles {_yuan(r.journal_settled)} CNY; UnionPay settles"
        f" {_yuan(r.file_settled)} CNY; adjustments {_yuan(r.adjustments_total)} CNY: {verdict}",
        f"  next-day reversal claims {_yuan(r.claims_total)} CNY",
        f"  stored: {changes.inserted} new, {changes.updated} changed, {changes.cleared} cleared",
    ]
    if r.problem_count:
        lines.append(f"  bad lines ({r.problem_count} problems; the first shown):")
        for p in r.problems[:problems_shown]:
            lines.append(f"    line {p.line}: {p.field}: {p.problem}")
    return "\n".join(lines)


def _csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _folder(out_dir: str | os.PathLike[str]) -> Path:
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ClearingError(f"cannot create the output folder: {exc.strerror}") from None
    return folder


def write_clearing_reports(
    report: ClearingReport,
    out_dir: str | os.PathLike[str],
    *,
    labels: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write the clearing CSV files, the text summary and the chart.

    Args:
        report: a clearing report.
        out_dir: the folder (created if absent).
        labels: region display names for the chart.

    Returns:
        The files written.

    Raises:
        ClearingError: the folder cannot be created.
        OSError: a file cannot be written.
    """
    folder = _folder(out_dir)
    stem = folder / f"clearing-{report.settlement_date}"
    money = ("total_fen", "fund_fen", "personal_account_fen", "cash_fen")
    files = [
        _csv(
            Path(f"{stem}-totals.csv"),
            ("region", "kind", "count", *money),
            (
                (t.region, t.kind, t.count, t.total, t.fund, t.personal_account, t.cash)
                for t in report.totals
            ),
        ),
        _csv(
            Path(f"{stem}-matrix.csv"),
            ("treating_region", "home_region", "count", "fund_fen", "personal_account_fen"),
            ((c.treating, c.home, c.count, c.fund, c.personal_account) for c in report.matrix),
        ),
        _csv(
            Path(f"{stem}-net.csv"),
            ("payer", "payee", "amount_fen", "fund_fen", "personal_account_fen"),
            ((n.payer, n.payee, n.amount, n.fund, n.personal_account) for n in report.net),
        ),
        _csv(
            Path(f"{stem}-positions.csv"),
            ("region", "receives_fen", "pays_fen", "net_fen"),
            ((p.region, p.receives, p.pays, p.net) for p in report.positions),
        ),
    ]
    summary = Path(f"{stem}-summary.txt")
    summary.write_text(clearing_summary(report) + "\n", encoding="utf-8")
    chart = Path(f"{stem}-net.svg")
    chart.write_text(net_settlement_svg(report, labels=labels), encoding="utf-8")
    return [*files, summary, chart]


def write_reconciliation_reports(
    report: ReconciliationReport,
    store: ReconciliationStore,
    out_dir: str | os.PathLike[str],
) -> list[Path]:
    """Write the reconciliation CSV files and the text summary, from the store.

    Discrepancies and adjustments are streamed from the store (the open
    ones), so a bad day with many of them stays in bounded memory.

    Args:
        report: the reconciliation report.
        store: where its findings were stored.
        out_dir: the folder (created if absent).

    Returns:
        The files written.

    Raises:
        ClearingError: the folder cannot be created.
        OSError: a file cannot be written.
    """
    folder = _folder(out_dir)
    date = report.settlement_date
    stem = folder / f"reconciliation-{date}"
    files = [
        _csv(
            Path(f"{stem}-discrepancies.csv"),
            (
                "match_key",
                "outcome",
                "transaction_key",
                "file_line",
                "journal_amount_fen",
                "file_amount_fen",
                "journal_treatment",
                "file_response_code",
                "mti",
                "processing_code",
                "pan_masked",
            ),
            (
                (
                    d.match_key,
                    d.outcome.value,
                    d.transaction_key,
                    d.file_line or "",
                    "" if d.journal_amount is None else d.journal_amount,
                    "" if d.file_amount is None else d.file_amount,
                    d.journal_treatment,
                    d.file_response_code,
                    d.mti,
                    d.processing_code,
                    d.pan_masked,
                )
                for d in store.discrepancies(date)
            ),
        ),
        _csv(
            Path(f"{stem}-adjustments.csv"),
            ("match_key", "outcome", "action", "amount_fen", "note"),
            (
                (a.match_key, a.outcome.value, a.action.value, a.amount, a.note)
                for a in store.adjustments(date)
            ),
        ),
        _csv(
            Path(f"{stem}-problems.csv"),
            ("line", "field", "problem"),
            ((p.line, p.field, p.problem) for p in store.problems(date)),
        ),
    ]
    summary = Path(f"{stem}-summary.txt")
    summary.write_text(reconciliation_summary(report) + "\n", encoding="utf-8")
    return [*files, summary]
