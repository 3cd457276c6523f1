"""The service's settings as frozen values: what ``gateway.toml`` becomes.

:class:`ServiceConfig` holds the :class:`~sscard_gateway.gateway.GatewayConfig`
(links, key names, routes, policies) and what only a running service
needs: where the key store and its master key are, where the journal is
and where its two keys come from, the cutover time, logging and metrics,
and the TLS files of each link. Secrets are never held here: a
:class:`SecretSource` says where to read one (a key file or an environment
variable) and reads it only when the service opens the journal or the key
store.
"""

from __future__ import annotations

import datetime as _dt
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Final

import attrs

from ..crypto import KeyUsage, MasterKey
from ..errors import KeyStoreError
from ..gateway import GatewayConfig

__all__ = [
    "Cutover",
    "JournalSettings",
    "KeyReference",
    "LoggingSettings",
    "MetricsSettings",
    "SecretSource",
    "SecuritySettings",
    "ServiceConfig",
    "TlsFiles",
]

SECRET_BYTES: Final = 32


def _frozen(value: Mapping[str, TlsFiles]) -> Mapping[str, TlsFiles]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class SecretSource:
    """Where a 32-byte secret is read from: a key file (mode 0600) or an environment variable.

    Both hold 64 hex digits. Exactly one of ``file`` and ``env`` is set.

    Attributes:
        where: the configuration key it was read from (for messages).
        file: the key file.
        env: the environment variable.
    """

    where: str
    file: Path | None = None
    env: str | None = None

    def __attrs_post_init__(self) -> None:
        if (self.file is None) == (self.env is None):
            raise ValueError("a secret comes from exactly one of a file and a variable")

    def describe(self) -> str:
        """``file PATH`` or ``$NAME``, for summaries (never the value)."""
        return f"file {self.file}" if self.file is not None else f"${self.env}"

    def read(self, environ: Mapping[str, str] | None = None) -> bytes:
        """Read the secret.

        Args:
            environ: the environment (``os.environ`` by default).

        Returns:
            The 32 bytes.

        Raises:
            KeyStoreError: missing, unreadable, readable by group or others,
                or not 64 hex digits; the message names the configuration key.
        """
        if self.file is not None:
            where = f"{self.where} ({self.file})"
            try:
                info = os.stat(self.file)
                text = self.file.read_text(encoding="ascii", errors="replace")
            except OSError as exc:
                raise KeyStoreError(f"{where}: cannot read the key file ({exc.strerror})") from None
            if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeyStoreError(f"{where}: the key file is open to group or others; chmod 600")
        else:
            where = f"{self.where} (${self.env})"
            env = os.environ if environ is None else environ
            text = env.get(str(self.env), "")
            if not text:
                raise KeyStoreError(f"{where}: the environment variable is not set")
        try:
            value = bytes.fromhex(text.strip())
        except ValueError:
            value = b""
        if len(value) != SECRET_BYTES:
            raise KeyStoreError(f"{where}: a key is {2 * SECRET_BYTES} hex digits")
        return value

    def master_key(self, environ: Mapping[str, str] | None = None) -> MasterKey:
        """The secret as the key store's master key.

        Raises:
            KeyStoreError: as :meth:`read`.
        """
        return MasterKey(self.read(environ))


@attrs.frozen(kw_only=True)
class TlsFiles:
    """A link's TLS files (PEM): our certificate chain and key, and the CA to trust.

    Attributes:
        where: the configuration key (for messages).
        cert: our certificate chain.
        key: its private key.
        ca: the CA certificates the peer's certificate must chain to.
        server_name: the name the switch's certificate must carry (the
            upstream link; its host by default).
    """

    where: str
    cert: Path
    key: Path
    ca: Path
    server_name: str | None = None


@attrs.frozen(kw_only=True)
class KeyReference:
    """A key name the configuration uses, where, and the usage it needs."""

    where: str
    name: str
    usage: KeyUsage


@attrs.frozen(kw_only=True)
class SecuritySettings:
    """The key store file and where its master key comes from."""

    key_store: Path
    master_key: SecretSource


