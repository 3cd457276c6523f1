"""The gateway's configuration file (``gateway.toml``) as checked, frozen values.

:func:`load_config` reads the file and returns a :class:`ServiceConfig`:
the :class:`~sscard_gateway.gateway.GatewayConfig` (links, key names,
routes, store-and-forward policy) and the service settings around it (key
store, journal and where their keys come from, cutover, logging, metrics,
TLS files). Every mistake is an error naming the file, the key path and the
problem; unknown keys are mistakes. See ``docs/configuration.md``.
"""

from ._load import InvalidConfig as InvalidConfig
from ._load import config_from_dict as config_from_dict
from ._load import load_config as load_config
from ._model import Cutover as Cutover
from ._model import JournalSettings as JournalSettings
from ._model import KeyReference as KeyReference
from ._model import LoggingSettings as LoggingSettings
from ._model import MetricsSettings as MetricsSettings
from ._model import SecretSource as SecretSource
from ._model import SecuritySettings as SecuritySettings
from ._model import ServiceConfig as ServiceConfig
from ._model import TlsFiles as TlsFiles

__all__ = [
    "Cutover",
    "InvalidConfig",
    "JournalSettings",
    "KeyReference",
    "LoggingSettings",
    "MetricsSettings",
    "SecretSource",
    "SecuritySettings",
    "ServiceConfig",
    "TlsFiles",
    "config_from_dict",
    "load_config",
]
