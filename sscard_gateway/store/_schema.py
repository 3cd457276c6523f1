"""The SQLite journal's schema, its versions, and the mapping of records to rows.

Why a version table from the first release: a journal file outlives the
code that wrote it (it is the evidence for clearing and disputes), so a new
release must upgrade an old file in place. ``schema_version`` holds one row;
:data:`MIGRATIONS` maps each version to the statements that bring the
previous version to it, and :func:`migrate` applies the missing ones in one
transaction. A file newer than this code is refused, not guessed at.

Version 1:

* ``transactions``: one row per transaction; ``transaction_key`` unique (the
  duplicate check); ``seq`` (the rowid) orders rows as journaled and pages
  the streaming reads; indexes on ``settlement_date`` (clearing) and
  ``status`` (restart recovery of pending transactions).
* ``owed``: the store-and-forward queue; ``id`` unique; ``payload`` sealed;
  indexes on ``(status, next_attempt_at)`` (due items in order, an index
  range with no sort), ``(status, created_at)`` (oldest owed age) and
  ``transaction_key``.
* ``counts``: per-status counters kept by triggers, so statistics cost the
  same on a million rows as on ten.
* ``meta``: the identifiers of the PAN key and data key the file was
  created with.

Version 2 (the transaction engine):

* ``legs``: one row per outbound leg, journaled as sent before it leaves;
  ``leg_id`` unique; ``payload`` sealed (the message as sent, PIN and track
  data stripped); indexes on ``transaction_key`` (a transaction's legs) and
  ``state`` (recovery finds the legs left ``sent``).
* ``owed`` gains ``leg_id``, ``stan``, ``repeat``, ``reason`` and
  ``resolution``; items a version 1 gateway left ``expired`` or
  ``abandoned`` move to the exception queue (``exception``, with the reason).
"""

from __future__ import annotations

import sqlite3
from typing import Final

from ..errors import JournalError
from ._states import LegState, OwedStatus, TransactionStatus

__all__ = [
    "LEG_COLUMNS",
    "MIGRATIONS",
    "OWED_COLUMNS",
    "SCHEMA_VERSION",
    "TRANSACTION_COLUMNS",
    "migrate",
]

SCHEMA_VERSION: Final = 2

#: The SQL type of each column of ``transactions``, in the order records are
#: written and read.
_TRANSACTION_TYPES: Final = {
    "transaction_key": "TEXT NOT NULL",
    "kind": "TEXT NOT NULL",
    "mti": "TEXT NOT NULL",
    "source": "TEXT NOT NULL",
    "created_at": "REAL NOT NULL",
    "settlement_date": "TEXT NOT NULL",
    "updated_at": "REAL NOT NULL",
    "destination": "TEXT NOT NULL",
    "dialect": "TEXT NOT NULL",
    "processing_code": "TEXT NOT NULL",
    "stan": "TEXT NOT NULL",
    "rrn": "TEXT NOT NULL",
    "transmission_time": "TEXT NOT NULL",
    "acquirer": "TEXT NOT NULL",
    "forwarder": "TEXT NOT NULL",
    "terminal": "TEXT NOT NULL",
    "merchant": "TEXT NOT NULL",
    "authorization_code": "TEXT NOT NULL",
    "home_region": "TEXT NOT NULL",
    "treating_region": "TEXT NOT NULL",
    "insurance_kind": "TEXT NOT NULL",
    "amount": "INTEGER NOT NULL",
    "fund": "INTEGER NOT NULL",
    "personal_account": "INTEGER NOT NULL",
    "cash": "INTEGER NOT NULL",
    "currency": "TEXT NOT NULL",
    "pan_masked": "TEXT NOT NULL",
    "pan_hash": "TEXT NOT NULL",
    "status": "TEXT NOT NULL",
    "response_code": "TEXT",
    "responded_at": "REAL",
    "upstream_stan": "TEXT",
    "upstream_rrn": "TEXT",
    "upstream_key": "TEXT",
    "original_key": "TEXT",
}

#: Columns of ``transactions`` in the order records are written and read.
TRANSACTION_COLUMNS: Final = tuple(_TRANSACTION_TYPES)

#: Columns of ``owed`` in the order items are written and read.
OWED_COLUMNS: Final = (
    "id",
    "kind",
    "destination",
    "transaction_key",
    "payload",
    "created_at",
    "updated_at",
    "next_attempt_at",
    "expires_at",
    "attempts",
    "status",
    "last_response_code",
    "leg_id",
    "stan",
    "repeat",
    "reason",
    "resolution",
)

#: Columns of ``legs`` in the order legs are written and read.
LEG_COLUMNS: Final = (
    "leg_id",
    "transaction_key",
    "step",
    "kind",
    "destination",
    "mti",
    "stan",
    "leg_key",
    "amount",
    "payload",
    "created_at",
    "updated_at",
    "state",
    "response_code",
)


