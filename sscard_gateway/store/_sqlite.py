"""``SQLiteJournal``: the default journal, one SQLite file, no server.

Durability is the point (docs/architecture.md principle 4: a request is durable
before it is forwarded, a response before it is returned). The file runs in
WAL mode with ``synchronous=FULL``: every commit fsyncs the write-ahead log,
so a committed batch survives a crash of the process *and* of the machine.
(``NORMAL`` would fsync only at checkpoints: safe against a process crash,
but a power cut could lose the last commits, which here are money already
forwarded.) The fsync is the cost of a commit, which is why writes arrive
in batches (:class:`~sscard_gateway.store.BatchingJournal`): one fsync per
batch, not per request.

One connection serves every thread (``check_same_thread=False``), guarded
by a lock held for one statement group at a time: a write batch, a point
read, or one page of a streaming read. Writes open with ``BEGIN IMMEDIATE``
so a second process writing the same file waits (``busy_timeout``) instead
of failing mid-batch. ``":memory:"`` gives a private in-memory journal for
tests.

The PAN key and data key identifiers are written in ``meta`` when the file
is created; opening it with other keys fails at once with
:class:`~sscard_gateway.errors.JournalKeyError`. Settings
(:class:`~sscard_gateway.store.SetSetting`) are kept in ``meta`` too, as
``setting:<name>``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import JournalClosed, JournalError, JournalKeyError
from ._journal import Journal
from ._ops import (
    AddOwed,
    GroupResult,
    InsertLeg,
    Op,
    OpResult,
    check_ops,
    flatten,
)
from ._records import (
    JournalStatistics,
    LegRecord,
    OwedItem,
    TransactionQuery,
    TransactionRecord,
)
from ._rows import (
    DUE_OWED,
    GET_OWED,
    GET_SETTING,
    GET_TX,
    LAST_LEG_STAN,
    LAST_OWED_STAN,
    LEGS_IN,
    LEGS_OF,
    LIST_OWED,
    NEXT_DUE,
    OWED_NOW,
    OWED_STATUS,
    PAGE_TX,
    SETTING_PREFIX,
    due_where,
    query_where,
    record_from_row,
)
from ._schema import migrate
from ._sealing import PanHasher, PayloadSealer
from ._sqlite_ops import RowCodec, apply_group
from ._states import LegState, OwedStatus

__all__ = ["SQLiteJournal"]


class SQLiteJournal:
    """The default :class:`~sscard_gateway.store.Journal`: one SQLite file.

    Open it once per process and share it; close it (or use it as a
    context manager) when done. Safe to call from several threads.

    Args:
        path: the database file (created with its schema if absent), or
            ``":memory:"`` for a private in-memory journal.
        pan_key: 32 bytes, the key of the PAN hash.
        data_key: 32 bytes, the AES-256 key that seals owed payloads.
        busy_timeout: seconds to wait for another process's write lock.

    Raises:
        JournalKeyError: a key is not 32 bytes, or the file was created
            with another PAN key or data key (the message names which).
        JournalError: the file cannot be opened or is not a journal of a
            known schema version.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        pan_key: bytes,
        data_key: bytes,
        busy_timeout: float = 5.0,
    ) -> None:
        self._pan_hasher = PanHasher(pan_key)
        self._sealer = PayloadSealer(data_key)
        self._codec = RowCodec(self._sealer)
        self._lock = threading.Lock()
        self._path = os.fspath(path)
        try:
            conn = sqlite3.connect(
                self._path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open the journal: {exc}") from exc
        try:
            self._open(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise JournalError(f"cannot open the journal: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        self._conn: sqlite3.Connection | None = conn

    def _open(self, conn: sqlite3.Connection) -> None:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode not in ("wal", "memory"):
            raise JournalError(f"the journal cannot use WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous = FULL")
        migrate(conn)
        expected = {"pan_key_id": self._pan_hasher.key_id, "data_key_id": self._sealer.key_id}
        found = dict(conn.execute("SELECT name, value FROM meta").fetchall())
        for name, key_id in expected.items():
            if name in found and found[name] != key_id:
                what = "PAN key" if name == "pan_key_id" else "data key"
                raise JournalKeyError(
                    f"the journal was created with {what} {found[name]}; the {what} given is "
                    f"{key_id}"
                )
        missing = [(n, v) for n, v in expected.items() if n not in found]
        if missing:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO meta (name, value) VALUES (?, ?)", missing)
            conn.execute("COMMIT")

    # -- life cycle ----------------------------------------------------------

    @property
    def path(self) -> str:
        """The database path as given (``":memory:"`` for an in-memory one)."""
        return self._path

    @property
    def pan_hasher(self) -> PanHasher:
        """The keyed hash and masking for PANs stored in this journal."""
        return self._pan_hasher

    def close(self) -> None:
        """Close the connection (WAL is checkpointed); later calls raise ``JournalClosed``."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> SQLiteJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else "open"
        return f"SQLiteJournal({self._path!r}, {state})"

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JournalClosed("the journal is closed")
        return self._conn

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            conn = self._live()
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise JournalError(f"journal read failed: {exc}") from exc

    # -- writes --------------------------------------------------------------

    def apply(self, ops: Sequence[Op]) -> list[OpResult]:
        """Apply each operation as a group of its own, all in one commit.

        Args:
            ops: the operations; an empty sequence does nothing.

        Returns:
            One result per operation, in order.

        Raises:
            JournalError: the store failed; nothing of ``ops`` was stored.
            JournalClosed: the journal is closed.
            TypeError: an element is not an operation.
        """
        return flatten(self.apply_groups([[op] for op in ops]))

    def apply_groups(self, groups: Sequence[Sequence[Op]]) -> list[GroupResult]:
        """Apply groups of operations in one transaction and commit durably.

        Each group of more than one operation runs inside a savepoint: the
        first operation that returns ``Duplicate``, ``Refused`` or
        ``NotFound`` rolls the group back to it, and the other groups go on.

        Args:
            groups: the groups; empty ones do nothing.

        Returns:
            One :class:`GroupResult` per group, in order.

        Raises:
            JournalError: the store failed; nothing of any group was stored.
            JournalClosed: the journal is closed.
            TypeError: an element is not an operation.
        """
        checked = check_ops(groups)
        if not any(checked):
            self._live()
            return [GroupResult() for _ in checked]
        # Sealing is CPU work: do it before taking the lock.
        sealed = {
            id(op): self._codec.seal(op)
            for group in checked
            for op in group
            if isinstance(op, AddOwed | InsertLeg)
        }
        with self._lock:
            conn = self._live()
            try:
                conn.execute("BEGIN IMMEDIATE")
                results = [apply_group(conn, group, sealed, self._codec) for group in checked]
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback(conn)
                raise JournalError(f"journal write failed: {exc}") from exc
            except BaseException:
                self._rollback(conn)
                raise
        return results

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # report the original error
                conn.execute("ROLLBACK")

    # -- reads ---------------------------------------------------------------

    def setting(self, name: str) -> str | None:
        """:meth:`Journal.setting` (see there)."""
        rows = self._read(GET_SETTING, (SETTING_PREFIX + name,))
        return str(rows[0][0]) if rows else None

    def get_transaction(self, transaction_key: str) -> TransactionRecord | None:
        """:meth:`Journal.get_transaction` (see there)."""
        rows = self._read(GET_TX, (transaction_key,))
        return record_from_row(rows[0]) if rows else None

    def transactions(
        self, query: TransactionQuery | None = None, *, page_size: int = 500
    ) -> Iterator[TransactionRecord]:
        """Stream matching transactions in the order they were journaled.

        Pages of ``page_size`` rows are read by ``seq`` (keyset paging): the
        lock is held for one page at a time and nothing between pages.

        Args:
            query: the conditions; ``None`` streams everything.
            page_size: rows read per page (at least 1).

        Returns:
            An iterator of records.

        Raises:
            ValueError: ``page_size`` is below 1 (raised at once).
            JournalError: the store failed (raised while iterating).
        """
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        where, params = query_where(query)
        return self._pages(PAGE_TX % where, params, page_size)

    def _pages(self, sql: str, params: list[Any], page_size: int) -> Iterator[TransactionRecord]:
        after = 0
        while True:
            rows = self._read(sql, (after, *params, page_size))
            for row in rows:
                yield record_from_row(row[1:])
            if len(rows) < page_size:
                return
            after = rows[-1][0]

    def get_owed(self, id: str) -> OwedItem | None:
        """:meth:`Journal.get_owed` (see there)."""
        rows = self._read(GET_OWED, (id,))
        return self._codec.item(rows[0]) if rows else None

    def due_owed(
        self, now: float, limit: int = 100, *, destinations: Iterable[str] | None = None
    ) -> list[OwedItem]:
        """:meth:`Journal.due_owed` (see there)."""
        names = None if destinations is None else sorted(destinations)
        sql = DUE_OWED % due_where(names)
        rows = self._read(sql, (OWED_STATUS, float(now), *(names or ()), limit))
        return [self._codec.item(row) for row in rows]

    def next_due_at(self, *, destinations: Iterable[str] | None = None) -> float | None:
        """:meth:`Journal.next_due_at` (see there)."""
        names = None if destinations is None else sorted(destinations)
        rows = self._read(NEXT_DUE % due_where(names), (OWED_STATUS, *(names or ())))
        value = rows[0][0]
        return None if value is None else float(value)

    def legs(self, transaction_key: str) -> list[LegRecord]:
        """:meth:`Journal.legs` (see there)."""
        return [self._codec.leg(row) for row in self._read(LEGS_OF, (transaction_key,))]

    def legs_in(self, states: Iterable[LegState], *, limit: int = 10_000) -> list[LegRecord]:
        """:meth:`Journal.legs_in` (see there)."""
        values = sorted(s.value for s in states)
        if not values:
            return []
        rows = self._read(LEGS_IN % ", ".join("?" * len(values)), (*values, limit))
        return [self._codec.leg(row) for row in rows]

    def last_stan(self) -> int:
        """:meth:`Journal.last_stan` (see there)."""
        found = self._read(LAST_LEG_STAN) + self._read(LAST_OWED_STAN)
        if not found:
            return 0
        stan = max(found, key=lambda row: float(row[1]))[0]
        return int(stan) % 1_000_000 if str(stan).isdigit() else 0

    def owed_items(
        self,
        *,
        status: OwedStatus | None = OwedStatus.OWED,
        transaction_key: str | None = None,
        limit: int = 1000,
    ) -> list[OwedItem]:
        """:meth:`Journal.owed_items` (see there)."""
        clauses, params = ["1"], []
        if status is not None:
            clauses.append("status = ?")
            params.append(status.value)
        if transaction_key is not None:
            clauses.append("transaction_key = ?")
            params.append(transaction_key)
        rows = self._read(LIST_OWED % " AND ".join(clauses), (*params, limit))
        return [self._codec.item(row) for row in rows]

    def statistics(self, now: float) -> JournalStatistics:
        """A snapshot of counts, with ages measured at ``now``.

        Counts come from counters kept by triggers; ``due`` and the oldest
        owed age from index ranges: cheap on a large journal.

        Raises:
            JournalError: the store failed.
        """
        with self._lock:
            conn = self._live()
            try:
                counts = dict(conn.execute("SELECT name, n FROM counts").fetchall())
                due, oldest = conn.execute(
                    OWED_NOW, (OWED_STATUS, float(now), OWED_STATUS)
                ).fetchone()
            except sqlite3.Error as exc:
                raise JournalError(f"journal read failed: {exc}") from exc
        return JournalStatistics(
            transactions=sum(n for name, n in counts.items() if name.startswith("transactions:")),
            pending=counts.get("transactions:pending", 0),
            owed=counts.get("owed:owed", 0),
            due=due,
            oldest_owed_age=0.0 if oldest is None else max(0.0, float(now) - oldest),
            done=counts.get("owed:done", 0),
            exceptions=counts.get(f"owed:{OwedStatus.EXCEPTION.value}", 0),
            resolved=counts.get(f"owed:{OwedStatus.RESOLVED.value}", 0),
            legs={state: counts.get(f"legs:{state.value}", 0) for state in LegState},
        )


if TYPE_CHECKING:

    def _is_a_journal(journal: SQLiteJournal) -> Journal:
        return journal  # mypy checks SQLiteJournal against the protocol here
