"""The journal's side of reconciliation: every record of the date, classified and partitioned.

Why two readers: reconciliation reads a settlement date of up to a million
journal records. Through the ``Journal`` interface
(:meth:`~sscard_gateway.store.Journal.transactions`, any journal) each
record becomes a ``TransactionRecord`` first: correct, bounded in memory,
about 10 µs a record. A SQLite journal file can instead be read directly
(read-only) for only the columns needed: most of the date's rows in a
child process (:func:`start_child`) while the main process reads
UnionPay's file, the rest in the main process afterwards (split by row
number, :func:`split_seq`), so that both finish together. That reader uses
the journal's **documented** schema
(``docs/journal.md``, version 1: one column per record field) and runs
only when the file says version 1 and has those columns; otherwise the
generic reader runs. SQLite threads would not help: two connections
working at once are slower than one here (SQLite's allocator takes a
global lock).

Both readers classify a record with the same functions
(:func:`~sscard_gateway.clearing.treatment_of`,
:func:`~sscard_gateway.clearing.leg_match_key`): a record with a CUPS leg
goes to its key's partition (``j-NN.bin``, ``jb-NN.bin`` for the second
reader: key, transaction key, cash part, settles, reason); a record without
one is only counted, by reason (``no_cups_leg``), except a next-day
reversal (``C3``) of a CUPS transaction, which goes to ``c3-00.bin`` with
its original's key and cash part. For the common record (approved, an
ordinary kind, a CUPS leg) the direct reader selects fewer columns and
inlines the key (:meth:`JournalSide.add_settling`).
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
import urllib.request
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from ..store import Journal, TransactionQuery, TransactionStatus
from ._partition import CHUNK, PARTITIONS, PartitionWriter, partition_of
from ._rules import ClearingRules, Treatment, leg_match_key, treatment_of

__all__ = [
    "JournalSide",
    "read_generic",
    "read_sqlite",
    "rules_to_json",
    "split_seq",
    "start_child",
]

_NO_LEG: Final = "no_cups_leg"
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
_SETTLING = (
    "SELECT transaction_key, upstream_key, upstream_stan, upstream_rrn, cash"  # noqa: S608
    f" FROM src.transactions WHERE {_RANGE} AND {_PLAIN}"
)
_OTHERS = (
    "SELECT transaction_key, kind, status, destination, upstream_key, upstream_stan,"  # noqa: S608
    " upstream_rrn, cash,"
    " status = 'reversed' AND transaction_key IN (SELECT k FROM temp.cancelled), original_key"
    f" FROM src.transactions WHERE {_RANGE} AND NOT ({_PLAIN})"
)
_SPLIT = "SELECT seq FROM src.transactions WHERE settlement_date = ? ORDER BY seq LIMIT 1 OFFSET ?"
_ORIGINAL = (
    "SELECT settlement_date, destination, upstream_key, upstream_stan, upstream_rrn, cash"
    " FROM src.transactions WHERE transaction_key = ?"
)
_CANCELLED = (
    "CREATE TEMP TABLE cancelled AS SELECT DISTINCT original_key AS k FROM src.transactions"
    " WHERE settlement_date = :d AND kind IN (SELECT value FROM json_each(:cancelling))"
    " AND status = 'approved' AND coalesce(original_key, '') <> ''"
)


class JournalSide:
    """Classifies journal rows into the partitions and counts the rest.

    Args:
        folder: the work folder.
        settlement_date: ``YYYYMMDD``.
        rules: the kinds and the upstream name.
        part: a suffix of the partition files, when several readers share
            the date (``j<part>-NN.bin``, ``c3<part>-00.bin``).
    """

    def __init__(
        self, folder: Path, settlement_date: str, rules: ClearingRules, *, part: str = ""
    ) -> None:
        self.date = settlement_date
        self.rules = rules
        self.cancelling = rules.cancelling_kinds
        self.keyed = PartitionWriter(folder, "j" + part)
        self.c3 = PartitionWriter(folder, "c3" + part, partitions=1)
        self.records = 0
        self.settled = 0
        self.unkeyed: Counter[str] = Counter()

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
            settles = how is Treatment.SETTLES
            if settles:
                self.settled += cash
            raw = key.encode("ascii", "replace")
            self.keyed.add(partition_of(raw), (raw, tkey, cash, settles, how.value))
            return
        if how is Treatment.NEXT_DAY_REVERSAL and original is not None:
            okey = leg_match_key(original[1], original[2], original[3], original[4], rules)
            if okey is not None:
                self.unkeyed[how.value] += 1
                self.c3.add(0, (tkey, okey, original[5], cash))
                return
        self.unkeyed[_NO_LEG] += 1

    def add_settling(self, rows: list[tuple[Any, ...]]) -> None:
        """Records known to be approved, of an ordinary kind, with a CUPS leg.

        Such a record settles and goes to its key's partition: what
        :meth:`add` does with it, with :func:`~sscard_gateway.clearing.leg_match_key`
        inlined (a million calls cost seconds; a test holds the two equal).

        Args:
            rows: (transaction key, upstream key, upstream STAN, upstream RRN, cash).
        """
        buffers, flush = self.keyed.buffers, self.keyed.flush
        crc32, zeros, partitions, chunk = zlib.crc32, "00000000000", PARTITIONS, CHUNK
        settled = 0
        for tkey, up_key, up_stan, up_rrn, cash in rows:
            f7, _, rest = up_key.partition("|")
            stan = up_stan or ""
            acquirer = rest[len(stan) + 1 :].partition("|")[0]
            raw = (
                f"{up_rrn.strip(' ') if up_rrn else ''}|{f7}|{stan}|"
                f"{(zeros + acquirer.strip(' '))[-11:]}"
            ).encode("ascii", "replace")
            partition = crc32(raw) % partitions
            buffer = buffers[partition]
            buffer.append((raw, tkey, cash, True, "settles"))
            if len(buffer) >= chunk:
                flush(partition)
            settled += cash
        self.settled += settled
        self.records += len(rows)
        self.keyed.count += len(rows)

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
                if o is not None:
                    original = (
                        o.settlement_date,
                        o.destination,
                        o.upstream_key,
                        o.upstream_stan,
                        o.upstream_rrn,
                        o.amount.cash,
                    )
            same_day = r.status is TransactionStatus.REVERSED and (
                cancelled.execute("SELECT 1 FROM k WHERE k = ?", (r.transaction_key,)).fetchone()
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


def _open_sqlite(path: str) -> sqlite3.Connection | None:
    uri = "file:" + urllib.request.pathname2url(os.path.abspath(path)) + "?mode=ro"
    try:
        conn = sqlite3.connect(":memory:", uri=True)
        conn.execute("ATTACH DATABASE ? AS src", (uri,))
        version = conn.execute("SELECT version FROM src.schema_version").fetchone()
        columns = {row[1] for row in conn.execute("PRAGMA src.table_info(transactions)")}
    except sqlite3.Error:
        return None
    if version is None or version[0] != 1 or not columns >= _NEEDED:
        conn.close()
        return None
    return conn


def split_seq(journal_file: str, settlement_date: str, share: Callable[[int], float]) -> int | None:
    """The row number (``seq``) that leaves ``share(rows)`` of the date's rows before it.

    Args:
        journal_file: the journal's file.
        settlement_date: ``YYYYMMDD``.
        share: given the date's number of rows, the part (0 to 1) to put
            before the split.

    Returns:
        The ``seq`` to split at, or ``None`` (not a journal of schema
        version 1, or no records that day).
    """
    conn = _open_sqlite(journal_file)
    if conn is None:
        return None
    try:
        (count,) = conn.execute(
            "SELECT count(*) FROM src.transactions WHERE settlement_date = ?", (settlement_date,)
        ).fetchone()
        if not count:
            return None
        offset = min(int(count * share(count)), count - 1)
        row = conn.execute(_SPLIT, (settlement_date, offset)).fetchone()
        return None if row is None else int(row[0])
    finally:
        conn.close()


def read_sqlite(
    journal_file: str,
    folder: str,
    settlement_date: str,
    rules: ClearingRules,
    *,
    seq_from: int = 0,
    seq_to: int = 1 << 62,
    part: str = "",
) -> dict[str, Any] | None:
    """Read the date from a SQLite journal file directly (read-only).

    Runs in this process, or in a child (:func:`start_child`); two readers
    may share a date by row numbers (``seq``), each with its own ``part``.

    Args:
        journal_file: the journal's file.
        folder: the work folder.
        settlement_date: ``YYYYMMDD``.
        rules: the kinds and the upstream name.
        seq_from, seq_to: only rows with ``seq_from <= seq < seq_to``.
        part: the suffix of this reader's partition files.

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
            "lo": seq_from,
            "hi": seq_to,
            "up": rules.upstream,
            "cancelling": json.dumps(sorted(rules.cancelling_kinds)),
            "special": json.dumps(sorted(rules.cancelling_kinds | rules.inquiry_kinds)),
        }
        conn.execute(_CANCELLED, params)
        conn.execute("CREATE INDEX temp.cancelled_k ON cancelled (k)")
        side = JournalSide(Path(folder), settlement_date, rules, part=part)
        cursor = conn.execute(_SETTLING, params)
        while rows := cursor.fetchmany(4096):
            side.add_settling(rows)
        cursor = conn.execute(_OTHERS, params)
        while rows := cursor.fetchmany(4096):
            for row in rows:
                original = None
                if row[1] in side.cancelling and row[9]:
                    original = conn.execute(_ORIGINAL, (row[9],)).fetchone()
                side.add(row[:9], original)
        return side.close()
    finally:
        conn.close()