@attrs.frozen(kw_only=True)
class JournalSettings:
    """The SQLite journal file and where its PAN and data keys come from."""

    path: Path
    pan_key: SecretSource
    data_key: SecretSource


@attrs.frozen(kw_only=True)
class Cutover:
    """The daily cutover time (local): the settlement date changes at it.

    The gateway stamps each transaction's settlement date with it; CUPS
    cutover messages (0820 F70 201/202) may move it (docs/clearing.md).
    """

    time: _dt.time

    def __str__(self) -> str:
        return self.time.strftime("%H:%M")


@attrs.frozen(kw_only=True)
class LoggingSettings:
    """Log level and form: text lines, or one JSON object per line."""

    level: str = "info"
    json: bool = False


@attrs.frozen(kw_only=True)
class MetricsSettings:
    """The Prometheus endpoint (loopback only) and how often the journal is read."""

    host: str = "127.0.0.1"
    port: int = 9108
    interval: float = 5.0


@attrs.frozen(kw_only=True)
class ServiceConfig:
    """A whole gateway service, as ``gateway.toml`` describes it.

    Attributes:
        file: the configuration file's name (for messages).
        gateway: what :class:`~sscard_gateway.gateway.Gateway` takes.
        security: the key store.
        journal: the journal.
        cutover: the daily cutover time.
        logging: log level and form.
        metrics: the metrics endpoint, or ``None`` (off).
        drain_timeout: seconds a stop waits for requests in flight.
        upstream_tls: TLS to the switch, or ``None`` (plain TCP).
        center_tls: TLS per center name (centers not named listen in plain TCP).
        dialects: the dialect of each link by link name.
        mappings: the translation mapping names (``to_cups``, ``from_cups``).
        keys: every key name the configuration uses, with its usage.
    """

    file: str
    gateway: GatewayConfig
    security: SecuritySettings
    journal: JournalSettings
    cutover: Cutover
    logging: LoggingSettings = attrs.field(factory=LoggingSettings)
    metrics: MetricsSettings | None = None
    drain_timeout: float = 10.0
    upstream_tls: TlsFiles | None = None
    center_tls: Mapping[str, TlsFiles] = attrs.field(factory=dict, converter=_frozen)
    dialects: Mapping[str, str] = attrs.field(factory=dict)
    mappings: Mapping[str, str] = attrs.field(factory=dict)
    keys: tuple[KeyReference, ...] = ()

    def summary(self) -> str:
        """A few readable lines: centers, routes, upstream, files (never a secret)."""
        gw = self.gateway
        up = gw.upstream
        routes = gw.routes.get("routes", [])
        default = gw.routes.get("default")
        lines = [
            f"upstream {up.name}: {up.host}:{up.port}"
            f"{' (TLS)' if self.upstream_tls else ''}, MAC key {up.mac_key or '-'}, "
            f"PIN key {up.pin_key or '-'} ({up.pin_format})",
            f"centers ({len(gw.centers)}):",
        ]
        for center in gw.centers:
            tls = " (TLS)" if center.name in self.center_tls else ""
            lines.append(
                f"  {center.name}: listens on {center.host}:{center.port}{tls}, "
                f"institution {center.institution}, region {center.region}"
            )
        lines.append(
            f"routes: {len(routes)}" + (f", default {default}" if default else ", no default")
        )
        lines.append(
            f"journal {self.journal.path} (PAN key {self.journal.pan_key.describe()}, "
            f"data key {self.journal.data_key.describe()})"
        )
        lines.append(
            f"key store {self.security.key_store} "
            f"(master key {self.security.master_key.describe()}), {len(self.keys)} key names"
        )
        metrics = "off" if self.metrics is None else f"{self.metrics.host}:{self.metrics.port}"
        form = "json" if self.logging.json else "text"
        lines.append(
            f"cutover {self.cutover}; logging {self.logging.level} ({form}); metrics {metrics}"
        )
        return "\n".join(lines)
