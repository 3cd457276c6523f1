"""Keys: algorithm, usage, value, check value, DES parity.

A :class:`Key` is a frozen, slotted value (docs/architecture.md principle 5):
its ``repr`` and ``str`` show the algorithm, the usage and the key check
value, never the value. Keys compare by value in constant time
(``hmac.compare_digest``) and are deliberately unhashable, so a key is
never a dict key or set member (a hash is a cheap value-dependent digest
that would outlive the key in a table).

Key check value (KCV, DOMAIN.md §4): encrypt one all-zero block under the
clear key in ECB and keep the leftmost 3 or 4 bytes (UnionPay: 4, the
default). This one convention serves every algorithm: 8 zero bytes for DES
and 3DES, 16 zero bytes for AES and SM4. ANSI X9.24-1:2017 and TR-31 use
"AES-CMAC of a zero block, leftmost 5 bytes" for AES keys instead; that
method is available as ``method="cmac"`` but is not the default, because
UnionPay and the PBOC key exchanges (F62 sign-on keys, 0800 key reset)
carry the encrypt-zeros value.

DES parity (FIPS 46-3): each key byte has odd parity in its low bit.
:func:`has_odd_parity` checks it and :func:`fix_odd_parity` sets it; keys
generated here always have odd parity; keys imported from a peer are
checked by their KCV only, as the peer computed it over the bytes it sent.
"""

from __future__ import annotations

import enum
import hmac
import secrets
from typing import Final, Literal

import attrs

from ..errors import SecurityError
from ._cipher import BlockCipher

__all__ = [
    "Algorithm",
    "Key",
    "KeyUsage",
    "fix_odd_parity",
    "has_odd_parity",
    "key_check_value",
]


class Algorithm(enum.Enum):
    """A key's cipher and length. Values are the names used in TOML files."""

    DES = "des"
    TDES_2KEY = "3des-2key"
    TDES_3KEY = "3des-3key"
    AES_128 = "aes-128"
    AES_192 = "aes-192"
    AES_256 = "aes-256"
    SM4 = "sm4"

    @property
    def key_length(self) -> int:
        """Length of the key value in bytes."""
        return _KEY_LENGTH[self]

    @property
    def block_size(self) -> int:
        """Cipher block size in bytes (8 for DES/3DES, 16 for AES/SM4)."""
        return 8 if self in DES_FAMILY else 16

    @property
    def family(self) -> str:
        """``"des"``, ``"aes"`` or ``"sm4"``."""
        if self in DES_FAMILY:
            return "des"
        return "sm4" if self is Algorithm.SM4 else "aes"

    @property
    def strength(self) -> int:
        """Nominal security strength in bits (NIST SP 800-57 part 1)."""
        return _STRENGTH[self]

    @classmethod
    def from_name(cls, name: str) -> Algorithm:
        """Parse an algorithm name, accepting a few common spellings.

        Args:
            name: ``des``, ``3des-2key`` (also ``3des``, ``tdes``, ``2tdea``),
                ``3des-3key`` (``3tdea``), ``aes-128``/``aes-192``/``aes-256``
                (also ``aes128``…), or ``sm4``.

        Raises:
            SecurityError: the name is not known.
        """
        key = name.strip().lower().replace("_", "-")
        found = _ALIASES.get(key)
        if found is None:
            known = ", ".join(a.value for a in cls)
            raise SecurityError(f"unknown key algorithm {name!r}; known: {known}")
        return found

    @classmethod
    def for_length(cls, family: str, length: int) -> Algorithm:
        """The algorithm of ``family`` (``des``, ``aes``, ``sm4``) with this key length.

        Raises:
            SecurityError: no algorithm of that family has that key length.
        """
        for algorithm in cls:
            if algorithm.family == family and algorithm.key_length == length:
                return algorithm
        raise SecurityError(f"no {family} key is {length} bytes long")


