"""The codec's slow paths: field by field, naming the field that is wrong.

The fast paths in :mod:`.dialect` check whole classes of values at once
(:mod:`._plan`); when such a check fails, or a message's fields were never
seen together before, these functions go through the fields one by one so
the error names the culprit. They are also the reference the fast paths
must agree with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from ..errors import DecodeError, EncodeError
from ._compile import CLASS_WORDS
from ._plan import BIN
from .message import FieldValue
from .spec import FieldClass

__all__ = ["Tables", "checked_fields", "from_hex", "to_doc_checked", "upper_hex"]


@attrs.frozen
class Tables:
    """Per-field facts a dialect computes once (see :class:`~.dialect.Dialect`)."""

    name: str
    by_number: Mapping[int, tuple[str, int]]
    by_key: Mapping[str, tuple[int, int]]
    checks: Mapping[str, tuple[Callable[[str], bool], FieldClass]]
    track_bcd: frozenset[str]
    hex: frozenset[str]


def upper_hex(text: str) -> bool:
    """Upper-case hexadecimal only: what we write, so a decode re-encodes exactly."""
    return not text or (text.isalnum() and text.isascii() and (text.isdigit() or text.isupper()))


def from_hex(key: str, value: str, offset: int) -> bytes:
    """The bytes of a field written as hexadecimal text.

    Raises:
        DecodeError: not upper-case hexadecimal.
    """
    if not upper_hex(value):
        raise DecodeError(key, offset, "upper-case hexadecimal digits")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise DecodeError(key, offset, "hexadecimal digits") from None


def _check(tables: Tables, key: str, value: str) -> str | None:
    check, cls = tables.checks[key]
    return None if check(value) else CLASS_WORDS[cls]


def to_doc_checked(tables: Tables, mti: str, fields: Mapping[int, FieldValue]) -> dict[str, str]:
    """pyiso8583's document for a message, checking each field.

    Raises:
        EncodeError: naming the first field that is undefined or wrong.
    """
    doc = {"t": mti}
    for number, value in fields.items():
        entry = tables.by_number.get(number)
        if entry is None:
            raise EncodeError(str(number), f"is not defined in dialect {tables.name!r}")
        key, kind = entry
        if kind == BIN:
            if not isinstance(value, bytes | bytearray):
                raise EncodeError(key, "a binary field takes bytes")
            doc[key] = value.hex().upper()
            continue
        if not isinstance(value, str):
            raise EncodeError(key, "a text field takes str")
        problem = _check(tables, key, value)
        if problem is not None:
            raise EncodeError(key, f"must hold {problem}")
        doc[key] = value.replace("=", "D") if key in tables.track_bcd else value
    return doc


def checked_fields(
    tables: Tables,
    dec: Mapping[str, str],
    enc: Mapping[str, Mapping[str, bytes]],
    offset: int,
) -> dict[int, FieldValue]:
    """Typed fields of a pyiso8583 decode, checking each field.

    Raises:
        DecodeError: naming the first field whose value is not of its class.
    """
    fields: dict[int, FieldValue] = {}
    for key, value in dec.items():
        entry = tables.by_key.get(key)
        if entry is None:  # t, p, 1, h
            continue
        number, kind = entry
        if kind == BIN:
            # binary: the received bytes themselves; hex text: its value
            fields[number] = from_hex(key, value, offset) if key in tables.hex else enc[key]["data"]
            continue
        if key in tables.track_bcd:
            value = value.replace("D", "=")
        problem = _check(tables, key, value)
        if problem is not None:
            raise DecodeError(key, offset, problem)
        fields[number] = value
    return fields