def rules_to_json(rules: ClearingRules) -> str:
    """The rules as JSON, for the child's command line."""
    return json.dumps(
        {
            "inquiry_kinds": sorted(rules.inquiry_kinds),
            "reversal_kinds": sorted(rules.reversal_kinds),
            "void_kinds": sorted(rules.void_kinds),
            "credit_kinds": sorted(rules.credit_kinds),
            "upstream": rules.upstream,
        }
    )


def start_child(
    journal_file: str,
    folder: str,
    settlement_date: str,
    rules: ClearingRules,
    *,
    seq_to: int = 1 << 62,
) -> subprocess.Popen[bytes]:
    """Start :func:`read_sqlite` in a child Python process (``python -m`` this module).

    A plain child process rather than :mod:`multiprocessing`: it never
    re-imports the caller's main module, so a script without an
    ``if __name__ == "__main__"`` guard works too.

    Returns:
        The process; its standard output is the summary as JSON (``null``
        when the file is not a journal of schema version 1).
    """
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (root, env.get("PYTHONPATH"))))
    return subprocess.Popen(  # noqa: S603 - this interpreter, this module, our arguments
        [
            sys.executable,
            "-m",
            __name__,
            journal_file,
            folder,
            settlement_date,
            rules_to_json(rules),
            str(seq_to),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def _child_main(argv: list[str]) -> int:
    journal_file, folder, settlement_date, rules_json, seq_to = argv
    rules = ClearingRules(**json.loads(rules_json))
    summary = read_sqlite(journal_file, folder, settlement_date, rules, seq_to=int(seq_to))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if summary is not None:
        summary["peak_rss_kib"] = peak
    sys.stdout.write(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
