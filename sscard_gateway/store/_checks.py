"""Checks of the values journal records and operations are built from.

Why a module of its own: every value the journal stores is checked when
the record or operation holding it is built (by the gateway, before it
journals), so a batch of writes can only fail for the store's own
reasons, never because one caller passed a bad value. These are the attrs
validators and converters those types share; a failed check is a
:class:`~sscard_gateway.errors.ValidationError` with response code ``96``
(a caller's bug) naming the type and field.
"""

from __future__ import annotations

import enum
import math
import uuid
from typing import Any

import attrs

from ..errors import ValidationError
from ..ids import AmountSplit

# A record that fails these checks is a programming error in the caller
# (the gateway validates messages before it journals them): it answers 96.
_CODE = "96"
_HEX = frozenset("0123456789abcdef")


def _fail(instance: object, attribute: attrs.Attribute[Any], problem: str) -> ValidationError:
    return ValidationError(f"{type(instance).__name__}.{attribute.name}", problem, _CODE)


def _text(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    # ASCII only: every stored field comes from an ISO 8583 field or a config
    # name; anything else is a caller's bug, refused here rather than in the
    # middle of somebody else's batch.
    if not isinstance(value, str) or not value.isascii():
        raise _fail(instance, attribute, "must be an ASCII str")


def _required(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _text(instance, attribute, value)
    if not value:
        raise _fail(instance, attribute, "must not be empty")


def _optional_text(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _text(instance, attribute, value)


def _digits(*widths: int) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not (
            isinstance(value, str)
            and len(value) in widths
            and (not value or (value.isascii() and value.isdigit()))
        ):
            shown = " or ".join("empty" if w == 0 else f"{w} digits" for w in widths)
            raise _fail(instance, attribute, f"must be {shown}")

    return check


def _response_code(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not (
        isinstance(value, str) and len(value) == 2 and value.isascii() and value.isalnum()
    ):
        raise _fail(instance, attribute, "must be None or two ASCII letters or digits")


def _to_time(value: object) -> object:
    # int seconds are accepted and stored as float; other types are refused
    # by the validator below (bool is not a time).
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _to_optional_time(value: object) -> object:
    return None if value is None else _to_time(value)


def _time(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, float) or not math.isfinite(value) or value < 0:
        raise _fail(instance, attribute, "must be finite, non-negative epoch seconds")


def _optional_time(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _time(instance, attribute, value)


def _amount(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, AmountSplit):
        raise _fail(instance, attribute, "must be an AmountSplit")
    if value.total >= 10**15:
        raise _fail(instance, attribute, "is beyond 10^15 fen")


def _pan_masked(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _text(instance, attribute, value)
    assert isinstance(value, str)
    digits = sum(ch.isdigit() for ch in value)
    # A masked PAN keeps at most first 8 + last 4 digits and hides the rest.
    if digits > 12 or (value and digits == len(value)):
        raise _fail(instance, attribute, "looks like a clear PAN; use PanHasher.protect()")


def _pan_hash(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not (value == "" or (len(value) == 64 and set(value) <= _HEX)):
        raise _fail(instance, attribute, "must be empty or 64 lower-case hex digits")


def _count(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
        raise _fail(instance, attribute, "must be an int from 0 to 2^31 - 1")


def _count_fen(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 10**15:
        raise _fail(instance, attribute, "must be an int amount in fen from 0 to 10^15 - 1")


def _enum(kind: type[enum.Enum]) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kind):
            raise _fail(instance, attribute, f"must be a {kind.__name__}")

    return check


def _payload_repr(value: bytes) -> str:
    return f"<{len(value)} bytes>"


def _same_as_created(instance: Any) -> float:
    return float(instance.created_at)


def _new_id() -> str:
    return uuid.uuid4().hex
