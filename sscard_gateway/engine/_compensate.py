"""Compensation: the reversal of a leg, built from the leg as it was sent.

Why from the journaled leg: a peer matches a reversal to what *it*
received — F90 from the leg's own MTI, F11, F7, F32 and F33, F3 and the
amounts as sent (the dialect's ``[reversal] echo``). A reversal rebuilt
from the inbound request carries the requester's processing code and the
wrong identifiers, and a strict switch answers it ``30`` or ``25``.

:func:`holds_money` is the one test of whether a leg may hold the peer's
approval (sent and not answered, or answered with an approval): such a leg
is reversed whenever its transaction does not end approved — by the saga
when a later leg fails, by a requester's reversal, by an answer that could
not be delivered, by recovery at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from ..iso import Dialect, Message
from ..iso.composite import transmission_time
from ..routing import LegCounters
from ..store import AddOwed, LegKind, LegRecord, LegState, Op, OwedItem, OwedKind, UpdateLeg
from ._policy import SafPolicy
from ._records import stored_form

__all__ = ["Compensator", "holds_money"]


def holds_money(leg: LegRecord, dialect: Dialect) -> bool:
    """Whether the peer may hold an approval for ``leg``.

    A request leg that was sent and not answered (its outcome unknown), or
    answered with one of its dialect's approval codes. Advices are never
    reversed: they are delivered.
    """
    if leg.kind is not LegKind.REQUEST:
        return False
    if leg.state is LegState.SENT:
        return True
    return leg.state is LegState.ANSWERED and leg.response_code in dialect.spec.approved


class Compensator:
    """Builds the journal operations that owe a leg's reversal.

    Args:
        dialects: the dialect of each destination link.
        counters: the gateway's STAN sequence (a reversal is a new transmission).
        policy: the owed item's expiry.
    """

    def __init__(
        self, dialects: Mapping[str, Dialect], counters: LegCounters, policy: SafPolicy
    ) -> None:
        self._dialects = dialects
        self._counters = counters
        self._policy = policy

    def dialect(self, destination: str) -> Dialect:
        """The dialect of a destination link.

        Raises:
            KeyError: no such link.
        """
        return self._dialects[destination]

    def reverse(self, leg: LegRecord, now: datetime, *, message: Message | None = None) -> list[Op]:
        """Owe the reversal of ``leg``: its state moves to ``reversal_owed`` from where it is.

        Args:
            leg: the leg as journaled (its state is the one expected).
            now: the time.
            message: the leg as sent, when the caller has it (else decoded
                from the journaled payload).

        Returns:
            ``UpdateLeg`` to ``REVERSAL_OWED`` and ``AddOwed`` of the reversal.
        """
        dialect = self._dialects[leg.destination]
        sent = message if message is not None else dialect.decode(leg.payload)
        stan = self._counters.next_stan()
        reversal = stored_form(sent).reversal_of({7: transmission_time(now), 11: stan})
        stamp = now.timestamp()
        item = OwedItem(
            id=f"{leg.leg_id}/reversal",
            kind=OwedKind.REVERSAL,
            destination=leg.destination,
            transaction_key=leg.transaction_key,
            payload=dialect.encode(reversal),
            created_at=stamp,
            expires_at=stamp + self._policy.expiry,
            leg_id=leg.leg_id,
            stan=stan,
        )
        move = UpdateLeg(
            leg_id=leg.leg_id, updated_at=stamp, expect=leg.state, state=LegState.REVERSAL_OWED
        )
        return [move, AddOwed(item)]

    def owed_for(self, legs: Iterable[LegRecord], now: datetime) -> list[Op]:
        """Owe the reversal of every leg that holds money, latest step first.

        Args:
            legs: legs as journaled.
            now: the time.

        Returns:
            The operations (none when no leg holds money).
        """
        ops: list[Op] = []
        for leg in sorted(legs, key=lambda x: x.step, reverse=True):
            if holds_money(leg, self._dialects[leg.destination]):
                ops += self.reverse(leg, now)
        return ops
