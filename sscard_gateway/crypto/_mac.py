"""Message authentication codes, by name, and how a MAC is written in a field.

Implements, as pure functions of (key, data):

- ISO 9797-1 MAC algorithm 1 (CBC-MAC, zero IV; ANSI X9.9 with DES/3DES,
  and SM4 CBC-MAC) and MAC algorithm 3 (ANSI X9.19 "retail MAC": single DES
  CBC under K1, the last block then deciphered under K2 and enciphered
  under K1), each with ISO 9797-1 padding method 1 (zeros, none when the
  data already fills the last block; empty data is one zero block) or
  padding method 2 (0x80 then zeros, always added).
- The CUPS switch MAB preparation (DOMAIN.md §2): :func:`cups_mab`.
- The UnionPay POS "ECB" MAC (DOMAIN.md §3) with DES/3DES and its SM4
  variant.
- AES-CMAC (NIST SP 800-38B, RFC 4493).

Each algorithm returns its natural full output (one cipher block); how many
bytes go on the wire and in what form is a separate choice,
:func:`mac_field_value`: ``"hex4"`` writes the first 4 bytes as 8 upper-case
ASCII hex characters (POS field 64; CUPS field 128 **[assumed]**) and
``"raw8"`` the first 8 bytes in binary. For the POS ECB MAC the full output
is E2, so ``hex4`` yields exactly the published "first 8 hex characters of
E2" (``E267B6E2``).

Dialect files name an algorithm from :data:`MAC_ALGORITHMS`; verification
compares in constant time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Final

import attrs

from ..errors import MacError, SecurityError
from ._cipher import xor as _xor
from ._keys import AES_FAMILY, DES_FAMILY, SM4_FAMILY, Algorithm, Key

__all__ = [
    "MAC_ALGORITHMS",
    "MAC_FIELD_FORMS",
    "MacAlgorithm",
    "aes_cmac",
    "cups_mab",
    "generate_mac",
    "get_mac_algorithm",
    "iso9797_1_alg1",
    "iso9797_1_alg3",
    "mac_field_value",
    "pos_ecb_mac",
    "sm4_cbc_mac",
    "verify_mac",
    "x9_9_mac",
    "x9_19_mac",
]


def _pad(data: bytes, block: int, method: int) -> bytes:
    if method == 1:
        rest = len(data) % block
        if data and not rest:
            return data
        return data + bytes(block - rest)
    if method == 2:
        data += b"\x80"
        rest = len(data) % block
        return data + bytes(block - rest) if rest else data
    raise SecurityError(f"ISO 9797-1 padding method must be 1 or 2, not {method}")


_DES_SINGLE_DOUBLE: Final = frozenset({Algorithm.DES, Algorithm.TDES_2KEY})


def iso9797_1_alg1(key: Key, data: bytes, *, padding: int = 1) -> bytes:
    """ISO 9797-1 MAC algorithm 1: CBC-MAC with a zero IV, any block cipher.

    Args:
        key: a DES, 3DES, AES or SM4 key; CBC runs under the whole key.
        data: the message.
        padding: ISO 9797-1 padding method 1 or 2.

    Returns:
        The last CBC block (8 or 16 bytes).

    Raises:
        SecurityError: unknown padding method.
    """
    cipher = key.cipher()
    size = cipher.block_size
    return cipher.cbc_encrypt(_pad(data, size, padding))[-size:]


def iso9797_1_alg3(key: Key, data: bytes, *, padding: int = 1) -> bytes:
    """ISO 9797-1 MAC algorithm 3 (ANSI X9.19 retail MAC) with a DES key.

    Single-DES CBC under K1 over every block, then the output transformation
    D(K2) and E(K1) on the last block; done here as one single-DES CBC pass
    over all blocks but the last and one 3DES (K1K2K1) encipherment of the
    last block XOR the chaining value, which is the same function.

    Args:
        key: a single- or double-length DES key (single length gives the
            same result as algorithm 1, since K2 = K1).
        data: the message.
        padding: ISO 9797-1 padding method 1 or 2.

    Returns:
        8 bytes.

    Raises:
        SecurityError: the key is not single or double-length DES, or an
            unknown padding method.
    """
    if key.algorithm not in _DES_SINGLE_DOUBLE:
        raise SecurityError(
            f"ISO 9797-1 algorithm 3 needs a single or double-length DES key,"
            f" not {key.algorithm.value}"
        )
    padded = _pad(data, 8, padding)
    last = padded[-8:]
    if len(padded) > 8:
        chain = key.single_des(0).cbc_encrypt(padded[:-8])[-8:]
        last = _xor(last, chain)
    return key.cipher().encrypt(last)


def x9_9_mac(key: Key, data: bytes) -> bytes:
    """ANSI X9.9: ISO 9797-1 algorithm 1, padding method 1, DES or 3DES.

    Args:
        key: a DES or 3DES key (CBC under the whole key, zero IV).
        data: the message.

    Returns:
        8 bytes.
    """
    return iso9797_1_alg1(key, data, padding=1)


def x9_19_mac(key: Key, data: bytes) -> bytes:
    """ANSI X9.19 retail MAC: ISO 9797-1 algorithm 3, padding method 1.

    Args:
        key: a single- or double-length DES key.
        data: the message.

    Returns:
        8 bytes.

    Raises:
        SecurityError: the key is not single or double-length DES.
    """
    return iso9797_1_alg3(key, data, padding=1)


def sm4_cbc_mac(key: Key, data: bytes) -> bytes:
    """SM4 CBC-MAC: ISO 9797-1 algorithm 1, padding method 1, zero IV.

    Args:
        key: an SM4 key.
        data: the message.

    Returns:
        16 bytes.
    """
    return iso9797_1_alg1(key, data, padding=1)


def aes_cmac(key: Key, data: bytes) -> bytes:
    """AES-CMAC (NIST SP 800-38B, RFC 4493).

    Args:
        key: an AES key.
        data: the message (any length, no padding needed).

    Returns:
        16 bytes; truncate with :func:`mac_field_value` or
        :meth:`MacAlgorithm.verify`.
    """
    return key.cipher().cmac(data)


def pos_ecb_mac(key: Key, data: bytes) -> bytes:
    """UnionPay POS "ECB" MAC (DOMAIN.md §3), DES/3DES or SM4.

    The MAB is zero-padded to the block size; all blocks are XORed into R;
    R is written as upper-case hex (twice the block size in ASCII characters);
    E1 = E(first half); E2 = E(E1 XOR second half).

    Args:
        key: DES/3DES (8-byte blocks) or SM4 (16-byte blocks).
        data: the MAB (MTI through the last field before the MAC field).

    Returns:
        E2 (8 or 16 bytes); the field value is ``mac_field_value(E2, "hex4")``.
    """
    cipher = key.cipher()
    size = cipher.block_size
    rest = len(data) % size
    if rest:
        data += bytes(size - rest)
    acc = 0
    for i in range(0, len(data), size):
        acc ^= int.from_bytes(data[i : i + size])
    r_hex = acc.to_bytes(size).hex().upper().encode("ascii")
    e1 = cipher.encrypt(r_hex[:size])
    return cipher.encrypt(_xor(e1, r_hex[size:]))


# --- CUPS switch MAB (DOMAIN.md §2) -------------------------------------------

_KEEP: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ,.")
_DROP: Final = bytes(b for b in range(256) if b not in _KEEP)
_SPACES: Final = re.compile(rb" {2,}")
_SEP: Final = b"\x01"
_DROP_KEEP_SEP: Final = _DROP.replace(_SEP, b"")
_AROUND_SEP: Final = re.compile(rb" ?\x01 ?")


def cups_mab(parts: Iterable[bytes | bytearray | memoryview]) -> bytes:
    """Build the CUPS switch MAC block from already-selected raw field bytes.

    Each part is cleaned so that every rule of DOMAIN.md §2 holds on the
    result: delete every byte other than ``A-Z a-z 0-9``, space, comma and
    dot; trim leading and trailing spaces; fold each run of spaces to one;
    raise lower case to upper case. The parts are then joined with one
    space. Deleting first matters: ``"AB - CD"`` becomes ``"AB CD"`` (the
    rules applied in the order DOMAIN.md lists them would leave two spaces,
    and a part starting with Chinese characters would keep a leading space).

    Args:
        parts: the MTI first, then each selected field present in the message,
            as its raw wire bytes (ASCII length prefix + data), in field
            order; field 90 already cut to its first 20 characters. Selection
            is the dialect's job, not this function's.

    Returns:
        The MAB, ready for the dialect's MAC algorithm.
    """
    chunks = [bytes(part) for part in parts]
    joined = _SEP.join(chunks)
    if joined.count(_SEP) == len(chunks) - 1:
        # the whole block at once, in C: parts stay apart by a separator byte
        # that no part contains, so trimming and folding never cross a part
        kept = _SPACES.sub(b" ", joined.translate(None, _DROP_KEEP_SEP).upper())
        return _AROUND_SEP.sub(_SEP, kept).strip(b" ").replace(_SEP, b" ")
    out = []
    for chunk in chunks:
        cleaned = chunk.translate(None, _DROP).strip(b" ")
        out.append(_SPACES.sub(b" ", cleaned).upper())
    return b" ".join(out)


# --- registry -----------------------------------------------------------------

MacFunction = Callable[[Key, bytes], bytes]


@attrs.frozen
class MacAlgorithm:
    """A named MAC algorithm: a pure function (key, data) -> full MAC.

    Attributes:
        name: the name dialect files use.
        algorithms: the key algorithms it accepts.
        function: the implementation.
        description: one line for documentation and ``--help``.
    """

    name: str
    algorithms: frozenset[Algorithm]
    function: MacFunction = attrs.field(repr=False)
    description: str = ""

    def __call__(self, key: Key, data: bytes) -> bytes:
        """Generate the full MAC of ``data``; see :meth:`generate`."""
        return self.generate(key, data)

    def generate(self, key: Key, data: bytes) -> bytes:
        """Generate the full MAC of ``data`` under ``key``.

        Raises:
            SecurityError: the key's algorithm does not suit this MAC.
        """
        if key.algorithm not in self.algorithms:
            accepted = ", ".join(sorted(a.value for a in self.algorithms))
            raise SecurityError(
                f"MAC {self.name} takes a {accepted} key, not {key.algorithm.value}"
            )
        return self.function(key, bytes(data))

    def verify(self, key: Key, data: bytes, mac: bytes) -> bool:
        """True when ``mac`` equals the leading bytes of the full MAC.

        ``mac`` may be truncated to no fewer than 4 bytes; the comparison is
        constant-time.

        Raises:
            SecurityError: the key's algorithm does not suit this MAC.
        """
        full = self.generate(key, data)
        if not 4 <= len(mac) <= len(full):
            return False
        return hmac.compare_digest(full[: len(mac)], bytes(mac))


def _alg1_m2(key: Key, data: bytes) -> bytes:
    return iso9797_1_alg1(key, data, padding=2)


def _alg3_m2(key: Key, data: bytes) -> bytes:
    return iso9797_1_alg3(key, data, padding=2)


_ENTRIES: Final = (
    MacAlgorithm("x9.9", DES_FAMILY, x9_9_mac, "ANSI X9.9 / ISO 9797-1 alg. 1, pad 1, DES or 3DES"),
    MacAlgorithm(
        "x9.19", _DES_SINGLE_DOUBLE, x9_19_mac, "ANSI X9.19 retail MAC / ISO 9797-1 alg. 3, pad 1"
    ),
    MacAlgorithm("iso9797-1-alg1-pad1", DES_FAMILY, x9_9_mac, "ISO 9797-1 alg. 1, pad 1 (= x9.9)"),
    MacAlgorithm("iso9797-1-alg1-pad2", DES_FAMILY, _alg1_m2, "ISO 9797-1 alg. 1, pad 2"),
    MacAlgorithm(
        "iso9797-1-alg3-pad1", _DES_SINGLE_DOUBLE, x9_19_mac, "ISO 9797-1 alg. 3, pad 1 (= x9.19)"
    ),
    MacAlgorithm("iso9797-1-alg3-pad2", _DES_SINGLE_DOUBLE, _alg3_m2, "ISO 9797-1 alg. 3, pad 2"),
    MacAlgorithm("pos-ecb", DES_FAMILY, pos_ecb_mac, "UnionPay POS ECB MAC, DES or 3DES"),
    MacAlgorithm("sm4-pos-ecb", SM4_FAMILY, pos_ecb_mac, "UnionPay POS ECB MAC, SM4 [assumed]"),
    MacAlgorithm("aes-cmac", AES_FAMILY, aes_cmac, "AES-CMAC, NIST SP 800-38B"),
    MacAlgorithm("sm4-cbc-mac", SM4_FAMILY, sm4_cbc_mac, "SM4 CBC-MAC, ISO 9797-1 alg. 1, pad 1"),
)

MAC_ALGORITHMS: Final[Mapping[str, MacAlgorithm]] = MappingProxyType(
    {entry.name: entry for entry in _ENTRIES}
)
"""Every MAC algorithm by the name a dialect file gives it."""


def get_mac_algorithm(name: str | MacAlgorithm) -> MacAlgorithm:
    """The registered MAC algorithm called ``name`` (case-insensitive).

    Raises:
        SecurityError: no algorithm has that name.
    """
    if isinstance(name, MacAlgorithm):
        return name
    found = MAC_ALGORITHMS.get(name.strip().lower())
    if found is None:
        known = ", ".join(MAC_ALGORITHMS)
        raise SecurityError(f"unknown MAC algorithm {name!r}; known: {known}")
    return found


# --- field forms --------------------------------------------------------------

MAC_FIELD_FORMS: Final = ("hex4", "raw8")
"""How a MAC is written into an 8-byte field: see :func:`mac_field_value`."""


def mac_field_value(mac: bytes, form: str) -> bytes:
    """Write a full MAC the way an 8-byte MAC field carries it.

    Args:
        mac: the algorithm's full output (8 or 16 bytes).
        form: ``"hex4"`` (first 4 bytes as 8 upper-case ASCII hex characters)
            or ``"raw8"`` (first 8 bytes, binary).

    Returns:
        The 8 field bytes.

    Raises:
        SecurityError: unknown form, or the MAC is too short for it.
    """
    if form == "hex4" and len(mac) >= 4:
        return mac[:4].hex().upper().encode("ascii")
    if form == "raw8" and len(mac) >= 8:
        return bytes(mac[:8])
    if form not in MAC_FIELD_FORMS:
        raise SecurityError(f"unknown MAC field form {form!r}; known: {', '.join(MAC_FIELD_FORMS)}")
    raise SecurityError(f"a {len(mac)}-byte MAC is too short for form {form}")


def generate_mac(algorithm: str | MacAlgorithm, key: Key, data: bytes, form: str) -> bytes:
    """Compute the MAC field value for ``data``.

    Args:
        algorithm: a name from :data:`MAC_ALGORITHMS` or a :class:`MacAlgorithm`.
        key: the MAC key.
        data: the MAB (already prepared, e.g. by :func:`cups_mab`).
        form: ``"hex4"`` or ``"raw8"``.

    Returns:
        The field value (8 bytes).

    Raises:
        SecurityError: unknown algorithm or form, or an unsuitable key.
    """
    return mac_field_value(get_mac_algorithm(algorithm).generate(key, data), form)


def verify_mac(
    algorithm: str | MacAlgorithm, key: Key, data: bytes, field_value: bytes, form: str
) -> None:
    """Check a received MAC field value in constant time.

    The comparison is byte for byte: a ``hex4`` value in lower case does not
    verify.

    Args:
        algorithm: a name from :data:`MAC_ALGORITHMS` or a :class:`MacAlgorithm`.
        key: the MAC key.
        data: the MAB as received.
        field_value: the received MAC field.
        form: ``"hex4"`` or ``"raw8"``.

    Raises:
        MacError: the MAC does not verify (response code A0).
        SecurityError: unknown algorithm or form, or an unsuitable key.
    """
    expected = generate_mac(algorithm, key, data, form)
    if not hmac.compare_digest(expected, bytes(field_value)):
        raise MacError("MAC does not verify")
