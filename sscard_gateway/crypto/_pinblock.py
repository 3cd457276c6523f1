"""PIN blocks: ISO 9564-1 formats 0 to 4 and the SM4 PIN block.

Layouts (nibbles; P = PIN digit, F = 0xF, R = random, A = 0xA):

- ``iso0`` (ANSI X9.8, DOMAIN.md §4): ``0 L P…P F…F`` XOR ``0000`` + the 12
  rightmost PAN digits excluding the check digit. 8 bytes.
- ``iso1``: ``1 L P…P R…R`` (random fill 0-F), no PAN. 8 bytes.
- ``iso2``: ``2 L P…P F…F``, no PAN (IC card offline PIN). 8 bytes.
- ``iso3``: ``3 L P…P R…R`` (random fill A-F) XOR the format 0 PAN field.
- ``iso4`` (ISO 9564-1:2017, AES): plain PIN field ``4 L P…P A…A`` (16
  nibbles) + 16 random nibbles; PAN field ``M`` (PAN length - 12, 0 when
  shorter) + the PAN (left-padded with zeros to 12 digits) + zeros to 32
  nibbles. Encipherment is two steps: A = E(PIN field),
  B = A XOR PAN field, result = E(B). The "clear block" of format 4 is the
  plain PIN field.
- ``sm4`` **[assumed]**: the format 0 layout widened to one 16-byte SM4
  block, as UnionPay institutions use it with SM4 keys (field 63 usage
  ``SM``): ``0 L P…P F…F`` (32 nibbles) XOR 20 zero nibbles + the 12
  rightmost PAN digits excluding the check digit; enciphered by SM4-ECB.

Validation: a PIN is 4 to 12 decimal digits; a PAN is 13 to 19 decimal
digits where the format uses one. Errors are :class:`PinBlockError`
(response code 99) and never quote the PIN or the PAN. Random fill comes
from :mod:`secrets`.

These are building blocks: in the gateway only the security module
(:mod:`._hsm`) decodes PIN blocks, so the clear PIN never leaves it.
"""

from __future__ import annotations

import enum
import secrets
from typing import Final

from ..errors import PinBlockError, SecurityError
from ._cipher import xor as _xor
from ._keys import AES_FAMILY, DES_FAMILY, SM4_FAMILY, Algorithm, Key

__all__ = [
    "PinFormat",
    "decode_pin_block",
    "decrypt_pin_block",
    "encode_pin_block",
    "encrypt_pin",
    "encrypt_pin_block",
]


class PinFormat(enum.Enum):
    """A PIN block format; values are the names used in dialect files."""

    ISO0 = "iso0"
    ISO1 = "iso1"
    ISO2 = "iso2"
    ISO3 = "iso3"
    ISO4 = "iso4"
    SM4 = "sm4"

    @property
    def block_size(self) -> int:
        """Block length in bytes (8, or 16 for ``iso4`` and ``sm4``)."""
        return 16 if self in (PinFormat.ISO4, PinFormat.SM4) else 8

    @property
    def uses_pan(self) -> bool:
        """True when the PAN enters the block (formats 0, 3, 4 and sm4)."""
        return self not in (PinFormat.ISO1, PinFormat.ISO2)

    @property
    def key_algorithms(self) -> frozenset[Algorithm]:
        """The key algorithms that may encipher this format."""
        if self is PinFormat.ISO4:
            return AES_FAMILY
        return SM4_FAMILY if self is PinFormat.SM4 else DES_FAMILY

    @classmethod
    def from_name(cls, name: str | int) -> PinFormat:
        """Parse ``0``-``4``, ``iso0``-``iso4`` (also ``iso-0``, ``ISO 0``) or ``sm4``.

        Raises:
            SecurityError: not a known format.
        """
        key = str(name).strip().lower().replace("-", "").replace(" ", "").replace("_", "")
        if key.isdigit():
            key = "iso" + key
        try:
            return cls(key)
        except ValueError:
            known = ", ".join(f.value for f in cls)
            raise SecurityError(f"unknown PIN block format {name!r}; known: {known}") from None


def _as_format(format: PinFormat | str | int) -> PinFormat:
    return format if isinstance(format, PinFormat) else PinFormat.from_name(format)


def _check_pin(pin: str) -> None:
    if not isinstance(pin, str) or not (pin.isascii() and pin.isdigit()):
        raise PinBlockError("a PIN must be decimal digits")
    if not 4 <= len(pin) <= 12:
        raise PinBlockError(f"a PIN is 4 to 12 digits, not {len(pin)}")


