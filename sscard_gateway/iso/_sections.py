"""Reading the sections of a dialect file that describe behaviour rather than fields.

The MAC, the PIN block, network management, reversals' original keys and
advices: each a ``_read_*`` function over the key-path-aware TOML reader,
so an error names the file, the key path and the problem. :mod:`.loader`
assembles the whole :class:`~.spec.DialectSpec` from them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .._toml import Table
from .spec import (
    AdviceSpec,
    FieldClass,
    FieldSpec,
    KeyExchangeSpec,
    MacSpec,
    NetworkSpec,
    PinSpec,
)


def _mti(reader: Table, key: str, default: str | None = None) -> str:
    text = reader.get(key, str, default)
    if len(text) != 4 or not text.isdigit():
        raise reader.fail(key, f"must be a 4-digit MTI, not {text!r}")
    return text


def _field_refs(reader: Table, key: str, fields: Mapping[int, FieldSpec]) -> tuple[int, ...]:
    numbers = tuple(reader.numbers(key, required=True))
    for n in numbers:
        if n not in fields:
            raise reader.fail(key, f"names field {n}, which the dialect does not define")
    return numbers


def _read_mac(root: Table, fields: Mapping[int, FieldSpec]) -> MacSpec | None:
    r = root.sub("mac")
    if r is None:
        return None
    number = r.get("field", int)
    if number not in (64, 128) or number not in fields:
        raise r.fail("field", "must be 64 or 128 and defined in [fields]")
    if fields[number].cls is not FieldClass.B or fields[number].max != 8:
        raise r.fail("field", f"field {number} must be class b with max 8")
    mab = r.get("mab", str, "message")
    if mab not in ("fields", "message"):
        raise r.fail("mab", "must be 'fields' or 'message'")
    truncate = r.get("truncate", dict, {})
    trunc: dict[int, int] = {}
    for k, v in truncate.items():
        if not str(k).isdigit() or not isinstance(v, int) or v <= 0:
            raise r.fail("truncate", "maps field numbers to positive lengths")
        trunc[int(k)] = v
    selection: dict[str, tuple[int | str, ...]] = {}
    sel = r.sub("selection")
    if sel is not None:
        for cls_name in sel.table:
            items = sel.get(cls_name, list)
            for item in items:
                if item != "mti" and not (isinstance(item, int) and item in fields):
                    raise sel.fail(cls_name, f"{item!r} is neither 'mti' nor a defined field")
            selection[cls_name] = tuple(items)
    elif mab == "fields":
        raise r.fail("selection", "is required when mab = 'fields'")
    spec = MacSpec(
        field=number,
        mab=mab,
        algorithm=r.get("algorithm", str),
        form=r.get("form", str, "hex4"),
        truncate=trunc,
        selection=selection,
    )
    r.done()
    return spec


def _read_pin(root: Table) -> PinSpec | None:
    r = root.sub("pin")
    if r is None:
        return None
    spec = PinSpec(
        field=r.get("field", int, 52),
        format=r.get("format", str, "iso0"),
        control_field=r.opt("control_field", int),
        control=r.opt("control", str),
        sm4_field=r.opt("sm4_field", int),
        sm4_usage=r.opt("sm4_usage", str),
        sm4_control=r.opt("sm4_control", str),
        sm4_format=r.opt("sm4_format", str),
    )
    r.done()
    return spec


_NETWORK_CODES = ("sign_on", "sign_off", "echo", "cutover_begin", "cutover_end",
                  "key_reset_request")  # fmt: skip


def _read_network(root: Table) -> NetworkSpec | None:
    r = root.sub("network")
    if r is None:
        return None
    request_mti = _mti(r, "request_mti")
    r.seen.add("code_field")
    code_field = r.table.get("code_field")
    if isinstance(code_field, bool) or not isinstance(code_field, int | str):
        raise r.fail("code_field", "must be a field number or 'field.subfield'")
    codes = {}
    for name in _NETWORK_CODES:
        value = r.opt(name, str)
        if value is not None:
            codes[name] = value
    kx = None
    k = r.sub("key_exchange")
    if k is not None:
        kx = KeyExchangeSpec(
            mti=_mti(k, "mti"),
            code=k.get("code", str),
            control_field=k.opt("control_field", int),
            pin_key_field=k.opt("pin_key_field", int),
            pin_key_usage=k.opt("pin_key_usage", str),
            mac_key_field=k.opt("mac_key_field", int),
        )
        k.done()
    r.done()
    return NetworkSpec(
        request_mti=request_mti, code_field=str(code_field), codes=codes, key_exchange=kx
    )


_RECORD_FIELDS = ("home_region", "treating_region", "insurance_kind")
_ORIGINAL_PARTS = {7: "transmission_time", 11: "stan", 32: "acquirer", 33: "forwarder"}


def _original_key(
    reversal: Table, transaction_key: tuple[int, ...], original: int | None
) -> dict[int, str]:
    """Which part of the original-data field gives each transaction key field.

    ``[reversal] original_key = { "7" = "transmission_time", ... }``; by
    default the ISO 8583 field 90 parts of fields 7, 11, 32 and 33.
    """
    if original is None:
        return {}
    table = reversal.sub("original_key")
    if table is None:
        return {n: _ORIGINAL_PARTS[n] for n in transaction_key if n in _ORIGINAL_PARTS}
    parts = set(_ORIGINAL_PARTS.values())
    found = _str_map(
        table, lambda k, v: k.isdigit() and v in parts, f"names one of {sorted(parts)}"
    )
    missing = [n for n in transaction_key if str(n) not in found]
    if missing:
        raise reversal.fail("original_key", f"gives no part for key field {missing[0]}")
    return {int(k): v for k, v in found.items()}


def _read_advice(root: Table) -> AdviceSpec | None:
    r = root.sub("advice")
    if r is None:
        return None
    retrans = r.opt("retransmission_mti", str)
    spec = AdviceSpec(
        mti=_mti(r, "mti"),
        retransmission_mti=None if retrans is None else _mti(r, "retransmission_mti"),
        done=tuple(r.strings("done", ("00",))),
        exception=tuple(r.strings("exception")),
    )
    r.done()
    return spec


def _str_map(reader: Table | None, check: Callable[[str, Any], bool], what: str) -> dict[str, str]:
    if reader is None:
        return {}
    out = {}
    for key, value in reader.table.items():
        if not check(key, value):
            raise reader.fail(key, what)
        out[key] = value
        reader.seen.add(key)
    return out
