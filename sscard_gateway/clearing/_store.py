"""Where reconciliation keeps its results, so that running it again changes nothing.

Why its own schema in the journal's file: the results are evidence beside
the journal they were computed from (one file to keep and back up), yet
the journal's schema belongs to the journal (``docs/journal.md``). The
store therefore opens its own connection on the same file (or any other
file, e.g. next to a PostgreSQL journal), with its own tables, all named
``reconciliation_*``, and its own version table; it never reads or writes
the journal's tables.

Idempotent by (settlement date, match key): saving the same findings
again leaves every row as it was (no timestamp moves) and reports
``StoreChanges(0, 0, 0)``. A discrepancy an earlier run found and this one
does not (a late record arrived, a corrected file) is kept with state
``cleared``: an adjustment may already have been acted on. Writes go in
short transactions of at most ``chunk`` rows, so a gateway writing the
same file waits milliseconds, not the whole reconciliation.

Schema version 1: ``reconciliation_runs`` (one summary row per date),
``reconciliation_discrepancies`` and ``reconciliation_adjustments`` (one
row per date and match key, with ``state`` open/cleared, ``first_at`` and
``updated_at``), ``reconciliation_problems`` (the file's bad lines, per
date, line and field).
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ..errors import ClearingError
from ._acom import AcomProblem
from ._results import (
    Action,
    Adjustment,
    Discrepancy,
    Outcome,
    ReconciliationReport,
    StoreChanges,
)
from ._store_schema import (
    A_COLUMNS,
    ADJUSTMENTS,
    D_COLUMNS,
    DISCREPANCIES,
    RUN_COLUMNS,
    SCHEMA,
    SCHEMA_VERSION,
    insert_sql,
    run_values,
    values_of,
)

__all__ = ["ReconciliationStore"]


class ReconciliationStore:
    """Reconciliation results in a SQLite file (the journal's, by default).

    Use it from one thread; close it (or use it as a context manager).

    Args:
        path: the SQLite file; the journal's file is the usual choice.
        busy_timeout: seconds to wait for another writer (the gateway).
        chunk: rows written per transaction.

    Raises:
        ClearingError: the file cannot be opened, or its reconciliation
            schema is newer than this library's.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, busy_timeout: float = 5.0, chunk: int = 2000
    ) -> None:
        self.path = os.fspath(path)
        self.chunk = chunk
        try:
            self._db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except sqlite3.Error as exc:
            raise ClearingError(f"cannot open the reconciliation store: {exc}") from exc

    def _migrate(self) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS reconciliation_schema_version"
                " (version INTEGER NOT NULL)"
            )
            row = db.execute("SELECT version FROM reconciliation_schema_version").fetchone()
            if row is not None and row[0] > SCHEMA_VERSION:
                raise ClearingError(
                    f"the reconciliation schema version {row[0]} is newer than this "
                    f"library's ({SCHEMA_VERSION}); upgrade sscard_gateway"
                )
            if row is None:
                for statement in SCHEMA:
                    db.execute(statement)
                db.execute(
                    "INSERT INTO reconciliation_schema_version VALUES (?)", (SCHEMA_VERSION,)
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def __enter__(self) -> ReconciliationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._db.close()

    # -- writing ----------------------------------------------------------------

    def _upsert(
        self,
        table: str,
        columns: Sequence[str],
        date: str,
        key: str,
        values: tuple[Any, ...],
        now: float,
        changes: list[int],
    ) -> None:
        db = self._db
        where = "settlement_date = ? AND match_key = ?"
        cols = ", ".join(columns)
        row = db.execute(f"SELECT {cols}, state FROM {table} WHERE {where}", (date, key)).fetchone()  # noqa: S608
        if row is None:
            db.execute(insert_sql(table, columns), (date, key, *values, "open", now, now))
            changes[0] += 1
        elif tuple(row) != (*values, "open"):
            sets = ", ".join(f"{c} = ?" for c in columns)
            db.execute(
                f"UPDATE {table} SET {sets}, state = 'open', updated_at = ? WHERE {where}",  # noqa: S608
                (*values, now, date, key),
            )
            changes[1] += 1
        db.execute("INSERT OR IGNORE INTO temp.seen VALUES (?)", (key,))

    def _insert(self, date: str, chunk: list[tuple[Discrepancy, Adjustment]], now: float) -> bool:
        """Insert a chunk of a new date's findings; ``False`` (undone) on a key twice."""
        db = self._db
        db.execute("SAVEPOINT chunk")
        try:
            for table, columns, which in (
                (DISCREPANCIES, D_COLUMNS, 0),
                (ADJUSTMENTS, A_COLUMNS, 1),
            ):
                db.executemany(
                    insert_sql(table, columns),
                    (
                        (
                            date,
                            pair[which].match_key,
                            *values_of(pair[which], columns),
                            "open",
                            now,
                            now,
                        )
                        for pair in chunk
                    ),
                )
        except sqlite3.IntegrityError:
            db.execute("ROLLBACK TO chunk")
            db.execute("RELEASE chunk")
            return False
        db.execute("RELEASE chunk")
        return True

    def record_discrepancies(
        self,
        settlement_date: str,
        findings: Iterable[tuple[Discrepancy, Adjustment]],
        *,
        now: float,
    ) -> StoreChanges:
        """Store a date's discrepancies and adjustments; clear those not found again.

        Args:
            settlement_date: ``YYYYMMDD``.
            findings: every discrepancy of the date with its adjustment (it
                may be a generator: it is consumed in chunks).
            now: epoch seconds, for ``first_at`` / ``updated_at``.

        Returns:
            What changed.

        Raises:
            ClearingError: the store failed.
        """
        db = self._db
        changes = [0, 0, 0]
        try:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS seen (k TEXT PRIMARY KEY) WITHOUT ROWID")
            db.execute("DELETE FROM temp.seen")
            # a date seen for the first time is written with plain inserts (a key
            # twice is not expected; if it comes, its chunk is upserted instead)
            fresh = all(
                db.execute(
                    f"SELECT 1 FROM {table} WHERE settlement_date = ? LIMIT 1",  # noqa: S608
                    (settlement_date,),
                ).fetchone()
                is None
                for table in (DISCREPANCIES, ADJUSTMENTS)
            )
            pending = iter(findings)
            while chunk := list(itertools.islice(pending, self.chunk)):
                db.execute("BEGIN IMMEDIATE")
                if fresh and self._insert(settlement_date, chunk, now):
                    changes[0] += 2 * len(chunk)
                else:
                    for discrepancy, adjustment in chunk:
                        for table, columns, item in (
                            (DISCREPANCIES, D_COLUMNS, discrepancy),
                            (ADJUSTMENTS, A_COLUMNS, adjustment),
                        ):
                            values = values_of(item, columns)
                            self._upsert(
                                table,
                                columns,
                                settlement_date,
                                item.match_key,
                                values,
                                now,
                                changes,
                            )
                db.execute("COMMIT")
            if not fresh:  # the date's earlier findings not found again are cleared
                db.execute("BEGIN IMMEDIATE")
                for table in (DISCREPANCIES, ADJUSTMENTS):
                    cursor = db.execute(
                        f"UPDATE {table} SET state = 'cleared', updated_at = ? WHERE"  # noqa: S608
                        " settlement_date = ? AND state = 'open' AND match_key NOT IN"
                        " (SELECT k FROM temp.seen)",
                        (now, settlement_date),
                    )
                    changes[2] += cursor.rowcount
                db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise ClearingError(f"the reconciliation store failed: {exc}") from exc
            raise
        return StoreChanges(inserted=changes[0], updated=changes[1], cleared=changes[2])

    def record_run(
        self, report: ReconciliationReport, problems: Sequence[AcomProblem], *, now: float
    ) -> StoreChanges:
        """Store a date's summary and the file's problems (replacing the previous ones).

        Args:
            report: the summary (its ``changes`` are not stored).
            problems: the file's problems kept by the run.
            now: epoch seconds.

        Returns:
            What changed.

        Raises:
            ClearingError: the store failed.
        """
        db, date = self._db, report.settlement_date
        inserted = updated = cleared = 0
        values = run_values(report)
        cols = ", ".join(RUN_COLUMNS)
        try:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                f"SELECT {cols} FROM reconciliation_runs WHERE settlement_date = ?",  # noqa: S608
                (date,),
            ).fetchone()
            if row is None:
                marks = ", ".join("?" * (len(RUN_COLUMNS) + 3))
                db.execute(
                    f"INSERT INTO reconciliation_runs (settlement_date, {cols}, first_at,"  # noqa: S608
                    f" updated_at) VALUES ({marks})",
                    (date, *values, now, now),
                )
                inserted += 1
            elif tuple(row) != values:
                sets = ", ".join(f"{c} = ?" for c in RUN_COLUMNS)
                db.execute(
                    f"UPDATE reconciliation_runs SET {sets}, updated_at = ?"  # noqa: S608
                    " WHERE settlement_date = ?",
                    (*values, now, date),
                )
                updated += 1
            old = {
                (line, field): problem
                for line, field, problem in db.execute(
                    "SELECT line, field, problem FROM reconciliation_problems"
                    " WHERE settlement_date = ?",
                    (date,),
                )
            }
            new = {(p.line, p.field): p.problem for p in problems}
            for (line, field), problem in new.items():
                if old.get((line, field)) == problem:
                    continue
                inserted += (line, field) not in old
                updated += (line, field) in old
                db.execute(
                    "INSERT OR REPLACE INTO reconciliation_problems VALUES (?, ?, ?, ?)",
                    (date, line, field, problem),
                )
            for line, field in old.keys() - new.keys():
                db.execute(
                    "DELETE FROM reconciliation_problems"
                    " WHERE settlement_date = ? AND line = ? AND field = ?",
                    (date, line, field),
                )
                cleared += 1
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise ClearingError(f"the reconciliation store failed: {exc}") from exc
        return StoreChanges(inserted=inserted, updated=updated, cleared=cleared)

    # -- reading ----------------------------------------------------------------

    def run(self, settlement_date: str) -> ReconciliationReport | None:
        """The stored summary of a date, or ``None``.

        Args:
            settlement_date: ``YYYYMMDD``.

        Returns:
            The report as last saved (``changes`` zero; the first 1,000 problems).
        """
        cols = ", ".join(RUN_COLUMNS)
        row = self._db.execute(
            f"SELECT {cols} FROM reconciliation_runs WHERE settlement_date = ?",  # noqa: S608
            (settlement_date,),
        ).fetchone()
        if row is None:
            return None
        values = dict(zip(RUN_COLUMNS, row, strict=True))
        values["not_settling"] = json.loads(values["not_settling"])
        return ReconciliationReport(
            settlement_date=settlement_date,
            problems=tuple(self.problems(settlement_date, limit=1000)),
            **values,
        )

    def dates(self) -> list[str]:
        """Settlement dates with a stored reconciliation, in order."""
        rows = self._db.execute("SELECT settlement_date FROM reconciliation_runs ORDER BY 1")
        return [r[0] for r in rows]

    def problems(self, settlement_date: str, *, limit: int = 1 << 62) -> list[AcomProblem]:
        """The file's stored problems for a date, by line.

        Args:
            settlement_date: ``YYYYMMDD``.
            limit: at most this many.

        Returns:
            The problems.
        """
        rows = self._db.execute(
            "SELECT line, field, problem FROM reconciliation_problems WHERE settlement_date = ?"
            " ORDER BY line, field LIMIT ?",
            (settlement_date, limit),
        )
        return [AcomProblem(line=a, field=b, problem=c) for a, b, c in rows]

    def _rows(self, table: str, columns: Sequence[str], date: str, cleared: bool) -> Iterator[Any]:
        state = "" if cleared else " AND state = 'open'"
        cursor = self._db.execute(
            f"SELECT match_key, {', '.join(columns)} FROM {table}"  # noqa: S608
            f" WHERE settlement_date = ?{state} ORDER BY outcome, match_key",
            (date,),
        )
        while rows := cursor.fetchmany(1000):
            yield from rows

    def discrepancies(
        self, settlement_date: str, *, include_cleared: bool = False
    ) -> Iterator[Discrepancy]:
        """Stream a date's discrepancies, by outcome and match key.

        Args:
            settlement_date: ``YYYYMMDD``.
            include_cleared: also those a later run no longer found.

        Returns:
            An iterator (bounded memory).
        """
        for row in self._rows(DISCREPANCIES, D_COLUMNS, settlement_date, include_cleared):
            values = dict(zip(("match_key", *D_COLUMNS), row, strict=True))
            values["outcome"] = Outcome(values["outcome"])
            yield Discrepancy(settlement_date=settlement_date, **values)

    def adjustments(
        self, settlement_date: str, *, include_cleared: bool = False
    ) -> Iterator[Adjustment]:
        """Stream a date's adjustments, by outcome and match key.

        Args:
            settlement_date: ``YYYYMMDD``.
            include_cleared: also those a later run no longer found.

        Returns:
            An iterator (bounded memory).
        """
        for key, outcome, action, amount, note in self._rows(
            ADJUSTMENTS, A_COLUMNS, settlement_date, include_cleared
        ):
            yield Adjustment(
                settlement_date=settlement_date,
                match_key=key,
                outcome=Outcome(outcome),
                action=Action(action),
                amount=amount,
                note=note,
            )
