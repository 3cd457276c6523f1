"""Recovery at start-up: what a restarted gateway does with what the journal holds.

Why a table: a gateway killed at any moment leaves transactions and legs in
whatever state its last committed group put them. Every decision is one
group (a record, its status change and every item it owes together), so
there are no half-made decisions to finish; what a crash leaves is
*actions not carried out*: a leg journaled as sent whose answer never came
back to anyone, an answer never given. The table says, for each state
found, what makes the journal whole again; :func:`recover` applies it to
one transaction, and each row has a test.

* **transaction pending, a leg sent** (or answered with an approval): the
  leg's outcome is unknown, so its reversal is owed (latest step first);
  the transaction is ``timed_out`` — its requester was never answered.
* **transaction pending, no leg holds money**: ``failed``; nothing was, or
  is, held anywhere.
* **transaction final but not approved, a leg still holds money** (a
  requester's reversal raced a leg the crash cut short): that leg's
  reversal is owed.
* **transaction approved**: nothing; every leg holds its approval, and the
  answer was journaled before it was given (a requester that did not get
  it reverses it, and its reversal is honoured).
* **leg reversal_owed or advice_owed**: nothing here; its owed item was
  journaled in the same group.
* **owed item owed** (owed before this start): marked by :func:`resume` to
  go with the retransmission MTI (``0421``, ``0221``) from now on, since its
  first attempt may have reached the peer; the gateway reads these before
  it writes the rows above, whose new items go first as originals.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..store import (
    LegRecord,
    Op,
    TransactionRecord,
    TransactionStatus,
    UpdateOwed,
    UpdateTransaction,
)
from ..store import OwedItem as _OwedItem
from ..store import OwedStatus as _OwedStatus
from ._compensate import Compensator, holds_money

__all__ = ["RECOVERY", "recover", "resume"]

#: The recovery table as (state found, action), for documentation and tests.
RECOVERY = (
    ("pending, a leg holds money", "owe each such leg's reversal; timed_out"),
    ("pending, no leg holds money", "failed"),
    ("final, not approved, a leg holds money", "owe that leg's reversal"),
    ("approved", "nothing"),
    ("owed item owed", "resume with the retransmission MTI"),
)


def recover(
    record: TransactionRecord,
    legs: Sequence[LegRecord],
    now: datetime,
    *,
    compensator: Compensator,
    timeout_code: str,
) -> list[Op]:
    """The operations that make one transaction whole after a restart (the table above).

    Args:
        record: the transaction as found.
        legs: its legs as found.
        now: the time of the restart.
        compensator: builds the reversals owed.
        timeout_code: the response code of a requester never answered
            (its dialect's timeout code), journaled with ``timed_out``.

    Returns:
        The operations, to apply as one group; none when nothing is to do.
    """
    if record.status is TransactionStatus.APPROVED:
        return []
    owed = compensator.owed_for(legs, now)
    if record.status is not TransactionStatus.PENDING:
        return owed
    stamp = now.timestamp()
    money = any(holds_money(leg, compensator.dialect(leg.destination)) for leg in legs)
    status = TransactionStatus.TIMED_OUT if money else TransactionStatus.FAILED
    end = UpdateTransaction(
        transaction_key=record.transaction_key,
        updated_at=stamp,
        expect=TransactionStatus.PENDING,
        status=status,
        response_code=timeout_code if money else "96",
        responded_at=stamp,
    )
    return [end, *owed]


def resume(item: _OwedItem, now: datetime) -> list[Op]:
    """An item found owed at start-up is sent with the retransmission MTI from now on."""
    if item.status is not _OwedStatus.OWED or item.repeat:
        return []
    stamp = max(now.timestamp(), item.updated_at)
    return [UpdateOwed(id=item.id, updated_at=stamp, expect=_OwedStatus.OWED, repeat=True)]