DES_FAMILY: Final = frozenset({Algorithm.DES, Algorithm.TDES_2KEY, Algorithm.TDES_3KEY})
AES_FAMILY: Final = frozenset({Algorithm.AES_128, Algorithm.AES_192, Algorithm.AES_256})
SM4_FAMILY: Final = frozenset({Algorithm.SM4})
_KEY_LENGTH: Final = {
    Algorithm.DES: 8,
    Algorithm.TDES_2KEY: 16,
    Algorithm.TDES_3KEY: 24,
    Algorithm.AES_128: 16,
    Algorithm.AES_192: 24,
    Algorithm.AES_256: 32,
    Algorithm.SM4: 16,
}
_STRENGTH: Final = {
    Algorithm.DES: 56,
    Algorithm.TDES_2KEY: 80,
    Algorithm.TDES_3KEY: 112,
    Algorithm.AES_128: 128,
    Algorithm.AES_192: 192,
    Algorithm.AES_256: 256,
    Algorithm.SM4: 128,
}
_ALIASES: Final = {
    **{a.value: a for a in Algorithm},
    "single-des": Algorithm.DES,
    "3des": Algorithm.TDES_2KEY,
    "tdes": Algorithm.TDES_2KEY,
    "2tdea": Algorithm.TDES_2KEY,
    "3tdea": Algorithm.TDES_3KEY,
    "aes128": Algorithm.AES_128,
    "aes192": Algorithm.AES_192,
    "aes256": Algorithm.AES_256,
}


class KeyUsage(enum.Enum):
    """What a key may be used for (DOMAIN.md §4 key hierarchy)."""

    ZONE_MASTER = "zone-master"
    ZONE_PIN = "zone-pin"
    ZONE_MAC = "zone-mac"
    TERMINAL_MASTER = "terminal-master"
    TERMINAL_PIN = "terminal-pin"
    TERMINAL_MAC = "terminal-mac"
    TRACK_DATA = "track-data"

    @property
    def is_pin(self) -> bool:
        """A PIN encryption key (ZPK or TPK)."""
        return self in (KeyUsage.ZONE_PIN, KeyUsage.TERMINAL_PIN)

    @property
    def is_mac(self) -> bool:
        """A MAC key (ZAK or TAK)."""
        return self in (KeyUsage.ZONE_MAC, KeyUsage.TERMINAL_MAC)

    @property
    def is_key_encrypting(self) -> bool:
        """A key-encrypting key (ZMK or TMK)."""
        return self in (KeyUsage.ZONE_MASTER, KeyUsage.TERMINAL_MASTER)

    @property
    def response_code(self) -> str:
        """Field 39 code for a key error of this usage: A8 PIN, A9 MAC, A7 other."""
        if self.is_pin:
            return "A8"
        if self.is_mac:
            return "A9"
        return "A7"

    @classmethod
    def from_name(cls, name: str) -> KeyUsage:
        """Parse a usage name (``zone-pin`` or the short forms ``zpk``, ``tak``…).

        Raises:
            SecurityError: the name is not known.
        """
        key = name.strip().lower().replace("_", "-")
        found = _USAGE_ALIASES.get(key)
        if found is None:
            known = ", ".join(u.value for u in cls)
            raise SecurityError(f"unknown key usage {name!r}; known: {known}")
        return found


_USAGE_ALIASES: Final = {
    **{u.value: u for u in KeyUsage},
    "zmk": KeyUsage.ZONE_MASTER,
    "zpk": KeyUsage.ZONE_PIN,
    "zak": KeyUsage.ZONE_MAC,
    "tmk": KeyUsage.TERMINAL_MASTER,
    "tpk": KeyUsage.TERMINAL_PIN,
    "tak": KeyUsage.TERMINAL_MAC,
    "tdk": KeyUsage.TRACK_DATA,
}


def _check_value(value: object) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError("a key value must be bytes")
    return bytes(value)


