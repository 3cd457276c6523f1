"""SQL statements of the SQLite journal, and the mapping between rows and records.

Why a module of its own: every statement is built once, at import, from the
column lists of :mod:`._schema`, so the column order in the schema, in the
statements and in the row mapping cannot drift apart; values only ever
travel as parameters (hence the S608 waivers below: no value is ever
formatted into SQL). Rows read back were validated when written, so they
are turned into records without validating again (the clearing fast path
over a million rows, as ``Message.trusted`` does for the codec).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from ..ids import AmountSplit
from ._records import (
    LegRecord,
    OwedItem,
    OwedKind,
    TransactionQuery,
    TransactionRecord,
)
from ._schema import LEG_COLUMNS, OWED_COLUMNS, TRANSACTION_COLUMNS
from ._states import LegKind, LegState, OwedStatus, TransactionStatus

__all__ = [
    "GET_LEG",
    "INSERT_LEG",
    "LAST_LEG_STAN",
    "LAST_OWED_STAN",
    "LEGS_IN",
    "LEGS_OF",
    "LEG_UPDATABLE",
    "cas_update",
    "due_where",
    "leg_associated_data",
    "leg_from_row",
    "leg_row",
    "DUE_OWED",
    "GET_OWED",
    "GET_SETTING",
    "GET_TX",
    "INSERT_OWED",
    "INSERT_TX",
    "LIST_OWED",
    "NEXT_DUE",
    "OWED_NOW",
    "OWED_STATUS",
    "OWED_UPDATABLE",
    "PAGE_TX",
    "SETTING_PREFIX",
    "SET_SETTING",
    "TX_UPDATABLE",
    "column_value",
    "owed_associated_data",
    "owed_item",
    "owed_values",
    "query_where",
    "record_from_row",
    "record_row",
]

_new = object.__new__
_set = object.__setattr__

TX_UPDATABLE = (
    "status",
    "response_code",
    "responded_at",
    "destination",
    "settlement_date",
    "rrn",
    "authorization_code",
    "upstream_stan",
    "upstream_rrn",
    "upstream_key",
)
OWED_UPDATABLE = (
    "attempts",
    "next_attempt_at",
    "status",
    "last_response_code",
    "repeat",
    "reason",
    "resolution",
    "expires_at",
)
LEG_UPDATABLE = ("state", "response_code")

_TX = ", ".join(TRANSACTION_COLUMNS)
_OWED = ", ".join(OWED_COLUMNS)
_TX_MARKS = ", ".join("?" * len(TRANSACTION_COLUMNS))
_OWED_MARKS = ", ".join("?" * len(OWED_COLUMNS))
_LEG = ", ".join(LEG_COLUMNS)
_LEG_MARKS = ", ".join("?" * len(LEG_COLUMNS))
_ON_KEY = "ON CONFLICT (transaction_key) DO NOTHING"
INSERT_TX = f"INSERT INTO transactions ({_TX}) VALUES ({_TX_MARKS}) {_ON_KEY}"  # noqa: S608
INSERT_OWED = f"INSERT INTO owed ({_OWED}) VALUES ({_OWED_MARKS}) ON CONFLICT (id) DO NOTHING"  # noqa: S608
INSERT_LEG = f"INSERT INTO legs ({_LEG}) VALUES ({_LEG_MARKS}) ON CONFLICT (leg_id) DO NOTHING"  # noqa: S608
GET_LEG = f"SELECT {_LEG} FROM legs WHERE leg_id = ?"  # noqa: S608
LEGS_OF = f"SELECT {_LEG} FROM legs WHERE transaction_key = ? ORDER BY step, seq"  # noqa: S608
LEGS_IN = f"SELECT {_LEG} FROM legs WHERE state IN (%s) ORDER BY seq LIMIT ?"  # noqa: S608
LAST_LEG_STAN = "SELECT stan, created_at FROM legs WHERE stan <> '' ORDER BY seq DESC LIMIT 1"
LAST_OWED_STAN = "SELECT stan, created_at FROM owed WHERE stan <> '' ORDER BY seq DESC LIMIT 1"

_TABLES = {
    "transactions": ("transaction_key", "status", TX_UPDATABLE, _TX),
    "legs": ("leg_id", "state", LEG_UPDATABLE, _LEG),
    "owed": ("id", "status", OWED_UPDATABLE, _OWED),
}
_CAS: dict[tuple[str, int], str] = {}


def cas_update(table: str, expected: int) -> str:
    """The compare-and-set UPDATE of ``table`` expecting one of ``expected`` states.

    Parameters, in order: ``updated_at``, one value per updatable column
    (``None`` keeps the column), the row's key, then the ``expected``
    state values. ``expected == 0``: no state condition. The statement
    returns the updated row; no row means not found or refused.
    """
    sql = _CAS.get((table, expected))
    if sql is None:
        key, state, columns, returning = _TABLES[table]
        sets = ", ".join(f"{c} = COALESCE(?, {c})" for c in columns)
        where = f"{key} = ?"
        if expected:
            where += f" AND {state} IN ({', '.join('?' * expected)})"
        sql = f"UPDATE {table} SET updated_at = ?, {sets} WHERE {where} RETURNING {returning}"  # noqa: S608
        _CAS[(table, expected)] = sql
    return sql


GET_TX = f"SELECT {_TX} FROM transactions WHERE transaction_key = ?"  # noqa: S608
PAGE_TX = f"SELECT seq, {_TX} FROM transactions WHERE seq > ?%s ORDER BY seq LIMIT ?"  # noqa: S608
GET_OWED = f"SELECT {_OWED} FROM owed WHERE id = ?"  # noqa: S608
DUE_OWED = f"SELECT {_OWED} FROM owed WHERE status = ? AND next_attempt_at <= ?%s ORDER BY next_attempt_at, seq LIMIT ?"  # noqa: S608, E501
LIST_OWED = f"SELECT {_OWED} FROM owed WHERE %s ORDER BY seq LIMIT ?"  # noqa: S608
NEXT_DUE = "SELECT MIN(next_attempt_at) FROM owed WHERE status = ?%s"


def due_where(destinations: Sequence[str] | None) -> str:
    """The destination condition of :data:`DUE_OWED` and :data:`NEXT_DUE`."""
    if destinations is None:
        return ""
    if not destinations:
        return " AND 0"
    return f" AND destination IN ({', '.join('?' * len(destinations))})"


OWED_NOW = (
    "SELECT (SELECT COUNT(*) FROM owed WHERE status = ? AND next_attempt_at <= ?),"
    " (SELECT MIN(created_at) FROM owed WHERE status = ?)"
)
OWED_STATUS = OwedStatus.OWED.value


SETTING_PREFIX = "setting:"  # settings share ``meta`` with the key identifiers, named apart
SET_SETTING = (
    "INSERT INTO meta (name, value) VALUES (?, ?)"
    " ON CONFLICT (name) DO UPDATE SET value = excluded.value"
)
GET_SETTING = "SELECT value FROM meta WHERE name = ?"


def column_value(value: object) -> object:
    return value.value if isinstance(value, enum.Enum) else value


def record_row(r: TransactionRecord) -> tuple[Any, ...]:
    a = r.amount
    return (
        *(r.transaction_key, r.kind, r.mti, r.source, r.created_at, r.settlement_date),
        *(r.updated_at, r.destination, r.dialect, r.processing_code, r.stan, r.rrn),
        *(r.transmission_time, r.acquirer, r.forwarder, r.terminal, r.merchant),
        *(r.authorization_code, r.home_region, r.treating_region, r.insurance_kind),
        *(a.total, a.fund, a.personal_account, a.cash, r.currency, r.pan_masked, r.pan_hash),
        *(r.status.value, r.response_code, r.responded_at, r.upstream_stan, r.upstream_rrn),
        *(r.upstream_key, r.original_key),
    )


_SPECIAL = frozenset(
    {"amount", "fund", "personal_account", "cash", "status"}
    | {"created_at", "updated_at", "responded_at"}
)
_PLAIN = tuple((i, c) for i, c in enumerate(TRANSACTION_COLUMNS) if c not in _SPECIAL)
_AT = {c: i for i, c in enumerate(TRANSACTION_COLUMNS)}
_AMOUNT, _FUND, _PERSONAL, _CASH = (_AT[c] for c in ("amount", "fund", "personal_account", "cash"))
_STATUS, _CREATED, _UPDATED, _RESPONDED = (
    _AT[c] for c in ("status", "created_at", "updated_at", "responded_at")
)
_STATUSES = {s.value: s for s in TransactionStatus}


def record_from_row(row: Sequence[Any]) -> TransactionRecord:
    # Rows were validated when written: build without re-validating (the
    # clearing fast path over a million rows), as Message.trusted does.
    record = _new(TransactionRecord)
    for i, name in _PLAIN:
        _set(record, name, row[i])
    split = _new(AmountSplit)
    _set(split, "total", row[_AMOUNT])
    _set(split, "fund", row[_FUND])
    _set(split, "personal_account", row[_PERSONAL])
    _set(split, "cash", row[_CASH])
    _set(record, "amount", split)
    _set(record, "status", _STATUSES[row[_STATUS]])
    # REAL columns come back as int from RETURNING when the value is whole.
    _set(record, "created_at", float(row[_CREATED]))
    _set(record, "updated_at", float(row[_UPDATED]))
    responded = row[_RESPONDED]
    _set(record, "responded_at", None if responded is None else float(responded))
    return record


def owed_associated_data(item_id: str, kind: str, destination: str, key: str) -> bytes:
    # Binds a sealed payload to its row's identity: moved elsewhere, it fails.
    parts = (
        b"sscard journal owed v1",
        *(p.encode("utf-8") for p in (item_id, kind, destination, key)),
    )
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def query_where(query: TransactionQuery | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if query is None:
        return "", params
    for column in ("settlement_date", "home_region", "treating_region", "source", "destination"):
        value = getattr(query, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    for column, values in (
        ("status", None if query.statuses is None else sorted(s.value for s in query.statuses)),
        ("kind", None if query.kinds is None else sorted(query.kinds)),
    ):
        if values is not None:
            clauses.append(f"{column} IN ({', '.join('?' * len(values))})" if values else "0")
            params.extend(values)
    if query.created_from is not None:
        clauses.append("created_at >= ?")
        params.append(query.created_from)
    if query.created_before is not None:
        clauses.append("created_at < ?")
        params.append(query.created_before)
    return "".join(f" AND {c}" for c in clauses), params


def owed_values(row: Sequence[Any]) -> dict[str, Any]:
    """An ``owed`` row as attribute values, the payload still sealed."""
    values = dict(zip(OWED_COLUMNS, row, strict=True))
    values["kind"] = OwedKind(values["kind"])
    values["status"] = OwedStatus(values["status"])
    values["repeat"] = bool(values["repeat"])
    for name in ("created_at", "updated_at", "next_attempt_at"):
        values[name] = float(values[name])
    if values["expires_at"] is not None:
        values["expires_at"] = float(values["expires_at"])
    return values


def owed_item(values: dict[str, Any]) -> OwedItem:
    """Build an item from :func:`owed_values` once its payload is unsealed."""
    item = _new(OwedItem)
    for name, value in values.items():
        _set(item, name, value)
    return item


def leg_row(leg: LegRecord, sealed: bytes) -> tuple[Any, ...]:
    return (
        *(leg.leg_id, leg.transaction_key, leg.step, leg.kind.value, leg.destination),
        *(leg.mti, leg.stan, leg.leg_key, leg.amount, sealed, leg.created_at),
        *(leg.updated_at, leg.state.value, leg.response_code),
    )


def leg_associated_data(leg_id: str, destination: str, key: str) -> bytes:
    # Binds a sealed leg payload to its row: moved to another leg, it fails.
    parts = (b"sscard journal leg v1", *(p.encode("utf-8") for p in (leg_id, destination, key)))
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


_LEG_KINDS = {k.value: k for k in LegKind}
_LEG_STATES = {s.value: s for s in LegState}


def leg_from_row(row: Sequence[Any], payload: bytes) -> LegRecord:
    """A ``legs`` row as a record (validated when written), with its payload unsealed."""
    values = dict(zip(LEG_COLUMNS, row, strict=True))
    values["kind"] = _LEG_KINDS[values["kind"]]
    values["state"] = _LEG_STATES[values["state"]]
    values["payload"] = payload
    values["created_at"] = float(values["created_at"])
    values["updated_at"] = float(values["updated_at"])
    leg = _new(LegRecord)
    for name, value in values.items():
        _set(leg, name, value)
    return leg
