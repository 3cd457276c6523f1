"""The journal: what the gateway must not forget (ARCHITECTURE.md principle 4).

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
from ._journal import AddOwed as AddOwed
from ._journal import Duplicate as Duplicate
from ._journal import InsertTransaction as InsertTransaction
from ._journal import Journal as Journal
from ._journal import NotFound as NotFound
from ._journal import Op as Op
from ._journal import OpResult as OpResult
from ._journal import SetSetting as SetSetting
from ._journal import Setting as Setting
from ._journal import UpdateOwed as UpdateOwed
from ._journal import UpdateTransaction as UpdateTransaction
from ._records import JournalStatistics as JournalStatistics
from ._records import OwedItem as OwedItem
from ._records import OwedKind as OwedKind
from ._records import OwedStatus as OwedStatus
from ._records import TransactionQuery as TransactionQuery
from ._records import TransactionRecord as TransactionRecord
from ._records import TransactionStatus as TransactionStatus
from ._sealing import PanHasher as PanHasher
from ._sealing import PayloadSealer as PayloadSealer
from ._sealing import ProtectedPan as ProtectedPan
from ._sqlite import SQLiteJournal as SQLiteJournal

__all__ = [
    "AddOwed",
    "BatchingJournal",
    "BatchingStatistics",
    "Duplicate",
    "InsertTransaction",
    "Journal",
    "JournalStatistics",
    "NotFound",
    "Op",
    "OpResult",
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
    "UpdateOwed",
    "UpdateTransaction",
    "open_batching_journal",
]
