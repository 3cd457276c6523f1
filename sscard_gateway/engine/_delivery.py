"""Store-and-forward decisions: what an attempt's answer, an expiry or an operator does to an owed
item and its leg.

An owed reversal or advice is finished only by one of its destination
dialect's acceptance codes (``[reversal] done``, ``[advice] done``); a code
the dialect lists as hopeless (``exception``) sends it to the exception
queue at once; any other answer, or none, is retried after the policy's
backoff. Past its expiry it goes to the exception queue too — money is
never dropped by an attempt count. Each decision moves the item and its
leg together, in one group.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ..iso import Dialect
from ..store import (
    LegState,
    Op,
    OwedItem,
    OwedKind,
    OwedStatus,
    UpdateLeg,
    UpdateOwed,
    UpdateTransaction,
)
from ._policy import SafPolicy

__all__ = ["Verdict", "delivery", "expire", "resolve", "retry"]

Verdict = Literal["done", "retry", "exception"]

_OWED_LEG = {OwedKind.REVERSAL: LegState.REVERSAL_OWED, OwedKind.ADVICE: LegState.ADVICE_OWED}
_DONE_LEG = {OwedKind.REVERSAL: LegState.REVERSED, OwedKind.ADVICE: LegState.ADVISED}


def _codes(item: OwedItem, dialect: Dialect) -> tuple[tuple[str, ...], tuple[str, ...]]:
    spec = dialect.spec
    if item.kind is OwedKind.REVERSAL:
        return spec.reversal_done, spec.reversal_exception
    if spec.advice is None:
        return spec.approved, ()
    return spec.advice.done, spec.advice.exception


def _leg(item: OwedItem, stamp: float, expect: LegState, state: LegState) -> list[Op]:
    if item.leg_id is None:  # an item a version 1 gateway owed: no leg to move
        return []
    return [UpdateLeg(leg_id=item.leg_id, updated_at=stamp, expect=expect, state=state)]


def delivery(
    item: OwedItem,
    code: str | None,
    *,
    dialect: Dialect,
    now: datetime,
    policy: SafPolicy,
    settlement_date: str | None = None,
) -> tuple[Verdict, list[Op]]:
    """What one attempt's outcome does (the attempt was made on a signed-on link).

    Args:
        item: the owed item as it was when attempted.
        code: field 39 of the answer, ``None`` when none came.
        dialect: the destination's dialect.
        now: the time.
        policy: the backoff.
        settlement_date: ``YYYYMMDD`` the answer assigned (the switch's F15),
            if any: an advice settles on the date the switch applied it,
            which may be after the gateway accepted it.

    Returns:
        The verdict and its operations (the item, and its leg unless it retries).
    """
    stamp = max(now.timestamp(), item.updated_at)
    attempts = item.attempts + 1
    done, hopeless = _codes(item, dialect)
    owed = _OWED_LEG[item.kind]
    if code is not None and code in done:
        ops: list[Op] = [
            UpdateOwed(
                id=item.id,
                updated_at=stamp,
                expect=OwedStatus.OWED,
                status=OwedStatus.DONE,
                attempts=attempts,
                last_response_code=code,
            )
        ]
        if item.kind is OwedKind.ADVICE and settlement_date:
            ops.append(
                UpdateTransaction(
                    transaction_key=item.transaction_key,
                    updated_at=stamp,
                    settlement_date=settlement_date,
                )
            )
        return "done", ops + _leg(item, stamp, owed, _DONE_LEG[item.kind])
    if code is not None and code in hopeless:
        reason = f"answered {code}, which the destination's dialect lists as final"
        return "exception", _to_exception(item, stamp, reason, attempts=attempts, code=code)
    retry_at = stamp + policy.delay(attempts)
    return "retry", [
        UpdateOwed(
            id=item.id,
            updated_at=stamp,
            expect=OwedStatus.OWED,
            attempts=attempts,
            next_attempt_at=retry_at,
            last_response_code=code,
        )
    ]


def expire(item: OwedItem, now: datetime) -> list[Op]:
    """An item past its expiry goes to the exception queue, with its leg."""
    stamp = max(now.timestamp(), item.updated_at)
    return _to_exception(
        item, stamp, f"not acknowledged after {item.attempts} attempts before its expiry"
    )


def _to_exception(
    item: OwedItem,
    stamp: float,
    reason: str,
    *,
    attempts: int | None = None,
    code: str | None = None,
) -> list[Op]:
    ops: list[Op] = [
        UpdateOwed(
            id=item.id,
            updated_at=stamp,
            expect=OwedStatus.OWED,
            status=OwedStatus.EXCEPTION,
            attempts=attempts,
            last_response_code=code,
            reason=reason,
        )
    ]
    return ops + _leg(item, stamp, _OWED_LEG[item.kind], LegState.EXCEPTION)


def retry(item: OwedItem, now: datetime, policy: SafPolicy) -> list[Op]:
    """An operator sends an item of the exception queue again (a new expiry from now)."""
    stamp = max(now.timestamp(), item.updated_at)
    ops: list[Op] = [
        UpdateOwed(
            id=item.id,
            updated_at=stamp,
            expect=OwedStatus.EXCEPTION,
            status=OwedStatus.OWED,
            next_attempt_at=stamp,
            expires_at=stamp + policy.expiry,
            repeat=True,
        )
    ]
    return ops + _leg(item, stamp, LegState.EXCEPTION, _OWED_LEG[item.kind])


def resolve(item: OwedItem, now: datetime, *, who: str, why: str) -> list[Op]:
    """An operator settles an item of the exception queue by hand (who and why are kept)."""
    stamp = max(now.timestamp(), item.updated_at)
    ops: list[Op] = [
        UpdateOwed(
            id=item.id,
            updated_at=stamp,
            expect=OwedStatus.EXCEPTION,
            status=OwedStatus.RESOLVED,
            resolution=f"{who}: {why}",
        )
    ]
    return ops + _leg(item, stamp, LegState.EXCEPTION, LegState.RESOLVED)
