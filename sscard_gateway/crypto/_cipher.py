"""Block cipher primitives on ``cryptography``, cached per key.

Every algorithm in this package reduces to three operations on one block
cipher: ECB over whole blocks, CBC with a zero IV, and (for AES) CMAC. This
module builds the ``cryptography`` objects for them once per key and keeps
them, because building a cipher context (the key schedule) costs far more
than enciphering a 200-byte message.

- DES and 3DES go through ``cryptography.hazmat.decrepit``'s ``TripleDES``
  with a 24-byte key only: a single-length key K1 becomes K1K1K1 and a
  double-length key K1K2 becomes K1K2K1, which are the same permutations
  (EDE with equal keys collapses to one DES pass) and raise no deprecation
  warning (DOMAIN.md §4).
- An ECB encryptor/decryptor context is reused across calls: ECB keeps no
  state between whole blocks, so feeding it whole blocks only (never calling
  ``finalize``) is the same as a fresh context. Calls are single C calls
  under the GIL, so concurrent use from threads is safe.
- CBC needs a fresh context per call (the chaining value is state); the
  ``Cipher`` object is kept and ``encryptor()`` is called per message.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import (
    BlockCipherAlgorithm,
    Cipher,
    CipherContext,
    algorithms,
    modes,
)
from cryptography.hazmat.primitives.cmac import CMAC

__all__ = ["BlockCipher", "des_family_key24", "xor"]

_ZERO_IV: Final = {8: bytes(8), 16: bytes(16)}


def xor(a: bytes, b: bytes) -> bytes:
    """``a`` XOR ``b``, two byte strings of the same length."""
    return (int.from_bytes(a) ^ int.from_bytes(b)).to_bytes(len(a))


def des_family_key24(value: bytes) -> bytes:
    """Expand an 8-, 16- or 24-byte DES key to the 24 bytes TripleDES takes."""
    if len(value) == 8:
        return value * 3
    if len(value) == 16:
        return value + value[:8]
    return value


class BlockCipher:
    """One key's ECB, zero-IV CBC and CMAC operations, built once.

    Args:
        algorithm: a ``cryptography`` block cipher algorithm object holding
            the key (``TripleDES`` with a 24-byte key, ``AES`` or ``SM4``).
    """

    __slots__ = ("_algorithm", "_cbc", "_cmac", "_dec", "_enc", "block_size")

    def __init__(self, algorithm: BlockCipherAlgorithm) -> None:
        self._algorithm = algorithm
        self.block_size: int = algorithm.block_size // 8
        # ECB is the mode the payment standards define on single blocks (PIN
        # blocks, key cryptograms, check values), never used on long data.
        ecb = Cipher(algorithm, modes.ECB())  # noqa: S305
        self._enc: CipherContext = ecb.encryptor()
        self._dec: CipherContext = ecb.decryptor()
        self._cbc = Cipher(algorithm, modes.CBC(_ZERO_IV[self.block_size]))
        self._cmac: CMAC | None = None

    @classmethod
    def tdes(cls, value: bytes) -> BlockCipher:
        """A DES or 3DES cipher from an 8-, 16- or 24-byte key."""
        return cls(TripleDES(des_family_key24(value)))

    @classmethod
    def aes(cls, value: bytes) -> BlockCipher:
        """An AES cipher from a 16-, 24- or 32-byte key."""
        return cls(algorithms.AES(value))

    @classmethod
    def sm4(cls, value: bytes) -> BlockCipher:
        """An SM4 (GB/T 32907) cipher from a 16-byte key."""
        return cls(algorithms.SM4(value))

    def encrypt(self, data: bytes) -> bytes:
        """ECB-encrypt ``data`` (a whole number of blocks)."""
        return self._enc.update(data)

    def decrypt(self, data: bytes) -> bytes:
        """ECB-decrypt ``data`` (a whole number of blocks)."""
        return self._dec.update(data)

    def cbc_encrypt(self, data: bytes) -> bytes:
        """CBC-encrypt ``data`` (a whole number of blocks) with a zero IV."""
        return self._cbc.encryptor().update(data)

    def cmac(self, data: bytes) -> bytes:
        """CMAC (NIST SP 800-38B) of ``data``, full block length."""
        base = self._cmac
        if base is None:
            base = self._cmac = CMAC(self._algorithm)
        ctx = base.copy()
        ctx.update(data)
        return ctx.finalize()
