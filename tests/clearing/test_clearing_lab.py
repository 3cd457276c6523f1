"""End to end: a day through the lab, then clearing and reconciliation of it."""

from __future__ import annotations

import time
from pathlib import Path

from sscard_gateway.clearing import (
    Outcome,
    ReconciliationStore,
    clear,
    clearing_demo,
    load_acom_layout,
    read_acom,
    reconcile,
    write_acom,
)
from sscard_gateway.sim.day import run_day
from sscard_gateway.sim.lab import open_lab


async def test_a_lab_day_clears_and_reconciles(tmp_path: Path) -> None:
    async with open_lab(tmp_path, timeout=0.5) as lab:
        await run_day(lab, transactions=20)
        records = list(lab.journal.transactions())
        date = max(r.settlement_date for r in records)
        acom = write_acom(lab.switch.records.values(), tmp_path, settlement_date=date)
        lines, problems = read_acom(acom)
        assert problems == [] and lines
        layout = load_acom_layout()
        cleared_by_switch = [
            r
            for r in lab.switch.records.values()
            if not r.reversed and layout.settles(r.mti, r.processing_code, r.response_code)
        ]
        assert len(lines) == len(cleared_by_switch)

        clearing = clear(lab.journal, date)
        assert clearing.records == sum(r.settlement_date == date for r in records)
        assert clearing.balanced and clearing.net_sum == 0
        assert clearing.net  # the Shanghai center settled a Beijing card

        with ReconciliationStore(tmp_path / "journal.db") as store:
            for journal_file in (tmp_path / "journal.db", None):
                report = reconcile(
                    lab.journal,
                    acom,
                    date,
                    store=store,
                    now=time.time(),
                    journal_file=journal_file,
                )
                # everything the switch approved matches
                assert report.long == report.amount_mismatches == report.status_mismatches == 0
                assert report.pairs == report.matched == len(lines)
                assert report.journal_records == clearing.records
                assert report.balanced
            # what is short is what the switch refused after the gateway had
            # accepted it (an advice it declined): a real discrepancy
            declined = {r.rrn for r in lab.switch.records.values() if r.response_code != "00"}
            for d in store.discrepancies(date):
                assert d.outcome is Outcome.SHORT
                assert d.match_key.split("|")[0] in declined

        # what `make demo` prints at the end of the day
        text = clearing_demo(lab, tmp_path / "demo", now=1_732_700_000.0)
        assert f"Clearing of settlement date {date[:4]}-{date[4:6]}-{date[6:]}" in text
        assert "Reconciliation of settlement date" in text and ": balanced" in text
        assert "long (file only)                0" in text
        reports = tmp_path / "demo" / "reports"
        assert len(list(reports.glob("clearing-*"))) == 6
        assert len(list(reports.glob("reconciliation-*"))) == 4
        assert "Beijing Chaoyang (110105)" in (reports / f"clearing-{date}-net.svg").read_text()
