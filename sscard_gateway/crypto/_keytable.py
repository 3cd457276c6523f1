"""The software module's key table: names, versions, persistence.

One :class:`KeyTable` maps each key name to a slot of up to three versions
(current, pending, previous; see :mod:`._hsm`) and, when file-backed,
mirrors it in a key store file sealed under a master key (:mod:`._keystore`).
Every change is written to the file *before* it takes effect in memory, so
a failed write leaves both unchanged. The payload is JSON::

    {"format": 1, "keys": {"<name>": {"current": {"algorithm": "3des-2key",
      "usage": "zone-pin", "value": "<hex>"}, "pending": {...}, "previous": {...}}}}

A re-entrant lock guards the table and the file writes.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any, Final

import attrs

from ..errors import KeyStoreError, SecurityError
from ._hsm import KeyInfo, KeyVersion
from ._keys import Algorithm, Key, KeyUsage
from ._keystore import MasterKey, read_store_file, write_store_file

__all__ = ["ALL_VERSIONS", "KeyTable", "Slot", "key_info"]

NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
ALL_VERSIONS: Final = (KeyVersion.CURRENT, KeyVersion.PENDING, KeyVersion.PREVIOUS)
_PURPOSE_USAGES: Final = {
    "pin": frozenset(u for u in KeyUsage if u.is_pin),
    "mac": frozenset(u for u in KeyUsage if u.is_mac),
    "kek": frozenset(u for u in KeyUsage if u.is_key_encrypting),
}


@attrs.frozen
class Slot:
    """The versions held under one key name."""

    current: Key
    pending: Key | None = None
    previous: Key | None = None

    def get(self, version: KeyVersion) -> Key | None:
        """The key of ``version``, or ``None``."""
        if version is KeyVersion.CURRENT:
            return self.current
        return self.pending if version is KeyVersion.PENDING else self.previous


def key_info(name: str, version: KeyVersion, key: Key) -> KeyInfo:
    """The showable facts about one key version."""
    return KeyInfo(name, version, key.algorithm, key.usage, key.check_value())


def _key_to_json(key: Key) -> dict[str, str]:
    return {"algorithm": key.algorithm.value, "usage": key.usage.value, "value": key.value.hex()}


def _key_from_json(data: Any, where: str) -> Key:
    try:
        return Key(
            Algorithm(data["algorithm"]), KeyUsage(data["usage"]), bytes.fromhex(data["value"])
        )
    except (KeyError, TypeError, ValueError, SecurityError):
        raise KeyStoreError(f"key store entry {where} is malformed") from None


def decode_table(payload: bytes, where: str) -> dict[str, Slot]:
    """Parse a key store payload.

    Raises:
        KeyStoreError: malformed contents.
    """
    try:
        entries = json.loads(payload)["keys"]
        slots = {}
        for name, entry in entries.items():
            keys = {
                v: _key_from_json(entry[v.value], f"{name}.{v.value}")
                for v in ALL_VERSIONS
                if entry.get(v.value) is not None
            }
            current = keys.get(KeyVersion.CURRENT)
            if current is None or not NAME_PATTERN.fullmatch(name):
                raise KeyStoreError(f"{where}: key store entry {name!r} is malformed")
            slots[name] = Slot(current, keys.get(KeyVersion.PENDING), keys.get(KeyVersion.PREVIOUS))
    except KeyStoreError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError):
        raise KeyStoreError(f"{where}: key store contents are malformed") from None
    return slots


def encode_table(slots: dict[str, Slot]) -> bytes:
    """Serialise the table as the key store payload."""
    entries: dict[str, dict[str, Any]] = {}
    for name, slot in sorted(slots.items()):
        entries[name] = {
            v.value: _key_to_json(key) for v in ALL_VERSIONS if (key := slot.get(v)) is not None
        }
    return json.dumps({"format": 1, "keys": entries}, sort_keys=True).encode("utf-8")


class KeyTable:
    """Key slots by name, optionally mirrored in a sealed key store file."""

    def __init__(self, path: Path | None = None, master_key: MasterKey | None = None) -> None:
        if (path is None) != (master_key is None):
            raise KeyStoreError("a file-backed key store needs both a path and a master key")
        self.path = path
        self._master = master_key
        self._slots: dict[str, Slot] = {}
        self.lock = threading.RLock()

    @classmethod
    def load(cls, path: Path, master_key: MasterKey) -> KeyTable:
        """Read a key table from its file.

        Raises:
            KeyStoreError: see :func:`read_store_file` and :func:`decode_table`.
        """
        table = cls(path, master_key)
        table._slots = decode_table(read_store_file(path, master_key), str(path))
        return table

    def save(self) -> None:
        """Write the file now (no-op in memory)."""
        with self.lock:
            self._write(self._slots)

    def _write(self, slots: dict[str, Slot]) -> None:
        if self.path is not None and self._master is not None:
            write_store_file(self.path, self._master, encode_table(slots))

    def commit(self, name: str, slot: Slot | None) -> None:
        """Persist the table with ``name`` set (or removed), then apply it in memory."""
        with self.lock:
            slots = dict(self._slots)
            if slot is None:
                slots.pop(name, None)
            else:
                slots[name] = slot
            self._write(slots)
            self._slots = slots

    def snapshot(self) -> dict[str, Slot]:
        """A copy of the table (slots are immutable)."""
        with self.lock:
            return dict(self._slots)

    def __contains__(self, name: object) -> bool:
        return name in self._slots

    def slot(self, name: str) -> Slot:
        """The slot of ``name``.

        Raises:
            KeyStoreError: no such key.
        """
        found = self._slots.get(name)
        if found is None:
            raise KeyStoreError(f"no key named {name!r}")
        return found

    def key(self, name: str, version: KeyVersion = KeyVersion.CURRENT) -> Key:
        """One version of ``name``.

        Raises:
            KeyStoreError: no such key or version.
        """
        found = self.slot(name).get(version)
        if found is None:
            raise KeyStoreError(f"key {name!r} has no {version.value} version")
        return found

    def key_for(self, name: str, purpose: str, version: KeyVersion = KeyVersion.CURRENT) -> Key:
        """One version of ``name``, checked to be a ``pin``, ``mac`` or ``kek`` key.

        Raises:
            KeyStoreError: no such key or version.
            SecurityError: the key's usage does not allow the purpose.
        """
        found = self.key(name, version)
        if found.usage not in _PURPOSE_USAGES[purpose]:
            raise SecurityError(f"key {name!r} is a {found.usage.value} key, not a {purpose} key")
        return found

    def install(self, name: str, key: Key, *, stage: bool) -> KeyInfo:
        """Put ``key`` under ``name``: staged as pending, or current at once.

        When current at once over an existing key, the old current is kept
        as previous and any pending version is dropped.

        Raises:
            KeyStoreError: invalid name, a usage different from the stored
                key's, or nothing to stage for.
        """
        if not NAME_PATTERN.fullmatch(name):
            raise KeyStoreError(
                f"invalid key name {name!r}: 1-64 letters, digits, '_', '.', ':' or '-'"
            )
        with self.lock:
            old = self._slots.get(name)
            if old is not None and old.current.usage is not key.usage:
                raise KeyStoreError(
                    f"key {name!r} is a {old.current.usage.value} key;"
                    f" cannot replace it with a {key.usage.value} key"
                )
            if old is None:
                if stage:
                    raise KeyStoreError(f"no key named {name!r} to stage a new value for")
                slot = Slot(key)
            elif stage:
                slot = attrs.evolve(old, pending=key)
            else:
                slot = Slot(key, None, old.current)
            self.commit(name, slot)
        return key_info(name, KeyVersion.PENDING if stage else KeyVersion.CURRENT, key)

    def confirm(self, name: str) -> KeyInfo:
        """Pending becomes current, current becomes previous.

        Raises:
            KeyStoreError: no such key, or nothing pending.
        """
        with self.lock:
            slot = self.slot(name)
            if slot.pending is None:
                raise KeyStoreError(f"key {name!r} has no pending version to confirm")
            self.commit(name, Slot(slot.pending, None, slot.current))
            return key_info(name, KeyVersion.CURRENT, slot.pending)

    def drop(self, name: str, version: KeyVersion | None) -> None:
        """Drop the pending or previous version, or (``None``) the whole name.

        Raises:
            KeyStoreError: no such key.
        """
        with self.lock:
            slot = self.slot(name)
            if version is None:
                self.commit(name, None)
            elif version is KeyVersion.PENDING and slot.pending is not None:
                self.commit(name, attrs.evolve(slot, pending=None))
            elif version is KeyVersion.PREVIOUS and slot.previous is not None:
                self.commit(name, attrs.evolve(slot, previous=None))
