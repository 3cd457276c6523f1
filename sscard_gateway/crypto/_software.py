"""SoftwareSecurityModule: the security module in process, keys in a sealed file.

Implements :class:`~._hsm.SecurityModule` on this package's pure functions.
Keys live in a :class:`~._keytable.KeyTable`: in memory and, unless the
module is in-memory, in a key store file sealed under a master key
(:mod:`._keystore`), written before each change takes effect.

Key separation rules enforced here (a misconfigured dialect or a wrong key
name fails loudly rather than using a key for the wrong purpose):

- PIN operations need a PIN key (zone or terminal), MAC operations a MAC
  key, import/export a master (key-encrypting) key;
- a key is never exported under a key of lower strength (NIST SP 800-57
  strengths: DES 56, 2-key 3DES 80, 3-key 3DES 112, AES and SM4 128+).

Thread safety: one re-entrant lock guards the key table and file writes;
operations are pure synchronous CPU work, so calling them from Trio tasks
(one thread) or worker threads is safe. The clear PIN exists only in local
variables of :meth:`SoftwareSecurityModule.translate_pin`; Python cannot
wipe memory, which is the limit of a software module (docs/security-module.md).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import KeyCheckError, KeyStoreError, MacError, SecurityError
from ._hsm import KeyInfo, KeyVersion
from ._keys import Algorithm, Key, KeyUsage
from ._keystore import MasterKey
from ._keytable import ALL_VERSIONS, KeyTable, key_info
from ._mac import MacAlgorithm, generate_mac, get_mac_algorithm
from ._pinblock import PinFormat, decrypt_pin, encrypt_pin

__all__ = ["SoftwareSecurityModule"]


class SoftwareSecurityModule:
    """A security module in process; see the module docstring.

    Build one with :meth:`in_memory`, :meth:`create` or :meth:`open`.
    """

    def __init__(self, table: KeyTable | None = None) -> None:
        self._table = KeyTable() if table is None else table

    # --- construction and inventory ---------------------------------------------

    @classmethod
    def in_memory(cls) -> SoftwareSecurityModule:
        """A module with no file (tests and simulators); keys vanish with it."""
        return cls()

    @classmethod
    def create(cls, path: str | Path, master_key: MasterKey) -> SoftwareSecurityModule:
        """Create a new, empty key store file.

        Raises:
            KeyStoreError: the file already exists or cannot be written.
        """
        target = Path(path)
        if target.exists():
            raise KeyStoreError(f"{target}: a key store already exists here")
        table = KeyTable(target, master_key)
        table.save()
        return cls(table)

    @classmethod
    def open(cls, path: str | Path, master_key: MasterKey) -> SoftwareSecurityModule:
        """Open an existing key store file.

        Raises:
            KeyStoreError: missing, not a key store, a different master key,
                tampered with, or malformed.
        """
        return cls(KeyTable.load(Path(path), master_key))

    @property
    def path(self) -> Path | None:
        """The key store file, or ``None`` in memory."""
        return self._table.path

    def save(self) -> None:
        """Write the key store file now (every change is saved automatically)."""
        self._table.save()

    def __contains__(self, name: object) -> bool:
        return name in self._table

    def list_keys(self) -> list[KeyInfo]:
        """Every stored key version, sorted by name: current, pending, previous.

        Returns:
            :class:`KeyInfo` records (name, version, algorithm, usage, check value).
        """
        return [
            key_info(name, version, key)
            for name, slot in sorted(self._table.snapshot().items())
            for version in ALL_VERSIONS
            if (key := slot.get(version)) is not None
        ]

    def check_value(
        self, name: str, *, version: KeyVersion = KeyVersion.CURRENT, length: int = 4
    ) -> bytes:
        """The check value of a stored key.

        Raises:
            KeyStoreError: no such key or version.
            SecurityError: bad length.
        """
        return self._table.key(name, version).check_value(length)

    # --- life cycle ------------------------------------------------------------------

    def import_components(
        self,
        name: str,
        algorithm: Algorithm,
        usage: KeyUsage,
        components: Iterable[bytes],
        *,
        expected_kcv: bytes | None = None,
    ) -> KeyInfo:
        """Load a key from clear components XORed together (key ceremony, tests).

        Args:
            name: the key name; an existing key is replaced and kept as previous.
            algorithm: the key's algorithm.
            usage: the key's usage.
            components: one or more clear components of the key length.
            expected_kcv: the check value the custodians recorded (3-8 bytes).

        Returns:
            The new key's :class:`KeyInfo`.

        Raises:
            KeyCheckError: the check value does not match.
            SecurityError: no component, or a component of the wrong length.
        """
        value = 0
        count = 0
        for part in components:
            if len(part) != algorithm.key_length:
                raise SecurityError(
                    f"a {algorithm.value} key component is {algorithm.key_length} bytes"
                )
            value ^= int.from_bytes(part)
            count += 1
        if not count:
            raise SecurityError("at least one key component is needed")
        key = Key(algorithm, usage, value.to_bytes(algorithm.key_length))
        if expected_kcv is not None:
            _check_kcv(name, key, expected_kcv)
        return self._table.install(name, key, stage=False)

    def generate_key(
        self, name: str, algorithm: Algorithm, usage: KeyUsage, *, stage: bool = False
    ) -> KeyInfo:
        """Create a random key (odd parity for DES keys) under ``name``.

        Args:
            name: the key name.
            algorithm: the key's algorithm.
            usage: the key's usage.
            stage: put it as the pending version of an existing name.

        Returns:
            The new key's :class:`KeyInfo`.

        Raises:
            KeyStoreError: invalid name, usage clash, or nothing to stage for.
        """
        return self._table.install(name, Key.generate(algorithm, usage), stage=stage)

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
        """Import a key enciphered in ECB under a stored key-encrypting key.

        Args:
            name: where to store it.
            usage: the key's usage.
            cryptogram: the key value enciphered under ``kek_name`` (ECB).
            kek_name: a zone or terminal master key.
            expected_kcv: the check value sent with the key (3-8 bytes).
            algorithm: the key's algorithm; by default the KEK's family with
                the cryptogram's length (8/16/24 bytes under a DES KEK, 16
                under SM4, 16/32 under AES).
            stage: keep it as the pending version (key exchange: confirm it
                with :meth:`confirm_key`); otherwise it is current at once
                and the old current is kept as previous.

        Returns:
            The imported key's :class:`KeyInfo`.

        Raises:
            KeyCheckError: the check value does not match (A8 PIN key, A9 MAC
                key, A7 other).
            KeyStoreError: unknown KEK, or see :meth:`generate_key`.
            SecurityError: the KEK is not a master key, or the lengths do not fit.
        """
        with self._table.lock:
            kek = self._table.key_for(kek_name, "kek")
        size = kek.algorithm.block_size
        if not cryptogram or len(cryptogram) % size:
            raise SecurityError(
                f"a key cryptogram under {kek_name!r} is a multiple of {size} bytes"
            )
        if algorithm is None:
            algorithm = Algorithm.for_length(kek.algorithm.family, len(cryptogram))
        if len(cryptogram) != algorithm.key_length:
            raise SecurityError(
                f"a {algorithm.value} key cryptogram is {algorithm.key_length} bytes"
            )
        key = Key(algorithm, usage, kek.cipher().decrypt(bytes(cryptogram)))
        _check_kcv(name, key, expected_kcv)
        return self._table.install(name, key, stage=stage)

    def export_key(
        self, name: str, kek_name: str, *, version: KeyVersion = KeyVersion.CURRENT
    ) -> tuple[bytes, bytes]:
        """A stored key enciphered (ECB) under a stored key-encrypting key.

        Returns:
            ``(cryptogram, check value)``, the check value 4 bytes.

        Raises:
            KeyStoreError: unknown key or KEK.
            SecurityError: the KEK is not a master key, is the key itself, is
                weaker than the key, or its block size does not divide the key.
        """
        if name == kek_name:
            raise SecurityError("a key cannot be exported under itself")
        with self._table.lock:
            key = self._table.key(name, version)
            kek = self._table.key_for(kek_name, "kek")
        if kek.algorithm.strength < key.algorithm.strength:
            raise SecurityError(
                f"refusing to export a {key.algorithm.value} key under a weaker"
                f" {kek.algorithm.value} key"
            )
        if key.algorithm.key_length % kek.algorithm.block_size:
            raise SecurityError(
                f"a {key.algorithm.value} key does not fit whole {kek.algorithm.value} blocks"
            )
        return kek.cipher().encrypt(key.value), key.check_value()

    def rotate(self, name: str) -> KeyInfo:
        """Stage a new random value for ``name``, same algorithm and usage.

        The current key stays in use until :meth:`confirm_key`.

        Raises:
            KeyStoreError: no such key.
        """
        with self._table.lock:
            current = self._table.slot(name).current
            return self.generate_key(name, current.algorithm, current.usage, stage=True)

    def confirm_key(self, name: str) -> KeyInfo:
        """Make the pending key current; the old current becomes previous.

        Raises:
            KeyStoreError: no such key, or nothing pending.
        """
        return self._table.confirm(name)

    def discard_pending(self, name: str) -> None:
        """Drop the pending key of ``name`` (no error when there is none).

        Raises:
            KeyStoreError: no such key.
        """
        self._table.drop(name, KeyVersion.PENDING)

    def retire_previous(self, name: str) -> None:
        """Drop the previous key of ``name`` (no error when there is none).

        Raises:
            KeyStoreError: no such key.
        """
        self._table.drop(name, KeyVersion.PREVIOUS)

    def delete_key(self, name: str) -> None:
        """Remove every version of ``name``.

        Raises:
            KeyStoreError: no such key.
        """
        self._table.drop(name, None)

    # --- PIN and MAC operations -------------------------------------------------------

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
        """Re-encipher a PIN block under another PIN key and format.

        The block is deciphered and decoded under ``from_key`` (with the PAN
        for PAN-bound formats), then encoded and enciphered under ``to_key``
        for the same PAN; the clear PIN stays inside this method.

        Args:
            encrypted_block: the inbound enciphered PIN block.
            pan: the card's PAN (needed by formats 0, 3, 4 and sm4).
            from_key: the inbound PIN key name.
            from_format: the inbound block format.
            to_key: the outbound PIN key name (always its current version).
            to_format: the outbound block format.
            from_version: which version of ``from_key`` to decipher with.

        Returns:
            The outbound enciphered PIN block.

        Raises:
            PinBlockError: the block does not decode (response code 99).
            KeyStoreError: unknown key or version.
            SecurityError: a key is not a PIN key or does not suit the format.
        """
        with self._table.lock:
            source = self._table.key_for(from_key, "pin", from_version)
            target = self._table.key_for(to_key, "pin")
        return encrypt_pin(
            target, decrypt_pin(source, encrypted_block, pan, from_format), pan, to_format
        )

    def encrypt_pin(
        self, pin: str, pan: str | None, key_name: str, format: PinFormat | str
    ) -> bytes:
        """Build and encipher a PIN block under a stored PIN key.

        For terminals and simulators: the clear PIN goes in, only the
        enciphered block comes out.

        Raises:
            PinBlockError: invalid PIN or PAN.
            KeyStoreError: unknown key.
            SecurityError: not a PIN key, or it does not suit the format.
        """
        with self._table.lock:
            key = self._table.key_for(key_name, "pin")
        return encrypt_pin(key, pin, pan, format)

    def generate_mac(
        self,
        key_name: str,
        algorithm: str | MacAlgorithm,
        data: bytes,
        form: str,
        *,
        version: KeyVersion = KeyVersion.CURRENT,
    ) -> bytes:
        """The MAC field value of ``data`` under a stored MAC key.

        Args:
            key_name: a zone or terminal MAC key.
            algorithm: a name from ``MAC_ALGORITHMS``.
            data: the MAB.
            form: ``"hex4"`` or ``"raw8"``.
            version: which version of the key.

        Returns:
            The field value (8 bytes).

        Raises:
            KeyStoreError: unknown key or version.
            SecurityError: not a MAC key, unknown algorithm or form, unsuitable key.
        """
        with self._table.lock:
            key = self._table.key_for(key_name, "mac", version)
        return generate_mac(algorithm, key, data, form)

    def verify_mac(
        self,
        key_name: str,
        algorithm: str | MacAlgorithm,
        data: bytes,
        field_value: bytes,
        form: str,
        *,
        versions: Sequence[KeyVersion] = ALL_VERSIONS,
    ) -> KeyVersion:
        """Verify a MAC field value under the first matching key version.

        Args:
            key_name: a zone or terminal MAC key.
            algorithm: a name from ``MAC_ALGORITHMS``.
            data: the MAB as received.
            field_value: the received MAC field.
            form: ``"hex4"`` or ``"raw8"``.
            versions: the versions to try, in order (default current,
                pending, previous; pass ``(KeyVersion.CURRENT,)`` to be strict).

        Returns:
            The version that verified; PENDING means the peer has switched.

        Raises:
            MacError: no tried version verifies (response code A0).
            KeyStoreError: unknown key.
            SecurityError: not a MAC key, unknown algorithm or form, unsuitable key.
        """
        mac = get_mac_algorithm(algorithm)
        with self._table.lock:
            slot = self._table.slot(key_name)
            self._table.key_for(key_name, "mac")
        for version in versions:
            key = slot.get(version)
            if key is None:
                continue
            expected = generate_mac(mac, key, data, form)
            if hmac.compare_digest(expected, bytes(field_value)):
                return version
        raise MacError("MAC does not verify")


def _check_kcv(name: str, key: Key, expected: bytes) -> None:
    if not 3 <= len(expected) <= key.algorithm.block_size:
        raise SecurityError(
            f"an expected check value is 3 to {key.algorithm.block_size} bytes, not {len(expected)}"
        )
    actual = key.check_value(len(expected))
    if not hmac.compare_digest(actual, bytes(expected)):
        raise KeyCheckError(
            f"check value of key {name!r} does not match: expected {bytes(expected).hex().upper()},"
            f" computed {actual.hex().upper()}",
            key.usage.response_code,
        )
