"""Simulators: the UnionPay switch, a regional center, a load generator."""

from ._rules import Action as Action
from ._rules import Decision as Decision
from ._rules import Rule as Rule
from ._rules import SwitchRules as SwitchRules
from .center import CardHolder as CardHolder
from .center import CenterIdentity as CenterIdentity
from .center import CenterSimulator as CenterSimulator
from .center import Kind as Kind
from .switch import SwitchRecord as SwitchRecord
from .switch import SwitchSimulator as SwitchSimulator
from .switch import SwitchStatistics as SwitchStatistics

__all__ = [
    "Action",
    "CardHolder",
    "CenterIdentity",
    "CenterSimulator",
    "Decision",
    "Kind",
    "Rule",
    "SwitchRecord",
    "SwitchRules",
    "SwitchSimulator",
    "SwitchStatistics",
]
