"""Dialect: a checked dialect file compiled once into a codec.

Theory of operation
-------------------
:func:`~sscard_gateway.iso.registry.load_dialect` reads a file under
``specs/dialects/`` (see :mod:`.spec`) and compiles it, once, into the dictionary pyiso8583 works
from. Our layer stays thin (docs/architecture.md principle 3) and adds only what
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

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import iso8583

from ..errors import DecodeError, EncodeError, HeaderError, RejectedByPeer
from ._checked import Tables, checked_fields, from_hex, to_doc_checked, upper_hex
from ._compile import KIND_OF, TEXT_CHECKS, compile_spec
from ._plan import BIN, OTHER, Plan, build_plan
from .framing import CUPS_HEADER_LENGTH, CupsHeader, Header, LengthPrefix, PosHeader, Tpdu
from .message import FieldValue, Message
from .spec import BitmapEncoding, DataEncoding, DialectSpec, FieldClass, LengthKind

__all__ = ["Dialect", "MacFunction"]


MacFunction = Callable[[bytes], bytes]
"""Given the MAC block, return the 8-byte value of the MAC field."""


class Dialect:
    """A compiled dialect: encode and decode whole frames.

    Build one with :func:`~sscard_gateway.iso.registry.load_dialect`; it is
    immutable and may be shared by every link and task.
    """

    __slots__ = (
        "_ascii_lengths",
        "_ascii_prefix",
        "_bitmap_offset",
        "_bitmap_size",
        "_compiled",
        "_fast_cups_frame",
        "_header_cache",
        "_hex_bitmap",
        "_kind_of_key",
        "_kind_of_number",
        "_mac_hex",
        "_mac_selection",
        "_plans",
        "_prefix_size",
        "_secondary_always",
        "_tables",
        "_versions",
        "spec",
    )

    def __init__(self, spec: DialectSpec) -> None:
        self.spec = spec
        self._compiled = compile_spec(spec)
        kinds = {n: BIN if f.binary else KIND_OF.get(f.cls, OTHER) for n, f in spec.fields.items()}
        self._tables = Tables(
            name=spec.name,
            by_number={n: (str(n), kind) for n, kind in kinds.items()},
            by_key={str(n): (n, kind) for n, kind in kinds.items()},
            checks={
                str(n): (TEXT_CHECKS[f.cls], f.cls) for n, f in spec.fields.items() if not f.binary
            },
            track_bcd=frozenset(
                str(n)
                for n, f in spec.fields.items()
                if f.cls is FieldClass.Z and f.data is DataEncoding.BCD
            ),
            hex=frozenset(
                str(n) for n, f in spec.fields.items() if f.binary and f.data is DataEncoding.HEX
            ),
        )
        self._kind_of_number = kinds
        self._kind_of_key = {str(n): kind for n, kind in kinds.items()}
        self._plans: dict[tuple[Any, ...], Plan] = {}
        self._versions = frozenset(spec.header_options.get("versions", [2]))
        self._ascii_lengths = frozenset(
            str(n)
            for n, f in spec.fields.items()
            if f.length is not LengthKind.FIXED and f.prefix is DataEncoding.ASCII
        )
        self._hex_bitmap = spec.bitmap is BitmapEncoding.HEX
        self._fast_cups_frame = (
            spec.header == "cups"
            and spec.prefix is LengthPrefix.ASCII4
            and not spec.prefix_includes_itself
        )
        self._secondary_always = spec.secondary_always
        self._prefix_size = spec.prefix.size
        self._ascii_prefix = spec.prefix is LengthPrefix.ASCII4
        self._header_cache: dict[bytes, CupsHeader] = {}
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

    def _plan(self, order: tuple[Any, ...], kinds: Mapping[Any, int]) -> Plan:
        plan = self._plans.get(order)
        if plan is None:
            if len(self._plans) >= 1024:
                self._plans.clear()
            plan = self._plans[order] = build_plan(order, kinds, int, self._ascii_lengths)
        return plan

    def _to_doc(self, message: Message) -> dict[str, str]:
        mti = message.mti
        if len(mti) != 4 or not mti.isdigit():
            raise EncodeError("mti", "must be four digits")
        fields = message.fields
        order = tuple(fields)
        plan = self._plans.get(order)
        if plan is None and self._kind_of_number.keys() >= fields.keys():
            plan = self._plan(order, self._kind_of_number)
        if plan is not None:
            values = plan.values(fields)
            try:
                ok = plan.simple and plan.batch_ok(values)
            except TypeError:
                ok = False
            if ok:
                doc = dict(zip(plan.keys, values, strict=True))
                doc["t"] = mti
                for number, key in plan.binary:
                    value = fields[number]
                    if not isinstance(value, bytes | bytearray):
                        raise EncodeError(key, "a binary field takes bytes")
                    doc[key] = value.hex().upper()
                return doc
        return to_doc_checked(self._tables, mti, fields)

    def _encode_body(
        self, message: Message
    ) -> tuple[bytes | bytearray, dict[str, dict[str, bytes]]]:
        doc = self._to_doc(message)
        try:
            raw, enc = iso8583.encode(doc, self._compiled)
        except iso8583.EncodeError as exc:
            raise EncodeError(str(exc.field), exc.msg) from None
        except (ValueError, TypeError, UnicodeError, LookupError) as exc:
            raise EncodeError("?", f"cannot be encoded ({type(exc).__name__})") from None
        if self._secondary_always and not self._secondary_bit(raw):
            return self._add_secondary(bytes(raw), enc), enc
        return raw, enc

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

    def _frame(self, message: Message, body: bytes | bytearray) -> bytes:
        spec = self.spec
        header = message.header
        if self._fast_cups_frame and type(header) is CupsHeader:
            head = header.encode(len(body))
            length = 46 + len(body)
            if length <= spec.max_length:
                return b"".join((b"%04d" % length, head, body))
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
        length = len(head) + len(body) + (spec.prefix.size if spec.prefix_includes_itself else 0)
        if length > spec.max_length:
            raise EncodeError("length", f"frame of {length} bytes exceeds {spec.max_length}")
        return b"".join((spec.prefix.encode(length), head, body))

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
        size = self._prefix_size
        if type(data) is not bytes:
            data = bytes(data)
        head = data[:size]
        if self._ascii_prefix and head.isdigit() and len(head) == 4:
            declared = int(head)
        else:
            declared = spec.prefix.decode(data, 0) if size else len(data)
        length = declared - size if spec.prefix_includes_itself else declared
        if length != len(data) - size or declared > spec.max_length:
            raise DecodeError("length", 0, f"a declared length matching the {len(data)}-byte frame")
        return self._decode_at(data, size)

    def decode_payload(self, payload: bytes | bytearray) -> Message:
        """Decode a frame whose length prefix was already removed.

        This is what a link calls on each frame from a
        :class:`~sscard_gateway.iso.framing.FrameDecoder`. Offsets in errors
        count from the start of the payload.

        Raises:
            DecodeError, RejectedByPeer: as :meth:`decode`.
        """
        if type(payload) is not bytes:
            payload = bytes(payload)
        return self._decode_at(payload, 0)

    def _decode_at(self, data: bytes, start: int) -> Message:
        """Decode header and body of the payload beginning at ``data[start]``."""
        kind = self.spec.header
        header: Header | None = None
        if kind == "cups":
            first, total = self._cups_header(data, start)
            if total != len(data) - start:
                raise HeaderError("header", start + 2, "a total length equal to the frame", "00035")
            if first.rejected:
                inner, _ = self._cups_header(data, start + CUPS_HEADER_LENGTH)
                message = self._decode_body(data, start + 2 * CUPS_HEADER_LENGTH, inner)
                raise RejectedByPeer(first.reject_code, message)
            header, start = first, start + CUPS_HEADER_LENGTH
        elif kind == "pos":
            header, start = PosHeader.decode(data, start), start + 11
        return self._decode_body(data, start, header)

    def _cups_header(self, data: bytes, start: int) -> tuple[CupsHeader, int]:
        # Headers repeat on a link but for the total length: cache the rest.
        raw = data[start : start + CUPS_HEADER_LENGTH]
        key = raw[:2] + raw[6:]
        cached = self._header_cache.get(key)
        if cached is not None and len(raw) == CUPS_HEADER_LENGTH and raw[2:6].isdigit():
            return cached, int(raw[2:6])
        header, total = CupsHeader.decode(data, start, versions=self._versions)
        if len(self._header_cache) >= 256:
            self._header_cache.clear()
        self._header_cache[key] = header
        return header, total

    def _decode_body(self, data: bytes, start: int, header: Header | None) -> Message:
        body = data[start:]
        offset = start
        if len(body) < self._bitmap_offset + self._bitmap_size:
            raise DecodeError("mti", offset, "an MTI and a bitmap")
        if self._secondary_always and not self._secondary_bit(body):
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
        order = tuple(dec)
        plan = self._plans.get(order) or self._plan(order, self._kind_of_key)
        if plan.lens or self._hex_bitmap:
            self._check_canonical(enc, plan.lens, offset)
        values = plan.values(dec)
        if plan.simple and plan.batch_ok(values):
            fields: dict[int, FieldValue] = dict(zip(plan.numbers, values, strict=True))
            hex_keys = self._tables.hex
            for number, key in plan.binary:
                if key in hex_keys:
                    fields[number] = from_hex(key, dec[key], offset)
                else:
                    fields[number] = enc[key]["data"]
            return Message.trusted(mti, fields, header, self, enc, body)
        fields = checked_fields(self._tables, dec, enc, offset)
        return Message(mti, fields, header=header, dialect=self, wire=enc, body=body)

    def _check_canonical(
        self, enc: Mapping[str, Mapping[str, bytes]], lens: tuple[str, ...], offset: int
    ) -> None:
        """Refuse what pyiso8583 reads leniently, so a decode re-encodes byte for byte.

        Python's ``int()`` takes ``" 9"`` or ``"+9"`` as a length and
        ``bytes.fromhex`` skips white space in a hexadecimal bitmap.
        """
        if lens and not b"".join([enc[k]["len"] for k in lens]).isdigit():
            bad = next(k for k in lens if not enc[k]["len"].isdigit())
            raise DecodeError(bad, offset, "a length prefix of ASCII digits")
        if self._hex_bitmap:
            for key in ("p", "1"):
                part = enc.get(key)
                if part is not None and not upper_hex(part["data"].decode("ascii")):
                    raise DecodeError("bitmap", offset, "upper-case hexadecimal digits")

    def _secondary_bit(self, body: bytes | bytearray) -> bool:
        first = body[self._bitmap_offset]
        if self._hex_bitmap:
            return chr(first) in "89ABCDEF"
        return bool(first & 0x80)

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
        body: bytes | bytearray
        enc: Mapping[str, Mapping[str, bytes]]
        if message.wire is None or message.body is None:
            fields = dict(message.fields)
            fields.setdefault(macspec.field, bytes(8))
            body, enc = self._encode_body(message.evolve(fields=fields))
        else:
            body, enc = message.body, message.wire
        return self._mab(message.mti, body, enc)

    def _mab(
        self, mti: str, body: bytes | bytearray, enc: Mapping[str, Mapping[str, bytes]]
    ) -> bytes:
        macspec = self.spec.mac
        assert macspec is not None
        if macspec.mab == "message":
            return bytes(body[: -16 if self._mac_hex else -8])
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
