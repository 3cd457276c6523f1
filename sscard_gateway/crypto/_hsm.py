"""The security module interface the link and gateway layers call.

A security module holds keys by name and performs every operation that
needs a clear key or a clear PIN, so that neither ever reaches the rest of
the gateway (docs/architecture.md principle 5, DOMAIN.md §4): PIN translation
from one zone's PIN key to another's, MAC generation and verification,
key import/export under key-encrypting keys with check values.

Key versions support key exchange (CUPS 0800/0810 key reset, POS sign-on):
a name holds a *current* key, optionally a *pending* one (staged, not yet
used to generate) and a *previous* one (kept after a change so that
messages already in flight still verify). The life cycle is::

    import_key(..., stage=True) / rotate(name)   -> pending
    confirm_key(name)     pending -> current, current -> previous
    discard_pending(name) drop pending (the exchange failed)
    retire_previous(name) drop previous (the transition window is over)

:meth:`SecurityModule.verify_mac` tries current, then pending, then
previous, and says which one verified, so the link layer can confirm a
pending key as soon as the peer uses it.

:class:`~._software.SoftwareSecurityModule` implements this in process; a
hardware module (a network HSM) would implement the same protocol.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import attrs

from ._keys import Algorithm, KeyUsage
from ._mac import MacAlgorithm
from ._pinblock import PinFormat

__all__ = ["KeyInfo", "KeyVersion", "SecurityModule"]


class KeyVersion(enum.Enum):
    """Which of a name's keys an operation uses (see the module docstring)."""

    CURRENT = "current"
    PENDING = "pending"
    PREVIOUS = "previous"


@attrs.frozen
class KeyInfo:
    """What may be shown about a stored key: never its value.

    Attributes:
        name: the key's name in the module.
        version: current, pending or previous.
        algorithm: the key's algorithm.
        usage: the key's usage.
        check_value: the 4-byte key check value.
    """

    name: str
    version: KeyVersion
    algorithm: Algorithm
    usage: KeyUsage
    check_value: bytes

    def __str__(self) -> str:
        return (
            f"{self.name} {self.version.value} {self.algorithm.value} {self.usage.value}"
            f" kcv={self.check_value.hex().upper()}"
        )


@runtime_checkable
class SecurityModule(Protocol):
    """Operations by key name; no method returns a clear key or a clear PIN."""

    def list_keys(self) -> list[KeyInfo]:
        """Every stored key version, by name, with check values only."""
        ...

    def check_value(
        self, name: str, *, version: KeyVersion = KeyVersion.CURRENT, length: int = 4
    ) -> bytes:
        """The check value of a stored key."""
        ...

    def generate_key(
        self, name: str, algorithm: Algorithm, usage: KeyUsage, *, stage: bool = False
    ) -> KeyInfo:
        """Create a random key under ``name``."""
        ...

    def import_key(
        self,
        name: str,
        usage: KeyUsage,
        cryptogram: bytes,
        kek_name: str,
        expected_kcv: bytes,
        *,
        algorithm: Algorithm | None = None,
        stage: bool = False,
    ) -> KeyInfo:
        """Import a key enciphered (ECB) under the key-encrypting key ``kek_name``."""
        ...

    def export_key(
        self, name: str, kek_name: str, *, version: KeyVersion = KeyVersion.CURRENT
    ) -> tuple[bytes, bytes]:
        """The key enciphered (ECB) under ``kek_name``, and its check value."""
        ...

    def rotate(self, name: str) -> KeyInfo:
        """Stage a new random value for ``name`` (same algorithm and usage)."""
        ...

    def confirm_key(self, name: str) -> KeyInfo:
        """Make the pending key current; the old current becomes previous."""
        ...

    def discard_pending(self, name: str) -> None:
        """Drop the pending key of ``name``."""
        ...

    def retire_previous(self, name: str) -> None:
        """Drop the previous key of ``name``."""
        ...

    def translate_pin(
        self,
        encrypted_block: bytes,
        pan: str | None,
        from_key: str,
        from_format: PinFormat | str,
        to_key: str,
        to_format: PinFormat | str,
        *,
        from_version: KeyVersion = KeyVersion.CURRENT,
    ) -> bytes:
        """Re-encipher a PIN block from one PIN key and format to another."""
        ...

    def encrypt_pin(
        self, pin: str, pan: str | None, key_name: str, format: PinFormat | str
    ) -> bytes:
        """Build and encipher a PIN block (terminals and simulators)."""
        ...

    def generate_mac(
        self,
        key_name: str,
        algorithm: str | MacAlgorithm,
        data: bytes,
        form: str,
        *,
        version: KeyVersion = KeyVersion.CURRENT,
    ) -> bytes:
        """The MAC field value of ``data`` under a stored MAC key."""
        ...

    def verify_mac(
        self,
        key_name: str,
        algorithm: str | MacAlgorithm,
        data: bytes,
        field_value: bytes,
        form: str,
        *,
        versions: Sequence[KeyVersion] = (
            KeyVersion.CURRENT,
            KeyVersion.PENDING,
            KeyVersion.PREVIOUS,
        ),
    ) -> KeyVersion:
        """Verify a MAC field value; returns the key version that verified it."""
        ...
