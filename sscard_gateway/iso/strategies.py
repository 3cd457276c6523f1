"""Hypothesis strategies for any dialect, for our tests and integrators' own.

``messages(dialect)`` draws valid messages of a dialect — every field of the
right class and length, field 55 as well-formed BER-TLV, fields with a
layout filled subfield by subfield, a header of the dialect's kind — so
``dialect.decode(dialect.encode(m)) == m`` is a property any dialect file
must satisfy. ``frames(dialect)`` draws their encodings, a corpus for
mutation fuzzing.

Requires ``hypothesis`` (the ``test`` extra); nothing else imports this
module.
"""

from __future__ import annotations

import string

from hypothesis import strategies as st

from ..errors import EncodeError
from .dialect import Dialect
from .framing import CupsHeader, Header, PosHeader, Tpdu
from .message import FieldValue, Message
from .spec import FieldClass, FieldSpec, LengthKind
from .tlv import Tlv, encode_tlv

__all__ = ["field_values", "frames", "headers", "messages", "tlv_lists"]

_DIGITS = string.digits
_ALNUM = string.ascii_letters + string.digits
_PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))
_HEX = "0123456789ABCDEF"


def _text(alphabet: str, size: int, fixed: bool) -> st.SearchStrategy[str]:
    if fixed:
        return st.text(alphabet, min_size=size, max_size=size)
    return st.text(alphabet, min_size=1, max_size=size)


def _tags() -> st.SearchStrategy[int]:
    one = st.integers(0, 0xFF).filter(lambda b: b & 0x1F != 0x1F).map(lambda b: b & 0xDF)
    two = st.integers(0, 0x7F).map(lambda b: 0x9F00 | b)
    three = st.integers(0, 0x7F).map(lambda b: 0xDF8100 | b)
    return st.one_of(one, two, three)


def tlv_lists(max_bytes: int = 255) -> st.SearchStrategy[bytes]:
    """Well-formed primitive BER-TLV lists encoding to at most ``max_bytes``."""
    item = st.builds(Tlv, tag=_tags(), value=st.binary(max_size=40))
    return (
        st.lists(item, min_size=1, max_size=8).map(encode_tlv).filter(lambda b: len(b) <= max_bytes)
    )


def _layout_text(parts: tuple[tuple[str, int, bool], ...], max_len: int) -> st.SearchStrategy[str]:
    widths = [w for _, w, _ in parts]
    required = sum(w for (_, w, req) in parts if req)

    @st.composite
    def draw(draw_: st.DrawFn) -> str:
        out = []
        total = 0
        for (_, width, req), _w in zip(parts, widths, strict=True):
            if not req and (total >= required and draw_(st.booleans())):
                break
            if total + width > max_len:
                break
            out.append(draw_(st.text(_DIGITS, min_size=width, max_size=width)))
            total += width
        return "".join(out)

    return draw()


def field_values(dialect: Dialect, f: FieldSpec) -> st.SearchStrategy[FieldValue]:
    """Valid values for field ``f`` of ``dialect``."""
    fixed = f.length is LengthKind.FIXED
    if f.cls is FieldClass.B:
        if f.composite == "tlv":
            return tlv_lists(f.max)
        if fixed:
            return st.binary(min_size=f.max, max_size=f.max)
        return st.binary(min_size=1, max_size=f.max)
    if f.layout is not None and f.cls is FieldClass.N:
        layout = dialect.spec.layouts[f.layout]
        strategy = _layout_text(layout, f.max)
        if fixed:
            return strategy.filter(lambda v: len(v) == f.max)
        return strategy.filter(bool)
    if f.cls is FieldClass.N:
        return _text(_DIGITS, f.max, fixed)
    if f.cls is FieldClass.AN:
        return _text(_ALNUM, f.max, fixed)
    if f.cls is FieldClass.XN:
        return st.builds(
            lambda s, d: s + d, st.sampled_from("CD"), _text(_DIGITS, f.max - 1, fixed)
        )
    if f.cls is FieldClass.Z:
        return _text(_DIGITS + "=", f.max, fixed).filter(lambda v: v.strip("=") != "")
    return _text(_PRINTABLE, f.max, fixed)


def headers(dialect: Dialect) -> st.SearchStrategy[Header | None]:
    """Headers of the dialect's kind (``None`` for dialects without one)."""
    kind = dialect.spec.header
    if kind == "cups":
        versions = list(dialect.spec.header_options.get("versions", [2]))
        ids = st.text(_ALNUM, max_size=11)
        return st.builds(
            CupsHeader,
            destination=ids,
            source=ids,
            test=st.booleans(),
            version=st.sampled_from(versions),
            batch=st.integers(0, 255),
            transaction_info=st.text(_ALNUM, min_size=8, max_size=8),
            user_info=st.integers(0, 255),
            reject_code=st.just("00000"),
        )
    if kind == "pos":
        hex4 = st.text(_HEX, min_size=4, max_size=4)
        return st.builds(
            PosHeader,
            tpdu=st.builds(Tpdu, destination=hex4, source=hex4, id=st.just("60")),
            application=st.sampled_from(["60", "61"]),
            version=st.text(_DIGITS, min_size=2, max_size=2),
            status=st.sampled_from(_DIGITS),
            request=st.sampled_from(_DIGITS),
            reserved=st.text(_DIGITS, min_size=6, max_size=6),
        )
    return st.none()


_MTIS = ["0100", "0110", "0200", "0210", "0220", "0230", "0420", "0430", "0800", "0810",
         "0820", "0830"]  # fmt: skip


@st.composite
def _messages(draw: st.DrawFn, dialect: Dialect, mti: str | None) -> Message:
    chosen = mti if mti is not None else draw(st.sampled_from(_MTIS))
    numbers = draw(st.sets(st.sampled_from(sorted(dialect.spec.fields)), max_size=24))
    fields: dict[int, FieldValue] = {}
    for number in sorted(numbers):
        fields[number] = draw(field_values(dialect, dialect.spec.fields[number]))
    header = draw(headers(dialect))
    return Message(chosen, fields, header=header, dialect=dialect)


def messages(dialect: Dialect, *, mti: str | None = None) -> st.SearchStrategy[Message]:
    """Valid messages of ``dialect`` (optionally of one MTI) that fit its frame limit."""

    def fits(message: Message) -> bool:
        try:
            dialect.encode(message)
        except EncodeError as exc:
            if exc.field != "length":  # only the frame limit may refuse a drawn message
                raise
            return False
        return True

    return _messages(dialect, mti).filter(fits)


def frames(dialect: Dialect) -> st.SearchStrategy[bytes]:
    """Encoded frames (length prefix included) of valid messages."""
    return messages(dialect).map(dialect.encode)
