"""Dialect: a checked dialect file compiled once into a codec.

Theory of operation
-------------------
:func:`load_dialect` reads a file under ``specs/dialects/`` (see
:mod:`.spec`) and compiles it, once, into the dictionary pyiso8583 works
from. Our layer stays thin (ARCHITECTURE.md principle 3) and adds only what
pyiso8583 does not do:

* framing: the length prefix and the header (CUPS 46-byte header with its
  reject form, or the POS TPDU and application header);
* typed values: binary fields are ``bytes`` in a :class:`Message`, text
  fields ``str``; every value is checked against its ISO class (``n`` is
  digits, ``an`` letters and digits, ...) both ways, so a peer's garbage is
  a :class:`~sscard_gateway.errors.DecodeError` answered with ``30``;
* a secondary bitmap present on every message where the dialect says
  "always" (pyiso8583 writes one only when a field above 64 is present);
* errors: for any input bytes :meth:`Dialect.decode` raises only
  :class:`~sscard_gateway.errors.DecodeError` (or
  :class:`~sscard_gateway.errors.RejectedByPeer`), naming field and offset;
* the MAC block (MAB) built from the bytes that were on the wire, never from
  a re-encoding (STYLE.md 6), and MAC generation in the same encoding pass.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import iso8583

from ..errors import DecodeError, EncodeError, HeaderError, RejectedByPeer, SpecError
from .framing import CUPS_HEADER_LENGTH, CupsHeader, Header, PosHeader, Tpdu
from .message import FieldValue, Message
from .spec import (
    BitmapEncoding,
    DataEncoding,
    DialectSpec,
    FieldClass,
    FieldSpec,
    LengthKind,
    load_spec,
)

__all__ = ["Dialect", "available_dialects", "load_dialect", "specs_dir"]

MacFunction = Callable[[bytes], bytes]
"""Given the MAC block, return the 8-byte value of the MAC field."""


def specs_dir() -> Path:
    """The folder holding ``dialects/``, ``vectors/`` and the other data.

    ``SSCARD_SPECS`` overrides it; an installed wheel carries the files in
    ``sscard_gateway/_specs``; a source checkout uses ``specs/`` at its top.
    """
    env = os.environ.get("SSCARD_SPECS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent.parent
    bundled = here / "_specs"
    if bundled.is_dir():
        return bundled
    return here.parent / "specs"


def available_dialects() -> list[str]:
    """Names of the dialect files shipped in :func:`specs_dir`."""
    return sorted(p.stem for p in (specs_dir() / "dialects").glob("*.toml"))


@functools.cache
def _load_named(name: str) -> Dialect:
    return Dialect(load_spec(specs_dir() / "dialects" / f"{name}.toml"))


def load_dialect(name_or_path: str | os.PathLike[str]) -> Dialect:
    """Load a dialect by name (``"cups"``) or from a TOML file path.

    Named dialects are loaded once and shared; a path is read every call.

    Raises:
        SpecError: the file is missing or invalid.
    """
    text = os.fspath(name_or_path)
    if os.sep in text or text.endswith(".toml"):
        return Dialect(load_spec(text))
    if not (specs_dir() / "dialects" / f"{text}.toml").is_file():
        known = ", ".join(available_dialects())
        raise SpecError(f"{text}.toml", "", f"no such dialect (known: {known})")
    return _load_named(text)


# ---------------------------------------------------------------------------
# Value checks by ISO class. Each returns True when the text is acceptable.


def _is_n(v: str) -> bool:
    return v.isdigit() and v.isascii()


def _is_an(v: str) -> bool:
    return v.isalnum() and v.isascii() or v == ""


def _is_ans(v: str) -> bool:
    return v.isprintable()


def _is_z(v: str) -> bool:
    return v.isascii() and v.replace("=", "").replace("D", "").isdigit()


def _is_xn(v: str) -> bool:
    return len(v) > 1 and v[0] in "CD" and v[1:].isdigit() and v.isascii()


_TEXT_CHECKS: dict[FieldClass, Callable[[str], bool]] = {
    FieldClass.N: _is_n,
    FieldClass.NS: _is_ans,
    FieldClass.AN: _is_an,
    FieldClass.ANS: _is_ans,
    FieldClass.Z: _is_z,
    FieldClass.XN: _is_xn,
}
_CLASS_WORDS = {
    FieldClass.N: "digits",
    FieldClass.NS: "printable characters",
    FieldClass.AN: "letters and digits",
    FieldClass.ANS: "printable characters",
    FieldClass.Z: "track digits and '='",
    FieldClass.XN: "C or D followed by digits",
}


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


class Dialect:
    """A compiled dialect: encode and decode whole frames.

    Build one with :func:`load_dialect`; it is immutable and may be shared
    by every link and task.
    """

    __slots__ = (
        "_binary",
        "_bitmap_offset",
        "_bitmap_size",
        "_checks",
        "_compiled",
        "_mac_hex",
        "_mac_selection",
        "_track_bcd",
        "spec",
    )

    def __init__(self, spec: DialectSpec) -> None:
        self.spec = spec
        self._compiled = compile_spec(spec)
        self._binary = frozenset(str(n) for n, f in spec.fields.items() if f.binary)
        self._track_bcd = frozenset(
            str(n)
            for n, f in spec.fields.items()
            if f.cls is FieldClass.Z and f.data is DataEncoding.BCD
        )
        self._checks: dict[str, tuple[Callable[[str], bool], FieldClass]] = {
            str(n): (_TEXT_CHECKS[f.cls], f.cls) for n, f in spec.fields.items() if not f.binary
        }
        self._bitmap_offset = 2 if spec.mti_encoding is DataEncoding.BCD else 4
        self._bitmap_size = 8 if spec.bitmap is BitmapEncoding.BINARY else 16
        self._mac_selection = spec.mac.selection if spec.mac is not None else {}
        self._mac_hex = (
            spec.mac is not None and spec.fields[spec.mac.field].data is DataEncoding.HEX
        )

    def __repr__(self) -> str:
        return f"<Dialect {self.spec.name!r} from {self.spec.file}>"

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def compiled(self) -> Mapping[str, Mapping[str, Any]]:
        """The pyiso8583 specification this dialect compiles to."""
        return self._compiled

    # -- building messages -------------------------------------------------

    def message(
        self, mti: str, fields: Mapping[int, FieldValue] | None = None, **kwargs: Any
    ) -> Message:
        """A new message of this dialect (``header=`` may be given)."""
        return Message(mti, dict(fields or {}), dialect=self, **kwargs)

    def default_header(self) -> Header | None:
        """The header a new outbound message gets when none is given."""
        opts = self.spec.header_options
        if self.spec.header == "cups":
            return CupsHeader(
                destination=str(opts.get("destination", "00010000")),
                source=str(opts.get("source", "")),
                test=bool(opts.get("test", False)),
                version=int(opts.get("versions", [2])[0]),
            )
        if self.spec.header == "pos":
            return PosHeader(
                tpdu=Tpdu(id=str(opts.get("tpdu_id", "60"))),
                application=str(opts.get("application", "60")),
                version=str(opts.get("version", "31")),
            )
        return None

    def mti_class(self, mti: str) -> str:
        """The message class (``financial``, ``network``...) of an MTI."""
        return self.spec.classes.get(mti[:2], "financial")

    # -- encoding ----------------------------------------------------------

    def _to_doc(self, message: Message) -> dict[str, str]:
        mti = message.mti
        if len(mti) != 4 or not mti.isdigit():
            raise EncodeError("mti", "must be four digits")
        doc = {"t": mti}
        checks = self._checks
        binary = self._binary
        for number, value in message.fields.items():
            key = str(number)
            if key in binary:
                if not isinstance(value, bytes | bytearray):
                    raise EncodeError(key, "a binary field takes bytes")
                doc[key] = value.hex().upper()
                continue
            entry = checks.get(key)
            if entry is None:
                raise EncodeError(key, f"is not defined in dialect {self.spec.name!r}")
            if not isinstance(value, str):
                raise EncodeError(key, "a text field takes str")
            check, cls = entry
            if not check(value):
                raise EncodeError(key, f"must hold {_CLASS_WORDS[cls]}")
            doc[key] = value.replace("=", "D") if key in self._track_bcd else value
        return doc

    def _encode_body(self, message: Message) -> tuple[bytes, dict[str, dict[str, bytes]]]:
        doc = self._to_doc(message)
        try:
            raw, enc = iso8583.encode(doc, self._compiled)
        except iso8583.EncodeError as exc:
            raise EncodeError(str(exc.field), exc.msg) from None
        except (ValueError, TypeError, UnicodeError, LookupError) as exc:
            raise EncodeError("?", f"cannot be encoded ({type(exc).__name__})") from None
        body = bytes(raw)
        if self.spec.secondary_always and not self._secondary_bit(body):
            body = self._add_secondary(body, enc)
        return body, enc

    def _add_secondary(self, body: bytes, enc: dict[str, dict[str, bytes]]) -> bytes:
        start = self._bitmap_offset
        size = self._bitmap_size
        if self.spec.bitmap is BitmapEncoding.BINARY:
            primary = bytes((body[start] | 0x80,)) + body[start + 1 : start + size]
            secondary = bytes(size)
        else:
            first = int(body[start : start + 1], 16) | 0x8
            primary = b"%X" % first + body[start + 1 : start + size]
            secondary = b"0" * size
        enc["p"] = {"len": b"", "data": primary}
        enc["1"] = {"len": b"", "data": secondary}
        return body[:start] + primary + secondary + body[start + size :]

    def _frame(self, message: Message, body: bytes) -> bytes:
        spec = self.spec
        header = message.header
        if spec.header == "cups":
            if not isinstance(header, CupsHeader):
                header = self.default_header()
                assert isinstance(header, CupsHeader)
            head = header.encode(len(body))
        elif spec.header == "pos":
            if not isinstance(header, PosHeader):
                header = self.default_header()
                assert isinstance(header, PosHeader)
            head = header.encode()
        else:
            head = b""
        payload = head + body
        length = len(payload) + (spec.prefix.size if spec.prefix_includes_itself else 0)
        if length > spec.max_length:
            raise EncodeError("length", f"frame of {length} bytes exceeds {spec.max_length}")
        return spec.prefix.encode(length) + payload

    def encode(self, message: Message, *, mac: MacFunction | None = None) -> bytes:
        """Encode ``message`` into a whole frame: length prefix, header, body.

        Args:
            message: the message; its header is used when it is of this
                dialect's kind, otherwise :meth:`default_header`.
            mac: when given, the MAC field is (re)computed: the message is
                encoded with the MAC field present, the MAC block is built
                from the encoded bytes, ``mac(block)`` gives the field's 8
                bytes, and they are written in place.

        Returns:
            The bytes to write to the stream.

        Raises:
            EncodeError: naming the field and the problem.
        """
        if mac is not None:
            macspec = self.spec.mac
            if macspec is None:
                raise EncodeError("mac", f"dialect {self.spec.name!r} defines no MAC")
            fields = dict(message.fields)
            fields[macspec.field] = bytes(8)
            message = message.evolve(fields=fields)
            body, enc = self._encode_body(message)
            value = mac(self._mab(message.mti, body, enc))
            if len(value) != 8:
                raise EncodeError(str(macspec.field), "the MAC function must return 8 bytes")
            if self._mac_hex:
                body = body[:-16] + value.hex().upper().encode("ascii")
            else:
                body = body[:-8] + value
        else:
            body, _ = self._encode_body(message)
        return self._frame(message, body)

    # -- decoding ----------------------------------------------------------

    def decode(self, data: bytes | bytearray) -> Message:
        """Decode a whole frame (length prefix included).

        Raises:
            DecodeError: naming the field, byte offset and what was expected.
            RejectedByPeer: CUPS sent our message back with a reject header.
        """
        spec = self.spec
        size = spec.prefix.size
        data = bytes(data)
        declared = spec.prefix.decode(data, 0) if size else len(data)
        length = declared - size if spec.prefix_includes_itself else declared
        if length != len(data) - size or declared > spec.max_length:
            raise DecodeError("length", 0, f"a declared length matching the {len(data)}-byte frame")
        return self._decode_payload(data[size:], size)

    def decode_payload(self, payload: bytes | bytearray) -> Message:
        """Decode a frame whose length prefix was already removed.

        This is what a link calls on each frame from a
        :class:`~sscard_gateway.iso.framing.FrameDecoder`.

        Raises:
            DecodeError, RejectedByPeer: as :meth:`decode`.
        """
        return self._decode_payload(bytes(payload), self.spec.prefix.size)

    def _decode_payload(self, payload: bytes, base: int) -> Message:
        kind = self.spec.header
        header: Header | None = None
        start = 0
        if kind == "cups":
            versions = frozenset(self.spec.header_options.get("versions", [2]))
            first, total = CupsHeader.decode(payload, 0, versions=versions)
            if total != len(payload):
                raise HeaderError("header", base + 2, "a total length equal to the frame", "00035")
            if first.rejected:
                inner, _ = CupsHeader.decode(payload, CUPS_HEADER_LENGTH, versions=versions)
                message = self._decode_body(payload, 2 * CUPS_HEADER_LENGTH, base, inner)
                raise RejectedByPeer(first.reject_code, message)
            header, start = first, CUPS_HEADER_LENGTH
        elif kind == "pos":
            header, start = PosHeader.decode(payload, 0), 11
        return self._decode_body(payload, start, base, header)

    def _decode_body(
        self, payload: bytes, start: int, base: int, header: Header | None
    ) -> Message:
        body = payload[start:]
        offset = base + start
        if len(body) < self._bitmap_offset + self._bitmap_size:
            raise DecodeError("mti", offset, "an MTI and a bitmap")
        if self.spec.secondary_always and not self._secondary_bit(body):
            raise DecodeError("bitmap", offset + self._bitmap_offset, "a secondary bitmap")
        try:
            dec, enc = iso8583.decode(body, self._compiled)
        except iso8583.DecodeError as exc:
            raise DecodeError(str(exc.field), offset + exc.pos, exc.msg) from None
        except KeyError as exc:
            where = offset + self._bitmap_offset
            raise DecodeError(str(exc.args[0]), where, "a field this dialect defines") from None
        except (ValueError, TypeError, IndexError, UnicodeError, LookupError) as exc:
            raise DecodeError("?", offset, f"decodable data ({type(exc).__name__})") from None
        mti = dec["t"]
        if not mti.isdigit() or len(mti) != 4:
            raise DecodeError("mti", offset, "four digits")
        fields: dict[int, FieldValue] = {}
        binary = self._binary
        checks = self._checks
        for key, value in dec.items():
            if key in binary:
                fields[int(key)] = bytes.fromhex(value)
                continue
            entry = checks.get(key)
            if entry is None:  # t, p, 1, h
                continue
            if key in self._track_bcd:
                value = value.replace("D", "=")
            check, cls = entry
            if not check(value):
                raise DecodeError(key, offset, _CLASS_WORDS[cls])
            fields[int(key)] = value
        return Message(mti, fields, header=header, dialect=self, wire=enc, body=body)

    def _secondary_bit(self, body: bytes) -> bool:
        first = body[self._bitmap_offset]
        if self.spec.bitmap is BitmapEncoding.BINARY:
            return bool(first & 0x80)
        return chr(first) in "89ABCDEFabcdef"

    # -- MAC block -------------------------------------------------------------

    def mac_block(self, message: Message) -> bytes:
        """The MAC block (MAB) of ``message`` as it is (or would be) on the wire.

        For a decoded message the block is built from the received bytes.

        Raises:
            EncodeError: the dialect has no MAC, or the message cannot be encoded.
        """
        macspec = self.spec.mac
        if macspec is None:
            raise EncodeError("mac", f"dialect {self.spec.name!r} defines no MAC")
        if message.wire is None or message.body is None:
            fields = dict(message.fields)
            fields.setdefault(macspec.field, bytes(8))
            body, enc = self._encode_body(message.evolve(fields=fields))
        else:
            body, enc = message.body, message.wire
        return self._mab(message.mti, body, enc)

    def _mab(self, mti: str, body: bytes, enc: Mapping[str, Mapping[str, bytes]]) -> bytes:
        macspec = self.spec.mac
        assert macspec is not None
        if macspec.mab == "message":
            return body[: -16 if self._mac_hex else -8]
        from ..crypto import cups_mab

        selection = self._mac_selection.get(self.mti_class(mti), ())
        return cups_mab(self._mab_parts(selection, enc, macspec.truncate))

    @staticmethod
    def _mab_parts(
        selection: tuple[int | str, ...],
        enc: Mapping[str, Mapping[str, bytes]],
        truncate: Mapping[int, int],
    ) -> Iterator[bytes]:
        for item in selection:
            key = "t" if item == "mti" else str(item)
            part = enc.get(key)
            if part is None:
                continue
            data = part["data"]
            if isinstance(item, int) and item in truncate:
                data = data[: truncate[item]]
            yield part["len"] + data
