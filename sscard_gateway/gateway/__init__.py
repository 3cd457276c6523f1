"""The gateway: routing, translation, transaction flows, journal, store-and-forward."""

from ._config import CenterLink as CenterLink
from ._config import GatewayConfig as GatewayConfig
from ._config import SafPolicy as SafPolicy
from ._config import UpstreamLink as UpstreamLink
from ._gateway import AnswerHook as AnswerHook
from ._gateway import Gateway as Gateway
from ._gateway import GatewayStatistics as GatewayStatistics
from ._saf import StoreAndForward as StoreAndForward

__all__ = [
    "AnswerHook",
    "CenterLink",
    "Gateway",
    "GatewayConfig",
    "GatewayStatistics",
    "SafPolicy",
    "StoreAndForward",
    "UpstreamLink",
]
