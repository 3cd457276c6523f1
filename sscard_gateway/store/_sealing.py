"""Card data at rest: a keyed PAN hash for matching, sealed payloads for resending.

The journal never holds a clear PAN (docs/architecture.md principle 5), yet
clearing must match journal records to UnionPay's clearing file by card
(DOMAIN.md §6), and store-and-forward must resend a reversal's exact
message, which carries the PAN. Two tools answer both:

* :class:`PanHasher`: HMAC-SHA256 of the PAN under a journal PAN key. A
  plain SHA-256 of a PAN is reversible by brute force (a BIN, 9 unknown
  digits and a Luhn digit is about 10^9 guesses); a keyed hash is not,
  without the key. Clearing hashes the file's PANs with the same key and
  compares hashes. It also masks PANs (first 6 / last 4 by default).
* :class:`PayloadSealer`: AES-256-GCM under a data key with a random 96-bit
  nonce. The associated data binds a sealed payload to the row it belongs
  to, so a payload moved to another row fails to open. A blob is
  ``version (1) | key id (8) | nonce (12) | ciphertext + tag (n + 16)``.

Both keys have an identifier, ``HMAC-SHA256(key, label)[:8]`` in hex: it
names the key in the journal's metadata and in error messages without
telling anything about it, so a journal opened with the wrong key says so
instead of hashing PANs that never match.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Final

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import JournalKeyError
from ..ids import mask_pan

__all__ = ["PanHasher", "PayloadSealer", "ProtectedPan"]

_PAN_KEY_LABEL: Final = b"sscard journal pan key id"
_DATA_KEY_LABEL: Final = b"sscard journal data key id"
_VERSION: Final = 1
_KEY_ID_SIZE: Final = 8
_NONCE_SIZE: Final = 12
_HEADER_SIZE: Final = 1 + _KEY_ID_SIZE + _NONCE_SIZE
_TAG_SIZE: Final = 16


def _key_id(key: bytes, label: bytes) -> str:
    return hmac.new(key, label, hashlib.sha256).digest()[:_KEY_ID_SIZE].hex()


def _check_key(key: object, what: str) -> bytes:
    if not isinstance(key, bytes) or len(key) != 32:
        raise JournalKeyError(f"the journal {what} is 32 bytes")
    return key


def _pan_key(key: bytes) -> bytes:
    return _check_key(key, "PAN key")


def _data_key(key: bytes) -> bytes:
    return _check_key(key, "data key")


@attrs.frozen
class ProtectedPan:
    """A PAN as the journal may keep it: masked for display, hashed for matching.

    Attributes:
        masked: the PAN masked (``622588******4321``).
        hash: HMAC-SHA256 of the PAN under the journal PAN key, 64 hex digits.
    """

    masked: str
    hash: str


@attrs.frozen(repr=False, eq=False)
class PanHasher:
    """Keyed PAN hash and masking, under the journal's PAN key.

    ``repr`` shows only the key identifier.

    Args:
        key: the PAN key, 32 bytes. It must stay the same for the life of a
            journal (and be shared by every reader of it, clearing included).
        mask_first: PAN digits kept at the start when masking.
        mask_last: PAN digits kept at the end.

    Raises:
        JournalKeyError: the key is not 32 bytes.
    """

    key: bytes = attrs.field(converter=_pan_key)
    mask_first: int = 6
    mask_last: int = 4

    @property
    def key_id(self) -> str:
        """The key's identifier: 16 hex digits, safe to show and store."""
        return _key_id(self.key, _PAN_KEY_LABEL)

    def __repr__(self) -> str:
        return f"PanHasher(key_id={self.key_id})"

    def hash(self, pan: str) -> str:
        """Hash a PAN for matching.

        Args:
            pan: the clear PAN, ASCII (not checked further: a malformed PAN
                is still journaled and still hashes consistently).

        Returns:
            64 lower-case hex digits.

        Raises:
            ValueError: ``pan`` is empty or not ASCII (the message does not
                contain it).
        """
        if not isinstance(pan, str) or not pan or not pan.isascii():
            raise ValueError("a PAN to hash is a non-empty ASCII str")
        return hmac.new(self.key, pan.encode("ascii"), hashlib.sha256).hexdigest()

    def protect(self, pan: str | None) -> ProtectedPan:
        """The masked PAN and its keyed hash, for ``TransactionRecord``.

        Args:
            pan: the clear PAN; ``None`` or ``""`` when the message has none.

        Returns:
            A :class:`ProtectedPan`; both parts empty when there is no PAN.

        Raises:
            ValueError: ``pan`` is not ASCII.
        """
        if not pan:
            return ProtectedPan("", "")
        masked = mask_pan(pan, first=self.mask_first, last=self.mask_last)
        return ProtectedPan(masked, self.hash(pan))


@attrs.frozen(repr=False, eq=False)
class PayloadSealer:
    """AES-256-GCM sealing of stored payloads under the journal's data key.

    ``repr`` shows only the key identifier.

    Args:
        key: the data key, 32 bytes.

    Raises:
        JournalKeyError: the key is not 32 bytes.
    """

    key: bytes = attrs.field(converter=_data_key)
    _aead: AESGCM = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_aead", AESGCM(self.key))

    @property
    def key_id(self) -> str:
        """The key's identifier: 16 hex digits, safe to show and store."""
        return _key_id(self.key, _DATA_KEY_LABEL)

    def __repr__(self) -> str:
        return f"PayloadSealer(key_id={self.key_id})"

    def seal(self, plaintext: bytes, associated: bytes) -> bytes:
        """Encrypt and authenticate a payload.

        Args:
            plaintext: the payload.
            associated: data bound to it (the row's identity); the same
                bytes must be given to :meth:`unseal`.

        Returns:
            The sealed blob, ``len(plaintext) + 37`` bytes.
        """
        nonce = os.urandom(_NONCE_SIZE)
        header = bytes([_VERSION]) + bytes.fromhex(self.key_id) + nonce
        return header + self._aead.encrypt(nonce, plaintext, header + associated)

    def unseal(self, blob: bytes, associated: bytes) -> bytes:
        """Open a sealed payload.

        Args:
            blob: what :meth:`seal` returned.
            associated: the same associated data.

        Returns:
            The payload.

        Raises:
            JournalKeyError: the blob was sealed under another data key
                (both key ids are named), is not a sealed blob, or fails
                authentication (tampered with, or moved to another row).
        """
        if len(blob) < _HEADER_SIZE + _TAG_SIZE or blob[0] != _VERSION:
            raise JournalKeyError("a sealed payload is truncated or of an unknown version")
        key_id = blob[1 : 1 + _KEY_ID_SIZE].hex()
        if key_id != self.key_id:
            raise JournalKeyError(
                f"a payload was sealed under data key {key_id}; this journal's is {self.key_id}"
            )
        header = blob[:_HEADER_SIZE]
        try:
            return self._aead.decrypt(
                blob[1 + _KEY_ID_SIZE : _HEADER_SIZE], blob[_HEADER_SIZE:], header + associated
            )
        except InvalidTag:
            raise JournalKeyError(
                "a sealed payload failed authentication: tampered with or moved"
            ) from None
