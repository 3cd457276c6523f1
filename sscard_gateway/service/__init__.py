"""The gateway as a long-running service: ``sscard-gateway run gateway.toml``.

:class:`Service` opens the key store, the journal and the TLS contexts a
:class:`~sscard_gateway.config.ServiceConfig` names, runs the gateway,
serves Prometheus metrics on a loopback port (:class:`GatewayMetrics`),
and stops gracefully on SIGTERM/SIGINT: new requests refused, those in
flight drained within a bound, sign-off, journal flushed and closed.
Logging goes through the standard :mod:`logging` module, as text or JSON
lines, with PANs masked and key material wiped (:class:`SecretFilter`).
See ``docs/operations.md``.
"""

from ._logging import JsonFormatter as JsonFormatter
from ._logging import SecretFilter as SecretFilter
from ._logging import configure_logging as configure_logging
from ._logging import mask_secrets as mask_secrets
from ._metrics import GatewayMetrics as GatewayMetrics
from ._metrics import serve_metrics as serve_metrics
from ._open import check_keys as check_keys
from ._open import last_stan as last_stan
from ._open import open_journal as open_journal
from ._open import open_security as open_security
from ._open import tls_settings as tls_settings
from ._service import Service as Service

__all__ = [
    "GatewayMetrics",
    "JsonFormatter",
    "SecretFilter",
    "Service",
    "check_keys",
    "configure_logging",
    "last_stan",
    "mask_secrets",
    "open_journal",
    "open_security",
    "serve_metrics",
    "tls_settings",
]
