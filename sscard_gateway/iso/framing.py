"""Framing: length prefixes, the CUPS 46-byte header, TPDU and POS header.

Theory of operation
-------------------
A frame on a stream is ``length prefix | header | ISO 8583 body``. The
prefix kinds seen on UnionPay links (DOMAIN.md §2, §3) are two binary bytes
(POS), four ASCII digits (CUPS and the center dialect) and two BCD bytes;
some peers count the prefix itself in the length, so that is a setting.

:class:`FrameDecoder` is a reader that says "not yet" (STYLE.md 3): it is
fed arbitrary chunks with :meth:`FrameDecoder.receive_data` and hands out
whole frames from :meth:`FrameDecoder.next_frame`, ``None`` while a frame is
incomplete. A declared length above the configured maximum raises
:class:`~sscard_gateway.errors.FrameTooLarge` before anything of that frame
is buffered, and the decoder is then poisoned: a stream that has lost its
framing cannot be trusted to resynchronise, so the link closes it.

Headers are value types. :class:`CupsHeader` is the 46-byte switch header
(DOMAIN.md §2) with its reject form; :class:`Tpdu` and :class:`PosHeader`
are the POS terminal's 5-byte TPDU and 6-byte BCD application header
(DOMAIN.md §3). Each has ``reply()`` for the header of a response, with
destination and source swapped.
"""

from __future__ import annotations

import enum

import attrs

from ..errors import FrameTooLarge, FramingError, HeaderError

__all__ = [
    "CUPS_HEADER_LENGTH",
    "CupsHeader",
    "FrameDecoder",
    "Header",
    "LengthPrefix",
    "PosHeader",
    "Tpdu",
    "add_prefix",
]

CUPS_HEADER_LENGTH = 46


class LengthPrefix(enum.Enum):
    """How a frame's length is written in front of it."""

    NONE = "none"
    BINARY2 = "binary2"
    ASCII4 = "ascii4"
    BCD2 = "bcd2"

    @property
    def size(self) -> int:
        """Bytes the prefix occupies."""
        return _PREFIX_SIZE[self]

    @property
    def largest(self) -> int:
        """Largest length the prefix can express."""
        return _PREFIX_LARGEST[self]

    def encode(self, length: int) -> bytes:
        """Write ``length`` in this prefix form.

        Raises:
            FramingError: the length does not fit the prefix.
        """
        if self is LengthPrefix.ASCII4 and 0 <= length <= 9999:
            return b"%04d" % length
        if not 0 <= length <= self.largest:
            raise FramingError("length", 0, f"a length of at most {self.largest}, got {length}")
        if self is LengthPrefix.BINARY2:
            return length.to_bytes(2, "big")
        if self is LengthPrefix.ASCII4:
            return b"%04d" % length
        if self is LengthPrefix.BCD2:
            return bytes.fromhex(f"{length:04d}")
        return b""

    def decode(self, data: bytes | bytearray, offset: int = 0) -> int:
        """Read the length written at ``data[offset:offset + size]``.

        Raises:
            FramingError: the prefix is not of this form (non-digits, bad BCD).
        """
        raw = bytes(data[offset : offset + self.size])
        if self is LengthPrefix.BINARY2:
            return int.from_bytes(raw, "big")
        if self is LengthPrefix.ASCII4:
            if not (raw.isdigit() and len(raw) == 4):
                raise FramingError("length", offset, "four ASCII digits")
            return int(raw)
        if self is LengthPrefix.BCD2:
            text = raw.hex()
            if not text.isdigit():
                raise FramingError("length", offset, "two BCD bytes")
            return int(text)
        return 0


_PREFIX_SIZE = {
    LengthPrefix.NONE: 0,
    LengthPrefix.BINARY2: 2,
    LengthPrefix.ASCII4: 4,
    LengthPrefix.BCD2: 2,
}
_PREFIX_LARGEST = {
    LengthPrefix.NONE: 0,
    LengthPrefix.BINARY2: 0xFFFF,
    LengthPrefix.ASCII4: 9999,
    LengthPrefix.BCD2: 9999,
}


