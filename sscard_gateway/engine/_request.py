"""The saga of a request: its legs in order, each journaled as sent, compensated on failure.

See :mod:`._engine` for the whole picture. Every group this saga writes
after the first names the transaction's ``pending`` status or the leg's
``sent`` state it expects; a refusal means a reversal (or an undeliverable
answer) moved the transaction under it, and the saga then owes the
reversal of whatever its legs still hold and never answers approved.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from ..clearing import resolve_mmdd
from ..errors import SscardError
from ..iso import Message
from ..iso.business import validate
from ..routing import NoRoute
from ..store import (
    AddOwed,
    InsertLeg,
    InsertTransaction,
    LegKind,
    LegRecord,
    LegState,
    Op,
    TransactionRecord,
    TransactionStatus,
    UpdateLeg,
    UpdateTransaction,
)
from ._decisions import (
    Answered,
    Delivered,
    Found,
    NotSent,
    Outcome,
    Read,
    Reply,
    Saga,
    Send,
    Step,
    Unknown,
    Wake,
    Write,
    WriteFailed,
    Written,
)
from ._keys import transaction_key
from ._plan import Plan
from ._records import (
    Draft,
    declined,
    kind_of,
    leg_record,
    text_of,
)

if TYPE_CHECKING:
    from ._engine import Engine, Peer

__all__ = ["request"]

log = logging.getLogger("sscard_gateway.engine")

_PENDING = TransactionStatus.PENDING
_RETRIES = 5  # re-reads when a compare-and-set is refused by a concurrent saga


def request(engine: Engine, peer: Peer, message: Message, now: datetime) -> Saga:
    kind = kind_of(message)
    key = transaction_key(message, peer.name, "tx", now)
    try:
        split = validate(message)
        draft = engine.draft(peer, message, kind, key, now, split)
        plan = engine.plan(peer, message, split)
    except SscardError as exc:  # a business check, or a bank part that cannot be sized
        yield engine.reply(message, exc.response_code or "30", kind)
        return
    if isinstance(plan, NoRoute):
        yield from engine.local(message, declined(draft, plan.response_code), kind)
        return
    if not plan.legs:
        approved = declined(draft, "00", status=TransactionStatus.APPROVED)
        yield from engine.local(message, approved, kind)
        return
    yield from _legs(engine, peer, message, draft, plan, kind, now)


def _legs(
    engine: Engine, peer: Peer, message: Message, draft: Draft, plan: Plan, kind: str, now: datetime
) -> Saga:
    key = draft["transaction_key"]
    timeout_code = peer.dialect.spec.timeout_response
    done: list[tuple[LegRecord, Message]] = []  # legs answered with an approval
    reply: Message | None = None
    for step, leg_plan in enumerate(plan.legs, start=1):
        destination = leg_plan.destination
        try:
            outbound = engine.outbound(peer, message, destination, now)
        except SscardError as exc:
            code = exc.response_code or "96"
            if step == 1:
                yield from engine.local(message, declined(draft, code), kind)
                return
            yield from _fail(
                engine, message, key, done, TransactionStatus.DECLINED, code, now, kind
            )
            return
        leg = leg_record(
            outbound,
            transaction_key=key,
            step=step,
            destination=destination,
            kind=LegKind.REQUEST,
            state=LegState.SENT,
            now=now,
        )
        bank = engine.bank_fields(outbound, destination)
        first: Op
        if step == 1:
            first = InsertTransaction(TransactionRecord(**{**draft, **bank}))
        else:
            first = UpdateTransaction(
                transaction_key=key,
                updated_at=now.timestamp(),
                expect=_PENDING,
                **(bank if destination == engine.bank else {}),  # type: ignore[arg-type]
            )
        written = yield Write([first, InsertLeg(leg)], must_land=step > 1)
        if isinstance(written, WriteFailed):
            if step == 1:
                yield from engine.unwritten(message, key, kind)
                return
            yield from _fail(engine, message, key, done, TransactionStatus.FAILED, "96", now, kind)
            return
        assert isinstance(written, Written)
        if not written.result.applied:
            if step == 1:
                yield from engine.repeated(message, written, kind)
            else:
                yield from _overtaken(engine, message, key, timeout_code, kind)
            return
        outcome: Outcome = yield Send(leg, outbound, engine.request_timeout)
        now = outcome.now
        ended = yield from _leg_ended(
            engine, peer, message, key, leg, outbound, outcome, done, last=step == len(plan.legs)
        )
        if ended is None:  # refused: the transaction moved under us
            yield from _overtaken(engine, message, key, timeout_code, kind)
            return
        reply, approved = ended
        if not approved:
            break
        done.append((leg, outbound))
    assert reply is not None
    delivered = yield Reply(reply, kind)
    assert isinstance(delivered, Delivered)
    if not delivered.delivered and reply.fields.get(39) in peer.dialect.spec.approved:
        yield from _undeliverable(engine, key, delivered.now)


def _leg_ended(
    engine: Engine,
    peer: Peer,
    message: Message,
    key: str,
    leg: LegRecord,
    outbound: Message,
    outcome: Outcome,
    done: list[tuple[LegRecord, Message]],
    *,
    last: bool,
) -> Step[tuple[Message, bool] | None]:
    """Journal how a leg ended; ``(reply, approved)``, or ``None`` when the journal refused
    it because the transaction moved under this saga."""
    now = outcome.now
    stamp = now.timestamp()
    timeout_code = peer.dialect.spec.timeout_response
    destination = engine.peers[leg.destination]
    undo = _undo(engine, done, now)
    ops: list[Op]
    said = text_of(outcome.message, 39) if isinstance(outcome, Answered) else ""
    if said in destination.dialect.spec.unknown_outcome:
        # e.g. "duplicate": the answer says nothing of what became of the leg
        log.warning("leg %s answered %s: its outcome is unknown", leg.leg_id, said)
        outcome = Unknown(f"answered {said}", now)
    if isinstance(outcome, Answered):
        answer = outcome.message
        code = text_of(answer, 39)
        approved = code in destination.dialect.spec.approved
        answered = UpdateLeg(
            leg_id=leg.leg_id,
            updated_at=stamp,
            expect=LegState.SENT,
            state=LegState.ANSWERED,
            response_code=code if len(code) == 2 else None,
        )
        reply = engine.mapping(peer.name, leg.destination).response(message, answer)
        if approved and not last:
            ops = [answered]
        elif approved:
            ops = [answered, _approved(engine, key, reply, answer, destination, now)]
        else:
            status = TransactionStatus.DECLINED
            ops = [answered, engine.end(key, status, text_of(reply, 39) or "96", now), *undo]
    elif isinstance(outcome, NotSent):
        approved = False
        reply = message.response_to(outcome.code)
        not_sent = UpdateLeg(
            leg_id=leg.leg_id, updated_at=stamp, expect=LegState.SENT, state=LegState.NOT_SENT
        )
        status = TransactionStatus.FAILED if not done else TransactionStatus.DECLINED
        ops = [not_sent, engine.end(key, status, outcome.code, now), *undo]
    else:
        approved = False
        reply = message.response_to(timeout_code)
        owe = engine.compensator.reverse(leg, now, message=outbound)
        ops = [*owe, engine.end(key, TransactionStatus.TIMED_OUT, timeout_code, now), *undo]
    written = yield Write(ops, must_land=True)
    assert isinstance(written, Written)
    if not written.result.applied:
        engine.refused(written, f"leg {leg.leg_id}")
        return None
    if any(isinstance(op, AddOwed) for op in ops):
        yield Wake(frozenset(op.item.destination for op in ops if isinstance(op, AddOwed)))
    return reply, approved


def _approved(
    engine: Engine, key: str, reply: Message, answer: Message, peer: Peer, now: datetime
) -> UpdateTransaction:
    fields: dict[str, str | None] = {"authorization_code": text_of(reply, 38) or None}
    number = peer.dialect.spec.settlement_date_field
    mmdd = text_of(answer, number)
    if mmdd:
        try:
            fields["settlement_date"] = resolve_mmdd(mmdd, now.date())
        except ValueError:
            log.warning("%s answered a settlement date that is no date", peer.name)
    code = text_of(reply, 39) or "00"
    return engine.end(key, TransactionStatus.APPROVED, code, now, **fields)


def _undo(engine: Engine, done: list[tuple[LegRecord, Message]], now: datetime) -> list[Op]:
    """Owe the reversal of the approved legs, latest first."""
    ops: list[Op] = []
    for leg, sent in reversed(done):
        answered = attrs.evolve(leg, state=LegState.ANSWERED)
        ops += engine.compensator.reverse(answered, now, message=sent)
    return ops


def _fail(
    engine: Engine,
    message: Message,
    key: str,
    done: list[tuple[LegRecord, Message]],
    status: TransactionStatus,
    code: str,
    now: datetime,
    kind: str,
) -> Saga:
    """A later leg could not even be sent: compensate the earlier ones, answer ``code``."""
    ops = [engine.end(key, status, code, now), *_undo(engine, done, now)]
    written = yield Write(ops, must_land=True)
    assert isinstance(written, Written)
    if not written.result.applied:
        yield from _overtaken(engine, message, key, code, kind)
        return
    yield Wake(frozenset(leg.destination for leg, _ in done))
    yield engine.reply(message, code, kind)


def _overtaken(engine: Engine, message: Message, key: str, code: str, kind: str) -> Saga:
    """The transaction moved under this saga (a reversal came): owe what its legs still hold.

    The requester is never told approved: it reversed, or will be told ``code``.
    """
    for _ in range(_RETRIES):
        found = yield Read(key)
        assert isinstance(found, Found)
        record = found.record
        if record is None or record.status is TransactionStatus.APPROVED:
            break
        ops = engine.compensator.owed_for(found.legs, found.now)
        if not ops:
            break
        written = yield Write(ops, must_land=True)
        assert isinstance(written, Written)
        if written.result.applied:
            yield Wake(frozenset(op.item.destination for op in ops if isinstance(op, AddOwed)))
            break
        engine.refused(written, f"transaction {key} (compensating)")
    yield engine.reply(message, code, kind)


def _undeliverable(engine: Engine, key: str, now: datetime) -> Saga:
    """The approval could not be given: the requester takes it as failed; reverse its legs."""
    engine.counts["undeliverable"] += 1
    log.warning("transaction %s: the approval could not be delivered; reversing it", key)
    for _ in range(_RETRIES):
        found = yield Read(key)
        assert isinstance(found, Found)
        record = found.record
        if record is None or record.status is not TransactionStatus.APPROVED:
            return  # a reversal got there first and owes what is held
        stamp = found.now.timestamp()
        end = UpdateTransaction(
            transaction_key=key,
            updated_at=stamp,
            expect=TransactionStatus.APPROVED,
            status=TransactionStatus.TIMED_OUT,
        )
        ops = [end, *engine.compensator.owed_for(found.legs, found.now)]
        written = yield Write(ops, must_land=True)
        assert isinstance(written, Written)
        if written.result.applied:
            yield Wake(frozenset(op.item.destination for op in ops if isinstance(op, AddOwed)))
            return
        engine.refused(written, f"transaction {key} (undeliverable)")
