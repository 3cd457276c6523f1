"""The key store file: keys at rest under a local master key.

File layout (version 1), all of it read before anything is trusted::

    offset  size  content
    0       8     magic b"SSCARDKS"
    8       2     format version, big-endian (1)
    10      8     master key identifier: HMAC-SHA256(master key, "sscard key store id")[:8]
    18      12    AES-GCM nonce, random per write
    30      n+16  AES-256-GCM(master key, nonce, payload, associated data = bytes 0..29)

The payload is UTF-8 JSON holding every key's algorithm, usage and value in
hex. Authenticating the 30-byte header as associated data means a changed
version, identifier or nonce fails like changed ciphertext. The identifier
lets a wrong master key be reported as such (instead of "tampered"); it is
a PRF output and tells nothing about the key.

Writes are atomic: the new file is written beside the old one, flushed to
disk, then renamed over it with :func:`os.replace`. Master keys come from a
key file (64 hex digits, mode 0600) or the ``SSCARD_MASTER_KEY``
environment variable (64 hex digits).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import KeyStoreError

__all__ = ["MASTER_KEY_ENV", "MasterKey", "read_store_file", "seal", "unseal", "write_store_file"]

MASTER_KEY_ENV: Final = "SSCARD_MASTER_KEY"
"""Environment variable holding the master key as 64 hex digits."""

MAGIC: Final = b"SSCARDKS"
VERSION: Final = 1
HEADER_SIZE: Final = 30
_ID_LABEL: Final = b"sscard key store id"


def _parse_master(text: bytes, where: str) -> bytes:
    try:
        value = bytes.fromhex(text.strip().decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise KeyStoreError(f"{where}: a master key is 64 hex digits (AES-256)") from None
    if len(value) != 32:
        raise KeyStoreError(f"{where}: a master key is 64 hex digits (AES-256), got {len(value)}")
    return value


@attrs.frozen(repr=False, eq=False)
class MasterKey:
    """The local AES-256 key that seals the key store.

    ``repr`` shows only the identifier recorded in store headers.
    """

    value: bytes = attrs.field(repr=False)

    def __attrs_post_init__(self) -> None:
        if len(self.value) != 32:
            raise KeyStoreError("a master key is 32 bytes (AES-256)")

    @property
    def key_id(self) -> bytes:
        """8-byte identifier written in store headers."""
        return hmac.new(self.value, _ID_LABEL, hashlib.sha256).digest()[:8]

    @classmethod
    def generate(cls) -> MasterKey:
        """A new random master key."""
        return cls(secrets.token_bytes(32))

    @classmethod
    def from_hex(cls, text: str) -> MasterKey:
        """A master key from 64 hex digits.

        Raises:
            KeyStoreError: not 64 hex digits.
        """
        return cls(_parse_master(text.encode("ascii", "replace"), "master key"))

    @classmethod
    def from_env(
        cls, name: str = MASTER_KEY_ENV, environ: Mapping[str, str] | None = None
    ) -> MasterKey:
        """The master key from an environment variable (64 hex digits).

        Raises:
            KeyStoreError: the variable is unset or not 64 hex digits.
        """
        env = os.environ if environ is None else environ
        text = env.get(name)
        if not text:
            raise KeyStoreError(f"no master key: the environment variable {name} is not set")
        return cls(_parse_master(text.encode("ascii", "replace"), name))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, require_private: bool = True) -> MasterKey:
        """The master key from a key file (64 hex digits, surrounding whitespace allowed).

        Args:
            path: the key file.
            require_private: refuse a file that group or others may read or
                write (POSIX permission bits), as ``ssh`` does.

        Raises:
            KeyStoreError: missing, unreadable, too open, or not a key.
        """
        where = os.fspath(path)
        try:
            info = os.stat(where)
            data = Path(where).read_bytes()
        except OSError as exc:
            raise KeyStoreError(f"{where}: cannot read master key file ({exc.strerror})") from None
        if require_private and os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyStoreError(
                f"{where}: master key file is accessible to group or others; chmod 600 it"
            )
        return cls(_parse_master(data, where))

    def write_file(self, path: str | os.PathLike[str]) -> None:
        """Write this key as 64 hex digits to a new file with mode 0600.

        Raises:
            KeyStoreError: the file exists or cannot be written.
        """
        where = os.fspath(path)
        try:
            fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise KeyStoreError(
                f"{where}: cannot create master key file ({exc.strerror})"
            ) from None
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(self.value.hex() + "\n")

    def __repr__(self) -> str:
        return f"MasterKey(id={self.key_id.hex().upper()})"

    __str__ = __repr__


def seal(master: MasterKey, payload: bytes) -> bytes:
    """Encrypt and authenticate a payload into key store file bytes."""
    header = MAGIC + VERSION.to_bytes(2) + master.key_id + secrets.token_bytes(12)
    return header + AESGCM(master.value).encrypt(header[18:30], payload, header)


def unseal(master: MasterKey, blob: bytes, where: str = "key store") -> bytes:
    """Check and decrypt key store file bytes.

    Raises:
        KeyStoreError: not a key store, unsupported version, a different
            master key, or tampered with / corrupt.
    """
    if len(blob) < HEADER_SIZE + 16 or blob[:8] != MAGIC:
        raise KeyStoreError(f"{where}: not an sscard_gateway key store file")
    version = int.from_bytes(blob[8:10])
    if version != VERSION:
        raise KeyStoreError(f"{where}: unsupported key store version {version}")
    header = blob[:HEADER_SIZE]
    if not hmac.compare_digest(header[10:18], master.key_id):
        raise KeyStoreError(
            f"{where}: sealed under another master key (store key id"
            f" {header[10:18].hex().upper()}, given key id {master.key_id.hex().upper()})"
        )
    try:
        return AESGCM(master.value).decrypt(header[18:30], blob[HEADER_SIZE:], header)
    except InvalidTag:
        raise KeyStoreError(
            f"{where}: authentication failed: the file was tampered with or is corrupt"
        ) from None


def read_store_file(path: Path, master: MasterKey) -> bytes:
    """Read and unseal a key store file.

    Raises:
        KeyStoreError: missing, unreadable, or refused by :func:`unseal`.
    """
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise KeyStoreError(f"{path}: key store file does not exist") from None
    except OSError as exc:
        raise KeyStoreError(f"{path}: cannot read key store ({exc.strerror})") from None
    return unseal(master, blob, str(path))


def write_store_file(path: Path, master: MasterKey, payload: bytes) -> None:
    """Seal ``payload`` and replace ``path`` atomically (temp file + ``os.replace``).

    Raises:
        KeyStoreError: the file cannot be written.
    """
    blob = seal(master, payload)
    directory = path.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise KeyStoreError(f"{path}: cannot write key store ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(blob)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise KeyStoreError(f"{path}: cannot write key store ({exc.strerror})") from None
    if os.name == "posix":  # make the rename itself durable
        with contextlib.suppress(OSError):
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
