"""The journal's side of reconciliation: every record of the date, classified and partitioned.

Why two readers: reconciliation reads a settlement date of up to a million
journal records. Through the ``Journal`` interface
(:meth:`~sscard_gateway.store.Journal.transactions`, any journal) each
record becomes a ``TransactionRecord`` first: correct, bounded in memory,
about 10 µs a record. A SQLite journal file can instead be read directly
(read-only, :func:`read_sqlite`) for only the columns needed, by two
processes at once: the helper process (:mod:`._journal_child`) and this
one, sharing the rows by blocks claimed by whoever comes first
(:mod:`._blocks`). That reader uses the journal's **documented** schema
(``docs/journal.md``, version 1: one column per record field) and runs
only when the file says version 1 and has those columns; otherwise the
generic reader runs. SQLite threads would not help: two connections
working at once are slower than one here (SQLite's allocator takes a
global lock).

Both readers classify a record with the same functions
(:func:`~sscard_gateway.clearing.treatment_of`,
:func:`~sscard_gateway.clearing.leg_match_key`): a record with a CUPS leg
goes to its key's partition (``j-NN.bin``, ``jb-NN.bin`` for the second
reader: key, amount, info, see :class:`JournalSide`); a record without one
is only counted, by reason (``no_cups_leg``), except a next-day reversal
(``C3``) of a CUPS transaction, which goes to ``c3-00.bin`` with its
original's key and cash part. For the common record (approved, an ordinary
kind, a CUPS leg) the direct reader selects fewer columns, reads the text
as bytes and builds the key inline (:meth:`JournalSide.add_settling`); a
test holds it equal to the generic reader on every rule and on odd keys.
"""

from __future__ import annotations

import json
import operator
import os
import sqlite3
import urllib.request
import zlib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from ..store import Journal, TransactionQuery, TransactionStatus
from ._blocks import RowBlocks
from ._matching import NOT_SETTLING
from ._partition import PARTITIONS, PartitionWriter, partition_of
from ._rules import ClearingRules, Treatment, leg_match_key, treatment_of, was_approved

__all__ = [
    "JournalSide",
    "read_generic",
    "read_sqlite",
    "seq_bounds",
]

_NO_LEG: Final = "no_cups_leg"
_CASH = operator.itemgetter(4)
_STATUS = {s.value: s for s in TransactionStatus}
_NEEDED = frozenset(
    {"seq", "transaction_key", "kind", "status", "settlement_date", "destination", "cash"}
    | {"upstream_rrn", "upstream_key", "upstream_stan", "original_key"}
)
# the common case (approved, an ordinary kind, a CUPS leg): few columns
_PLAIN = (
    "status = 'approved' AND destination = :up AND coalesce(upstream_key, '') <> ''"
    " AND kind NOT IN (SELECT value FROM json_each(:special))"
)
_RANGE = "settlement_date = :d AND seq >= :lo AND seq < :hi"
# a scan of the rows by number (the block's), read as bytes (no decoding)
_SETTLING = (
    "SELECT transaction_key, upstream_key, coalesce(upstream_stan, ''),"  # noqa: S608
    " coalesce(upstream_rrn, ''), cash"
    f" FROM src.transactions NOT INDEXED WHERE {_RANGE} AND {_PLAIN}"
)
# the date's other records, in one scan (a temporary table: bounded memory);
# the same-day cancellations are among them (their kinds are not ordinary)
_OTHERS = (
    "CREATE TEMP TABLE others AS SELECT transaction_key, kind, status, destination,"  # noqa: S608
    " upstream_key, upstream_stan, upstream_rrn, cash, original_key, response_code"
    f" FROM src.transactions WHERE {_RANGE} AND NOT ({_PLAIN})"
)
_CANCELLED = (
    "CREATE TEMP TABLE cancelled AS SELECT DISTINCT original_key AS k FROM temp.others"
    " WHERE kind IN (SELECT value FROM json_each(:cancelling))"
    " AND status = 'approved' AND coalesce(original_key, '') <> ''"
)
_READ_OTHERS = (
    "SELECT transaction_key, kind, status, destination, upstream_key, upstream_stan,"
    " upstream_rrn, cash,"
    " status = 'reversed' AND (transaction_key IN (SELECT k FROM temp.cancelled)"
    "  OR coalesce(response_code, '') <> '00'), original_key"
    " FROM temp.others ORDER BY rowid"
)
# two index look-ups (one query with both min and max would scan the date)
_BOUNDS = (
    "SELECT (SELECT seq FROM src.transactions WHERE settlement_date = :d ORDER BY seq LIMIT 1),"
    " (SELECT seq FROM src.transactions WHERE settlement_date = :d ORDER BY seq DESC LIMIT 1)"
)
_ORIGINAL = (
    "SELECT settlement_date, destination, upstream_key, upstream_stan, upstream_rrn, cash"
    " FROM src.transactions WHERE transaction_key = ? AND response_code = '00'"
)


