"""The states of a transaction, of each of its legs and of each owed item, and the one table
of transitions between them.

Why one module: money is lost when a status write checks nothing (a late
approval overwriting ``reversed``, a reversal owed for a leg that never
left). Every state the journal can hold and every move between states is
listed here, on one screen, so that a reviewer checks the whole protocol
at once (as ``link/_state.py`` does for links). The journal enforces the
tables: an update that changes a state names the states it expects
(compare-and-set, ``UPDATE ... WHERE state IN (...)``), and an update
whose expected state is not the stored one is refused, never applied.

A **transaction** is one request as its requester sent it; its status is
what the requester was told (or, while ``pending``, that it was told
nothing yet)::

    pending --> approved | declined | failed | timed_out | reversed
    approved --> reversed        the requester reversed it
    approved --> timed_out       the approval could not be delivered: reversed upstream

A **leg** is one message the gateway sent on for it (the bank leg to the
switch, a home-center leg), journaled as it was sent before its first byte
left::

    sent --answer--> answered(code)
     |                  |  (an approval later compensated)
     +--no answer------>+------> reversal_owed --acknowledged--> reversed
     +--never left--> not_sent        |
                                      +--expired / hopeless--> exception
    advice_owed --acknowledged--> advised
         +--expired / hopeless--> exception
    exception --operator retry--> reversal_owed | advice_owed
    exception --operator resolve--> resolved

``sent`` with no answer is *unknown*: the engine never leaves a leg there,
it journals ``reversal_owed`` with the reversal in the same transaction.
An **owed item** is the store-and-forward queue's entry for one reversal
or advice::

    owed --acknowledged--> done
    owed --expired / hopeless--> exception --retry--> owed
                                           --resolve--> resolved
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final, TypeVar

__all__ = [
    "LEG_TRANSITIONS",
    "OWED_TRANSITIONS",
    "TRANSACTION_TRANSITIONS",
    "LegKind",
    "LegState",
    "OwedStatus",
    "TransactionStatus",
    "allowed",
]


class TransactionStatus(enum.Enum):
    """What the requester of a journaled transaction was told."""

    PENDING = "pending"
    """Journaled; no final answer yet (its legs may be in flight)."""
    APPROVED = "approved"
    """Approved; every leg it needed holds its approval."""
    DECLINED = "declined"
    """Refused (by a peer, a check, or a later leg); any approved leg is reversed."""
    TIMED_OUT = "timed_out"
    """The outcome was unknown, or the approval could not be delivered; its legs are reversed."""
    REVERSED = "reversed"
    """Reversed by its requester; its legs are reversed."""
    FAILED = "failed"
    """Never reached a peer (link down, refused unread, not journaled); nothing is held."""


class LegKind(enum.Enum):
    """What a leg is: a request waiting for its answer, or an advice delivered until accepted."""

    REQUEST = "request"
    ADVICE = "advice"


class LegState(enum.Enum):
    """Where one outbound leg stands."""

    SENT = "sent"
    """Journaled as sent, before its first byte left: it may be at the peer."""
    ANSWERED = "answered"
    """Its answer came (the code is kept beside it)."""
    NOT_SENT = "not_sent"
    """It never left (link down) or the peer refused it unread: nothing is held."""
    REVERSAL_OWED = "reversal_owed"
    """Its reversal is owed (store-and-forward delivers it)."""
    REVERSED = "reversed"
    """Its reversal was acknowledged."""
    ADVICE_OWED = "advice_owed"
    """An advice owed to the peer (store-and-forward delivers it)."""
    ADVISED = "advised"
    """The advice was acknowledged."""
    EXCEPTION = "exception"
    """Its reversal or advice could not be delivered: an operator must act."""
    RESOLVED = "resolved"
    """An operator settled it by hand (who and why are kept on its owed item)."""


class OwedStatus(enum.Enum):
    """Where an owed item stands in the store-and-forward queue."""

    OWED = "owed"
    """Still to be delivered; returned by ``due_owed`` once its time comes."""
    DONE = "done"
    """Acknowledged by the peer with one of the dialect's acceptance codes."""
    EXCEPTION = "exception"
    """Past its expiry, or answered with a code retrying cannot help: an operator must act."""
    RESOLVED = "resolved"
    """Taken out of the exception queue by an operator (who and why are kept)."""


_T = TransactionStatus
_L = LegState
_O = OwedStatus

#: Transaction status -> the statuses it may move to.
TRANSACTION_TRANSITIONS: Final[Mapping[TransactionStatus, frozenset[TransactionStatus]]] = {
    _T.PENDING: frozenset({_T.APPROVED, _T.DECLINED, _T.FAILED, _T.TIMED_OUT, _T.REVERSED}),
    _T.APPROVED: frozenset({_T.REVERSED, _T.TIMED_OUT}),
    _T.DECLINED: frozenset(),
    _T.FAILED: frozenset(),
    _T.TIMED_OUT: frozenset(),
    _T.REVERSED: frozenset(),
}

#: Leg state -> the states it may move to.
LEG_TRANSITIONS: Final[Mapping[LegState, frozenset[LegState]]] = {
    _L.SENT: frozenset({_L.ANSWERED, _L.NOT_SENT, _L.REVERSAL_OWED}),
    _L.ANSWERED: frozenset({_L.REVERSAL_OWED}),
    _L.NOT_SENT: frozenset(),
    _L.REVERSAL_OWED: frozenset({_L.REVERSED, _L.EXCEPTION}),
    _L.REVERSED: frozenset(),
    _L.ADVICE_OWED: frozenset({_L.ADVISED, _L.EXCEPTION}),
    _L.ADVISED: frozenset(),
    _L.EXCEPTION: frozenset({_L.REVERSAL_OWED, _L.ADVICE_OWED, _L.RESOLVED}),
    _L.RESOLVED: frozenset(),
}

#: Owed item status -> the statuses it may move to.
OWED_TRANSITIONS: Final[Mapping[OwedStatus, frozenset[OwedStatus]]] = {
    _O.OWED: frozenset({_O.DONE, _O.EXCEPTION}),
    _O.DONE: frozenset(),
    _O.EXCEPTION: frozenset({_O.OWED, _O.RESOLVED}),
    _O.RESOLVED: frozenset(),
}

S = TypeVar("S", TransactionStatus, LegState, OwedStatus)


def allowed(table: Mapping[S, frozenset[S]], old: S, new: S) -> bool:
    """Whether ``table`` lets a state move from ``old`` to ``new``.

    Args:
        table: one of the three transition tables.
        old: the state expected in the journal.
        new: the state to write.

    Returns:
        ``True`` when the move is in the table.
    """
    return new in table[old]
