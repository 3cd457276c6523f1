"""Reading and checking dialect files (see :mod:`.spec` for the types).

Every error names the file, the place in it (``fields.55.max``) and the
problem. Unknown keys are errors too, so a typo cannot silently fall back to
a default.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._toml import Table
from ..errors import SpecError
from ._sections import (
    _RECORD_FIELDS,
    _field_refs,
    _mti,
    _original_key,
    _read_advice,
    _read_mac,
    _read_network,
    _read_pin,
    _str_map,
)
from .framing import LengthPrefix
from .spec import (
    BitmapEncoding,
    DataEncoding,
    DialectSpec,
    FieldClass,
    FieldSpec,
    LengthKind,
    MatchRule,
    Sensitivity,
)

__all__ = ["load_spec", "spec_from_dict"]


_FIELD_KEYS_DEFAULT_DATA = {FieldClass.B: DataEncoding.BINARY}
_BCD_CLASSES = {FieldClass.N, FieldClass.Z}


def _read_field(reader: Table, number: int) -> FieldSpec:
    cls: FieldClass = reader.enum("class", FieldClass, "ans")
    length: LengthKind = reader.enum("length", LengthKind, "fixed")
    size = reader.get("max", int)
    data: DataEncoding = reader.enum(
        "data", DataEncoding, _FIELD_KEYS_DEFAULT_DATA.get(cls, DataEncoding.ASCII).value
    )
    prefix: DataEncoding = reader.enum("prefix", DataEncoding, "ascii")
    encoding = reader.get("encoding", str, "ascii")
    pad = reader.get("pad", str, "left" if length is LengthKind.FIXED else "right")
    values = reader.get("values", dict, {})
    check = reader.opt("check", str)
    spec = FieldSpec(
        number=number,
        name=reader.get("name", str, f"Field {number}"),
        cls=cls,
        length=length,
        max=size,
        data=data,
        prefix=prefix,
        encoding=encoding,
        pad=pad,
        sensitive=reader.enum("sensitive", Sensitivity, "none"),
        composite=reader.opt("composite", str),
        layout=reader.opt("layout", str),
        values={str(k): str(v) for k, v in values.items()},
        check=check,
    )
    reader.done()
    _check_field(reader, spec)
    return spec


_COMPOSITES = {"tlv", "original_data", "usage"}
_CHECKS = {"pan", "ssn", "region", "card_number"}
_MAX_BY_PREFIX = {
    (LengthKind.LL, DataEncoding.ASCII): 99,
    (LengthKind.LLL, DataEncoding.ASCII): 999,
    (LengthKind.LLLL, DataEncoding.ASCII): 9999,
    (LengthKind.LL, DataEncoding.BCD): 99,
    (LengthKind.LLL, DataEncoding.BCD): 999,
    (LengthKind.LLLL, DataEncoding.BCD): 9999,
    (LengthKind.LL, DataEncoding.BINARY): 255,
    (LengthKind.LLL, DataEncoding.BINARY): 65535,
    (LengthKind.LLLL, DataEncoding.BINARY): 65535,
}


def _check_field(reader: Table, spec: FieldSpec) -> None:
    if spec.max <= 0:
        raise reader.fail("max", f"must be positive, not {spec.max}")
    if spec.length is not LengthKind.FIXED:
        if spec.prefix is DataEncoding.HEX:
            raise reader.fail("prefix", "must be ascii, bcd or binary")
        limit = _MAX_BY_PREFIX[(spec.length, spec.prefix)]
        wire_max = spec.max * 2 if spec.data is DataEncoding.HEX else spec.max
        if wire_max > limit:
            raise reader.fail(
                "max", f"{spec.max} cannot be written in a {spec.length.value} prefix"
            )
    if spec.data is DataEncoding.BCD and spec.cls not in _BCD_CLASSES:
        raise reader.fail("data", f"bcd suits classes n and z, not {spec.cls.value!r}")
    if spec.cls is FieldClass.B and spec.data not in (DataEncoding.BINARY, DataEncoding.HEX):
        raise reader.fail("data", "a binary field is written as binary or hex")
    if spec.cls is not FieldClass.B and spec.data in (DataEncoding.BINARY, DataEncoding.HEX):
        raise reader.fail("data", f"a field of class {spec.cls.value!r} is ascii or bcd")
    if spec.pad not in ("left", "right", "rightF"):
        raise reader.fail("pad", "must be 'left', 'right' or 'rightF'")
    try:
        "".encode(spec.encoding)
    except LookupError:
        raise reader.fail("encoding", f"{spec.encoding!r} is not a known text encoding") from None
    if spec.composite is not None and spec.composite not in _COMPOSITES:
        raise reader.fail("composite", f"must be one of {sorted(_COMPOSITES)}")
    if spec.check is not None and spec.check not in _CHECKS:
        raise reader.fail("check", f"must be one of {sorted(_CHECKS)}")


def _read_fields(root: Table) -> dict[int, FieldSpec]:
    table = root.sub("fields", required=True)
    assert table is not None
    fields: dict[int, FieldSpec] = {}
    for key in table.table:
        if not key.isdigit() or not 2 <= int(key) <= 128 or key != str(int(key)):
            raise table.fail(key, "field numbers are 2 to 128 without leading zeros")
        sub = table.sub(key)
        assert sub is not None
        fields[int(key)] = _read_field(sub, int(key))
    if 65 in fields:
        raise table.fail("65", "field 65 is the tertiary bitmap and cannot be defined")
    return dict(sorted(fields.items()))


def _read_layouts(root: Table) -> dict[str, tuple[tuple[str, int, bool], ...]]:
    table = root.sub("layouts")
    if table is None:
        return {}
    out = {}
    for name in table.table:
        parts = table.get(name, list)
        items = []
        for i, part in enumerate(parts):
            ok = (
                isinstance(part, list)
                and len(part) == 3
                and isinstance(part[0], str)
                and isinstance(part[1], int)
                and part[1] > 0
                and isinstance(part[2], bool)
            )
            if not ok:
                raise table.fail(f"{name}[{i}]", "must be [name, width > 0, required]")
            items.append((part[0], part[1], part[2]))
        out[name] = tuple(items)
    return out


def load_spec(path: str | Path) -> DialectSpec:
    """Read and check a dialect file.

    Args:
        path: the TOML file.

    Returns:
        The checked specification.

    Raises:
        SpecError: naming the file, the key path and the problem.
    """
    path = Path(path)
    file = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(file, "", f"cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(file, "", f"is not valid TOML: {exc}") from None
    return spec_from_dict(data, file=file)


def spec_from_dict(data: Mapping[str, Any], *, file: str = "<dict>") -> DialectSpec:
    """Check an already parsed dialect document (see :func:`load_spec`)."""
    root = Table(file, data, "")
    meta = root.sub("dialect", required=True)
    assert meta is not None
    name = meta.get("name", str)
    title = meta.get("title", str, name)
    timeout_response = meta.get("timeout_response", str, "98")
    meta.done()

    framing = root.sub("framing", required=True)
    assert framing is not None
    prefix: LengthPrefix = framing.enum("length", LengthPrefix)
    includes = framing.get("length_includes_itself", bool, False)
    max_length = framing.get("max_length", int)
    if not 0 < max_length <= max(prefix.largest, 1):
        raise framing.fail("max_length", f"must be 1..{prefix.largest} for {prefix.value}")
    framing.done()

    header = root.sub("header", required=True)
    assert header is not None
    kind = header.get("kind", str)
    if kind not in ("none", "cups", "pos"):
        raise header.fail("kind", "must be 'none', 'cups' or 'pos'")
    options = {k: v for k, v in header.table.items() if k != "kind"}
    allowed = {
        "none": set(),
        "cups": {"versions", "destination", "source", "test"},
        "pos": {"tpdu_id", "application", "version"},
    }[kind]
    for key in options:
        if key not in allowed:
            raise header.fail(key, f"is not a known key for a {kind!r} header")

    mti = root.sub("mti", required=True)
    assert mti is not None
    mti_enc: DataEncoding = mti.enum("encoding", DataEncoding)
    if mti_enc not in (DataEncoding.ASCII, DataEncoding.BCD):
        raise mti.fail("encoding", "must be 'ascii' or 'bcd'")
    mti.done()

    bitmap = root.sub("bitmap", required=True)
    assert bitmap is not None
    bm: BitmapEncoding = bitmap.enum("encoding", BitmapEncoding)
    secondary = bitmap.get("secondary", str, "as_needed")
    if secondary not in ("always", "as_needed"):
        raise bitmap.fail("secondary", "must be 'always' or 'as_needed'")
    bitmap.done()

    fields = _read_fields(root)
    layouts = _read_layouts(root)
    for f in fields.values():
        if f.layout is not None and f.layout not in layouts:
            raise SpecError(file, f"fields.{f.number}.layout", f"no layout named {f.layout!r}")
    classes = _str_map(
        root.sub("classes"),
        lambda k, v: len(k) == 2 and k.isdigit() and isinstance(v, str),
        "maps two MTI digits to a class name",
    )

    keys = root.sub("keys", required=True)
    assert keys is not None
    transaction_key = _field_refs(keys, "transaction", fields)
    match_key = _field_refs(keys, "match", fields)
    rules = []
    for i, rule in enumerate(keys.get("match_rules", list, [])):
        if not isinstance(rule, dict):
            raise keys.fail(f"match_rules[{i}]", "must be a table")
        rr = Table(file, rule, f"keys.match_rules[{i}]")
        rules.append(
            MatchRule(
                classes=tuple(rr.strings("classes")),
                processing_codes=tuple(rr.strings("processing_codes")),
                fields=_field_refs(rr, "fields", fields),
            )
        )
        rr.done()
    keys.done()

    response = root.sub("response", required=True)
    assert response is not None
    response_echo = _field_refs(response, "echo", fields)
    approved = tuple(response.strings("approved", ("00",)))
    unknown = tuple(response.strings("unknown", ()))
    settlement_field = response.opt("settlement_date", int)
    if settlement_field is not None and settlement_field not in fields:
        raise response.fail("settlement_date", f"field {settlement_field} is not defined")
    response.done()

    reversal = root.sub("reversal", required=True)
    assert reversal is not None
    reversal_mti = _mti(reversal, "mti")
    reversal_echo = _field_refs(reversal, "echo", fields)
    original = reversal.opt("original_data", int)
    if original is not None and original not in fields:
        raise reversal.fail("original_data", f"field {original} is not defined")
    done = tuple(reversal.strings("done", ("00", "12", "25")))
    hopeless = tuple(reversal.strings("exception"))
    retrans = reversal.opt("retransmission_mti", str)
    original_key = _original_key(reversal, transaction_key, original)
    reversal.done()
    advice = _read_advice(root)

    mac = _read_mac(root, fields)
    pin = _read_pin(root)
    network = _read_network(root)
    processing = _str_map(
        root.sub("processing_codes"),
        lambda k, v: isinstance(v, str) and len(v) == 6 and v.isdigit(),
        "must be a 6-digit processing code",
    )
    validation = root.sub("validation")
    amount_total = amount_split = None
    record: dict[str, int | None] = {}
    if validation is not None:
        amount_total = validation.opt("amount_total", int)
        amount_split = validation.opt("amount_split", int)
        record = {k: validation.opt(k, int) for k in _RECORD_FIELDS}
        for key, number in (
            ("amount_total", amount_total),
            ("amount_split", amount_split),
            *record.items(),
        ):
            if number is not None and number not in fields:
                raise validation.fail(key, f"field {number} is not defined")
        if amount_split is not None and fields[amount_split].layout is None:
            raise validation.fail("amount_split", "the split field needs a layout")
        validation.done()
    responses = _str_map(
        root.sub("response_codes"),
        lambda k, v: len(k) == 2 and isinstance(v, str),
        "maps a 2-character response code to its meaning",
    )
    root.done()
    return DialectSpec(
        file=file,
        name=name,
        title=title,
        prefix=prefix,
        prefix_includes_itself=includes,
        max_length=max_length,
        header=kind,
        header_options=options,
        mti_encoding=mti_enc,
        bitmap=bm,
        secondary_always=secondary == "always",
        classes=classes,
        fields=fields,
        layouts=layouts,
        transaction_key=transaction_key,
        match_key=match_key,
        match_rules=tuple(rules),
        response_echo=response_echo,
        approved=approved,
        reversal_mti=reversal_mti,
        reversal_echo=reversal_echo,
        original_data_field=original,
        reversal_done=done,
        retransmission_mti=retrans,
        mac=mac,
        pin=pin,
        network=network,
        processing_codes=processing,
        response_codes=responses,
        timeout_response=timeout_response,
        amount_total=amount_total,
        amount_split=amount_split,
        advice=advice,
        reversal_exception=hopeless,
        original_key=original_key,
        settlement_date_field=settlement_field,
        unknown_outcome=unknown,
        home_region_field=record.get("home_region"),
        treating_region_field=record.get("treating_region"),
        insurance_kind_field=record.get("insurance_kind"),
    )
