"""The transaction engine: sagas of decisions, one table of states, recovery — no I/O.

Every message a link hands the gateway becomes a saga (:meth:`Engine.inbound`):
a generator that yields decisions (journal these operations as one group,
read a transaction, send a leg, answer the requester, wake store-and-forward)
and is sent their outcomes. The Trio executor in :mod:`sscard_gateway.gateway`
carries decisions out; tests and the fault simulation drive the same sagas.
The states and their transitions are :mod:`sscard_gateway.store`'s
(``LEG_TRANSITIONS``...), enforced by the journal's compare-and-set updates.
See ``docs/architecture.md``.
"""

from ._compensate import Compensator as Compensator
from ._compensate import holds_money as holds_money
from ._decisions import Answered as Answered
from ._decisions import Decision as Decision
from ._decisions import Delivered as Delivered
from ._decisions import Found as Found
from ._decisions import NotSent as NotSent
from ._decisions import Outcome as Outcome
from ._decisions import Read as Read
from ._decisions import Reply as Reply
from ._decisions import Saga as Saga
from ._decisions import Send as Send
from ._decisions import Step as Step
from ._decisions import Unknown as Unknown
from ._decisions import Wake as Wake
from ._decisions import Woken as Woken
from ._decisions import Write as Write
from ._decisions import WriteFailed as WriteFailed
from ._decisions import Written as Written
from ._delivery import Verdict as Verdict
from ._delivery import delivery as delivery
from ._delivery import expire as expire
from ._delivery import resolve as resolve
from ._delivery import retry as retry
from ._engine import Engine as Engine
from ._engine import Peer as Peer
from ._keys import f7_year as f7_year
from ._keys import original_key as original_key
from ._keys import transaction_key as transaction_key
from ._pin import PinRoute as PinRoute
from ._pin import translate_pin as translate_pin
from ._plan import LegPlan as LegPlan
from ._plan import Plan as Plan
from ._plan import plan_legs as plan_legs
from ._policy import SafPolicy as SafPolicy
from ._records import kind_of as kind_of
from ._records import stored_form as stored_form
from ._recovery import RECOVERY as RECOVERY
from ._recovery import recover as recover
from ._recovery import resume as resume

__all__ = [
    "RECOVERY",
    "Answered",
    "Compensator",
    "Decision",
    "Delivered",
    "Engine",
    "Found",
    "LegPlan",
    "NotSent",
    "Outcome",
    "Peer",
    "PinRoute",
    "Plan",
    "Read",
    "Reply",
    "SafPolicy",
    "Saga",
    "Send",
    "Step",
    "Unknown",
    "Verdict",
    "Wake",
    "Woken",
    "Write",
    "WriteFailed",
    "Written",
    "delivery",
    "expire",
    "f7_year",
    "holds_money",
    "kind_of",
    "original_key",
    "plan_legs",
    "recover",
    "resolve",
    "resume",
    "retry",
    "stored_form",
    "transaction_key",
    "translate_pin",
]
