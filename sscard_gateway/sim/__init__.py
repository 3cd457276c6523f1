"""Simulators: the UnionPay switch, a regional center, a load generator.

A regional center has two sides: :class:`CenterSimulator` originates its
transactions; :class:`CenterResponder` is its answering side as a listener
(the home center the gateway forwards to, and the peer of the conformance
kit's ``center`` role); :class:`HomeCenter` is its answers alone, for a
client link's handler. The switch and the answering center keep their
record of the day in a :class:`Ledger`, which a fault simulation's judge
reads.
"""

from ._ledger import Effect as Effect
from ._ledger import Entry as Entry
from ._ledger import EntryKind as EntryKind
from ._ledger import KeyEffects as KeyEffects
from ._ledger import Ledger as Ledger
from ._ledger import LedgerStatistics as LedgerStatistics
from ._ledger import Outcome as Outcome
from ._requester import RequesterRecord as RequesterRecord
from ._requester import Told as Told
from ._rules import Action as Action
from ._rules import Decision as Decision
from ._rules import Rule as Rule
from ._rules import SwitchRules as SwitchRules
from .center import CardHolder as CardHolder
from .center import CenterIdentity as CenterIdentity
from .center import CenterSimulator as CenterSimulator
from .center import Kind as Kind
from .responder import CenterResponder as CenterResponder
from .responder import HomeCenter as HomeCenter
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
    "Effect",
    "Entry",
    "EntryKind",
    "HomeCenter",
    "KeyEffects",
    "Kind",
    "Ledger",
    "LedgerStatistics",
    "Outcome",
    "RequesterRecord",
    "Rule",
    "SwitchRecord",
    "SwitchRules",
    "SwitchSimulator",
    "SwitchStatistics",
    "Told",
]
