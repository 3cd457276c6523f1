"""Composite fields: values with an inner structure the codec leaves as text or bytes.

The codec (pyiso8583 under :mod:`sscard_gateway.iso.dialect`) reads each field
as one value; these pure functions give the structured view and back:

* **Field 90**, original data elements (DOMAIN.md §2, ``n42``): original MTI
  (4), STAN (6), transmission date and time F7 (10), acquiring institution
  F32 (11) and forwarding institution F33 (11), each institution right-aligned
  with leading zeros. :class:`OriginalData` keeps the institutions in that
  11-digit form, since a code like ``01020000`` has significant leading zeros.
* **Fixed-layout subfields** (POS field 60, DOMAIN.md §3: transaction type n2,
  batch n6, network management code n3, then optional read capability and IC
  condition): :class:`FixedLayout` slices a value by lengths taken from the
  dialect file. Required subfields come first; a value may end after any
  complete optional subfield, never inside one.
* **Usage tags** (DOMAIN.md §2 and §4): CUPS fields 48 and 63 begin with a
  2-character usage tag. Field 48 usage ``NK`` carries a new PIN key in a key
  reset (0800 F70 101), field 63 usage ``SM`` the SM4 PIN block (its data
  layout is not public: read it with :class:`Usage`).
* **Field 62 key blocks** of the POS sign-on (DOMAIN.md §3): the terminal's
  PIN, MAC and (network management code 004) track keys, each a cryptogram
  under the terminal master key followed by a 4-byte check value.

Offsets in :class:`~sscard_gateway.errors.DecodeError` count characters (or
bytes for field 62) from the start of the field value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType

import attrs

from ..errors import DecodeError, EncodeError, SpecError

__all__ = [
    "DEFAULT_F62_LAYOUTS",
    "F62Layout",
    "FixedLayout",
    "KeyBlock",
    "OriginalData",
    "SignOnKeys",
    "Subfield",
    "Usage",
    "format_f62_keys",
    "format_nk",
    "parse_f62_keys",
    "parse_nk",
    "transmission_time",
]


def _is_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


# --- field 90 ---------------------------------------------------------------

_F90_LENGTH = 42


def _digits_of(length: int) -> Callable[[object, attrs.Attribute[str], object], None]:
    def check(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
        if not isinstance(value, str) or len(value) != length or not _is_digits(value):
            raise EncodeError("90", f"{attribute.name} must be {length} digits")

    return check


def _institution(value: str | None, name: str, *, optional: bool) -> str:
    if optional and (value is None or value == ""):
        return "0" * 11
    if not isinstance(value, str) or len(value) > 11 or not _is_digits(value):
        raise EncodeError("90", f"{name} must be 1 to 11 digits")
    return value.zfill(11)


def transmission_time(moment: datetime) -> str:
    """F7 for ``moment``: ``MMDDhhmmss``.

    Args:
        moment: the local date and time.

    Returns:
        Ten digits.
    """
    return moment.strftime("%m%d%H%M%S")


@attrs.frozen
class OriginalData:
    """Field 90: the data elements identifying the original of a reversal.

    Attributes:
        mti: the original message type, 4 digits.
        stan: the original field 11, 6 digits.
        transmission_time: the original field 7 ``MMDDhhmmss``, 10 digits.
        acquirer: the original field 32 right-aligned to 11 digits.
        forwarder: the original field 33 right-aligned to 11 digits
            (zeros when the original had none).

    Raises:
        EncodeError: (field ``"90"``) when built with a part of the wrong
            length or not digits.
    """

    mti: str = attrs.field(validator=_digits_of(4))
    stan: str = attrs.field(validator=_digits_of(6))
    transmission_time: str = attrs.field(validator=_digits_of(10))
    acquirer: str = attrs.field(validator=_digits_of(11))
    forwarder: str = attrs.field(validator=_digits_of(11))

    @classmethod
    def parse(cls, value: str, *, field: str = "90") -> OriginalData:
        """Read a field 90 value (``field`` is named in errors).

        Raises:
            DecodeError: ``value`` is not 42 ASCII digits; the offset is the
                first bad character's (or the end of a short value).
        """
        if len(value) != _F90_LENGTH or not _is_digits(value):
            head = value[:_F90_LENGTH]
            bad = next((i for i, c in enumerate(head) if not "0" <= c <= "9"), len(head))
            raise DecodeError(field, bad, f"{_F90_LENGTH} digits")
        return cls(value[0:4], value[4:10], value[10:20], value[20:31], value[31:42])

    @classmethod
    def from_original(
        cls, *, mti: str, stan: str, f7: str, f32: str, f33: str | None = None
    ) -> OriginalData:
        """Build field 90 from the original message's MTI and fields 11, 7, 32, 33.

        ``f32`` and ``f33`` (1 to 11 digits) are padded to 11 with leading
        zeros; an absent ``f33`` (``None`` or ``""``) gives 11 zeros.

        Raises:
            EncodeError: a value has the wrong length or is not digits.
        """
        acquirer = _institution(f32, "acquirer", optional=False)
        forwarder = _institution(f33, "forwarder", optional=True)
        return cls(mti, stan, f7, acquirer, forwarder)

    def format(self) -> str:
        """Write the 42-digit field 90 value."""
        return self.mti + self.stan + self.transmission_time + self.acquirer + self.forwarder


# --- fixed-layout subfields -------------------------------------------------


@attrs.frozen
class Subfield:
    """One subfield of a :class:`FixedLayout`: a name, a length in characters."""

    name: str
    length: int
    required: bool = True


def _layout_problem(subfields: Sequence[Subfield]) -> tuple[int, str] | None:
    if not subfields:
        return 0, "a layout needs at least one subfield"
    seen: set[str] = set()
    optional_seen = False
    for i, sf in enumerate(subfields):
        if not isinstance(sf.name, str) or not sf.name:
            return i, "the name must be a non-empty string"
        if sf.name in seen:
            return i, f"subfield name {sf.name!r} is repeated"
        seen.add(sf.name)
        if not isinstance(sf.length, int) or isinstance(sf.length, bool) or sf.length < 1:
            return i, "the length must be a positive integer"
        if not isinstance(sf.required, bool):
            return i, "required must be true or false"
        if sf.required and optional_seen:
            return i, "a required subfield cannot follow an optional one"
        optional_seen = optional_seen or not sf.required
    return None


@attrs.frozen
class FixedLayout:
    """Subfields of fixed lengths laid end to end in one field value.

    Attributes:
        field: the field number, named in errors (``"60"``).
        subfields: the subfields in order; required ones first.

    Raises:
        SpecError: (file ``"<code>"``) when built directly with an invalid
            list of subfields; :meth:`from_spec` names the dialect file.
    """

    field: str
    subfields: tuple[Subfield, ...]

    def __attrs_post_init__(self) -> None:
        problem = _layout_problem(self.subfields)
        if problem is not None:
            raise SpecError("<code>", f"subfields[{problem[0]}]", problem[1])

    @classmethod
    def from_spec(cls, spec: object, *, file: str, where: str, field: str) -> FixedLayout:
        """Build a layout from dialect data: ``[[name, length, required], ...]``.

        ``required`` may be left out (``[name, length]``) and then is true.
        ``file`` and ``where`` (the key in the file, ``fields.60.subfields``)
        are named in errors; ``field`` is the field number of the layout.

        Raises:
            SpecError: the list is malformed, a name is empty or repeated, a
                length is not a positive integer, or a required subfield
                follows an optional one.
        """
        if not isinstance(spec, list):
            raise SpecError(file, where, "must be a list of [name, length, required]")
        subfields: list[Subfield] = []
        for i, entry in enumerate(spec):
            if not isinstance(entry, list) or len(entry) not in (2, 3):
                raise SpecError(file, f"{where}[{i}]", "must be [name, length, required]")
            name, length = entry[0], entry[1]
            required = entry[2] if len(entry) == 3 else True
            subfields.append(Subfield(name, length, required))
        problem = _layout_problem(subfields)
        if problem is not None:
            raise SpecError(file, f"{where}[{problem[0]}]", problem[1])
        return cls(field, tuple(subfields))

    def parse(self, value: str) -> dict[str, str]:
        """Split a field value into its present subfields, by name in layout order.

        Raises:
            DecodeError: a required subfield is missing, the value ends
                inside a subfield, or characters follow the last subfield.
        """
        out: dict[str, str] = {}
        n = len(value)
        pos = 0
        for sf in self.subfields:
            if pos == n and not sf.required:
                return out
            end = pos + sf.length
            if end > n:
                left = n - pos
                expected = f"subfield {sf.name} of {sf.length} characters, {left} left"
                raise DecodeError(self.field, pos, expected)
            out[sf.name] = value[pos:end]
            pos = end
        if pos != n:
            raise DecodeError(self.field, pos, f"the end after subfield {self.subfields[-1].name}")
        return out

    def format(self, values: Mapping[str, str | None]) -> str:
        """Join subfield values (by name) into a field value.

        Optional subfields may be left out (or ``None``) from the end; each
        value must have exactly its subfield's length.

        Raises:
            EncodeError: a required subfield is missing, an optional one is
                given after an absent one, a value has the wrong length, or a
                name is not in the layout.
        """
        parts: list[str] = []
        absent: str | None = None
        for sf in self.subfields:
            v = values.get(sf.name)
            if v is None:
                if sf.required:
                    raise EncodeError(self.field, f"subfield {sf.name} is required")
                absent = absent or sf.name
                continue
            if absent is not None:
                raise EncodeError(self.field, f"subfield {sf.name} needs {absent} before it")
            if not isinstance(v, str) or len(v) != sf.length:
                raise EncodeError(self.field, f"subfield {sf.name} must be {sf.length} characters")
            parts.append(v)
        if len(values) > len(parts):
            names = {sf.name for sf in self.subfields}
            unknown = sorted(k for k in values if k not in names)
            if unknown:
                raise EncodeError(self.field, f"no subfield named {', '.join(unknown)}")
        return "".join(parts)


# --- usage tags (fields 48 and 63) -------------------------------------------

_USAGE_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEX = frozenset("0123456789ABCDEFabcdef")


def _check_usage_tag(instance: object, attribute: attrs.Attribute[str], tag: object) -> None:
    if not isinstance(tag, str) or len(tag) != 2 or not _USAGE_CHARS.issuperset(tag):
        raise EncodeError("usage", "tag must be two upper-case letters or digits")


@attrs.frozen
class Usage:
    """A usage-tagged field value: 2-character tag then data (``NK...``, ``SM...``).

    Raises:
        EncodeError: (field ``"usage"``) when built with a tag that is not two
            upper-case letters or digits.
    """

    tag: str = attrs.field(validator=_check_usage_tag)
    data: str = attrs.field(
        validator=attrs.validators.instance_of(str), repr=lambda d: f"<{len(d)} characters>"
    )

    @classmethod
    def parse(cls, value: str, *, field: str = "48") -> Usage:
        """Split a field value into usage tag and data.

        Raises:
            DecodeError: the value is shorter than 2 characters or the tag
                is not upper-case letters and digits.
        """
        for i in range(2):
            if i >= len(value) or value[i] not in _USAGE_CHARS:
                raise DecodeError(field, i, "a usage tag of 2 upper-case letters or digits")
        return cls(value[:2], value[2:])

    def format(self) -> str:
        """Write the field value: tag then data."""
        return self.tag + self.data


def _hex_data(value: str, tag: str, size: int, field: str) -> bytes:
    usage = Usage.parse(value, field=field)
    if usage.tag != tag:
        raise DecodeError(field, 0, f"usage tag {tag}")
    data = usage.data
    if len(data) != 2 * size:
        raise DecodeError(field, 2 + min(len(data), 2 * size), f"{2 * size} hex characters")
    bad = next((i for i, c in enumerate(data) if c not in _HEX), None)
    if bad is not None:
        raise DecodeError(field, 2 + bad, "hex characters")
    return bytes.fromhex(data)


@attrs.frozen
class KeyBlock:
    """A key as carried on the wire: its cryptogram and its check value.

    The ``repr`` shows only the cryptogram's length and the check value.
    """

    cryptogram: bytes = attrs.field(
        validator=attrs.validators.instance_of(bytes), repr=lambda v: f"<{len(v)} bytes>"
    )
    check_value: bytes = attrs.field(
        validator=attrs.validators.instance_of(bytes), repr=lambda v: v.hex().upper()
    )


def parse_nk(
    value: str, *, key_length: int = 16, check_value_length: int = 4, field: str = "48"
) -> KeyBlock:
    """Read the new PIN key of a CUPS key reset (field 48 usage ``NK``).

    Layout **[assumed]**: ``NK``, the key cryptogram under the zone master key
    in hex (``2 * key_length`` characters: 16 single, 32 double length), then
    the check value in hex (``2 * check_value_length``). Both lengths are
    parameters for the dialect to set.

    Raises:
        DecodeError: (``field``) the tag is not ``NK``, the data has the wrong length or
            is not hex.
    """
    raw = _hex_data(value, "NK", key_length + check_value_length, field)
    return KeyBlock(raw[:key_length], raw[key_length:])


def format_nk(block: KeyBlock, *, key_length: int = 16, check_value_length: int = 4) -> str:
    """Write a field 48 ``NK`` value (upper-case hex), the inverse of :func:`parse_nk`.

    Raises:
        EncodeError: (field ``"48"``) the block's lengths differ from those given.
    """
    if len(block.cryptogram) != key_length or len(block.check_value) != check_value_length:
        raise EncodeError("48", f"NK key block must be {key_length} + {check_value_length} bytes")
    return "NK" + (block.cryptogram + block.check_value).hex().upper()


# --- field 62 sign-on keys ------------------------------------------------------


@attrs.frozen
class F62Layout:
    """Sizes of the key blocks in field 62 for one network management code."""

    key_length: int
    check_value_length: int = 4
    track: bool = False

    @property
    def size(self) -> int:
        """The field length in bytes."""
        return (3 if self.track else 2) * (self.key_length + self.check_value_length)


#: Field 62 layouts by field 60.3 network management code (DOMAIN.md §3):
#: 001 single-length PIN + MAC keys (24 bytes), 003 double-length (40 bytes),
#: 004 double-length PIN + MAC + track keys (60 bytes). Some terminal specs
#: send a single-length MAC key padded with 8 zero bytes under 003; that is
#: the same 40 bytes, read here as a 16-byte cryptogram.
DEFAULT_F62_LAYOUTS: Mapping[str, F62Layout] = MappingProxyType(
    {"001": F62Layout(8), "003": F62Layout(16), "004": F62Layout(16, track=True)}
)


@attrs.frozen
class SignOnKeys:
    """The working keys a POS sign-on response delivers in field 62."""

    pin: KeyBlock
    mac: KeyBlock
    track: KeyBlock | None = None


def _f62_layout(network_code: str, layouts: Mapping[str, F62Layout] | None) -> F62Layout | None:
    return (DEFAULT_F62_LAYOUTS if layouts is None else layouts).get(network_code)


def parse_f62_keys(
    data: bytes,
    network_code: str,
    *,
    layouts: Mapping[str, F62Layout] | None = None,
    field: str = "62",
) -> SignOnKeys:
    """Split a sign-on response's field 62 into PIN, MAC and track key blocks.

    Args:
        data: the field value.
        network_code: field 60.3 of the message (``"001"``, ``"003"``, ``"004"``).
        layouts: sizes by network code; :data:`DEFAULT_F62_LAYOUTS` if ``None``.
        field: the field number, for errors.

    Returns:
        The key blocks; ``track`` is ``None`` unless the layout has one.

    Raises:
        DecodeError: the network code has no layout (offset 0) or ``data``
            has the wrong length (offset: where data ends or extra bytes begin).
    """
    layout = _f62_layout(network_code, layouts)
    if layout is None:
        raise DecodeError(field, 0, "a sign-on network management code with a key layout")
    if len(data) != layout.size:
        raise DecodeError(field, min(len(data), layout.size), f"{layout.size} bytes of keys")
    k, c = layout.key_length, layout.check_value_length
    step = k + c
    blocks = [KeyBlock(data[i : i + k], data[i + k : i + step]) for i in range(0, len(data), step)]
    return SignOnKeys(blocks[0], blocks[1], blocks[2] if layout.track else None)


def format_f62_keys(
    keys: SignOnKeys,
    network_code: str,
    *,
    layouts: Mapping[str, F62Layout] | None = None,
    field: str = "62",
) -> bytes:
    """Write field 62 of a sign-on response, the inverse of :func:`parse_f62_keys`.

    Raises:
        EncodeError: the network code has no layout, a track key is given
            or missing against the layout, or a block has the wrong size.
    """
    layout = _f62_layout(network_code, layouts)
    if layout is None:
        raise EncodeError(field, "no key layout for this network management code")
    if (keys.track is not None) != layout.track:
        raise EncodeError(field, "track key presence does not match the network code")
    blocks = [keys.pin, keys.mac] + ([keys.track] if keys.track is not None else [])
    sizes = (layout.key_length, layout.check_value_length)
    for name, block in zip(("PIN", "MAC", "track"), blocks, strict=False):
        if (len(block.cryptogram), len(block.check_value)) != sizes:
            raise EncodeError(field, f"{name} key block must be {sizes[0]} + {sizes[1]} bytes")
    return b"".join(b.cryptogram + b.check_value for b in blocks)
