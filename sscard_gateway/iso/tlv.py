"""BER-TLV data objects of field 55 (PBOC/EMV chip data).

Field 55 carries the chip's data objects (DOMAIN.md §5) coded as in EMV
Book 3 Annex B (a subset of ISO/IEC 8825-1 BER):

* **Tag**, 1 to 4 bytes. When the low five bits of the first byte are all
  set (``xxx11111``) more tag bytes follow, each with bit 8 set except the
  last (``9F26``, ``DF31``, ``DF8116``). Bit 6 of the first byte marks a
  *constructed* object whose value is itself a TLV list (``70``, ``71``).
* **Length**, short form ``0xxxxxxx`` (0-127) or long form ``1nnnnnnn``
  followed by ``n`` (1-4) big-endian length bytes. The indefinite form
  ``0x80`` is not allowed in EMV and is refused.
* **Value**, ``length`` bytes.

Design choices:

* A tag is an ``int``: the big-endian value of its bytes, written as the
  spec writes it (``0x9F26``). Tag bytes never start with ``00`` except the
  one-byte tag ``00``, so the int gives back the exact bytes.
* The order of objects, unknown tags and duplicate tags are all kept: a
  switch forwards field 55 as it came, and the MAC and the issuer see it.
* Byte-exact round trip: a parsed object whose length was not minimally
  encoded (``81 05`` for 5) keeps that encoding in ``Tlv.length_form`` and is
  re-encoded the same way. ``length_form`` is not part of equality: two
  objects with the same tag and value are equal however their length was
  written. Objects built by hand have ``length_form=None`` (minimal).
* Constructed objects keep their value as opaque bytes; :func:`children`
  parses it on demand. EMV padding bytes (``00`` between objects) get no
  special treatment: field 55 does not carry them, and ``00 00`` reads as an
  empty object of tag ``00`` and round-trips.
* Any malformed input raises :class:`~sscard_gateway.errors.DecodeError`
  with the field (``"55"``) and the offset inside the field value of the
  start of the bad part: the tag's first byte for a truncated or over-long
  tag, the length's first byte for a bad or truncated length, the value's
  first byte for a value running past the end. Nothing else is raised.

:func:`describe` renders objects for logs with cryptograms, scripts, track
data, the PAN and the cardholder name masked (docs/architecture.md principle 5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

import attrs

from ..errors import DecodeError, EncodeError
from ..ids import mask_pan

__all__ = [
    "MASKED",
    "SENSITIVE_TAGS",
    "TAG_NAMES",
    "Tlv",
    "TlvRow",
    "children",
    "describe",
    "encode_tlv",
    "get",
    "parse_tlv",
    "tag_name",
]

_MAX_LENGTH = 0xFFFFFFFF


_ONE_BYTE = tuple(bytes((b,)) for b in range(256))


def _tag_to_bytes(tag: int) -> bytes:
    if tag < 0x100:
        return _ONE_BYTE[tag]
    return tag.to_bytes((tag.bit_length() + 7) // 8, "big")


def _tag_size(tag: int) -> int:
    """Bytes of a well-formed tag, or 0 when ``tag`` is not one."""
    if tag < 0 or tag > 0xFFFFFFFF:
        return 0
    size = max((tag.bit_length() + 7) // 8, 1)
    raw = tag.to_bytes(size, "big")
    if size == 1:
        return 0 if raw[0] & 0x1F == 0x1F else 1
    if raw[0] & 0x1F != 0x1F or raw[-1] & 0x80:
        return 0
    if any(not b & 0x80 for b in raw[1:-1]):
        return 0
    return size


def _check_tag(instance: object, attribute: attrs.Attribute[int], tag: object) -> None:
    if not isinstance(tag, int) or isinstance(tag, bool) or not _tag_size(tag):
        raise EncodeError("55", "tag is not a BER-TLV tag of 1 to 4 bytes")


def _check_value(instance: object, attribute: attrs.Attribute[bytes], value: object) -> None:
    if not isinstance(value, bytes):
        raise EncodeError("55", "TLV value must be bytes")
    if len(value) > _MAX_LENGTH:
        raise EncodeError("55", "TLV value is longer than 4 length bytes can say")


def _minimal_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    size = (length.bit_length() + 7) // 8
    return bytes((0x80 | size,)) + length.to_bytes(size, "big")


def _read_length_form(form: bytes) -> int | None:
    """The length a (possibly non-minimal) encoding says, or None if malformed."""
    if not form:
        return None
    first = form[0]
    if not first & 0x80:
        return first if len(form) == 1 else None
    size = first & 0x7F
    if not 1 <= size <= 4 or len(form) != size + 1:
        return None
    return int.from_bytes(form[1:], "big")


@attrs.frozen(repr=False)
class Tlv:
    """One BER-TLV data object.

    Attributes:
        tag: the tag as the int of its bytes (``0x9F26``).
        value: the value bytes; for a constructed tag, the encoded children.
        length_form: the length bytes exactly as received when they were not
            the minimal encoding, else ``None``. Ignored by ``==`` and
            ``hash``. Set by hand only to reproduce a peer's encoding.

    The ``repr`` shows the tag and, except for sensitive tags (see
    :data:`SENSITIVE_TAGS`), the PAN and constructed objects, the value in hex.

    Raises:
        EncodeError: (field ``"55"``) when built with a malformed tag, a
            non-bytes value or a ``length_form`` that does not encode
            ``len(value)``.
    """

    tag: int = attrs.field(validator=_check_tag)
    value: bytes = attrs.field(validator=_check_value)
    length_form: bytes | None = attrs.field(default=None, eq=False)

    @length_form.validator
    def _check_length_form(self, attribute: attrs.Attribute[bytes | None], form: object) -> None:
        if form is None:
            return
        if not isinstance(form, bytes) or _read_length_form(form) != len(self.value):
            raise EncodeError("55", "length_form does not encode the value's length")

    def __repr__(self) -> str:
        # Masked like describe(): a repr ends up in logs and test reports.
        if self.tag in SENSITIVE_TAGS or self.tag == 0x5A or self.constructed:
            shown = f"<{len(self.value)} bytes>"
        else:
            shown = self.value.hex().upper()
        return f"Tlv({self.tag_hex}, {shown})"

    @property
    def tag_bytes(self) -> bytes:
        """The tag as it appears on the wire."""
        return _tag_to_bytes(self.tag)

    @property
    def tag_hex(self) -> str:
        """The tag in upper-case hex (``"9F26"``)."""
        return self.tag_bytes.hex().upper()

    @property
    def constructed(self) -> bool:
        """Whether bit 6 of the first tag byte marks a constructed object."""
        return bool(self.tag_bytes[0] & 0x20)


# Parsed objects are valid by construction, so they skip the validators
# (STYLE.md 4): the slot descriptors set the fields directly, which halves
# the cost of parse_tlv.
_new = object.__new__
_set_tag = Tlv.__dict__["tag"].__set__
_set_value = Tlv.__dict__["value"].__set__
_set_form = Tlv.__dict__["length_form"].__set__


def _trusted(tag: int, value: bytes, form: bytes | None) -> Tlv:
    item: Tlv = _new(Tlv)
    _set_tag(item, tag)
    _set_value(item, value)
    _set_form(item, form)
    return item


def _parse(data: bytes, field: str, base: int) -> tuple[Tlv, ...]:
    items: list[Tlv] = []
    append = items.append
    n = len(data)
    i = 0
    while i < n:
        start = i
        tag = data[i]
        i += 1
        if tag & 0x1F == 0x1F:
            while True:
                if i >= n:
                    raise DecodeError(field, base + start, "a complete tag")
                b = data[i]
                i += 1
                tag = (tag << 8) | b
                if not b & 0x80:
                    break
                if i - start == 4:
                    raise DecodeError(field, base + start, "a tag of at most 4 bytes")
        if i >= n:
            raise DecodeError(field, base + i, "a length")
        lstart = i
        length = data[i]
        i += 1
        form = None
        if length & 0x80:
            size = length & 0x7F
            if size == 0:
                raise DecodeError(field, base + lstart, "a definite length (not 80)")
            if size > 4:
                raise DecodeError(field, base + lstart, "at most 4 length bytes")
            if i + size > n:
                raise DecodeError(field, base + lstart, f"{size} length bytes")
            length = int.from_bytes(data[i : i + size], "big")
            i += size
            if length < 0x80 or data[lstart + 1] == 0:
                form = data[lstart:i]
        end = i + length
        if end > n:
            raise DecodeError(field, base + i, f"{length} value bytes, {n - i} left")
        append(_trusted(tag, data[i:end], form))
        i = end
    return tuple(items)


def parse_tlv(
    data: bytes | bytearray | memoryview, *, field: str = "55", base: int = 0
) -> tuple[Tlv, ...]:
    """Parse a field value into its BER-TLV data objects, in order.

    Args:
        data: the field value (without its LLL prefix); a bytearray or
            memoryview is copied to bytes first.
        field: the field number, for errors.
        base: added to error offsets, for a caller that wants offsets in the
            frame rather than in the field value.

    Returns:
        The data objects; constructed objects keep their value unparsed.

    Raises:
        DecodeError: ``data`` is empty or malformed (see the module docstring
            for the offset reported).
    """
    raw = data if type(data) is bytes else bytes(data)
    if not raw:
        raise DecodeError(field, base, "at least one TLV data object")
    return _parse(raw, field, base)


def children(item: Tlv, *, field: str = "55", base: int = 0) -> tuple[Tlv, ...]:
    """Parse the value of a constructed object (``70``, ``71``, ``72``...).

    Args:
        item: the object; any object may be tried, constructed or not.
        field: the field number, for errors.
        base: added to error offsets, which are otherwise inside ``item.value``.

    Returns:
        The child objects; empty for an empty value.

    Raises:
        DecodeError: the value is not a TLV list.
    """
    return _parse(item.value, field, base)


def encode_tlv(items: Iterable[Tlv], *, field: str = "55") -> bytes:
    """Encode data objects, each with its kept length form or the minimal one.

    Args:
        items: the objects, in wire order.
        field: the field number, for errors.

    Returns:
        The field value.

    Raises:
        EncodeError: ``items`` is empty (an empty field 55 must be left out)
            or holds something that is not a :class:`Tlv`.
    """
    parts: list[bytes] = []
    append = parts.append
    for item in items:
        if type(item) is not Tlv:
            raise EncodeError(field, "field 55 items must be Tlv objects")
        append(_tag_to_bytes(item.tag))
        value = item.value
        form = item.length_form
        if form is not None:
            append(form)
        elif len(value) < 0x80:
            append(_ONE_BYTE[len(value)])
        else:
            append(_minimal_length(len(value)))
        append(value)
    if not parts:
        raise EncodeError(field, "no TLV data objects to encode")
    return b"".join(parts)


def get(items: Iterable[Tlv], tag: int) -> bytes | None:
    """Return the value of the first object with ``tag``, or ``None``.

    Args:
        items: parsed or built objects.
        tag: the tag as an int (``0x9F26``).
    """
    for item in items:
        if item.tag == tag:
            return item.value
    return None


#: Names of the field 55 tags of DOMAIN.md §5 (requests, responses, reversals),
#: of the card data objects :func:`describe` masks, and of common templates.
TAG_NAMES: Mapping[int, str] = MappingProxyType(
    {
        0x4F: "Application Identifier (AID) - card",
        0x50: "Application Label",
        0x56: "Track 1 Equivalent Data",
        0x57: "Track 2 Equivalent Data",
        0x5A: "Application Primary Account Number (PAN)",
        0x5F20: "Cardholder Name",
        0x5F24: "Application Expiration Date",
        0x5F2A: "Transaction Currency Code",
        0x5F34: "Application PAN Sequence Number",
        0x70: "READ RECORD Response Message Template",
        0x71: "Issuer Script Template 1",
        0x72: "Issuer Script Template 2",
        0x77: "Response Message Template Format 2",
        0x82: "Application Interchange Profile",
        0x84: "Dedicated File (DF) Name",
        0x8A: "Authorisation Response Code",
        0x91: "Issuer Authentication Data",
        0x95: "Terminal Verification Results",
        0x9A: "Transaction Date",
        0x9C: "Transaction Type",
        0x9F02: "Amount, Authorised (Numeric)",
        0x9F03: "Amount, Other (Numeric)",
        0x9F09: "Application Version Number - terminal",
        0x9F0B: "Cardholder Name Extended",
        0x9F10: "Issuer Application Data",
        0x9F1A: "Terminal Country Code",
        0x9F1E: "Interface Device (IFD) Serial Number",
        0x9F1F: "Track 1 Discretionary Data",
        0x9F20: "Track 2 Discretionary Data",
        0x9F26: "Application Cryptogram",
        0x9F27: "Cryptogram Information Data",
        0x9F33: "Terminal Capabilities",
        0x9F34: "Cardholder Verification Method (CVM) Results",
        0x9F35: "Terminal Type",
        0x9F36: "Application Transaction Counter (ATC)",
        0x9F37: "Unpredictable Number",
        0x9F41: "Transaction Sequence Counter",
        0x9F63: "Card Product Identification Information",
        0x9F6B: "Track 2 Data",
        0x9F74: "Electronic Cash Issuer Authorisation Code",
        0xDF31: "Issuer Script Results",
    }
)

#: Tags whose values :func:`describe` never shows. The application
#: cryptogram (9F26) and issuer authentication data (91) are the card's and
#: issuer's proofs for this transaction; scripts (71, 72) carry issuer
#: commands and MACs; track data (56, 57, 9F1F, 9F20, 9F6B) and names (5F20,
#: 9F0B) are card and holder data. The PAN (5A) is shown masked first 6 /
#: last 4. 9F10 (issuer application data: key index, cryptogram version,
#: verification results) is shown: it holds no secret and is needed to
#: diagnose declines.
SENSITIVE_TAGS: frozenset[int] = frozenset(
    {0x56, 0x57, 0x5F20, 0x71, 0x72, 0x91, 0x9F0B, 0x9F1F, 0x9F20, 0x9F26, 0x9F6B}
)

#: The text :func:`describe` shows in place of a sensitive value.
MASKED = "<masked>"


def tag_name(tag: int) -> str | None:
    """Return the EMV/PBOC name of a tag, or ``None`` for a tag not in :data:`TAG_NAMES`."""
    return TAG_NAMES.get(tag)


@attrs.frozen
class TlvRow:
    """One display line of :func:`describe`.

    Attributes:
        depth: nesting level, 0 for top-level objects.
        tag: the tag in upper-case hex.
        name: the tag's name, or ``"unknown"``.
        length: the value length in bytes.
        value: upper-case hex, or a masked rendering for sensitive tags.
    """

    depth: int
    tag: str
    name: str
    length: int
    value: str


def _display(item: Tlv) -> str:
    if item.tag in SENSITIVE_TAGS:
        return MASKED
    if item.tag == 0x5A:
        return mask_pan(item.value.hex().upper().rstrip("F"))
    return item.value.hex().upper()


def describe(items: Iterable[Tlv], *, depth: int = 0) -> tuple[TlvRow, ...]:
    """Render data objects as display rows with sensitive values masked.

    Constructed objects that are not in :data:`SENSITIVE_TAGS` are shown as a
    row with an empty value followed by rows for their children (one level
    deeper); one whose value does not parse is masked whole, since it may
    hold card data.

    Args:
        items: the objects.
        depth: the depth of these objects, for nesting.

    Returns:
        One row per object and per child object.
    """
    rows: list[TlvRow] = []
    for item in items:
        name = TAG_NAMES.get(item.tag, "unknown")
        if item.constructed and item.tag not in SENSITIVE_TAGS:
            try:
                inner = _parse(item.value, "55", 0)
            except DecodeError:
                rows.append(TlvRow(depth, item.tag_hex, name, len(item.value), MASKED))
                continue
            rows.append(TlvRow(depth, item.tag_hex, name, len(item.value), ""))
            rows.extend(describe(inner, depth=depth + 1))
            continue
        rows.append(TlvRow(depth, item.tag_hex, name, len(item.value), _display(item)))
    return tuple(rows)
