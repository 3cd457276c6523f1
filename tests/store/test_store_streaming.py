"""Streaming reads: bounded memory over many rows, no lock held between pages, filters."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator

import pytest

from sscard_gateway.ids import AmountSplit
from sscard_gateway.store import (
    InsertTransaction,
    SQLiteJournal,
    TransactionQuery,
    TransactionRecord,
    TransactionStatus,
    UpdateTransaction,
)

Record = Callable[..., TransactionRecord]
ROWS = 20_000


def fill(journal: SQLiteJournal, make_record: Record, rows: int) -> SQLiteJournal:
    journal.apply(
        [
            InsertTransaction(
                make_record(
                    f"K{n:06d}",
                    settlement_date="20241126" if n % 2 else "20241127",
                    created_at=float(n),
                    amount=AmountSplit.from_parts(fund=n, personal_account=0, cash=1),
                )
            )
            for n in range(rows)
        ]
    )
    return journal


@pytest.fixture(scope="module")
def big(record: Record) -> Iterator[SQLiteJournal]:
    """20,000 rows, shared by the read-only tests of this module."""
    with SQLiteJournal(":memory:", pan_key=bytes(32), data_key=bytes(32)) as journal:
        yield fill(journal, record, ROWS)


def test_streaming_twenty_thousand_rows_in_bounded_memory(big: SQLiteJournal) -> None:
    tracemalloc.start()
    try:
        count = total = 0
        for r in big.transactions(page_size=256):
            count += 1
            total += r.amount.fund
        _, streamed_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        everything = list(big.transactions(page_size=ROWS))
        _, loaded_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == len(everything) == ROWS
    assert total == sum(range(ROWS))
    # Streaming holds a page; loading everything holds all rows.
    assert streamed_peak * 10 < loaded_peak
    assert streamed_peak < 4_000_000


def test_rows_come_in_journal_order_and_writers_proceed_between_pages(
    journal: SQLiteJournal, record: Record
) -> None:
    big = fill(journal, record, 1000)
    stream = big.transactions(TransactionQuery(settlement_date="20241126"), page_size=100)
    first = [next(stream) for _ in range(150)]
    assert [r.transaction_key for r in first] == [f"K{n:06d}" for n in range(1, 300, 2)]
    # The iterator holds no lock: a write goes through mid-stream (this
    # would deadlock on the journal's lock otherwise) and later rows appear.
    big.apply([InsertTransaction(record("Z-late", settlement_date="20241126"))])
    rest = list(stream)
    assert len(first) + len(rest) == 1000 // 2 + 1
    assert rest[-1].transaction_key == "Z-late"


@pytest.mark.parametrize("page_size", [1, 7, 10, 500])
def test_page_boundaries(journal: SQLiteJournal, record: Record, page_size: int) -> None:
    journal.apply([InsertTransaction(record(f"K{n}")) for n in range(10)])
    assert [r.transaction_key for r in journal.transactions(page_size=page_size)] == [
        f"K{n}" for n in range(10)
    ]


def test_page_size_is_checked_at_once(journal: SQLiteJournal) -> None:
    with pytest.raises(ValueError, match="page_size"):
        journal.transactions(page_size=0)


def test_filters(journal: SQLiteJournal, record: Record) -> None:
    journal.apply(
        [
            InsertTransaction(record("A", kind="purchase", created_at=10, source="center-a")),
            InsertTransaction(record("B", home_region="310101", created_at=20, destination="cups")),
            InsertTransaction(record("C", treating_region="110105", created_at=30)),
            InsertTransaction(record("D", settlement_date="20241127", created_at=40)),
            UpdateTransaction(
                transaction_key="B",
                updated_at=21,
                expect=TransactionStatus.PENDING,
                status=TransactionStatus.APPROVED,
            ),
            UpdateTransaction(
                transaction_key="C",
                updated_at=31,
                expect=TransactionStatus.PENDING,
                status=TransactionStatus.TIMED_OUT,
            ),
        ]
    )

    def keys(**conditions: object) -> list[str]:
        query = TransactionQuery(**conditions)  # type: ignore[arg-type]
        found = [r.transaction_key for r in journal.transactions(query)]
        every = [r for r in journal.transactions() if query.matches(r)]
        assert found == [r.transaction_key for r in every]  # SQL agrees with matches()
        return found

    assert keys() == ["A", "B", "C", "D"]
    assert keys(settlement_date="20241126") == ["A", "B", "C"]
    assert keys(statuses=[TransactionStatus.PENDING]) == ["A", "D"]
    assert keys(statuses=[TransactionStatus.APPROVED, TransactionStatus.TIMED_OUT]) == ["B", "C"]
    assert keys(statuses=[]) == []
    assert keys(kinds=["purchase"]) == ["A"]
    assert keys(kinds="medical_settlement", settlement_date="20241126") == ["B", "C"]
    assert keys(home_region="310101") == ["B"]
    assert keys(treating_region="110105") == ["C"]
    assert keys(source="center-a") == ["A"]
    assert keys(destination="cups") == ["B"]
    assert keys(created_from=20, created_before=40) == ["B", "C"]
