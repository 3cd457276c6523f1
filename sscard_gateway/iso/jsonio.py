"""Messages from JSON-shaped data (the ``encode`` command and sample files).

The shape is ``{"mti": "0200", "header": {...}, "fields": {"2": "...", ...}}``:
text fields as strings, binary fields as hexadecimal strings, the header's
keys those of :class:`~sscard_gateway.iso.framing.CupsHeader` or
:class:`~sscard_gateway.iso.framing.PosHeader` (with a nested ``tpdu``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ..errors import EncodeError
from .dialect import Dialect
from .framing import CupsHeader, Header, PosHeader, Tpdu
from .message import FieldValue, Message

__all__ = ["message_from_dict"]


def _header(dialect: Dialect, data: Mapping[str, Any] | None) -> Header | None:
    base = dialect.default_header()
    if data is None or base is None:
        return base
    try:
        if isinstance(base, CupsHeader):
            return attrs.evolve(base, **data)
        tpdu = Tpdu(**data.get("tpdu", {}))
        rest = {k: v for k, v in data.items() if k != "tpdu"}
        assert isinstance(base, PosHeader)
        return attrs.evolve(base, **rest, tpdu=tpdu)
    except TypeError as exc:
        raise EncodeError("header", f"unknown header key ({exc})") from None


def message_from_dict(dialect: Dialect, data: Mapping[str, Any]) -> Message:
    """Build a message of ``dialect`` from JSON-shaped ``data``.

    Raises:
        EncodeError: a key is unknown, a field is not defined, or a binary
            field is not hexadecimal.
    """
    mti = data.get("mti")
    if not isinstance(mti, str):
        raise EncodeError("mti", "the JSON needs an 'mti' string")
    raw_fields = data.get("fields", {})
    if not isinstance(raw_fields, Mapping):
        raise EncodeError("fields", "must be an object of field number to value")
    fields: dict[int, FieldValue] = {}
    for key, value in raw_fields.items():
        if not str(key).isdigit() or int(key) not in dialect.spec.fields:
            raise EncodeError(str(key), f"is not a field of dialect {dialect.name!r}")
        if not isinstance(value, str):
            raise EncodeError(str(key), "values are JSON strings")
        number = int(key)
        if dialect.spec.fields[number].binary:
            try:
                fields[number] = bytes.fromhex(value.replace(" ", ""))
            except ValueError:
                raise EncodeError(str(key), "a binary field is given in hexadecimal") from None
        else:
            fields[number] = value
    return Message(mti, fields, header=_header(dialect, data.get("header")), dialect=dialect)
