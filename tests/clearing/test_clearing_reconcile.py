"""Reconciliation: every outcome found and classified, counted once, stored idempotently."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sscard_gateway.clearing import (
    Action,
    Outcome,
    ReconciliationReport,
    ReconciliationStore,
    StoreChanges,
    _journal_child,
    reconcile,
    write_acom_lines,
)
from sscard_gateway.errors import ClearingError
from sscard_gateway.store import (
    InsertTransaction,
    SQLiteJournal,
    TransactionRecord,
    TransactionStatus,
)

DATE = "20241126"
Leg = Callable[..., TransactionRecord]
Line = Callable[..., dict[str, Any]]
KEYS = {"pan_key": bytes(range(32)), "data_key": bytes(range(32, 64))}


def run(
    tmp: Path,
    records: list[TransactionRecord],
    lines: list[dict[str, Any]] | list[str],
    *,
    fast: bool = True,
    parallel: bool = False,
    now: float = 1_732_700_000.0,
) -> tuple[ReconciliationReport, ReconciliationStore]:
    """Journal ``records`` in a file journal, write ``lines``, reconcile."""
    path = tmp / "journal.db"
    journal = SQLiteJournal(path, **KEYS)
    try:
        if records and journal.get_transaction(records[0].transaction_key) is None:
            journal.apply([InsertTransaction(r) for r in records])
        acom = tmp / "IND24112601ACOM"
        if lines and isinstance(lines[0], str):
            acom.write_text("".join(lines))  # type: ignore[arg-type]
        else:
            write_acom_lines(lines, acom)  # type: ignore[arg-type]
        store = ReconciliationStore(path)
        report = reconcile(
            journal,
            acom,
            DATE,
            store=store,
            now=now,
            journal_file=path if fast else None,
            parallel=parallel,
        )
        return report, store
    finally:
        journal.close()


def dump(path: Path) -> list[Any]:
    with sqlite3.connect(path) as db:
        tables = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'reconciliation%'"
            )
        ]
        return [(t, sorted(db.execute(f"SELECT * FROM {t}"))) for t in sorted(tables)]


@pytest.mark.parametrize(
    ("fast", "parallel", "fork"),
    [(True, True, True), (True, True, False), (True, False, None), (False, False, None)],
)
def test_every_kind_of_discrepancy_is_found(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    leg: Leg,
    line: Line,
    fast: bool,
    parallel: bool,
    fork: bool | None,
) -> None:
    monkeypatch.setattr(_journal_child, "_can_fork", lambda: fork)  # the helper forked or not
    clean = [leg(n) for n in range(1, 6)]
    short = leg(10, cash=700)
    amount = leg(11, cash=900)
    declined_but_cleared = leg(12, status=TransactionStatus.DECLINED, response_code="05")
    approved_but_refused = leg(13, cash=300)
    timed_out_and_absent = leg(14, status=TransactionStatus.TIMED_OUT, response_code="68")
    inquiry = leg(15, kind="balance_inquiry", split=(0, 0, 0))
    local = leg(16, destination="", upstream_key=None, upstream_rrn=None, split=(500, 0, 0))
    long_record = leg(20, cash=1200)  # in the file only
    records = [
        *clean,
        short,
        amount,
        declined_but_cleared,
        approved_but_refused,
        timed_out_and_absent,
        inquiry,
        local,
    ]
    lines = [
        *(line(r) for r in clean),
        line(amount, amount=901),
        line(declined_but_cleared),
        line(approved_but_refused, response_code="51"),
        line(long_record),
    ]
    report, store = run(tmp_path, records, lines, fast=fast, parallel=parallel)
    with store:
        assert (report.matched, report.amount_mismatches, report.status_mismatches) == (5, 1, 2)
        assert (report.long, report.short) == (1, 1)
        assert report.not_settling == {"inquiry": 1, "no_cups_leg": 1, "timed_out": 1}
        assert report.journal_records == len(records)
        assert report.journal_records == report.pairs + report.short + sum(
            report.not_settling.values()
        )
        assert report.file_lines == len(lines) == report.pairs + report.long
        assert report.balanced
        assert report.journal_settled == 5 * 1000 + 700 + 900 + 300
        assert report.file_settled == 5 * 1000 + 901 + 1000 + 1200
        found = {d.transaction_key or d.file_line: d for d in store.discrepancies(DATE)}
        assert {k: d.outcome for k, d in found.items()} == {
            "K10": Outcome.SHORT,
            "K11": Outcome.AMOUNT_MISMATCH,
            "K12": Outcome.STATUS_MISMATCH,
            "K13": Outcome.STATUS_MISMATCH,
            9: Outcome.LONG,
        }
        assert found[9].file_amount == 1200 and found[9].pan_masked == "622588******4321"
        assert found["K12"].journal_treatment == "declined"
        assert found["K13"].file_response_code == "51"
        adjustments = {a.match_key: a for a in store.adjustments(DATE)}
        by_outcome = {(a.outcome, a.action, a.amount) for a in adjustments.values()}
        assert by_outcome == {
            (Outcome.SHORT, Action.CLAIM, -700),
            (Outcome.AMOUNT_MISMATCH, Action.ADJUST_AMOUNT, 1),
            (Outcome.STATUS_MISMATCH, Action.BOOK_OR_DISPUTE, 1000),
            (Outcome.STATUS_MISMATCH, Action.CLAIM, -300),
            (Outcome.LONG, Action.BOOK_OR_DISPUTE, 1200),
        }
        assert report.adjustments_total == 1 + 1000 - 300 + 1200 - 700
        assert store.run(DATE) == attrs.evolve(report, changes=StoreChanges())


def test_running_it_again_changes_nothing(tmp_path: Path, leg: Leg, line: Line) -> None:
    records = [leg(1), leg(2, cash=5), leg(3)]
    lines = [line(records[0]), line(records[1], amount=6), line(leg(9))]
    first, store = run(tmp_path, records, lines)
    store.close()
    assert first.changes.inserted == 2 * 3 + 1  # 3 discrepancies, 3 adjustments, the run
    before = dump(tmp_path / "journal.db")
    again, store = run(tmp_path, records, lines, now=1_732_800_000.0)
    store.close()
    assert again.changes.total == 0
    assert dump(tmp_path / "journal.db") == before
    assert attrs_equal(first, again)
    # the missing line turns up in a corrected file: the short is cleared, kept
    fixed, store = run(tmp_path, records, [*lines, line(records[2])], now=1_732_900_000.0)
    with store:
        assert fixed.short == 0 and fixed.changes.cleared == 2
        assert {d.outcome for d in store.discrepancies(DATE)} == {
            Outcome.AMOUNT_MISMATCH,
            Outcome.LONG,
        }
        cleared = [
            d for d in store.discrepancies(DATE, include_cleared=True) if d.outcome is Outcome.SHORT
        ]
        assert [d.transaction_key for d in cleared] == ["K3"]


def attrs_equal(a: ReconciliationReport, b: ReconciliationReport) -> bool:
    return attrs.evolve(a, changes=b.changes) == b


def test_malformed_lines_are_reported_and_the_rest_reconciled(
    tmp_path: Path, leg: Leg, line: Line
) -> None:
    from sscard_gateway.clearing import load_acom_layout

    layout = load_acom_layout()
    records = [leg(n) for n in range(1, 5)]
    text = [layout.format_line(line(r)) for r in records]
    text.insert(1, text[0][:60] + "X" + text[0][61:])  # a bad PAN
    text.insert(3, "garbage\n")
    report, store = run(tmp_path, records, text)
    with store:
        assert (report.file_lines, report.malformed_lines, report.problem_count) == (6, 2, 2)
        assert [(p.line, p.field) for p in report.problems] == [(2, "pan"), (4, "line")]
        assert report.matched == 4 and report.long == report.short == 0
        assert store.problems(DATE) == list(report.problems)


def test_duplicate_lines_pair_in_order(tmp_path: Path, leg: Leg, line: Line) -> None:
    record = leg(1)
    report, store = run(tmp_path, [record, leg(2)], [line(record), line(record), line(leg(2))])
    with store:
        assert (report.matched, report.long, report.short) == (2, 1, 0)
        [long] = store.discrepancies(DATE)
        assert long.outcome is Outcome.LONG and long.file_line == 2
        assert "#" not in long.match_key  # the clean pair is not stored: no number taken


def test_a_next_day_reversal_claims_the_cash_back(tmp_path: Path, leg: Leg, line: Line) -> None:
    original = leg(1, cash=800, settlement_date="20241125", status=TransactionStatus.REVERSED)
    reversal = leg(
        2,
        kind="reversal",
        mti="0420",
        destination="",
        upstream_key=None,
        upstream_rrn=None,
        original_key="K1",
        cash=800,
    )
    for fast in (True, False):
        folder = tmp_path / str(fast)
        folder.mkdir()
        report, store = run(folder, [original, reversal], [], fast=fast)
        with store:
            assert report.not_settling == {"next_day_reversal": 1}
            assert report.claims_total == -800 and report.adjustments_total == 0
            [adjustment] = store.adjustments(DATE)
            assert adjustment.action is Action.CLAIM_REFUND and adjustment.amount == -800
            assert adjustment.match_key.startswith("112600000001|")


def test_bad_arguments_are_clearing_errors(tmp_path: Path) -> None:
    with SQLiteJournal(":memory:", **KEYS) as journal, ReconciliationStore(tmp_path / "s") as s:
        with pytest.raises(ClearingError, match="YYYYMMDD"):
            reconcile(journal, tmp_path, "2024-11-26", store=s, now=0.0)
        with pytest.raises(ClearingError, match="no clearing file"):
            reconcile(journal, tmp_path / "absent", DATE, store=s, now=0.0)


CATEGORIES = ["clean", "long", "short", "amount", "status_j", "status_f", "declined", "no_leg"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    plan=st.lists(st.sampled_from(CATEGORIES), max_size=25),
    bad=st.lists(st.integers(0, 30), max_size=3),
    fast=st.booleans(),
)
def test_planted_discrepancies_are_all_found_and_everything_counts_once(
    tmp_path_factory: pytest.TempPathFactory,
    leg: Leg,
    line: Line,
    plan: list[str],
    bad: list[int],
    fast: bool,
) -> None:
    from sscard_gateway.clearing import load_acom_layout

    layout = load_acom_layout()
    records: list[TransactionRecord] = []
    lines: list[str] = []
    expected: dict[str, Outcome] = {}
    for n, category in enumerate(plan, 1):
        r = leg(n, cash=100 + n)
        if category == "no_leg":
            r = leg(n, destination="center-110000")
        elif category in ("status_j", "declined"):
            r = leg(n, status=TransactionStatus.DECLINED, response_code="05")
        if category != "long":
            records.append(r)
        if category not in ("short", "declined", "no_leg"):
            overrides = {"amount": 1 + n} if category == "amount" else {}
            if category == "status_f":
                overrides = {"response_code": "51"}
            lines.append(layout.format_line(line(r, **overrides)))
        outcome = {
            "long": Outcome.LONG,
            "short": Outcome.SHORT,
            "amount": Outcome.AMOUNT_MISMATCH,
            "status_j": Outcome.STATUS_MISMATCH,
            "status_f": Outcome.STATUS_MISMATCH,
        }.get(category)
        if outcome is not None:
            expected[f"K{n}"] = outcome
    for at in sorted(bad, reverse=True):
        lines.insert(min(at, len(lines)), "not a clearing line\n")
    tmp = tmp_path_factory.mktemp("recon")
    report, store = run(tmp, records, lines or ["\n"], fast=fast)
    with store:
        malformed = len(bad) + (0 if lines else 1)
        assert report.malformed_lines == malformed == report.problem_count
        good = report.file_lines - report.malformed_lines
        assert good == report.pairs + report.long
        assert report.journal_records == len(records)
        assert report.journal_records == (
            report.pairs + report.short + sum(report.not_settling.values())
        )
        assert report.balanced
        found = {}
        for d in store.discrepancies(DATE):
            key = d.transaction_key or f"K{int(d.match_key[4:12])}"
            found[key] = d.outcome
        assert found == expected
