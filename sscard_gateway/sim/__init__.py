"""Simulators: the UnionPay switch, a regional center, a load generator.

A regional center has two sides: :class:`CenterSimulator` originates its
transactions; :class:`CenterResponder` is its answering side as a listener
(the home center the gateway forwards to, and the peer of the conformance
kit's ``center`` role).
"""

from ._rules import Action as Action
from ._rules import Decision as Decision
from ._rules import Rule as Rule
from ._rules import SwitchRules as SwitchRules
from .center import CardHolder as CardHolder
from .center import CenterIdentity as CenterIdentity
from .center import CenterSimulator as CenterSimulator
from .center import Kind as Kind
from .responder import CenterResponder as CenterResponder
from .switch import SwitchRecord as SwitchRecord
from .switch import SwitchSimulator as SwitchSimulator
from .switch import SwitchStatistics as SwitchStatistics

__all__ = [
    "Action",
    "CardHolder",
    "CenterIdentity",
    "CenterResponder",
    "CenterSimulator",
    "Decision",
    "Kind",
    "Rule",
    "SwitchRecord",
    "SwitchRules",
    "SwitchSimulator",
    "SwitchStatistics",
]
