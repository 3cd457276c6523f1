"""Shared helpers for the journal tests: keys, record and item factories, journals.

Test modules reach the factories through fixtures (a conftest cannot be
imported by name). Every journal opened through ``open_journal`` is closed
at teardown, so no test leaks a connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sscard_gateway.ids import AmountSplit
from sscard_gateway.store import (
    OwedItem,
    OwedKind,
    PanHasher,
    SQLiteJournal,
    TransactionRecord,
)

PAN_KEY = bytes(range(32))
DATA_KEY = bytes(range(32, 64))
PAN = "6225880137654324"
HASHER = PanHasher(PAN_KEY)


def make_record(key: str, **overrides: Any) -> TransactionRecord:
    protected = HASHER.protect(PAN)
    values: dict[str, Any] = {
        "transaction_key": key,
        "kind": "medical_settlement",
        "mti": "0200",
        "source": "center-110105",
        "created_at": 1_732_600_000.0,
        "settlement_date": "20241126",
        "amount": AmountSplit.from_parts(fund=8000, personal_account=1500, cash=500),
        "pan_masked": protected.masked,
        "pan_hash": protected.hash,
        "home_region": "110105",
        "treating_region": "310101",
    }
    values.update(overrides)
    return TransactionRecord(**values)


def make_item(key: str, **overrides: Any) -> OwedItem:
    values: dict[str, Any] = {
        "kind": OwedKind.REVERSAL,
        "destination": "cups",
        "transaction_key": key,
        "payload": b"0420 reversal of " + PAN.encode() + b" for " + key.encode(),
        "created_at": 1_732_600_000.0,
    }
    values.update(overrides)
    return OwedItem(**values)


@pytest.fixture(scope="session")
def record() -> Callable[..., TransactionRecord]:
    """``record(key, **overrides)``: a valid medical settlement record."""
    return make_record


@pytest.fixture(scope="session")
def item() -> Callable[..., OwedItem]:
    """``item(key, **overrides)``: an owed reversal whose payload holds the PAN."""
    return make_item


@pytest.fixture
def open_journal() -> Iterator[Callable[..., SQLiteJournal]]:
    """``open_journal(path=":memory:", **keys)``: a journal closed at teardown."""
    opened: list[SQLiteJournal] = []

    def open_(path: str | Path = ":memory:", **kwargs: Any) -> SQLiteJournal:
        kwargs.setdefault("pan_key", PAN_KEY)
        kwargs.setdefault("data_key", DATA_KEY)
        journal = SQLiteJournal(path, **kwargs)
        opened.append(journal)
        return journal

    yield open_
    for journal in opened:
        journal.close()


@pytest.fixture
def journal(open_journal: Callable[..., SQLiteJournal]) -> SQLiteJournal:
    """A fresh in-memory journal."""
    return open_journal()
