"""One outbound leg: PIN translation, the request, and what a failure owes.

Every leg the gateway originates follows the same rule (ARCHITECTURE.md
principle 4): it is journaled before it is sent; when no answer comes by
the deadline, or the connection fails after the request may have left,
a reversal is journaled as owed — in the same transaction as the leg's
final status — before the requester is answered, and store-and-forward
delivers it. A request that never left (:class:`LinkUnavailable`) owes
nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import attrs

from ..crypto import SecurityModule
from ..errors import LinkClosed, LinkError, LinkUnavailable, RejectedByPeer, RequestTimeout
from ..iso import Dialect, Message
from ..link import StreamDriver
from ..routing import card_pan
from ..store import (
    AddOwed,
    BatchingJournal,
    OwedItem,
    OwedKind,
    TransactionStatus,
    UpdateTransaction,
)
from ._config import SafPolicy

__all__ = ["LegOutcome", "PinRoute", "owe", "run_leg", "translate_pin"]


@attrs.frozen(kw_only=True)
class PinRoute:
    """Where a PIN block comes from and goes to (key names and formats)."""

    from_key: str | None
    from_format: str
    to_key: str | None
    to_format: str


def translate_pin(
    security: SecurityModule, inbound: Message, outbound: Message, route: PinRoute, dialect: Dialect
) -> Message:
    """Re-encipher the inbound PIN block for the outbound leg.

    The inbound block (field 52, or field 63 usage ``SM``) is translated
    under the security module; with an SM4 outbound format it travels in
    the dialect's SM4 field and usage, otherwise in field 52. The field
    that carried it in is never passed on as it was (a mapping may copy
    it): the peer gets the block under its own key, or no block.

    Raises:
        SecurityError: the block does not translate (``A7``, ``A8``, ``55``, ``99``).
    """
    block = inbound.fields.get(52)
    bare = outbound.without(52)
    if not isinstance(block, bytes):
        sm = inbound.fields.get(63)
        if not (isinstance(sm, str) and sm.startswith("SM")):
            return bare
        block, bare = bytes.fromhex(sm[2:]), bare.without(63)
    if route.from_key is None or route.to_key is None:
        return bare
    translated = security.translate_pin(
        block, card_pan(inbound), route.from_key, route.from_format, route.to_key, route.to_format
    )
    pin = dialect.spec.pin
    fields: dict[int, str | bytes]
    if route.to_format == "sm4" and pin is not None and pin.sm4_field is not None:
        usage = pin.sm4_usage or "SM"
        fields = {pin.sm4_field: usage + translated.hex().upper()}
        if pin.control_field is not None and pin.sm4_control:
            fields[pin.control_field] = pin.sm4_control
        return bare.with_fields(fields)
    fields = {pin.field if pin else 52: translated}
    if pin is not None and pin.control_field is not None and pin.control:
        fields[pin.control_field] = pin.control
    return bare.with_fields(fields)


@attrs.frozen(kw_only=True)
class LegOutcome:
    """How a leg ended: a response, or the code to answer with instead."""

    response: Message | None
    code: str
    reversal_owed: bool = False


async def run_leg(
    link: StreamDriver | None,
    outbound: Message,
    *,
    journal: BatchingJournal,
    key: str,
    destination: str,
    reversal: Callable[[], Message],
    dialect: Dialect,
    timeout: float,
    timeout_code: str,
    policy: SafPolicy,
    now: datetime,
) -> LegOutcome:
    """Send ``outbound`` and wait; on silence journal ``reversal`` as owed.

    Args:
        link: the link to send on (``None``: not connected).
        outbound: the leg, already journaled with the transaction.
        journal: the group-commit journal.
        key: the transaction's key.
        destination: the link's name, where the reversal goes.
        reversal: builds the reversal to owe if the leg's outcome is unknown
            (called only then: most legs never need one).
        dialect: the leg's dialect (to encode the reversal).
        timeout: seconds to wait for the answer.
        timeout_code: the code to give the requester on silence.
        policy: store-and-forward policy (the reversal's expiry).
        now: the wall-clock time of the attempt.

    Returns:
        The response, or the code to answer with and whether a reversal is owed.
    """
    stamp = now.timestamp()

    def ended(status: TransactionStatus, code: str) -> UpdateTransaction:
        return UpdateTransaction(
            transaction_key=key, updated_at=stamp, status=status, response_code=code
        )

    async def failed(code: str) -> LegOutcome:
        # the request never left, or the switch refused it unread: nothing is owed
        await journal.apply(ended(TransactionStatus.FAILED, code))
        return LegOutcome(response=None, code=code)

    if link is None:
        return await failed("91")
    try:
        response = await link.request(outbound, timeout=timeout)
    except LinkUnavailable:
        return await failed("91")
    except RejectedByPeer:
        return await failed("96")
    except (RequestTimeout, LinkClosed, LinkError):
        await journal.apply_many(
            [
                ended(TransactionStatus.TIMED_OUT, timeout_code),
                owe(
                    key=key,
                    destination=destination,
                    payload=dialect.encode(reversal()),
                    stamp=stamp,
                    policy=policy,
                ),
            ]
        )
        return LegOutcome(response=None, code=timeout_code, reversal_owed=True)
    return LegOutcome(response=response, code=str(response.fields.get(39, "96")))


def owe(
    *,
    key: str,
    destination: str,
    payload: bytes,
    stamp: float,
    policy: SafPolicy,
    kind: OwedKind = OwedKind.REVERSAL,
) -> AddOwed:
    """The journal operation owing ``payload`` to ``destination`` from ``stamp`` on.

    It expires ``policy.expiry`` seconds later; store-and-forward delivers it.
    """
    return AddOwed(
        OwedItem(
            kind=kind,
            destination=destination,
            transaction_key=key,
            payload=payload,
            created_at=stamp,
            expires_at=stamp + policy.expiry,
        )
    )
