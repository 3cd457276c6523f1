"""The journal: what the gateway must not forget (docs/architecture.md principle 4).

Requests, responses, and the reversals and advices owed to peers, each
durable before the gateway acts on it, so a restart resumes from here and
clearing (DOMAIN.md §6) totals and reconciles a settlement date from it.
One :class:`Journal` interface (operations applied in one transaction, and
queries); :class:`SQLiteJournal` the default; :class:`BatchingJournal` the
Trio group-commit writer in front of any journal. No clear PAN is stored:
a masked PAN and a keyed hash (:class:`PanHasher`), and owed payloads sealed
with AES-256-GCM (:class:`PayloadSealer`). See ``docs/journal.md``.
"""

from __future__ import annotations

from ._batching import BatchingJournal as BatchingJournal
from ._batching import BatchingStatistics as BatchingStatistics
from ._batching import open_batching_journal as open_batching_journal
from ._journal import Journal as Journal
from ._ops import AddOwed as AddOwed
from ._ops import Duplicate as Duplicate
from ._ops import GroupResult as GroupResult
from ._ops import InsertLeg as InsertLeg
from ._ops import InsertTransaction as InsertTransaction
from ._ops import NotFound as NotFound
from ._ops import Op as Op
from ._ops import OpResult as OpResult
from ._ops import Refused as Refused
from ._ops import SetSetting as SetSetting
from ._ops import Setting as Setting
from ._ops import UpdateLeg as UpdateLeg
from ._ops import UpdateOwed as UpdateOwed
from ._ops import UpdateTransaction as UpdateTransaction
from ._records import JournalStatistics as JournalStatistics
from ._records import LegRecord as LegRecord
from ._records import OwedItem as OwedItem
from ._records import OwedKind as OwedKind
from ._records import TransactionQuery as TransactionQuery
from ._records import TransactionRecord as TransactionRecord
from ._sealing import PanHasher as PanHasher
from ._sealing import PayloadSealer as PayloadSealer
from ._sealing import ProtectedPan as ProtectedPan
from ._sqlite import SQLiteJournal as SQLiteJournal
from ._states import LEG_TRANSITIONS as LEG_TRANSITIONS
from ._states import OWED_TRANSITIONS as OWED_TRANSITIONS
from ._states import TRANSACTION_TRANSITIONS as TRANSACTION_TRANSITIONS
from ._states import LegKind as LegKind
from ._states import LegState as LegState
from ._states import OwedStatus as OwedStatus
from ._states import TransactionStatus as TransactionStatus
from ._states import allowed as allowed

__all__ = [
    "LEG_TRANSITIONS",
    "OWED_TRANSITIONS",
    "TRANSACTION_TRANSITIONS",
    "AddOwed",
    "BatchingJournal",
    "BatchingStatistics",
    "Duplicate",
    "GroupResult",
    "InsertLeg",
    "InsertTransaction",
    "Journal",
    "JournalStatistics",
    "LegKind",
    "LegRecord",
    "LegState",
    "NotFound",
    "Op",
    "OpResult",
    "Refused",
    "SetSetting",
    "Setting",
    "OwedItem",
    "OwedKind",
    "OwedStatus",
    "PanHasher",
    "PayloadSealer",
    "ProtectedPan",
    "SQLiteJournal",
    "TransactionQuery",
    "TransactionRecord",
    "TransactionStatus",
    "UpdateLeg",
    "UpdateOwed",
    "UpdateTransaction",
    "allowed",
    "open_batching_journal",
]
