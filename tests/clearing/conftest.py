"""Shared helpers for the clearing tests: keys, a record factory, journals.

Test modules reach the helpers through fixtures (a conftest cannot be
imported by name). Journals opened through ``open_journal`` are closed at
teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sscard_gateway.ids import AmountSplit
from sscard_gateway.store import (
    InsertTransaction,
    PanHasher,
    SQLiteJournal,
    TransactionRecord,
    TransactionStatus,
)

PAN_KEY = bytes(range(32))
DATA_KEY = bytes(range(32, 64))
HASHER = PanHasher(PAN_KEY)
DATE = "20241126"


def make_record(key: str, **overrides: Any) -> TransactionRecord:
    """A valid approved record; ``split=(fund, personal, cash)`` sets the amount."""
    split = overrides.pop("split", (8000, 1500, 500))
    values: dict[str, Any] = {
        "transaction_key": key,
        "kind": "medical_settlement",
        "mti": "0200",
        "source": "center-310000",
        "created_at": 1_732_600_000.0,
        "settlement_date": DATE,
        "amount": AmountSplit.from_parts(fund=split[0], personal_account=split[1], cash=split[2]),
        "home_region": "110105",
        "treating_region": "310104",
        "status": TransactionStatus.APPROVED,
        "response_code": "00",
    }
    values.update(overrides)
    return TransactionRecord(**values)


@pytest.fixture(scope="session")
def record() -> Callable[..., TransactionRecord]:
    """``record(key, **overrides)``: a valid approved medical settlement."""
    return make_record


@pytest.fixture
def open_journal() -> Iterator[Callable[..., SQLiteJournal]]:
    """``open_journal(path=":memory:", records=())``: a journal closed at teardown."""
    opened: list[SQLiteJournal] = []

    def open_(
        path: str | Path = ":memory:", records: list[TransactionRecord] | tuple[()] = ()
    ) -> SQLiteJournal:
        journal = SQLiteJournal(path, pan_key=PAN_KEY, data_key=DATA_KEY)
        opened.append(journal)
        if records:
            journal.apply([InsertTransaction(r) for r in records])
        return journal

    yield open_
    for journal in opened:
        journal.close()


def leg_record(n: int, *, cash: int = 1000, **overrides: Any) -> TransactionRecord:
    """An approved record with a CUPS leg (STAN ``n``) and its matching file line values."""
    stan = f"{n % 1_000_000:06d}"
    f7 = "1126120000"
    values: dict[str, Any] = {
        "kind": "purchase",
        "destination": "cups",
        "split": (0, 0, cash),
        "home_region": "110105",
        "treating_region": "110105",
        "upstream_stan": stan,
        "upstream_rrn": f"1126{n:08d}",
        "upstream_key": f"{f7}|{stan}|48020000|48020000",
        "pan_masked": "622588******4321",
    }
    values.update(overrides)
    return make_record(f"K{n}", **values)


def line_for(record: TransactionRecord, **overrides: Any) -> dict[str, Any]:
    """The ACOM line values UnionPay would list for ``record``'s CUPS leg."""
    assert record.upstream_key is not None
    f7, stan, acquirer, forwarder = record.upstream_key.split("|")
    values: dict[str, Any] = {
        "acquirer": acquirer,
        "forwarder": forwarder,
        "stan": stan,
        "transmission_time": f7,
        "pan": "6225880137654321",
        "amount": record.amount.cash,
        "mti": record.mti,
        "processing_code": "000000",
        "rrn": record.upstream_rrn,
        "response_code": "00",
    }
    values.update(overrides)
    return values


@pytest.fixture(scope="session")
def leg() -> Callable[..., TransactionRecord]:
    """``leg(n, cash=, **overrides)``: an approved record with a CUPS leg."""
    return leg_record


@pytest.fixture(scope="session")
def line() -> Callable[..., dict[str, Any]]:
    """``line(record, **overrides)``: the file line values of a record's CUPS leg."""
    return line_for