class JournalSide:
    """Classifies journal rows into the partitions and counts the rest.

    A keyed record is written as ``(key, amount, info)``
    (:mod:`._matching`): the cash part in fen when it settles, else
    :data:`~._matching.NOT_SETTLING`; ``info`` is the transaction key
    (UTF-8 ``bytes``) when it settles, else ``(transaction key, cash part,
    reason)``.

    Args:
        folder: the work folder.
        settlement_date: ``YYYYMMDD``.
        rules: the kinds and the upstream name.
        part: a suffix of the partition files, when several readers share
            the date (``j<part>-NN.bin``, ``c3<part>-00.bin``).
    """

    def __init__(
        self,
        folder: Path,
        settlement_date: str,
        rules: ClearingRules,
        *,
        part: str = "",
    ) -> None:
        self.date = settlement_date
        self.rules = rules
        self.cancelling = rules.cancelling_kinds
        self.keyed = PartitionWriter(folder, "j" + part, width=3)
        self.c3 = PartitionWriter(folder, "c3" + part, width=4, partitions=1)
        self.records = 0
        self.settled = 0
        self.unkeyed: Counter[str] = Counter()
        self._acquirers: dict[bytes, bytes] = {}  # as they are -> as in a key

    def add(self, row: tuple[Any, ...], original: tuple[Any, ...] | None) -> None:
        """One record, by the rules of :mod:`._rules`.

        Args:
            row: (transaction key, kind, status value, destination, upstream
                key, upstream STAN, upstream RRN, cash, reversed the same day).
            original: (settlement date, destination, upstream key, upstream
                STAN, upstream RRN, cash) of a reversal's original, if found.
        """
        tkey, kind, status, destination, up_key, up_stan, up_rrn, cash, same_day = row
        rules = self.rules
        how = treatment_of(
            kind,
            _STATUS[status],
            self.date,
            rules=rules,
            reversed_same_day=bool(same_day),
            original_date=None if original is None else original[0],
        )
        self.records += 1
        key = leg_match_key(destination, up_key, up_stan, up_rrn, rules)
        if key is not None:
            raw = key.encode("ascii", "replace")
            if how is Treatment.SETTLES:
                self.settled += cash
                self.keyed.add(partition_of(raw), raw, cash, tkey.encode("utf-8"))
            else:
                self.keyed.add(partition_of(raw), raw, NOT_SETTLING, (tkey, cash, how.value))
            return
        if how is Treatment.NEXT_DAY_REVERSAL and original is not None:
            okey = leg_match_key(original[1], original[2], original[3], original[4], rules)
            if okey is not None:
                self.unkeyed[how.value] += 1
                self.c3.add(0, tkey, okey, original[5], cash)
                return
        self.unkeyed[_NO_LEG] += 1

    def add_settling(self, rows: list[tuple[Any, ...]]) -> None:
        """Records known to be approved, of an ordinary kind, with a CUPS leg.

        Such a record settles and goes to its key's partition: what
        :meth:`add` does with it, with :func:`~sscard_gateway.clearing.leg_match_key`
        inlined on bytes for the usual upstream key (``F7|F11|F32[|F33]``,
        its F11 the upstream STAN, all ASCII); a test holds the two equal.

        Args:
            rows: (transaction key, upstream key, upstream STAN, upstream
                RRN, cash part), the text as UTF-8 ``bytes``.
        """
        buffers, crc32, partitions = self.keyed.buffers, zlib.crc32, PARTITIONS
        acquirers = self._acquirers
        for tkey, up_key, stan, rrn, cash in rows:
            parts = up_key.split(b"|", 3)
            if len(parts) > 2 and parts[1] == stan:
                acquirer = acquirers.get(parts[2])
                if acquirer is None:
                    acquirer = self._acquirer(parts[2])
                key = b"|".join((rrn.strip(b" "), parts[0], stan, acquirer))
                if not key.isascii():
                    key = self._key(up_key, stan, rrn)
            else:
                key = self._key(up_key, stan, rrn)
            buffers[crc32(key) % partitions] += (key, cash, tkey)
        self.keyed.flush_full()
        self.settled += sum(map(_CASH, rows))
        self.records += len(rows)

    def _acquirer(self, raw: bytes) -> bytes:
        acquirer = (b"00000000000" + raw.strip(b" "))[-11:]
        if len(self._acquirers) < 4096:
            self._acquirers[raw] = acquirer
        return acquirer

    def _key(self, up_key: bytes, stan: bytes, rrn: bytes) -> bytes:
        """The key as :meth:`add` builds it (an unusual upstream key)."""
        text = [v.decode("utf-8", "replace") for v in (up_key, stan, rrn)]
        key = leg_match_key(self.rules.upstream, text[0], text[1], text[2], self.rules)
        return (key or "").encode("ascii", "replace")

    def close(self) -> dict[str, Any]:
        """Finish the files; the summary (records, settled, unkeyed counts)."""
        self.keyed.close()
        self.c3.close()
        return {"records": self.records, "settled": self.settled, "unkeyed": dict(self.unkeyed)}


