"""No clear PAN or payload at rest: the database file is grepped for them."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from sscard_gateway.errors import JournalKeyError
from sscard_gateway.store import (
    AddOwed,
    InsertTransaction,
    OwedItem,
    OwedStatus,
    SQLiteJournal,
    TransactionRecord,
    UpdateOwed,
)

Record = Callable[..., TransactionRecord]
Item = Callable[..., OwedItem]
Opener = Callable[..., SQLiteJournal]
PANS = ["6225880137654324", "6217000010012345678", "6228480402564890018"]
MARKER = b"PLAINTEXT-MARKER-0420"


def file_bytes(path: Path) -> bytes:
    parts = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return b"".join(p.read_bytes() for p in parts if p.exists())


def fill(journal: SQLiteJournal, record: Record, item: Item) -> None:
    ops: list[AddOwed | InsertTransaction] = []
    for n, pan in enumerate(PANS):
        protected = journal.pan_hasher.protect(pan)
        ops.append(
            InsertTransaction(record(f"K{n}", pan_masked=protected.masked, pan_hash=protected.hash))
        )
        ops.append(AddOwed(item(f"K{n}", id=f"o{n}", payload=MARKER + b" F2=" + pan.encode())))
    journal.apply(ops)


def test_no_clear_pan_or_payload_in_the_file(
    tmp_path: Path, open_journal: Opener, record: Record, item: Item
) -> None:
    path = tmp_path / "journal.db"
    journal = open_journal(path)
    fill(journal, record, item)
    for stage in ("open", "closed"):
        data = file_bytes(path)
        assert journal.pan_hasher.protect(PANS[0]).masked.encode() in data, stage  # right file
        for pan in PANS:
            assert pan.encode() not in data, stage
            assert pan[-12:].encode() not in data, stage
        assert MARKER not in data, stage
        journal.close()
    journal = open_journal(path)
    assert journal.get_owed("o1") is not None
    assert journal.get_owed("o1").payload == MARKER + b" F2=" + PANS[1].encode()  # type: ignore[union-attr]


def test_the_pan_hash_matches_across_instances_with_the_same_key(
    tmp_path: Path, open_journal: Opener, record: Record, item: Item
) -> None:
    path = tmp_path / "journal.db"
    fill(open_journal(path), record, item)
    reader = open_journal(path)
    stored = reader.get_transaction("K2")
    assert stored is not None and stored.pan_hash == reader.pan_hasher.hash(PANS[2])


def test_a_wrong_data_key_fails_clearly(tmp_path: Path, open_journal: Opener) -> None:
    path = tmp_path / "journal.db"
    right = open_journal(path)
    with pytest.raises(JournalKeyError) as info:
        open_journal(path, data_key=b"\xff" * 32)
    message = str(info.value)
    assert "data key" in message
    assert right._sealer.key_id in message  # names the key the file was created with


def tamper(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(sql)
    conn.close()


def test_a_moved_payload_fails_authentication(
    tmp_path: Path, open_journal: Opener, record: Record, item: Item
) -> None:
    path = tmp_path / "journal.db"
    journal = open_journal(path)
    fill(journal, record, item)
    tamper(
        path, "UPDATE owed SET payload = (SELECT payload FROM owed WHERE id = 'o0') WHERE id = 'o1'"
    )
    assert journal.get_owed("o0") is not None
    with pytest.raises(JournalKeyError, match=r"owed item o1: .*tampered with or moved"):
        journal.get_owed("o1")
    with pytest.raises(JournalKeyError, match="owed item o1"):
        journal.due_owed(2e9)
    with pytest.raises(JournalKeyError, match="owed item o1"):
        journal.apply(
            [UpdateOwed(id="o1", updated_at=1, expect=OwedStatus.OWED, status=OwedStatus.EXCEPTION)]
        )
    assert journal.owed_items(transaction_key="K0")[0].id == "o0"


def test_a_redirected_item_fails_authentication(
    tmp_path: Path, open_journal: Opener, record: Record, item: Item
) -> None:
    path = tmp_path / "journal.db"
    journal = open_journal(path)
    fill(journal, record, item)
    tamper(path, "UPDATE owed SET destination = 'elsewhere' WHERE id = 'o2'")
    with pytest.raises(JournalKeyError, match="owed item o2"):
        journal.get_owed("o2")