def _counter_triggers(table: str, column: str = "status") -> list[str]:
    # INSERT OR IGNORE first: a status added by a later version gets its row.
    def bump(ref: str, delta: str) -> str:
        name = f"'{table}:' || {ref}.{column}"
        insert = f"INSERT OR IGNORE INTO counts (name, n) VALUES ({name}, 0);"  # noqa: S608
        update = f"UPDATE counts SET n = n {delta} 1 WHERE name = {name};"  # noqa: S608
        return f"{insert}\n  {update}"

    return [
        f"CREATE TRIGGER {table}_count_insert AFTER INSERT ON {table} BEGIN\n"
        f"  {bump('NEW', '+')}\nEND",
        f"CREATE TRIGGER {table}_count_delete AFTER DELETE ON {table} BEGIN\n"
        f"  {bump('OLD', '-')}\nEND",
        f"CREATE TRIGGER {table}_count_status AFTER UPDATE OF {column} ON {table}\n"
        f"  WHEN OLD.{column} <> NEW.{column} BEGIN\n"
        f"  {bump('OLD', '-')}\n  {bump('NEW', '+')}\nEND",
    ]


def _version_1() -> tuple[str, ...]:
    columns = ",\n  ".join(f"{c} {t}" for c, t in _TRANSACTION_TYPES.items())
    counters = [f"transactions:{s.value}" for s in TransactionStatus]
    counters += [f"owed:{s}" for s in ("owed", "done", "expired", "abandoned")]
    return (
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
        "CREATE TABLE counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID",
        f"CREATE TABLE transactions (\n  seq INTEGER PRIMARY KEY,\n  {columns},\n"
        "  UNIQUE (transaction_key)\n)",
        "CREATE INDEX transactions_settlement ON transactions (settlement_date)",
        "CREATE INDEX transactions_status ON transactions (status)",
        "CREATE TABLE owed (\n"
        "  seq INTEGER PRIMARY KEY,\n"
        "  id TEXT NOT NULL UNIQUE,\n"
        "  kind TEXT NOT NULL,\n"
        "  destination TEXT NOT NULL,\n"
        "  transaction_key TEXT NOT NULL,\n"
        "  payload BLOB NOT NULL,\n"
        "  created_at REAL NOT NULL,\n"
        "  updated_at REAL NOT NULL,\n"
        "  next_attempt_at REAL NOT NULL,\n"
        "  expires_at REAL,\n"
        "  attempts INTEGER NOT NULL,\n"
        "  status TEXT NOT NULL,\n"
        "  last_response_code TEXT\n"
        ")",
        "CREATE INDEX owed_due ON owed (status, next_attempt_at)",
        "CREATE INDEX owed_age ON owed (status, created_at)",
        "CREATE INDEX owed_transaction ON owed (transaction_key)",
        *_counter_triggers("transactions"),
        *_counter_triggers("owed"),
        *(f"INSERT INTO counts (name, n) VALUES ('{name}', 0)" for name in counters),  # noqa: S608
    )


def _version_2() -> tuple[str, ...]:
    counters = [f"legs:{s.value}" for s in LegState]
    counters += [f"owed:{s.value}" for s in (OwedStatus.EXCEPTION, OwedStatus.RESOLVED)]
    moved = "UPDATE owed SET status = 'exception', reason = 'a version 1 gateway marked it %s'"
    return (
        "ALTER TABLE owed ADD COLUMN leg_id TEXT",
        "ALTER TABLE owed ADD COLUMN stan TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE owed ADD COLUMN repeat INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE owed ADD COLUMN reason TEXT",
        "ALTER TABLE owed ADD COLUMN resolution TEXT",
        *(f"INSERT OR IGNORE INTO counts (name, n) VALUES ('{name}', 0)" for name in counters),  # noqa: S608
        *(f"{moved % old} WHERE status = '{old}'" for old in ("expired", "abandoned")),
        "DELETE FROM counts WHERE name IN ('owed:expired', 'owed:abandoned') AND n = 0",
        "CREATE TABLE legs (\n"
        "  seq INTEGER PRIMARY KEY,\n"
        "  leg_id TEXT NOT NULL UNIQUE,\n"
        "  transaction_key TEXT NOT NULL,\n"
        "  step INTEGER NOT NULL,\n"
        "  kind TEXT NOT NULL,\n"
        "  destination TEXT NOT NULL,\n"
        "  mti TEXT NOT NULL,\n"
        "  stan TEXT NOT NULL,\n"
        "  leg_key TEXT NOT NULL,\n"
        "  amount INTEGER NOT NULL,\n"
        "  payload BLOB NOT NULL,\n"
        "  created_at REAL NOT NULL,\n"
        "  updated_at REAL NOT NULL,\n"
        "  state TEXT NOT NULL,\n"
        "  response_code TEXT\n"
        ")",
        "CREATE INDEX legs_transaction ON legs (transaction_key, step)",
        "CREATE INDEX legs_state ON legs (state)",
        *_counter_triggers("legs", "state"),
    )


#: Version -> the statements that bring the previous version to it.
MIGRATIONS: Final[dict[int, tuple[str, ...]]] = {1: _version_1(), 2: _version_2()}


def migrate(conn: sqlite3.Connection) -> int:
    """Create or upgrade the schema in one transaction.

    Args:
        conn: a connection in autocommit mode (``isolation_level=None``).

    Returns:
        The schema version found before migrating (0 for a new file).

    Raises:
        JournalError: the file's schema is newer than this library's.
        sqlite3.Error: the database failed.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        found = 0 if row is None else int(row[0])
        if found > SCHEMA_VERSION:
            raise JournalError(
                f"the journal's schema version {found} is newer than this library's "
                f"({SCHEMA_VERSION}); upgrade sscard_gateway"
            )
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
        if row is None:
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        elif found < SCHEMA_VERSION:
            conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return found