def read_generic(
    journal: Journal,
    folder: Path,
    settlement_date: str,
    rules: ClearingRules,
    *,
    page_size: int = 2000,
) -> dict[str, Any]:
    """Read the date through the ``Journal`` interface (any journal).

    Args:
        journal: the journal.
        folder: the work folder.
        settlement_date: ``YYYYMMDD``.
        rules: the kinds and the upstream name.
        page_size: journal rows per page.

    Returns:
        The summary (see :meth:`JournalSide.close`).

    Raises:
        JournalError: the journal failed.
    """
    cancelled = sqlite3.connect("")  # "": a private temporary file, deleted at close
    try:
        cancelled.execute("CREATE TABLE k (k TEXT PRIMARY KEY) WITHOUT ROWID")
        query = TransactionQuery(settlement_date=settlement_date, kinds=rules.cancelling_kinds)
        cancelled.executemany(
            "INSERT OR IGNORE INTO k VALUES (?)",
            (
                (r.original_key,)
                for r in journal.transactions(query, page_size=page_size)
                if r.status is TransactionStatus.APPROVED and r.original_key
            ),
        )
        side = JournalSide(folder, settlement_date, rules)
        everything = TransactionQuery(settlement_date=settlement_date)
        for r in journal.transactions(everything, page_size=page_size):
            original = None
            if r.kind in rules.cancelling_kinds and r.original_key:
                o = journal.get_transaction(r.original_key)
                if o is not None and was_approved(o.response_code):
                    original = (
                        o.settlement_date,
                        o.destination,
                        o.upstream_key,
                        o.upstream_stan,
                        o.upstream_rrn,
                        o.amount.cash,
                    )
            same_day = r.status is TransactionStatus.REVERSED and (
                not was_approved(r.response_code)
                or cancelled.execute("SELECT 1 FROM k WHERE k = ?", (r.transaction_key,)).fetchone()
                is not None
            )
            side.add(
                (
                    r.transaction_key,
                    r.kind,
                    r.status.value,
                    r.destination,
                    r.upstream_key,
                    r.upstream_stan,
                    r.upstream_rrn,
                    r.amount.cash,
                    same_day,
                ),
                original,
            )
        return side.close()
    finally:
        cancelled.close()


_READABLE = frozenset({1, 2})