@attrs.frozen(eq=False, repr=False)
class Key:
    """A clear key held in memory: algorithm, usage and value.

    ``repr()``/``str()`` show ``Key(3des-2key zone-pin kcv=08D7B4FB)``.
    ``==`` compares algorithm, usage and value, the value in constant time;
    keys are unhashable.

    Raises:
        SecurityError: the value length does not match the algorithm.
    """

    algorithm: Algorithm = attrs.field(validator=attrs.validators.instance_of(Algorithm))
    usage: KeyUsage = attrs.field(validator=attrs.validators.instance_of(KeyUsage))
    value: bytes = attrs.field(repr=False, converter=_check_value)
    _cache: dict[str, BlockCipher] = attrs.field(init=False, factory=dict, repr=False)

    def __attrs_post_init__(self) -> None:
        if len(self.value) != self.algorithm.key_length:
            raise SecurityError(
                f"a {self.algorithm.value} key is {self.algorithm.key_length} bytes,"
                f" got {len(self.value)}"
            )

    @classmethod
    def from_hex(
        cls, text: str, usage: KeyUsage, *, algorithm: Algorithm | None = None, family: str = "des"
    ) -> Key:
        """Build a key from hex digits.

        Args:
            text: the key value in hex (spaces allowed).
            usage: the key's usage.
            algorithm: the exact algorithm; when ``None`` it is inferred from
                ``family`` and the length (8/16/24 bytes for ``des``).
            family: ``des``, ``aes`` or ``sm4``, used when ``algorithm`` is None.

        Raises:
            SecurityError: not hex, or no algorithm of the family has that length.
        """
        try:
            value = bytes.fromhex(text)
        except ValueError:
            raise SecurityError("a key must be written in hex digits") from None
        if algorithm is None:
            algorithm = Algorithm.for_length(family, len(value))
        return cls(algorithm, usage, value)

    @classmethod
    def generate(cls, algorithm: Algorithm, usage: KeyUsage) -> Key:
        """A new random key from :mod:`secrets`.

        Args:
            algorithm: the key's algorithm; DES-family keys get odd parity.
            usage: the key's usage.

        Returns:
            The new key.
        """
        value = secrets.token_bytes(algorithm.key_length)
        if algorithm in DES_FAMILY:
            value = fix_odd_parity(value)
        return cls(algorithm, usage, value)

    def check_value(self, length: int = 4, *, method: Literal["zeros", "cmac"] = "zeros") -> bytes:
        """This key's check value; see :func:`key_check_value`."""
        return key_check_value(self, length, method=method)

    def cipher(self) -> BlockCipher:
        """The cached block cipher for the whole key (internal building block)."""
        found = self._cache.get("full")
        if found is None:
            found = self._cache["full"] = _build(self.algorithm, self.value)
        return found

    def single_des(self, index: int) -> BlockCipher:
        """Single DES under the 8-byte part ``index`` (0 for K1, 1 for K2) of a DES key."""
        name = f"k{index}"
        found = self._cache.get(name)
        if found is None:
            found = self._cache[name] = BlockCipher.tdes(self.value[8 * index : 8 * index + 8])
        return found

    def with_usage(self, usage: KeyUsage) -> Key:
        """The same value under another usage."""
        return Key(self.algorithm, usage, self.value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Key):
            return NotImplemented
        same_value = hmac.compare_digest(self.value, other.value)
        return same_value and self.algorithm is other.algorithm and self.usage is other.usage

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        kcv = self.check_value().hex().upper()
        return f"Key({self.algorithm.value} {self.usage.value} kcv={kcv})"

    __str__ = __repr__


def _build(algorithm: Algorithm, value: bytes) -> BlockCipher:
    if algorithm in DES_FAMILY:
        return BlockCipher.tdes(value)
    if algorithm is Algorithm.SM4:
        return BlockCipher.sm4(value)
    return BlockCipher.aes(value)


def key_check_value(
    key: Key, length: int = 4, *, method: Literal["zeros", "cmac"] = "zeros"
) -> bytes:
    """The key check value: leftmost ``length`` bytes of E(K, zero block).

    Args:
        key: the key.
        length: 3 to 8 bytes for DES/3DES, 3 to 16 for AES/SM4 (UnionPay: 4).
        method: ``"zeros"`` (encrypt one zero block in ECB, every algorithm,
            the default) or ``"cmac"`` (CMAC of one zero block, AES only, the
            X9.24-1:2017 convention, usually 5 bytes).

    Returns:
        The check value bytes.

    Raises:
        SecurityError: bad length, or ``cmac`` asked for a non-AES key.
    """
    cipher = key.cipher()
    if not 3 <= length <= cipher.block_size:
        raise SecurityError(f"a check value is 3 to {cipher.block_size} bytes, not {length}")
    zeros = bytes(cipher.block_size)
    if method == "cmac":
        if key.algorithm not in AES_FAMILY:
            raise SecurityError("a CMAC check value is defined for AES keys only")
        return cipher.cmac(zeros)[:length]
    if method != "zeros":
        raise SecurityError(f"unknown check value method {method!r}")
    return cipher.encrypt(zeros)[:length]


def has_odd_parity(value: bytes) -> bool:
    """Check DES odd parity (FIPS 46-3).

    Args:
        value: key bytes.

    Returns:
        True when every byte has an odd number of one bits.
    """
    return all(b.bit_count() & 1 for b in value)


def fix_odd_parity(value: bytes) -> bytes:
    """Set DES odd parity (FIPS 46-3).

    Args:
        value: key bytes.

    Returns:
        ``value`` with each byte's low bit chosen so the byte has odd parity.
    """
    return bytes(_PARITY[b] for b in value)


_PARITY: Final = bytes((b & 0xFE) | ((b & 0xFE).bit_count() + 1) % 2 for b in range(256))
