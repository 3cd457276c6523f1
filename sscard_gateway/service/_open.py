"""Opening what a gateway process needs: the key store, the journal, TLS contexts.

Why a step of its own: every resource named in ``gateway.toml`` is opened
and checked before the gateway takes any traffic, so a wrong master key, a
key name missing from the store (or of the wrong usage), an unreadable
journal key or a bad certificate stops the start with the configuration key
that is wrong, instead of failing the first transaction.
"""

from __future__ import annotations

import datetime as _dt
import ssl

from ..config import InvalidConfig, SecretSource, ServiceConfig, TlsFiles
from ..crypto import KeyVersion, SecurityModule, SoftwareSecurityModule
from ..errors import JournalError, SecurityError, SpecError
from ..link import Connector, tcp_connector, tls_client_context, tls_server_context
from ..store import Journal, SQLiteJournal, TransactionQuery

__all__ = ["check_keys", "last_stan", "open_journal", "open_security", "tls_settings"]


def open_security(
    config: ServiceConfig, environ: dict[str, str] | None = None
) -> SoftwareSecurityModule:
    """Open the key store under its master key.

    Args:
        config: the service configuration.
        environ: the environment for ``master_key_env`` (``os.environ`` by default).

    Returns:
        The security module.

    Raises:
        SpecError: naming ``security.key_store`` or ``security.master_key``:
            missing or unreadable file, wrong master key, tampered store.
    """
    settings = config.security
    try:
        master = settings.master_key.master_key(environ)
    except SecurityError as exc:
        raise SpecError(config.file, settings.master_key.where, str(exc)) from None
    try:
        return SoftwareSecurityModule.open(settings.key_store, master)
    except SecurityError as exc:
        raise SpecError(config.file, "security.key_store", str(exc)) from None


def check_keys(config: ServiceConfig, security: SecurityModule) -> None:
    """Check that every key name the configuration uses is in the store, with its usage.

    Args:
        config: the service configuration.
        security: the open security module.

    Raises:
        InvalidConfig: naming each key reference that is missing or of the
            wrong usage.
    """
    current = {
        info.name: info for info in security.list_keys() if info.version is KeyVersion.CURRENT
    }
    errors = []
    for ref in config.keys:
        info = current.get(ref.name)
        if info is None:
            problem = f"key {ref.name!r} is not in the key store {config.security.key_store}"
            errors.append(SpecError(config.file, ref.where, problem))
        elif info.usage is not ref.usage:
            problem = (
                f"key {ref.name!r} is a {info.usage.value} key; a {ref.usage.value} key is needed"
            )
            errors.append(SpecError(config.file, ref.where, problem))
    if errors:
        raise InvalidConfig(errors)


def open_journal(config: ServiceConfig, environ: dict[str, str] | None = None) -> SQLiteJournal:
    """Open (or create) the SQLite journal with its PAN and data keys.

    Args:
        config: the service configuration.
        environ: the environment for ``*_key_env`` (``os.environ`` by default).

    Returns:
        The journal; close it when done.

    Raises:
        SpecError: naming the ``journal`` key that is wrong: an unreadable
            key, a journal that cannot be opened or was written under other keys.
    """
    settings = config.journal

    def read(source: SecretSource) -> bytes:
        try:
            return source.read(environ)
        except SecurityError as exc:
            raise SpecError(config.file, source.where, str(exc)) from None

    pan_key, data_key = read(settings.pan_key), read(settings.data_key)
    try:
        return SQLiteJournal(settings.path, pan_key=pan_key, data_key=data_key)
    except JournalError as exc:
        raise SpecError(config.file, "journal.path", f"{settings.path}: {exc}") from None


def _context(config: ServiceConfig, files: TlsFiles, *, server: bool) -> ssl.SSLContext:
    make = tls_server_context if server else tls_client_context
    try:
        return make(str(files.cert), str(files.key), str(files.ca))
    except (OSError, ssl.SSLError) as exc:
        raise SpecError(config.file, files.where, f"cannot load the TLS files: {exc}") from None


def tls_settings(config: ServiceConfig) -> tuple[Connector | None, dict[str, ssl.SSLContext]]:
    """The upstream connector (``None``: plain TCP) and the centers' server contexts.

    Args:
        config: the service configuration.

    Returns:
        What :class:`~sscard_gateway.gateway.Gateway` takes as
        ``upstream_connector`` and ``center_ssl``.

    Raises:
        SpecError: naming the ``tls`` table whose files cannot be loaded.
    """
    connector = None
    up = config.gateway.upstream
    if config.upstream_tls is not None:
        context = _context(config, config.upstream_tls, server=False)
        connector = tcp_connector(
            up.host, up.port, ssl_context=context, server_hostname=config.upstream_tls.server_name
        )
    centers = {
        name: _context(config, files, server=True) for name, files in config.center_tls.items()
    }
    return connector, centers


def last_stan(journal: Journal, now: _dt.datetime) -> int:
    """The last STAN the gateway gave an outbound leg, read back from the journal.

    A restarted gateway must continue its STAN sequence: CUPS identifies a
    transaction by F7 + F11 + F32 + F33 and the RRN is built from the hour
    and the STAN, so starting again at ``000001`` would repeat the RRNs of
    the legs sent earlier in the same hour. The legs of yesterday's,
    today's and tomorrow's settlement dates (an index range each) are read;
    the latest journaled one with an upstream STAN wins.

    Args:
        journal: the journal.
        now: the local time.

    Returns:
        The STAN (1..999999), or 0 when no leg is journaled around ``now``.

    Raises:
        JournalError: the journal failed.
    """
    latest: tuple[float, str] | None = None
    for days in (-1, 0, 1):
        date = (now + _dt.timedelta(days=days)).strftime("%Y%m%d")
        for record in journal.transactions(TransactionQuery(settlement_date=date)):
            stan = record.upstream_stan
            if stan and stan.isdigit() and (latest is None or record.created_at >= latest[0]):
                latest = (record.created_at, stan)
    return int(latest[1]) % 1_000_000 if latest else 0
