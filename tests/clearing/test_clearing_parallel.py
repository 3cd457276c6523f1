"""Work shared by claims: every piece done once; the helper process and its failures."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sscard_gateway.clearing import (
    ClearingRules,
    ReconciliationStore,
    StoreChanges,
    reconcile,
    write_acom_lines,
)
from sscard_gateway.clearing._blocks import Claims, RowBlocks
from sscard_gateway.clearing._journal_child import Helper
from sscard_gateway.clearing._results import Action, Adjustment, Discrepancy, Outcome
from sscard_gateway.errors import ClearingError
from sscard_gateway.store import InsertTransaction, SQLiteJournal, TransactionRecord

DATE = "20241126"
KEYS = {"pan_key": bytes(range(32)), "data_key": bytes(range(32, 64))}


@settings(max_examples=50)
@given(count=st.integers(1, 12), turns=st.lists(st.booleans(), max_size=40))
def test_two_readers_meeting_in_the_middle_take_every_block_once(
    tmp_path_factory: pytest.TempPathFactory, count: int, turns: list[bool]
) -> None:
    folder = str(tmp_path_factory.mktemp("claims"))
    blocks = RowBlocks(folder, 101, 101 + 10 * count - 1, count)
    up, down = blocks.take(), blocks.take(backwards=True)
    taken: list[list[tuple[int, int]]] = [[], []]
    for turn in [*turns, *([True] * (count + 1)), *([False] * (count + 1))]:
        got = next(up if turn else down, None)
        if got is not None:
            taken[turn].append(got)
    every = sorted(taken[0] + taken[1])
    assert every == [blocks.bounds(b) for b in range(count)]  # once each, none lost
    assert every[0][0] == 101 and every[-1][1] == 101 + 10 * count
    assert all(a[1] == b[0] for a, b in itertools.pairwise(every))


@settings(max_examples=30)
@given(turns=st.lists(st.booleans(), max_size=30))
def test_readers_going_the_same_way_take_every_piece_once(
    tmp_path_factory: pytest.TempPathFactory, turns: list[bool]
) -> None:
    folder = str(tmp_path_factory.mktemp("claims"))
    one, two = Claims(folder, "pair", 16).take(), Claims(folder, "pair", 16).take()
    taken: list[int] = []
    for turn in [*turns, *([True] * 17), *([False] * 17)]:
        got = next(one if turn else two, None)
        if got is not None:
            taken.append(got)
    assert sorted(taken) == list(range(16))


def journal_file(tmp: Path, records: list[TransactionRecord]) -> Path:
    path = tmp / "journal.db"
    with SQLiteJournal(path, **KEYS) as journal:
        journal.apply([InsertTransaction(r) for r in records])
    return path


@pytest.mark.parametrize("fork", [True, False])
def test_a_helper_on_a_file_that_is_not_a_journal_says_so(tmp_path: Path, fork: bool) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    helper = Helper.start(
        str(other),
        str(tmp_path),
        DATE,
        ClearingRules(),
        blocks=RowBlocks(str(tmp_path), 1, 1),
        fork=fork,
    )
    assert helper.summary() is None
    helper.finish()
    helper.kill()  # nothing once finished


@pytest.mark.parametrize(
    ("command", "said"), [(["true"], "it stopped"), (["echo", "hello"], "it said something else")]
)
def test_a_helper_that_stops_or_talks_nonsense_is_a_clearing_error(
    tmp_path: Path, command: list[str], said: str
) -> None:
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    helper = Helper(str(tmp_path), process.stdin, process.stdout, process.pid, process)
    with pytest.raises(ClearingError, match=f"cannot read the journal file: {said}"):
        helper.summary()
    helper.kill()
    assert process.returncode is not None


def test_a_helper_that_fails_says_why(
    tmp_path: Path, record: Callable[..., TransactionRecord]
) -> None:
    path = journal_file(tmp_path, [record("K1")])
    absent = str(tmp_path / "absent")  # it cannot write its partitions there
    blocks = RowBlocks(absent, 1, 1)
    helper = Helper.start(str(path), absent, DATE, ClearingRules(), blocks=blocks, fork=True)
    with pytest.raises(ClearingError, match="FileNotFoundError"):
        helper.summary()
    helper.finish()


def finding(key: str, amount: int) -> tuple[Discrepancy, Adjustment]:
    return (
        Discrepancy(settlement_date=DATE, match_key=key, outcome=Outcome.LONG, file_amount=amount),
        Adjustment(
            settlement_date=DATE,
            match_key=key,
            outcome=Outcome.LONG,
            action=Action.BOOK_OR_DISPUTE,
            amount=amount,
            note="n",
        ),
    )


@pytest.mark.parametrize("chunk", [1, 2, 10])
def test_a_new_date_is_inserted_and_a_key_twice_still_upserted(tmp_path: Path, chunk: int) -> None:
    with ReconciliationStore(tmp_path / "r.db", chunk=chunk) as store:
        changes = store.record_discrepancies(
            DATE, [finding("A", 1), finding("B", 2), finding("A", 3)], now=1.0
        )
        assert changes == StoreChanges(inserted=4, updated=2, cleared=0)
        assert {d.match_key: d.file_amount for d in store.discrepancies(DATE)} == {"A": 3, "B": 2}
        again = store.record_discrepancies(DATE, [finding("A", 3), finding("B", 2)], now=2.0)
        assert again == StoreChanges()


def test_reconcile_through_a_spawned_helper_finds_the_same(
    tmp_path: Path, record: Callable[..., TransactionRecord]
) -> None:
    """``fork=False`` end to end: what a program with threads gets."""
    from sscard_gateway.clearing import _journal_child

    leg = {"destination": "cups", "upstream_key": "1126120000|000123|48020000|48020000"}
    records = [
        record("K1", upstream_stan="000123", upstream_rrn="112600000001", **leg),
        record(
            "K2",
            upstream_stan="000124",
            upstream_rrn="112600000002",
            **{**leg, "upstream_key": "1126120000|000124|48020000|48020000"},
        ),
    ]
    path = journal_file(tmp_path, records)
    acom = tmp_path / "IND24112601ACOM"
    write_acom_lines(
        [
            {
                "acquirer": "48020000",
                "stan": "000123",
                "transmission_time": "1126120000",
                "pan": "6225880137654321",
                "amount": 500,
                "mti": "0200",
                "processing_code": "000000",
                "rrn": "112600000001",
                "response_code": "00",
            }
        ],
        acom,
    )
    reports = []
    for fork in (True, False):
        original = _journal_child._can_fork
        _journal_child._can_fork = lambda fork=fork: fork  # type: ignore[assignment]
        try:
            with (
                SQLiteJournal(path, **KEYS) as journal,
                ReconciliationStore(tmp_path / f"r{fork}.db") as store,
            ):
                reports.append(
                    reconcile(journal, acom, DATE, store=store, now=1.0, journal_file=path)
                )
        finally:
            _journal_child._can_fork = original  # type: ignore[assignment]
    assert reports[0] == reports[1]
    assert (reports[0].matched, reports[0].short) == (1, 1)
