"""The gateway: the transaction engine's decisions carried out over links and the journal.

:class:`Gateway` listens for centers, links to the switch, runs a saga of
the engine (:mod:`sscard_gateway.engine`) for every inbound message in its
own nursery, recovers what a previous run left open, and delivers what is
owed (:class:`StoreAndForward`). See ``docs/gateway.md``.
"""

from ._build import engine_for as engine_for
from ._build import link_dialects as link_dialects
from ._config import CenterLink as CenterLink
from ._config import GatewayConfig as GatewayConfig
from ._config import SafPolicy as SafPolicy
from ._config import UpstreamLink as UpstreamLink
from ._executor import Executor as Executor
from ._executor import Ticket as Ticket
from ._gateway import CUTOVER_SETTING as CUTOVER_SETTING
from ._gateway import AnswerHook as AnswerHook
from ._gateway import Gateway as Gateway
from ._gateway import GatewayStatistics as GatewayStatistics
from ._gateway import ListenerFactory as ListenerFactory
from ._saf import StoreAndForward as StoreAndForward

__all__ = [
    "CUTOVER_SETTING",
    "AnswerHook",
    "CenterLink",
    "Executor",
    "Gateway",
    "GatewayConfig",
    "GatewayStatistics",
    "ListenerFactory",
    "SafPolicy",
    "StoreAndForward",
    "Ticket",
    "UpstreamLink",
    "engine_for",
    "link_dialects",
]
