"""Reports: CSV in fen, text summaries, the chart, the progress bar; no clear PAN anywhere."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sscard_gateway.clearing import (
    ReconciliationStore,
    StderrProgress,
    clear,
    clearing_summary,
    net_settlement_svg,
    reconcile,
    reconciliation_summary,
    write_acom_lines,
    write_clearing_reports,
    write_reconciliation_reports,
)
from sscard_gateway.store import TransactionRecord

DATE = "20241126"
PAN = "6225880137654321"


def rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_clearing_reports(tmp_path: Path, open_journal: Any, record: Callable[..., Any]) -> None:
    journal = open_journal(
        records=[
            record("a", home_region="110105", treating_region="310104", split=(30000, 2000, 1500)),
            record("b", home_region="310104", treating_region="110105", split=(10000, 500, 0)),
        ]
    )
    report = clear(journal, DATE)
    written = write_clearing_reports(report, tmp_path / "out", labels={"110105": "Beijing"})
    by_name = {p.name.removeprefix(f"clearing-{DATE}-"): p for p in written}
    assert set(by_name) == {
        "totals.csv",
        "matrix.csv",
        "net.csv",
        "positions.csv",
        "summary.txt",
        "net.svg",
    }
    assert rows(by_name["net.csv"]) == [
        ["payer", "payee", "amount_fen", "fund_fen", "personal_account_fen"],
        ["110105", "310104", "21500", "20000", "1500"],
    ]
    assert rows(by_name["positions.csv"])[1:] == [
        ["110105", "0", "21500", "-21500"],
        ["310104", "21500", "0", "21500"],
    ]
    assert rows(by_name["totals.csv"])[0] == [
        "region",
        "kind",
        "count",
        "total_fen",
        "fund_fen",
        "personal_account_fen",
        "cash_fen",
    ]
    summary = by_name["summary.txt"].read_text()
    assert summary.strip() == clearing_summary(report)
    assert "110105 pays 310104         215.00 CNY" in summary
    assert "sum of net positions: 0.00 CNY, balanced" in summary
    svg = ET.fromstring(by_name["net.svg"].read_text())
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "Beijing (110105)" in texts and "+215.00" in texts and "-215.00" in texts
    assert "Sum of net positions: 0.00 (balanced)" in texts


def test_an_empty_day_draws_an_empty_chart(open_journal: Any) -> None:
    svg = net_settlement_svg(clear(open_journal(), DATE))
    assert "no cross-region settlement" in svg and "nothing to pay" in svg
    ET.fromstring(svg)


def test_reconciliation_reports_hold_masked_pans_only(
    tmp_path: Path,
    open_journal: Any,
    leg: Callable[..., TransactionRecord],
    line: Callable[..., dict[str, Any]],
) -> None:
    path = tmp_path / "journal.db"
    records = [leg(1), leg(2, cash=50)]
    journal = open_journal(path, records=records)
    acom = tmp_path / "IND24112601ACOM"
    write_acom_lines(
        [line(records[0], pan=PAN), line(records[1], amount=60, pan=PAN), line(leg(3), pan=PAN)],
        acom,
    )
    with acom.open("a") as out:
        out.write("bad line\n")
    with ReconciliationStore(path) as store:
        report = reconcile(
            journal, acom, DATE, store=store, now=1.0, journal_file=path, parallel=False
        )
        written = write_reconciliation_reports(report, store, tmp_path / "out")
    by_name = {p.name.removeprefix(f"reconciliation-{DATE}-"): p for p in written}
    assert set(by_name) == {"discrepancies.csv", "adjustments.csv", "problems.csv", "summary.txt"}
    discrepancies = rows(by_name["discrepancies.csv"])
    assert [r[1] for r in discrepancies[1:]] == ["amount_mismatch", "long"]
    assert {r[-1] for r in discrepancies[1:]} == {"622588******4321"}
    adjustments = rows(by_name["adjustments.csv"])
    assert adjustments[0] == ["match_key", "outcome", "action", "amount_fen", "note"]
    assert [r[3] for r in adjustments[1:]] == ["10", "1000"]
    assert rows(by_name["problems.csv"]) == [
        ["line", "field", "problem"],
        ["4", "line", "has 8 characters; the layout needs 300"],
    ]
    summary = reconciliation_summary(report)
    assert by_name["summary.txt"].read_text().strip() == summary
    assert "amount mismatches               1" in summary and "line 4: line: has 8" in summary
    for path_ in [*written, tmp_path / "journal.db"]:
        assert PAN.encode() not in path_.read_bytes()
        assert PAN[-12:].encode() not in path_.read_bytes()


def test_the_progress_bar_redraws_at_most_ten_times_a_second() -> None:
    out = io.StringIO()
    now = [0.0]
    bar = StderrProgress(out, width=10, clock=lambda: now[0])
    bar("reading file", 0, 100)
    bar("reading file", 10, 100)  # too soon: not drawn
    now[0] = 0.2
    bar("reading file", 50, 100)
    bar("reading file", 100, 100)  # finished: always drawn
    bar("matching", 3, None)
    bar.close()
    text = out.getvalue()
    assert text.count("\r") == 4
    assert "\rreading file       [#####.....]  50%  50/100" in text
    assert "[##########] 100%  100/100\n\rmatching           3\n" in text