class FrameDecoder:
    """Incremental frame reader for one direction of one connection.

    Args:
        prefix: the length prefix form.
        max_length: the largest declared length accepted (excluding the
            prefix unless ``includes_itself``); a larger one raises
            :class:`FrameTooLarge` and poisons the decoder.
        includes_itself: whether the declared length counts the prefix.
        max_buffer: bytes the decoder holds before a whole frame is found;
            defaults to one maximal frame plus one prefix.

    A zero-length frame (a keepalive on some links) is returned as ``b""``.
    """

    def __init__(
        self,
        prefix: LengthPrefix,
        *,
        max_length: int,
        includes_itself: bool = False,
    ) -> None:
        if prefix is LengthPrefix.NONE:
            raise ValueError("a stream decoder needs a length prefix")
        self._prefix = prefix
        self._size = prefix.size
        self._max = max_length
        self._includes = includes_itself
        self._buf = bytearray()
        self._pos = 0
        self._failed: FrameTooLarge | FramingError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received and not yet handed out as frames."""
        return len(self._buf) - self._pos

    def receive_data(self, data: bytes | bytearray) -> None:
        """Add bytes read from the stream."""
        if self._failed is not None:
            raise self._failed
        if self._pos and self._pos >= len(self._buf) // 2:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def next_frame(self) -> bytes | None:
        """Return the next whole frame without its prefix, or ``None``.

        Raises:
            FrameTooLarge: the next frame declares a length above the maximum.
            FramingError: the prefix is unreadable.
        """
        if self._failed is not None:
            raise self._failed
        buf = self._buf
        pos = self._pos
        if len(buf) - pos < self._size:
            return None
        try:
            declared = self._prefix.decode(buf, pos)
        except FramingError as exc:
            self._failed = exc
            raise
        length = declared - self._size if self._includes else declared
        if declared > self._max or length < 0:
            self._failed = FrameTooLarge(declared, self._max, pos)
            raise self._failed
        end = pos + self._size + length
        if len(buf) < end:
            return None
        frame = bytes(buf[pos + self._size : end])
        self._pos = end
        return frame

    def frames(self) -> list[bytes]:
        """Every whole frame now buffered (see :meth:`next_frame`)."""
        out = []
        while (frame := self.next_frame()) is not None:
            out.append(frame)
        return out


def add_prefix(prefix: LengthPrefix, body: bytes, *, includes_itself: bool = False) -> bytes:
    """Put the length prefix in front of ``body``."""
    length = len(body) + (prefix.size if includes_itself else 0)
    return prefix.encode(length) + body


def _ascii(raw: bytes, part: str, offset: int, reject: str) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise HeaderError(part, offset, "ASCII characters", reject) from None


# Encoded header bytes around the total length, by header value: a link sends
# the same header again and again.
_CUPS_ENCODED: dict[CupsHeader, tuple[bytes, bytes]] = {}


@attrs.frozen(slots=True, cache_hash=True)
class CupsHeader:
    """The 46-byte CUPS message header (DOMAIN.md §2).

    ``total_length`` is not stored: it is computed when the header is
    written and checked when it is read.
    """

    destination: str = attrs.field(default="00010000")
    source: str = attrs.field(default="")
    test: bool = False
    version: int = 2
    batch: int = 0
    transaction_info: str = "00000000"
    user_info: int = 0
    reject_code: str = "00000"

    @property
    def rejected(self) -> bool:
        """True when this is a reject header (reject code other than 00000)."""
        return self.reject_code != "00000"

    def reply(self) -> CupsHeader:
        """The header of a response: destination and source swapped."""
        return attrs.evolve(self, destination=self.source, source=self.destination)

    def encode(self, body_length: int) -> bytes:
        """Write the header for a body of ``body_length`` bytes.

        Raises:
            FramingError: an ID is longer than 11 characters, the batch or
                user info does not fit a byte, or the total length exceeds 9999.
        """
        total = CUPS_HEADER_LENGTH + body_length
        parts = _CUPS_ENCODED.get(self)
        if parts is not None and total <= 9999:
            return parts[0] + b"%04d" % total + parts[1]
        if len(self.destination) > 11 or len(self.source) > 11:
            raise FramingError("header", 6, "institution IDs of at most 11 characters")
        if len(self.transaction_info) != 8 or len(self.reject_code) != 5:
            raise FramingError("header", 35, "8 characters of transaction info, 5 of reject code")
        if total > 9999 or not (0 <= self.batch <= 255 and 0 <= self.user_info <= 255):
            raise FramingError("header", 2, "a total length <= 9999 and one-byte batch/user info")
        flag = (self.version & 0x7F) | (0x80 if self.test else 0)
        try:
            before = bytes((CUPS_HEADER_LENGTH, flag))
            after = b"".join(
                (
                    self.destination.ljust(11).encode("ascii"),
                    self.source.ljust(11).encode("ascii"),
                    b"\x00\x00\x00",
                    bytes((self.batch,)),
                    self.transaction_info.encode("ascii"),
                    bytes((self.user_info,)),
                    self.reject_code.encode("ascii"),
                )
            )
        except UnicodeEncodeError:
            raise FramingError("header", 6, "ASCII header text") from None
        if len(_CUPS_ENCODED) >= 256:
            _CUPS_ENCODED.clear()
        _CUPS_ENCODED[self] = (before, after)
        return before + b"%04d" % total + after

    @classmethod
    def decode(
        cls, data: bytes, offset: int = 0, *, versions: frozenset[int] = frozenset({2})
    ) -> tuple[CupsHeader, int]:
        """Read a header at ``data[offset:]``.

        Returns:
            The header and the total length it declares (46 + body).

        Raises:
            HeaderError: with the reject code CUPS would answer (00015 header
                length, 00025 version, 00035 total length).
        """
        raw = data[offset : offset + CUPS_HEADER_LENGTH]
        if len(raw) < CUPS_HEADER_LENGTH or raw[0] != CUPS_HEADER_LENGTH:
            raise HeaderError("header", offset, "a 46-byte header (first byte 0x2E)", "00015")
        flag = raw[1]
        if (flag & 0x7F) not in versions:
            raise HeaderError("header", offset + 1, "a known header version", "00025")
        total_raw = raw[2:6]
        if not total_raw.isdigit():
            raise HeaderError("header", offset + 2, "a 4-digit total length", "00035")
        total = int(total_raw)
        dest = _ascii(raw[6:17], "header", offset + 6, "00045").rstrip(" ")
        src = _ascii(raw[17:28], "header", offset + 17, "00055").rstrip(" ")
        if raw[28:31] != b"\x00\x00\x00":
            raise HeaderError("header", offset + 28, "three zero reserved bytes", "00015")
        info = _ascii(raw[32:40], "header", offset + 32, "00015")
        reject = _ascii(raw[41:46], "header", offset + 41, "00015")
        if not reject.isdigit():
            raise HeaderError("header", offset + 41, "a 5-digit reject code", "00015")
        header = cls(
            destination=dest,
            source=src,
            test=bool(flag & 0x80),
            version=flag & 0x7F,
            batch=raw[31],
            transaction_info=info,
            user_info=raw[40],
            reject_code=reject,
        )
        return header, total


@attrs.frozen(slots=True)
class Tpdu:
    """The POS 5-byte TPDU: ID (0x60), destination and source addresses."""

    destination: str = "0000"
    source: str = "0000"
    id: str = "60"

    def reply(self) -> Tpdu:
        """The TPDU of a response: destination and source swapped."""
        return attrs.evolve(self, destination=self.source, source=self.destination)

    def encode(self) -> bytes:
        """Write the five bytes.

        Raises:
            FramingError: an address is not four hex digits.
        """
        text = self.id + self.destination + self.source
        if len(text) != 10:
            raise FramingError("tpdu", 0, "a 2-digit ID and 4-digit addresses")
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise FramingError("tpdu", 0, "hexadecimal TPDU parts") from None

    @classmethod
    def decode(cls, data: bytes, offset: int = 0) -> Tpdu:
        """Read a TPDU at ``data[offset:]``.

        Raises:
            FramingError: fewer than five bytes.
        """
        raw = data[offset : offset + 5]
        if len(raw) < 5:
            raise FramingError("tpdu", offset, "a 5-byte TPDU")
        text = raw.hex().upper()
        return cls(destination=text[2:6], source=text[6:10], id=text[:2])


@attrs.frozen(slots=True)
class PosHeader:
    """The POS 6-byte BCD application header (DOMAIN.md §3).

    ``application`` 60 (magnetic stripe) or 61 (IC); ``version`` the
    software version; ``status`` the terminal status nibble and ``request``
    the processing request nibble (the platform asks the terminal to
    download parameters, keys, ... through it); ``reserved`` six digits.
    """

    tpdu: Tpdu = attrs.field(factory=Tpdu)
    application: str = "60"
    version: str = "31"
    status: str = "0"
    request: str = "0"
    reserved: str = "000000"

    def reply(self) -> PosHeader:
        """The header of a response: the TPDU addresses swapped."""
        return attrs.evolve(self, tpdu=self.tpdu.reply())

    def encode(self) -> bytes:
        """Write TPDU and the 6-byte header (11 bytes).

        Raises:
            FramingError: a part is not hexadecimal of the right width.
        """
        text = self.application + self.version + self.status + self.request + self.reserved
        if len(text) != 12:
            raise FramingError("header", 5, "12 header digits")
        try:
            return self.tpdu.encode() + bytes.fromhex(text)
        except ValueError:
            raise FramingError("header", 5, "hexadecimal header digits") from None

    @classmethod
    def decode(cls, data: bytes, offset: int = 0) -> PosHeader:
        """Read TPDU and header at ``data[offset:]`` (11 bytes).

        Raises:
            FramingError: fewer than 11 bytes.
        """
        tpdu = Tpdu.decode(data, offset)
        raw = data[offset + 5 : offset + 11]
        if len(raw) < 6:
            raise FramingError("header", offset + 5, "a 6-byte POS header")
        text = raw.hex().upper()
        return cls(
            tpdu=tpdu,
            application=text[:2],
            version=text[2:4],
            status=text[4],
            request=text[5],
            reserved=text[6:],
        )


Header = CupsHeader | PosHeader
