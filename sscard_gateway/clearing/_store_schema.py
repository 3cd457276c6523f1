"""The reconciliation store's tables, and how results become their rows.

Why apart from :mod:`._store`: the schema is data the store, its readers
and ``docs/journal.md`` agree on; the store's module keeps the behaviour.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

import attrs

from ._results import Action, Adjustment, Discrepancy, Outcome, ReconciliationReport

__all__ = [
    "A_COLUMNS",
    "ADJUSTMENTS",
    "DISCREPANCIES",
    "D_COLUMNS",
    "RUN_COLUMNS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "insert_sql",
    "run_values",
    "values_of",
]

SCHEMA_VERSION: Final = 1
DISCREPANCIES: Final = "reconciliation_discrepancies"
ADJUSTMENTS: Final = "reconciliation_adjustments"
_KEYS = ("settlement_date", "match_key")
D_COLUMNS = tuple(f.name for f in attrs.fields(Discrepancy) if f.name not in _KEYS)
A_COLUMNS = tuple(f.name for f in attrs.fields(Adjustment) if f.name not in _KEYS)
_NOT_STORED = ("settlement_date", "problems", "changes")
RUN_COLUMNS = tuple(f.name for f in attrs.fields(ReconciliationReport) if f.name not in _NOT_STORED)
_TEXTRUN_COLUMNS = ("file_name", "file_sha256", "not_settling")
SCHEMA = (
    "CREATE TABLE reconciliation_runs (settlement_date TEXT PRIMARY KEY, "
    + ", ".join(
        f"{c} {'TEXT' if c in _TEXTRUN_COLUMNS else 'INTEGER'} NOT NULL" for c in RUN_COLUMNS
    )
    + ", first_at REAL NOT NULL, updated_at REAL NOT NULL)",
    f"CREATE TABLE {DISCREPANCIES} (settlement_date TEXT NOT NULL, match_key TEXT NOT NULL,"
    " outcome TEXT NOT NULL, transaction_key TEXT NOT NULL, file_line INTEGER NOT NULL,"
    " journal_amount INTEGER, file_amount INTEGER, journal_treatment TEXT NOT NULL,"
    " file_response_code TEXT NOT NULL, mti TEXT NOT NULL, processing_code TEXT NOT NULL,"
    " pan_masked TEXT NOT NULL, state TEXT NOT NULL, first_at REAL NOT NULL,"
    " updated_at REAL NOT NULL, PRIMARY KEY (settlement_date, match_key))",
    f"CREATE TABLE {ADJUSTMENTS} (settlement_date TEXT NOT NULL, match_key TEXT NOT NULL,"
    " outcome TEXT NOT NULL, action TEXT NOT NULL, amount INTEGER NOT NULL, note TEXT NOT NULL,"
    " state TEXT NOT NULL, first_at REAL NOT NULL, updated_at REAL NOT NULL,"
    " PRIMARY KEY (settlement_date, match_key))",
    "CREATE TABLE reconciliation_problems (settlement_date TEXT NOT NULL, line INTEGER NOT NULL,"
    " field TEXT NOT NULL, problem TEXT NOT NULL, PRIMARY KEY (settlement_date, line, field))",
)


def insert_sql(table: str, columns: Sequence[str]) -> str:
    """The statement inserting one open row of a discrepancy or adjustment table.

    Its parameters: date, match key, ``columns``' values, ``"open"``, and the
    time twice (``first_at``, ``updated_at``).
    """
    marks = ", ".join("?" * (len(columns) + 5))
    return (
        f"INSERT INTO {table} (settlement_date, match_key, {', '.join(columns)},"  # noqa: S608
        f" state, first_at, updated_at) VALUES ({marks})"
    )


def values_of(item: Discrepancy | Adjustment, columns: Sequence[str]) -> tuple[Any, ...]:
    return tuple(
        value.value if isinstance(value, Outcome | Action) else value
        for value in (getattr(item, c) for c in columns)
    )


def run_values(r: ReconciliationReport) -> tuple[Any, ...]:
    return (
        *(r.file_name, r.file_sha256, r.file_lines, r.malformed_lines, r.problem_count),
        *(r.journal_records, r.matched, r.amount_mismatches, r.status_mismatches, r.long),
        *(r.short, json.dumps(r.not_settling, sort_keys=True), r.journal_settled),
        *(r.file_settled, r.adjustments_total, r.claims_total),
    )
