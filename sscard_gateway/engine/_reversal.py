"""The saga of a reversal: the original found by its field 90, every leg that holds money
reversed, the requester answered once that is durable.

See :mod:`._engine`. An original never seen leaves a tombstone under its
key, so that the original, arriving later, is refused as a duplicate.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..errors import DecodeError, ValidationError
from ..iso import Message
from ..iso.composite import OriginalData
from ..store import (
    AddOwed,
    InsertTransaction,
    Op,
    TransactionRecord,
    TransactionStatus,
    UpdateTransaction,
)
from ._decisions import (
    Found,
    Read,
    Saga,
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
    text_of,
)

if TYPE_CHECKING:
    from ._engine import Engine, Peer

__all__ = ["reversal"]


_PENDING = TransactionStatus.PENDING
_TOMBSTONE = "unseen"  # the kind of the record a reversal of an unseen original leaves
_RETRIES = 5  # re-reads when a compare-and-set is refused by a concurrent saga


def reversal(engine: Engine, peer: Peer, message: Message, now: datetime) -> Saga:
    kind = kind_of(message)
    key = transaction_key(message, peer.name, "rev", now)
    spec = peer.dialect.spec
    try:
        draft = engine.draft(peer, message, kind, key, now)
        data = OriginalData.parse(text_of(message, spec.original_data_field))
    except (ValidationError, DecodeError) as exc:
        code = exc.response_code or "30"
        draft = engine.draft(peer, message.without(61), kind, key, now)
        yield from engine.local(message, declined(draft, code), kind)
        return
    target = original_key(message, peer.name, data, now)
    draft["original_key"] = target
    for _ in range(_RETRIES):
        found = yield Read(target)
        assert isinstance(found, Found)
        ops, code = _reversal_ops(engine, peer, draft, data, found)
        written = yield Write(ops)
        if isinstance(written, WriteFailed):
            yield from engine.unwritten(message, key, kind)
            return
        assert isinstance(written, Written)
        if written.result.applied:
            owed = frozenset(op.item.destination for op in ops if isinstance(op, AddOwed))
            if owed:
                yield Wake(owed)
            yield engine.reply(message, code, kind)
            return
        if written.result.stopped_at == 0:  # the reversal itself is journaled: a repeat
            yield from engine.repeated(message, written, kind)
            return
        engine.refused(written, f"reversal {key}")
    yield engine.reply(message, "96", kind)


def _reversal_ops(
    engine: Engine, peer: Peer, draft: Draft, data: OriginalData, found: Found
) -> tuple[list[Op], str]:
    now = found.now
    stamp = now.timestamp()
    original = found.record
    if original is None or original.kind == _TOMBSTONE:
        ops: list[Op] = [InsertTransaction(TransactionRecord(**declined(draft, "25")))]
        if original is None:
            ops.append(InsertTransaction(_tombstone(engine, peer, draft, data, now)))
        return ops, "25"
    accepted = declined(draft, "00", status=TransactionStatus.APPROVED)
    if original.settlement_date > accepted["settlement_date"]:
        # never before its original: the switch may have dated it past our cutover
        accepted["settlement_date"] = original.settlement_date
    ops = [InsertTransaction(TransactionRecord(**accepted))]
    if original.status in (_PENDING, TransactionStatus.APPROVED):
        ops.append(
            UpdateTransaction(
                transaction_key=original.transaction_key,
                updated_at=stamp,
                expect=original.status,
                status=TransactionStatus.REVERSED,
            )
        )
    ops += engine.compensator.owed_for(found.legs, now)
    return ops, "00"


def _tombstone(
    engine: Engine, peer: Peer, draft: Draft, data: OriginalData, now: datetime
) -> TransactionRecord:
    """The record left under the key of an original never seen, reversed before it came."""
    return TransactionRecord(
        transaction_key=draft["original_key"],
        kind=_TOMBSTONE,
        mti=data.mti,
        source=peer.name,
        created_at=now.timestamp(),
        settlement_date=draft["settlement_date"],
        dialect=peer.dialect.name,
        stan=data.stan,
        transmission_time=data.transmission_time,
        acquirer=data.acquirer.lstrip("0"),
        status=TransactionStatus.DECLINED,
        response_code="25",
        responded_at=now.timestamp(),
    )
