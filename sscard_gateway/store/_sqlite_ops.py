"""How the SQLite journal applies one group of operations, and reads rows back into values.

Why a module of its own: :mod:`._sqlite` owns the connection, its lock and
the transaction around a batch; this is the part that runs inside that
transaction — a savepoint per group, one statement per operation, the
compare-and-set updates, and the sealing of payloads (owed items and legs)
bound to the row that holds them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from ..errors import JournalKeyError
from ._ops import (
    STOPPERS,
    AddOwed,
    Duplicate,
    GroupResult,
    InsertLeg,
    InsertTransaction,
    NotFound,
    Op,
    OpResult,
    Refused,
    SetSetting,
    Setting,
    UpdateLeg,
    UpdateOwed,
    UpdateTransaction,
)
from ._records import LegRecord, OwedItem
from ._rows import (
    GET_LEG,
    GET_OWED,
    GET_TX,
    INSERT_LEG,
    INSERT_OWED,
    INSERT_TX,
    LEG_UPDATABLE,
    OWED_UPDATABLE,
    SET_SETTING,
    SETTING_PREFIX,
    TX_UPDATABLE,
    cas_update,
    column_value,
    leg_associated_data,
    leg_from_row,
    leg_row,
    owed_associated_data,
    owed_item,
    owed_values,
    record_from_row,
    record_row,
)
from ._sealing import PayloadSealer

__all__ = ["RowCodec", "apply_group"]


class RowCodec:
    """Seals payloads for their rows and opens them again (owed items and legs)."""

    def __init__(self, sealer: PayloadSealer) -> None:
        self._sealer = sealer

    def seal(self, op: AddOwed | InsertLeg) -> bytes:
        """The sealed payload of an operation that stores one."""
        if isinstance(op, InsertLeg):
            leg = op.leg
            associated = leg_associated_data(leg.leg_id, leg.destination, leg.transaction_key)
            return self._sealer.seal(leg.payload, associated)
        item = op.item
        associated = owed_associated_data(
            item.id, item.kind.value, item.destination, item.transaction_key
        )
        return self._sealer.seal(item.payload, associated)

    def item(self, row: Sequence[Any]) -> OwedItem:
        """An ``owed`` row as an item, its payload unsealed.

        Raises:
            JournalKeyError: the payload does not open (naming the item).
        """
        values = owed_values(row)
        associated = owed_associated_data(
            values["id"], values["kind"].value, values["destination"], values["transaction_key"]
        )
        try:
            values["payload"] = self._sealer.unseal(values["payload"], associated)
        except JournalKeyError as exc:
            raise JournalKeyError(f"owed item {values['id']}: {exc}") from None
        return owed_item(values)

    def leg(self, row: Sequence[Any]) -> LegRecord:
        """A ``legs`` row as a record, its payload unsealed.

        Raises:
            JournalKeyError: the payload does not open (naming the leg).
        """
        leg_id, key, destination, sealed = row[0], row[1], row[4], row[9]
        try:
            payload = self._sealer.unseal(sealed, leg_associated_data(leg_id, destination, key))
        except JournalKeyError as exc:
            raise JournalKeyError(f"leg {leg_id}: {exc}") from None
        return leg_from_row(row, payload)


def apply_group(
    conn: sqlite3.Connection, group: list[Op], sealed: dict[int, bytes], codec: RowCodec
) -> GroupResult:
    """Apply one group inside the open transaction: whole, or rolled back to its savepoint.

    Args:
        conn: the connection, inside ``BEGIN IMMEDIATE``.
        group: the operations.
        sealed: the sealed payloads by ``id(op)``.
        codec: opens payloads of rows read back.

    Returns:
        The group's result.
    """
    if not group:
        return GroupResult()
    savepoint = len(group) > 1  # a lone operation that stops writes nothing
    if savepoint:
        conn.execute("SAVEPOINT g")
    results: list[OpResult] = []
    for index, op in enumerate(group):
        result = _apply_one(conn, op, sealed, codec)
        if isinstance(result, STOPPERS):
            if savepoint:
                conn.execute("ROLLBACK TO g")
                conn.execute("RELEASE g")
            return GroupResult(stopped_at=index, stopper=result)
        results.append(result)
    if savepoint:
        conn.execute("RELEASE g")
    return GroupResult(results=tuple(results))


def _apply_one(
    conn: sqlite3.Connection, op: Op, sealed: dict[int, bytes], codec: RowCodec
) -> OpResult:
    if isinstance(op, InsertTransaction):
        record = op.record
        if conn.execute(INSERT_TX, record_row(record)).rowcount == 1:
            return record
        row = conn.execute(GET_TX, (record.transaction_key,)).fetchone()
        return Duplicate(record_from_row(row))
    if isinstance(op, UpdateTransaction):
        found = _cas(conn, "transactions", op, op.transaction_key, TX_UPDATABLE)
        if found is None:
            return NotFound(op.transaction_key)
        return record_from_row(found[1]) if found[0] else Refused(record_from_row(found[1]))
    if isinstance(op, InsertLeg):
        leg = op.leg
        if conn.execute(INSERT_LEG, leg_row(leg, sealed[id(op)])).rowcount == 1:
            return leg
        return Duplicate(codec.leg(conn.execute(GET_LEG, (leg.leg_id,)).fetchone()))
    if isinstance(op, UpdateLeg):
        found = _cas(conn, "legs", op, op.leg_id, LEG_UPDATABLE)
        if found is None:
            return NotFound(op.leg_id)
        return codec.leg(found[1]) if found[0] else Refused(codec.leg(found[1]))
    if isinstance(op, SetSetting):
        conn.execute(SET_SETTING, (SETTING_PREFIX + op.name, op.value))
        return Setting(op.name, op.value)
    if isinstance(op, AddOwed):
        item = op.item
        row = (
            *(item.id, item.kind.value, item.destination, item.transaction_key),
            sealed[id(op)],
            *(item.created_at, item.updated_at, item.next_attempt_at, item.expires_at),
            *(item.attempts, item.status.value, item.last_response_code),
            *(item.leg_id, item.stan, int(item.repeat), item.reason, item.resolution),
        )
        if conn.execute(INSERT_OWED, row).rowcount == 1:
            return item
        return Duplicate(codec.item(conn.execute(GET_OWED, (item.id,)).fetchone()))
    found = _cas(conn, "owed", op, op.id, OWED_UPDATABLE)
    if found is None:
        return NotFound(op.id)
    return codec.item(found[1]) if found[0] else Refused(codec.item(found[1]))


_GET = {"transactions": GET_TX, "legs": GET_LEG, "owed": GET_OWED}


def _cas(
    conn: sqlite3.Connection,
    table: str,
    op: UpdateTransaction | UpdateLeg | UpdateOwed,
    key: str,
    columns: tuple[str, ...],
) -> tuple[bool, Sequence[Any]] | None:
    """Run a compare-and-set update: (applied, row), or ``None`` when the row is missing."""
    expect = sorted(s.value for s in op.expect) if op.expect is not None else []
    values = [column_value(getattr(op, c)) for c in columns]
    params = (op.updated_at, *values, key, *expect)
    rows = conn.execute(cas_update(table, len(expect)), params).fetchall()
    if rows:
        return True, rows[0]
    found = conn.execute(_GET[table], (key,)).fetchone()
    return None if found is None else (False, found)