def _check_pan(pan: str | None) -> str:
    if pan is None:
        raise PinBlockError("this PIN block format needs the PAN")
    if not isinstance(pan, str) or not (pan.isascii() and pan.isdigit()):
        raise PinBlockError("a PAN must be decimal digits")
    if not 13 <= len(pan) <= 19:
        raise PinBlockError(f"a PAN is 13 to 19 digits, not {len(pan)}")
    return pan


def _pan_field(pan: str, fmt: PinFormat) -> bytes:
    """The PAN field XORed into (or, for iso4, between the passes of) the block."""
    if fmt is PinFormat.ISO4:
        m = max(len(pan) - 12, 0)
        digits = f"{m:X}" + pan.rjust(12, "0")
        return bytes.fromhex(digits.ljust(32, "0"))
    field = "0000" + pan[-13:-1]
    return bytes.fromhex(field.rjust(fmt.block_size * 2, "0"))


def _control(fmt: PinFormat) -> str:
    """The control field (first nibble): the format number; ``0`` for sm4."""
    return "0" if fmt is PinFormat.SM4 else fmt.value[-1]


def _random_nibbles(count: int, low: int) -> str:
    """``count`` random hex digits in ``low``..15."""
    span = 16 - low
    return "".join(f"{low + secrets.randbelow(span):X}" for _ in range(count))


def encode_pin_block(pin: str, pan: str | None, format: PinFormat | str | int) -> bytes:
    """Build the clear PIN block (for ``iso4``, the plain PIN field).

    Args:
        pin: 4 to 12 decimal digits.
        pan: the PAN (13-19 digits) for formats 0, 3, 4 and sm4 (format 4
            binds it at encipherment but checks it here); ignored by formats
            1 and 2 (may be ``None``).
        format: a :class:`PinFormat` or its name (``0``, ``"iso3"``, ``"sm4"``).

    Returns:
        8 bytes (formats 0-3) or 16 bytes (iso4, sm4).

    Raises:
        PinBlockError: the PIN or PAN is invalid (the message never quotes them).
        SecurityError: unknown format.
    """
    fmt = _as_format(format)
    _check_pin(pin)
    head = f"{_control(fmt)}{len(pin):X}{pin}"
    if fmt is PinFormat.ISO4:
        _check_pan(pan)  # bound at encipherment; checked now to fail early
        return bytes.fromhex(head.ljust(16, "A") + _random_nibbles(16, 0))
    width = fmt.block_size * 2
    if fmt is PinFormat.ISO1:
        text = head + _random_nibbles(width - len(head), 0)
    elif fmt is PinFormat.ISO3:
        text = head + _random_nibbles(width - len(head), 10)
    else:
        text = head.ljust(width, "F")
    block = bytes.fromhex(text)
    if fmt.uses_pan:
        block = _xor(block, _pan_field(_check_pan(pan), fmt))
    return block


def decode_pin_block(block: bytes, pan: str | None, format: PinFormat | str | int) -> str:
    """Read the PIN out of a clear PIN block, validating its layout.

    Args:
        block: the clear block (for ``iso4``, the plain PIN field).
        pan: the PAN for formats 0, 3 and sm4; ignored otherwise.
        format: the expected format.

    Returns:
        The PIN digits.

    Raises:
        PinBlockError: wrong length, control field, PIN length, non-decimal
            PIN digit or bad fill (the message never quotes PIN or PAN).
        SecurityError: unknown format.
    """
    fmt = _as_format(format)
    if len(block) != fmt.block_size:
        raise PinBlockError(f"a {fmt.value} PIN block is {fmt.block_size} bytes, not {len(block)}")
    if fmt.uses_pan and fmt is not PinFormat.ISO4:
        block = _xor(bytes(block), _pan_field(_check_pan(pan), fmt))
    text = bytes(block).hex().upper()
    control = _control(fmt)
    if text[0] != control:
        raise PinBlockError(f"PIN block control field is not {control} ({fmt.value})")
    length = int(text[1], 16)
    if not 4 <= length <= 12:
        raise PinBlockError(f"PIN block gives a PIN length of {length}, outside 4..12")
    pin = text[2 : 2 + length]
    if not pin.isdigit():
        raise PinBlockError("PIN block holds a non-decimal PIN digit")
    fill = text[2 + length : 16 if fmt is PinFormat.ISO4 else None]
    expected = _FILL[fmt]
    if expected is not None and not set(fill) <= expected:
        raise PinBlockError(f"PIN block fill is not valid for {fmt.value}")
    return pin


