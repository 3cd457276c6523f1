"""The saga of an advice: accepted at once, its legs owed to store-and-forward.

See :mod:`._engine`. An advice that refers to an original (a refund's
field 90) reaches its destination with the original's leg as that
destination received it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..errors import DecodeError, SscardError
from ..iso import Message
from ..iso.business import validate
from ..iso.composite import OriginalData
from ..routing import NoRoute
from ..store import (
    AddOwed,
    InsertLeg,
    InsertTransaction,
    LegKind,
    LegRecord,
    LegState,
    Op,
    OwedItem,
    OwedKind,
    TransactionRecord,
    TransactionStatus,
)
from ._decisions import (
    Found,
    Read,
    Saga,
    Step,
    Wake,
    Write,
    WriteFailed,
    Written,
)
from ._keys import original_key, transaction_key
from ._records import (
    Draft,
    declined,
    kind_of,
    leg_record,
    stored_form,
    text_of,
)

if TYPE_CHECKING:
    from ._engine import Engine, Peer

__all__ = ["advice"]


def advice(engine: Engine, peer: Peer, message: Message, now: datetime) -> Saga:
    kind = kind_of(message)
    key = transaction_key(message, peer.name, "tx", now)
    try:
        split = validate(message)
        draft = engine.draft(peer, message, kind, key, now, split)
        plan = engine.plan(peer, message, split)
    except SscardError as exc:
        yield engine.reply(message, exc.response_code or "30", kind)
        return
    if isinstance(plan, NoRoute):
        yield from engine.local(message, declined(draft, plan.response_code), kind)
        return
    originals = yield from _originals(engine, peer, message, now)
    if isinstance(originals, str):
        yield from engine.local(message, declined(draft, originals), kind)
        return
    ops: list[Op] = []
    record: Draft = declined(draft, "00", status=TransactionStatus.APPROVED)
    refers = bool(text_of(message, peer.dialect.spec.original_data_field))
    for step, leg_plan in enumerate(plan.legs, start=1):
        destination = leg_plan.destination
        if refers and destination not in originals:  # its destination never saw the original
            yield from engine.local(message, declined(draft, "25"), kind)
            return
        try:
            outbound = engine.outbound(
                peer, message, destination, now, original=originals.get(destination), pin=False
            )
        except SscardError as exc:
            yield from engine.local(message, declined(draft, exc.response_code or "30"), kind)
            return
        leg = leg_record(
            outbound,
            transaction_key=key,
            step=step,
            destination=destination,
            kind=LegKind.ADVICE,
            state=LegState.ADVICE_OWED,
            now=now,
        )
        record = {**record, **engine.bank_fields(outbound, destination)}
        ops += [InsertLeg(leg), AddOwed(_owed_advice(engine, leg, outbound, now))]
    written = yield Write([InsertTransaction(TransactionRecord(**record)), *ops])
    if isinstance(written, WriteFailed):
        yield from engine.unwritten(message, record["transaction_key"], kind)
        return
    assert isinstance(written, Written)
    if not written.result.applied:
        yield from engine.repeated(message, written, kind)
        return
    yield Wake(frozenset(leg_plan.destination for leg_plan in plan.legs))
    yield engine.reply(message, "00", kind)


def _owed_advice(engine: Engine, leg: LegRecord, outbound: Message, now: datetime) -> OwedItem:
    stamp = now.timestamp()
    dialect = engine.peers[leg.destination].dialect
    return OwedItem(
        id=f"{leg.leg_id}/advice",
        kind=OwedKind.ADVICE,
        destination=leg.destination,
        transaction_key=leg.transaction_key,
        payload=dialect.encode(stored_form(outbound)),
        created_at=stamp,
        expires_at=stamp + engine.policy.expiry,
        leg_id=leg.leg_id,
    )


def _originals(
    engine: Engine, peer: Peer, message: Message, now: datetime
) -> Step[dict[str, Message] | str]:
    """The legs of the transaction an advice refers to (a refund's purchase), by destination.

    An advice without the original-data field refers to nothing. One
    whose original is not journaled, or was not approved, is refused
    (``25``): its destination could not match it either.
    """
    number = peer.dialect.spec.original_data_field
    text = text_of(message, number)
    if not text:
        return {}
    try:
        data = OriginalData.parse(text)
    except DecodeError:
        return "30"
    found = yield Read(original_key(message, peer.name, data, now))
    assert isinstance(found, Found)
    if found.record is None or found.record.status is not TransactionStatus.APPROVED:
        return "25"
    legs: dict[str, Message] = {}
    for leg in found.legs:
        if leg.state is LegState.ANSWERED:
            legs[leg.destination] = engine.compensator.dialect(leg.destination).decode(leg.payload)
    return legs
