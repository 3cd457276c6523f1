"""Compiling a checked dialect into pyiso8583's specification dictionary.

Also the per-class value checks the codec applies both ways (``n`` is
digits, ``an`` letters and digits, ...), so a peer's garbage is a
:class:`~sscard_gateway.errors.DecodeError` answered with ``30``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._plan import AN, ANS, N
from .spec import BitmapEncoding, DataEncoding, DialectSpec, FieldClass, FieldSpec, LengthKind

__all__ = ["CLASS_WORDS", "KIND_OF", "TEXT_CHECKS", "compile_spec"]


# Value checks by ISO class. Each returns True when the text is acceptable.


def _is_n(v: str) -> bool:
    return v == "" or (v.isdigit() and v.isascii())


def _is_an(v: str) -> bool:
    return (v.isalnum() and v.isascii()) or v == ""


def _is_ans(v: str) -> bool:
    return v.isprintable()


def _is_z(v: str) -> bool:
    return v.isascii() and v.replace("=", "").replace("D", "").isdigit()


def _is_xn(v: str) -> bool:
    return len(v) > 1 and v[0] in "CD" and v[1:].isdigit() and v.isascii()


TEXT_CHECKS: dict[FieldClass, Callable[[str], bool]] = {
    FieldClass.N: _is_n,
    FieldClass.NS: _is_ans,
    FieldClass.AN: _is_an,
    FieldClass.ANS: _is_ans,
    FieldClass.Z: _is_z,
    FieldClass.XN: _is_xn,
}
CLASS_WORDS = {
    FieldClass.N: "digits",
    FieldClass.NS: "printable characters",
    FieldClass.AN: "letters and digits",
    FieldClass.ANS: "printable characters",
    FieldClass.Z: "track digits and '='",
    FieldClass.XN: "C or D followed by digits",
}


KIND_OF = {FieldClass.N: N, FieldClass.AN: AN, FieldClass.ANS: ANS, FieldClass.NS: ANS}


def _compile_field(f: FieldSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"desc": f.name, "len_type": 0, "len_enc": "ascii"}
    if f.data is DataEncoding.ASCII:
        out.update(data_enc=f.encoding, max_len=f.max)
    elif f.data is DataEncoding.HEX:
        out.update(data_enc="ascii", max_len=2 * f.max)
    elif f.data is DataEncoding.BINARY:
        out.update(data_enc="b", max_len=f.max)
    else:  # BCD digits, counted in nibbles
        out.update(data_enc="b", max_len=f.max, len_count="nibbles")
        if f.pad == "left":
            out["left_pad"] = "0"
        else:
            out["right_pad"] = "F" if f.pad == "rightF" else "0"
    digits = f.length.digits
    if digits:
        if f.prefix is DataEncoding.ASCII:
            out.update(len_enc="ascii", len_type=digits)
        elif f.prefix is DataEncoding.BCD:
            out.update(len_enc="bcd", len_type=(digits + 1) // 2)
        else:
            out.update(len_enc="b", len_type=1 if f.length is LengthKind.LL else 2)
    return out


def compile_spec(spec: DialectSpec) -> dict[str, dict[str, Any]]:
    """The pyiso8583 specification dictionary for ``spec``.

    The header is handled by our framing layer, so ``h`` is disabled.
    """
    if spec.mti_encoding is DataEncoding.BCD:
        mti = {"data_enc": "b", "len_enc": "ascii", "len_type": 0, "max_len": 2}
    else:
        mti = {"data_enc": "ascii", "len_enc": "ascii", "len_type": 0, "max_len": 4}
    if spec.bitmap is BitmapEncoding.BINARY:
        bitmap = {"data_enc": "b", "len_enc": "ascii", "len_type": 0, "max_len": 8}
    else:
        bitmap = {"data_enc": "ascii", "len_enc": "ascii", "len_type": 0, "max_len": 16}
    out: dict[str, dict[str, Any]] = {
        "h": {"data_enc": "ascii", "len_enc": "ascii", "len_type": 0, "max_len": 0},
        "t": {**mti, "desc": "Message type indicator"},
        "p": {**bitmap, "desc": "Primary bitmap"},
        "1": {**bitmap, "desc": "Secondary bitmap"},
    }
    for number, f in spec.fields.items():
        out[str(number)] = _compile_field(f)
    return out