_FILL: Final[dict[PinFormat, frozenset[str] | None]] = {
    PinFormat.ISO0: frozenset("F"),
    PinFormat.ISO1: None,
    PinFormat.ISO2: frozenset("F"),
    PinFormat.ISO3: frozenset("ABCDEF"),
    PinFormat.ISO4: frozenset("A"),
    PinFormat.SM4: frozenset("F"),
}


def _check_key(key: Key, fmt: PinFormat) -> None:
    if key.algorithm not in fmt.key_algorithms:
        raise SecurityError(
            f"PIN block format {fmt.value} cannot be enciphered under a {key.algorithm.value} key"
        )


def encrypt_pin_block(
    key: Key, block: bytes, format: PinFormat | str | int, pan: str | None = None
) -> bytes:
    """Encipher a clear PIN block under a PIN key.

    Formats 0-3 use DES/3DES-ECB, ``sm4`` SM4-ECB; ``iso4`` the two-step
    AES encipherment of ISO 9564-1:2017 (``block`` is the plain PIN field,
    ``pan`` is required).

    Args:
        key: the PIN encryption key.
        block: the clear block from :func:`encode_pin_block`.
        format: the block's format.
        pan: the PAN, for ``iso4`` only.

    Returns:
        The enciphered block (8 or 16 bytes).

    Raises:
        PinBlockError: bad block length or, for iso4, a missing/invalid PAN.
        SecurityError: the key's algorithm does not suit the format.
    """
    fmt = _as_format(format)
    _check_key(key, fmt)
    if len(block) != fmt.block_size:
        raise PinBlockError(f"a {fmt.value} PIN block is {fmt.block_size} bytes, not {len(block)}")
    return _encipher(key, bytes(block), fmt, pan)


def _encipher(key: Key, block: bytes, fmt: PinFormat, pan: str | None) -> bytes:
    """:func:`encrypt_pin_block` once the key and the block length are checked."""
    cipher = key.cipher()
    if fmt is PinFormat.ISO4:
        step_a = cipher.encrypt(block)
        return cipher.encrypt(_xor(step_a, _pan_field(_check_pan(pan), fmt)))
    return cipher.encrypt(block)


def decrypt_pin_block(
    key: Key, encrypted: bytes, format: PinFormat | str | int, pan: str | None = None
) -> bytes:
    """Decipher a PIN block to its clear block (``iso4``: the plain PIN field).

    Args:
        key: the PIN encryption key.
        encrypted: the enciphered block.
        format: the block's format.
        pan: the PAN, for ``iso4`` only.

    Returns:
        The clear block, to be read with :func:`decode_pin_block`.

    Raises:
        PinBlockError: bad block length or, for iso4, a missing/invalid PAN.
        SecurityError: the key's algorithm does not suit the format.
    """
    fmt = _as_format(format)
    _check_key(key, fmt)
    if len(encrypted) != fmt.block_size:
        raise PinBlockError(
            f"an enciphered {fmt.value} PIN block is {fmt.block_size} bytes, not {len(encrypted)}"
        )
    cipher = key.cipher()
    if fmt is PinFormat.ISO4:
        step_b = cipher.decrypt(bytes(encrypted))
        return cipher.decrypt(_xor(step_b, _pan_field(_check_pan(pan), fmt)))
    return cipher.decrypt(bytes(encrypted))


def encrypt_pin(key: Key, pin: str, pan: str | None, format: PinFormat | str | int) -> bytes:
    """Encode and encipher a PIN in one step (terminals and simulators).

    Args:
        key: the PIN encryption key.
        pin: 4 to 12 decimal digits.
        pan: the PAN, for the formats that use it.
        format: the block format.

    Returns:
        The enciphered PIN block.

    Raises:
        PinBlockError: invalid PIN or PAN.
        SecurityError: unknown format or unsuitable key.
    """
    fmt = _as_format(format)
    _check_key(key, fmt)
    return _encipher(key, encode_pin_block(pin, pan, fmt), fmt, pan)


def decrypt_pin(key: Key, encrypted: bytes, pan: str | None, format: PinFormat | str | int) -> str:
    """Decipher and decode a PIN block (for the security module only).

    Args:
        key: the PIN encryption key.
        encrypted: the enciphered block.
        pan: the PAN, for the formats that use it.
        format: the block format.

    Returns:
        The clear PIN.

    Raises:
        PinBlockError: the block does not decode under this key and PAN.
        SecurityError: unknown format or unsuitable key.
    """
    fmt = _as_format(format)
    return decode_pin_block(decrypt_pin_block(key, encrypted, fmt, pan), pan, fmt)
