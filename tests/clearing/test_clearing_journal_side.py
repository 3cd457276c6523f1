"""The journal side's direct SQLite reader agrees with the generic one, record by record."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sscard_gateway.clearing import ClearingRules
from sscard_gateway.clearing._journal_side import read_generic, read_sqlite
from sscard_gateway.clearing._matching import NOT_SETTLING, _entry
from sscard_gateway.clearing._partition import PARTITIONS, partition_of, read_partition
from sscard_gateway.store import InsertTransaction, SQLiteJournal, TransactionRecord

DATE = "20241126"
KEYS = {"pan_key": bytes(range(32)), "data_key": bytes(range(32, 64))}

UPSTREAM_KEYS = st.one_of(
    st.just("1126120000|000123|48020000|48020000"),
    st.just("1126120000|000124|1|"),
    st.none(),
    st.just(""),
    st.builds(
        "|".join,
        st.lists(
            st.sampled_from(
                ["1126120000", "000123", "48020000", "1", "", " 4802 ", "123456789012"]
            ),
            min_size=1,
            max_size=5,
        ),
    ),
)


@st.composite
def journals(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 20))
    rows = []
    for i in range(n):
        kinds = [
            "purchase",
            "purchase",
            "reversal",
            "reversal",
            "void",
            "balance_inquiry",
            "refund",
        ]
        kind = draw(st.sampled_from(kinds))
        rows.append(
            {
                "transaction_key": f"K{i}",
                "kind": kind,
                "status": draw(
                    st.sampled_from(
                        ["approved", "declined", "timed_out", "reversed", "failed", "pending"]
                    )
                ),
                "settlement_date": draw(st.sampled_from([DATE, DATE, "20241125"])),
                "destination": draw(st.sampled_from(["cups", "cups", "cups", "center-110000", ""])),
                "upstream_key": draw(UPSTREAM_KEYS),
                "upstream_rrn": draw(st.sampled_from([None, "", "112600000001", " R1 "])),
                "upstream_stan": draw(st.sampled_from([None, "", "000123", "7"])),
                "original_key": draw(
                    st.one_of(
                        st.sampled_from([None, ""]), st.builds("K{}".format, st.integers(0, n))
                    )
                ),
                "split": (0, 0, draw(st.integers(0, 10_000))),
            }
        )
    return rows


def side(folder: Path) -> list[tuple[Any, ...]]:
    """Every record written, as (key, transaction key, cash, settles, reason)."""
    rows: list[tuple[Any, ...]] = []
    for p in range(PARTITIONS):
        for key, amount, info in read_partition(folder, "j", p, 3):
            assert partition_of(key) == p
            entry = _entry(key, amount, info)
            assert amount == (entry[2] if entry[3] else NOT_SETTLING)
            rows.append(entry)
    rows += [("c3", *r) for r in read_partition(folder, "c3", 0, 4)]
    return sorted(rows, key=repr)


def both(tmp: Path, journal: SQLiteJournal, path: Path) -> tuple[Any, Any]:
    generic, fast = tmp / "generic", tmp / "fast"
    generic.mkdir()
    fast.mkdir()
    g = read_generic(journal, generic, DATE, ClearingRules(), page_size=7)
    f = read_sqlite(str(path), str(fast), DATE, ClearingRules())
    assert f == g
    assert side(fast) == side(generic)
    return g, side(generic)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=journals())
def test_fast_and_generic_paths_load_the_same_rows(
    tmp_path_factory: pytest.TempPathFactory,
    record: Callable[..., TransactionRecord],
    rows: list[dict[str, Any]],
) -> None:
    from sscard_gateway.store import TransactionStatus

    records = [
        record(r.pop("transaction_key"), **{**r, "status": TransactionStatus(r["status"])})
        for r in rows
    ]
    tmp = tmp_path_factory.mktemp("j")
    path = tmp / "journal.db"
    with SQLiteJournal(path, **KEYS) as journal:
        journal.apply([InsertTransaction(r) for r in records])
        summary, _ = both(tmp, journal, path)
    assert summary["records"] == sum(r.settlement_date == DATE for r in records)


def test_a_file_that_is_not_a_journal_falls_back(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    assert read_sqlite(str(other), str(tmp_path), DATE, ClearingRules()) is None
    assert (
        read_sqlite(str(tmp_path / "absent" / "x.db"), str(tmp_path), DATE, ClearingRules()) is None
    )


def test_every_rule_gives_the_same_row_both_ways(
    tmp_path: Path, record: Callable[..., TransactionRecord]
) -> None:
    from sscard_gateway.store import TransactionStatus as S

    leg = {
        "destination": "cups",
        "upstream_key": "1126120000|000123|48020000|48020000",
        "upstream_stan": "000123",
        "upstream_rrn": "112600000001",
    }
    records = [
        record("same-day", status=S.REVERSED, **leg),
        record("same-day-rev", kind="reversal", original_key="same-day"),
        record("c3-orig", status=S.REVERSED, settlement_date="20241125", split=(0, 0, 77), **leg),
        record("c3-rev", kind="reversal", original_key="c3-orig"),
        record("reversed-later", status=S.REVERSED, **leg),
        record("void", kind="void", status=S.APPROVED, original_key="voided", **leg),
        record("voided", status=S.REVERSED, **leg),
        record("inquiry", kind="balance_inquiry", **leg),
        *(record(f"status-{s.value}", status=s, **leg) for s in S if s is not S.REVERSED),
        record("odd-key", destination="cups", upstream_key="1126|7|1", upstream_rrn=" R "),
        record("home-leg", destination="center-110000", upstream_key="x|y|z|w"),
        record(
            "padded",
            destination="cups",
            upstream_key="1126120000|000124| 4802 |1",
            upstream_stan="000124",
            upstream_rrn=" R2 ",
        ),
    ]
    path = tmp_path / "journal.db"
    with SQLiteJournal(path, **KEYS) as journal:
        journal.apply([InsertTransaction(r) for r in records])
        summary, rows = both(tmp_path, journal, path)
    by_key = {r[1]: r for r in rows if r[0] != "c3"}
    assert {k: (r[3], r[4]) for k, r in by_key.items()} == {
        "same-day": (False, "reversed"),
        "reversed-later": (True, "settles"),
        "void": (False, "reversal"),
        "voided": (False, "reversed"),
        "inquiry": (False, "inquiry"),
        "status-approved": (True, "settles"),
        "status-declined": (False, "declined"),
        "status-failed": (False, "failed"),
        "status-timed_out": (False, "timed_out"),
        "status-pending": (False, "pending"),
        "odd-key": (True, "settles"),
        "padded": (True, "settles"),
    }
    assert summary["unkeyed"] == {"no_cups_leg": 2, "next_day_reversal": 1}
    [c3] = [r for r in rows if r[0] == "c3"]
    assert c3[1:] == ("c3-rev", "112600000001|1126120000|000123|00048020000", 77, 500)
    assert by_key["odd-key"][0] == b"R|1126||00000000000"  # no upstream_stan: F32 after "1126||"
    assert by_key["padded"][0] == b"R2|1126120000|000124|00000004802"
    assert by_key["status-approved"][0] == b"112600000001|1126120000|000123|00048020000"