def _open_sqlite(path: str) -> sqlite3.Connection | None:
    uri = "file:" + urllib.request.pathname2url(os.path.abspath(path)) + "?mode=ro"
    try:
        conn = sqlite3.connect(":memory:", uri=True)
        conn.execute("ATTACH DATABASE ? AS src", (uri,))
        version = conn.execute("SELECT version FROM src.schema_version").fetchone()
        columns = {row[1] for row in conn.execute("PRAGMA src.table_info(transactions)")}
    except sqlite3.Error:
        return None
    # versions 1 and 2 hold the same transactions table (2 added legs and owed columns)
    if version is None or version[0] not in _READABLE or not columns >= _NEEDED:
        conn.close()
        return None
    return conn


def seq_bounds(journal_file: str, settlement_date: str) -> tuple[int, int] | None:
    """The lowest and highest row number (``seq``) of the date's rows.

    Args:
        journal_file: the journal's file.
        settlement_date: ``YYYYMMDD``.

    Returns:
        ``(first, last)``, or ``None`` (not a journal of schema version 1,
        or no records that day).
    """
    conn = _open_sqlite(journal_file)
    if conn is None:
        return None
    try:
        first, last = conn.execute(_BOUNDS, {"d": settlement_date}).fetchone()
        return None if first is None else (int(first), int(last))
    finally:
        conn.close()


def read_sqlite(
    journal_file: str,
    folder: str,
    settlement_date: str,
    rules: ClearingRules,
    *,
    part: str = "",
    others: bool = True,
    blocks: RowBlocks | None = None,
    backwards: bool = False,
) -> dict[str, Any] | None:
    """Read the date from a SQLite journal file directly (read-only).

    Runs in this process, or in a child (:func:`start_child`). Two readers
    share a date through ``blocks`` (:mod:`._blocks`), each with its own
    ``part``: the ordinary settling records of each block go to whoever
    claims it; the other records (kept apart by SQL: declined, reversed,
    inquiries, reversals...) are read by one of them, ``others=True``.

    Args:
        journal_file: the journal's file.
        folder: the work folder.
        settlement_date: ``YYYYMMDD``.
        rules: the kinds and the upstream name.
        part: the suffix of this reader's partition files.
        others: read the date's records that are not ordinary settling ones.
        blocks: claim the ordinary records block by block (all of them,
            ``None``).
        backwards: claim from the last block down.

    Returns:
        The summary (see :meth:`JournalSide.close`), or ``None`` when the
        file is not a journal of schema version 1 (use :func:`read_generic`).

    Raises:
        sqlite3.Error: the file could not be read.
    """
    conn = _open_sqlite(journal_file)
    if conn is None:
        return None
    try:
        params = {
            "d": settlement_date,
            "lo": 0,
            "hi": 1 << 62,
            "up": rules.upstream,
            "cancelling": json.dumps(sorted(rules.cancelling_kinds)),
            "special": json.dumps(sorted(rules.cancelling_kinds | rules.inquiry_kinds)),
        }
        side = JournalSide(Path(folder), settlement_date, rules, part=part)
        if others:  # first: the claims then even out what is left
            conn.execute(_OTHERS, params)
            conn.execute(_CANCELLED, params)
            conn.execute("CREATE INDEX temp.cancelled_k ON cancelled (k)")
            cursor = conn.execute(_READ_OTHERS)
            while rows := cursor.fetchmany(4096):
                for row in rows:
                    original = None
                    if row[1] in side.cancelling and row[9]:
                        original = conn.execute(_ORIGINAL, (row[9],)).fetchone()
                    side.add(row[:9], original)
        if blocks is None:
            bounds = conn.execute(_BOUNDS, {"d": settlement_date}).fetchone()
            ranges: Iterable[tuple[int, int]] = [(bounds[0] or 0, (bounds[1] or 0) + 1)]
        else:
            ranges = blocks.take(backwards=backwards)
        conn.text_factory = bytes
        for params["lo"], params["hi"] in ranges:
            cursor = conn.execute(_SETTLING, params)
            while rows := cursor.fetchmany(4096):
                side.add_settling(rows)
        return side.close()
    finally:
        conn.close()
