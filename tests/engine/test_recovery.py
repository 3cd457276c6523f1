"""The recovery table of ``engine/_recovery.py``, row by row.

Each row's state is made the way a crash leaves it: the engine's own sagas
driven on a real journal and stopped where the process died (a leg sent
whose answer never came back, a cross-region settlement cut between its
legs, a requester's reversal that raced a leg). Then recovery runs — the
sans-I/O :func:`recover` as a starting gateway applies it, and the real
:class:`Gateway` started on the same journal file — and the action is
checked, down to the switch's ledger: a reversal owed is delivered and
matched by the switch to the leg it received.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest
import trio
from engine_helpers import Bench, Stepper, timeout
from world_helpers import open_world

from sscard_gateway.engine import RECOVERY, Send, Write, recover, resume
from sscard_gateway.iso import Message
from sscard_gateway.sim import Kind
from sscard_gateway.store import (
    AddOwed,
    InsertLeg,
    LegKind,
    LegState,
    OwedKind,
    OwedStatus,
    TransactionStatus,
    UpdateLeg,
    UpdateOwed,
)

_T = TransactionStatus


@pytest.fixture
def bench(tmp_path):
    bench = Bench(tmp_path)
    yield bench
    bench.close()


def _is_send(decision: Any) -> bool:
    return isinstance(decision, Send)


def _is_write_of_step(step: int) -> Callable[[Any], bool]:
    def check(decision: Any) -> bool:
        ops = getattr(decision, "ops", ())
        return any(isinstance(op, InsertLeg) and op.leg.step == step for op in ops)

    return check


def _sent_no_answer(bench: Bench, source: str, message: Message, *, answered: int = 0) -> str:
    """Drive ``message``'s saga: ``answered`` legs answered by their peers, then the next leg is
    sent (its peer receives it) and the gateway dies before its answer is journaled."""
    stepper = bench.stepper(bench.start(source, message), bench.peers())
    for _ in range(answered):
        stepper.until(_is_send)
        stepper.step()  # answered by its peer
    send = stepper.until(_is_send)
    bench.ledgers[send.leg.destination].apply(send.message)  # it reached the peer
    stepper.crash()
    return send.leg.transaction_key


# -- the states a crash leaves, one builder per row of the table --------------------------


@attrs.frozen
class Found:
    """A journal state found at start, and what recovery must make of it."""

    key: str
    status: TransactionStatus  # the transaction's status after recovery
    reversed_steps: tuple[int, ...]  # the legs whose reversal recovery owes, in order
    response_code: str | None = None


def pending_leg_sent(bench: Bench) -> Found:
    request = bench.request("center-110000", Kind.BENEFIT_PAYOUT, "bank", amount=8800)
    key = _sent_no_answer(bench, "center-110000", request)
    return Found(key, _T.TIMED_OUT, (1,), "68")


def pending_first_leg_approved(bench: Bench) -> Found:
    """A cross-region settlement: home leg approved, the process died before the bank leg."""
    request = bench.settlement("center-310000", "center-110000", fund=40000, cash=2000)
    stepper = bench.stepper(bench.start("center-310000", request), bench.peers())
    stepper.until(_is_write_of_step(2))
    stepper.crash()
    return Found(request_key(bench, stepper), _T.TIMED_OUT, (1,), "68")


def pending_both_legs(bench: Bench) -> Found:
    """Home leg approved, bank leg sent, no answer: both reversed, the latest first."""
    request = bench.settlement("center-310000", "center-110000", fund=40000, cash=2000)
    key = _sent_no_answer(bench, "center-310000", request, answered=1)
    return Found(key, _T.TIMED_OUT, (2, 1), "68")


def pending_nothing_held(bench: Bench) -> Found:
    """A transaction journaled pending whose only leg never left (no leg holds money)."""
    request = bench.request("center-110000", Kind.BENEFIT_PAYOUT, "bank", amount=8800)
    stepper = bench.stepper(bench.start("center-110000", request))
    send = stepper.until(_is_send)
    stepper.crash()
    key = send.leg.transaction_key
    # what a gateway of an earlier version could leave: the leg refused unread, nothing else
    not_sent = UpdateLeg(
        leg_id=send.leg.leg_id,
        updated_at=bench.clock().timestamp(),
        expect=LegState.SENT,
        state=LegState.NOT_SENT,
    )
    assert bench.journal.apply_groups([[not_sent]])[0].applied
    return Found(key, _T.FAILED, (), "96")


def final_not_approved_leg_sent(bench: Bench) -> Found:
    """A requester's reversal raced the bank leg of a cross-region settlement: the reversal read
    the legs before the bank leg was journaled, committed after; then the process died with the
    bank leg in flight. The transaction is reversed, the bank leg still holds money."""
    request = bench.settlement("center-310000", "center-110000", fund=40000, cash=2000)
    original = bench.stepper(bench.start("center-310000", request), bench.peers())
    original.until(_is_write_of_step(2))
    bench.clock.advance(1)
    reversal = bench.stepper(
        bench.start("center-310000", bench.sims["center-310000"].reversal(request))
    )
    reversal.until(lambda d: isinstance(d, Write))  # it has read the legs: step 1 only
    original.step()  # the bank leg is journaled as sent
    reversal.finish()
    assert reversal.run.code == "00"
    send = original.until(_is_send)
    bench.ledgers["cups"].apply(send.message)
    original.crash()
    key = send.leg.transaction_key
    legs = {leg.step: leg.state for leg in bench.journal.legs(key)}
    assert bench.journal.get_transaction(key).status is _T.REVERSED
    assert legs == {1: LegState.REVERSAL_OWED, 2: LegState.SENT}
    return Found(key, _T.REVERSED, (1, 2))  # leg 1 owed by the reversal, leg 2 by recovery


def approved(bench: Bench) -> Found:
    request = bench.settlement("center-310000", "center-110000", fund=40000, cash=2000)
    run = bench.drive(bench.start("center-310000", request), bench.peers())
    assert run.code == "00"
    return Found(run.sent[0].leg.transaction_key, _T.APPROVED, (), "00")


def owed_item_owed(bench: Bench) -> Found:
    """A reversal owed before the crash (the leg timed out), never delivered."""
    request = bench.request("center-110000", Kind.CONTRIBUTION_PAYMENT, "bank", amount=777)

    def silent(send: Any, now: Any) -> Any:
        bench.ledgers["cups"].apply(send.message)  # received and approved, the answer lost
        return timeout(send, now)

    run = bench.drive(bench.start("center-110000", request), silent)
    assert run.code == "68"
    return Found(run.sent[0].leg.transaction_key, _T.TIMED_OUT, (1,), "68")


def request_key(bench: Bench, stepper: Stepper) -> str:
    sends = [d for d in stepper.run.decisions if _is_send(d)]
    return sends[0].leg.transaction_key


ROWS: dict[str, list[Callable[[Bench], Found]]] = {
    "pending, a leg holds money": [pending_leg_sent, pending_first_leg_approved, pending_both_legs],
    "pending, no leg holds money": [pending_nothing_held],
    "final, not approved, a leg holds money": [final_not_approved_leg_sent],
    "approved": [approved],
    "owed item owed": [owed_item_owed],
}

CASES = [
    pytest.param(state, builder, id=f"{state} / {builder.__name__}")
    for state, _ in RECOVERY
    for builder in ROWS.get(state, [None])  # type: ignore[list-item]
]


def test_every_row_of_the_recovery_table_has_a_case():
    assert [state for state, _ in RECOVERY] == list(ROWS)


def _reversed_steps(bench: Bench, key: str) -> tuple[int, ...]:
    steps = {leg.leg_id: leg.step for leg in bench.journal.legs(key)}
    return tuple(
        steps[item.leg_id]
        for item in bench.journal.owed_items(status=None, transaction_key=key)
        if item.kind is OwedKind.REVERSAL
    )


@pytest.mark.parametrize(("state", "builder"), CASES)
def test_recovery_row(bench, state, builder):
    assert builder is not None, f"no case for the row {state!r}"
    found = builder(bench)
    before = bench.journal.owed_items(status=None, transaction_key=found.key)
    bench.clock.advance(60)
    bench.restart()
    bench.recover()
    record = bench.journal.get_transaction(found.key)
    assert record.status is found.status
    if found.response_code is not None:
        assert record.response_code == found.response_code
    assert _reversed_steps(bench, found.key) == found.reversed_steps
    legs = bench.journal.legs(found.key)
    assert not [leg for leg in legs if leg.state is LegState.SENT]
    for leg in legs:
        owed = leg.step in found.reversed_steps
        assert (leg.state is LegState.REVERSAL_OWED) == owed, leg
    # recovery runs again at the next start: nothing more is done
    bench.restart()
    assert bench.recover().get(found.key, []) == []
    # every reversal owed is delivered as a retransmission when it was owed before the
    # restart (its first attempt may have reached the peer), and matched by the switch
    owed_before = {i.id for i in before}
    for item in bench.journal.owed_items(transaction_key=found.key):
        if item.id in owed_before:
            bench.journal.apply(resume(item, bench.clock()))
    delivered = bench.deliver(bench.clock())
    for item, message, verdict in delivered:
        assert message.mti == ("0421" if item.id in owed_before else "0420"), item
        assert verdict == "done"
        entry = bench.ledgers[item.destination].entry(
            bench.ledgers[item.destination].key_of(
                bench.dialects[item.destination].decode(
                    next(leg for leg in legs if leg.leg_id == item.leg_id).payload
                )
            )
        )
        assert entry is not None and entry.reversed, item
    for ledger in bench.ledgers.values():
        refused = ledger.statistics().reversals_refused
        assert refused == 0
    if found.status is _T.APPROVED:
        assert delivered == []
        assert all(leg.state is LegState.ANSWERED for leg in legs)


@pytest.mark.parametrize(
    "status", [_T.DECLINED, _T.TIMED_OUT, _T.REVERSED, _T.FAILED], ids=lambda s: s.value
)
@pytest.mark.parametrize("leg_state", ["sent", "answered 00"])
def test_a_final_transaction_not_approved_owes_the_reversal_of_a_leg_that_holds_money(
    bench, status, leg_state
):
    request = bench.request("center-110000", Kind.BENEFIT_PAYOUT, "bank", amount=8800)
    stepper = bench.stepper(bench.start("center-110000", request))
    send = stepper.until(_is_send)
    stepper.crash()
    leg = send.leg
    if leg_state == "answered 00":
        leg = attrs.evolve(leg, state=LegState.ANSWERED, response_code="00")
    record = attrs.evolve(bench.journal.get_transaction(leg.transaction_key), status=status)
    ops = recover(
        record, [leg], bench.clock(), compensator=bench.engine.compensator, timeout_code="68"
    )
    assert [type(op) for op in ops] == [UpdateLeg, AddOwed]
    assert ops[0].expect == {leg.state} and ops[0].state is LegState.REVERSAL_OWED
    assert ops[1].item.leg_id == leg.leg_id and ops[1].item.kind is OwedKind.REVERSAL


@pytest.mark.parametrize("leg_state", [LegState.REVERSAL_OWED, LegState.ADVICE_OWED])
def test_a_leg_whose_item_is_owed_already_needs_nothing_more(bench, leg_state):
    request = bench.request("center-110000", Kind.BENEFIT_PAYOUT, "bank", amount=8800)
    stepper = bench.stepper(bench.start("center-110000", request))
    send = stepper.until(_is_send)
    stepper.crash()
    kind = LegKind.ADVICE if leg_state is LegState.ADVICE_OWED else LegKind.REQUEST
    leg = attrs.evolve(send.leg, state=leg_state, kind=kind)
    record = bench.journal.get_transaction(leg.transaction_key)
    for status in (_T.TIMED_OUT, _T.APPROVED, _T.REVERSED):
        record = attrs.evolve(record, status=status)
        assert (
            recover(
                record,
                [leg],
                bench.clock(),
                compensator=bench.engine.compensator,
                timeout_code="68",
            )
            == []
        )


def test_an_advice_found_at_start_is_delivered_again_never_reversed(bench):
    """A refund advice owed to the switch when the gateway died: recovery owes no reversal of
    it; store-and-forward re-delivers it with the retransmission MTI 0221."""
    purchase = bench.request("center-110000", Kind.CONTRIBUTION_PAYMENT, "bank", amount=5000)
    assert bench.drive(bench.start("center-110000", purchase), bench.peers()).code == "00"
    bench.clock.advance(30)
    refund = bench.refund("center-110000", purchase, amount=5000)
    run = bench.drive(bench.start("center-110000", refund))
    assert run.code == "00"
    key = run.writes[-1][0].ops[0].record.transaction_key
    (leg,) = bench.journal.legs(key)
    assert leg.kind is LegKind.ADVICE and leg.state is LegState.ADVICE_OWED
    record = bench.journal.get_transaction(key)
    assert (
        recover(
            record, [leg], bench.clock(), compensator=bench.engine.compensator, timeout_code="68"
        )
        == []
    )
    # even a transaction found pending with an advice leg gets no reversal
    pending = attrs.evolve(record, status=_T.PENDING)
    ops = recover(
        pending, [leg], bench.clock(), compensator=bench.engine.compensator, timeout_code="68"
    )
    assert not [op for op in ops if isinstance(op, AddOwed)]
    bench.restart()
    bench.recover()
    (item,) = bench.journal.owed_items(transaction_key=key)
    for op in resume(item, bench.clock()):
        bench.journal.apply([op])
    ((delivered, message, verdict),) = bench.deliver(bench.clock())
    assert delivered.kind is OwedKind.ADVICE and message.mti == "0221" and verdict == "done"
    assert [leg.state for leg in bench.journal.legs(key)] == [LegState.ADVISED]
    assert bench.journal.owed_items(status=None, transaction_key=key)[0].kind is OwedKind.ADVICE


def test_resume_marks_an_owed_item_for_the_retransmission_mti_once(bench):
    found = owed_item_owed(bench)
    (item,) = bench.journal.owed_items(transaction_key=found.key)
    assert not item.repeat
    ops = resume(item, bench.clock())
    assert ops == [
        UpdateOwed(id=item.id, updated_at=item.updated_at, expect=OwedStatus.OWED, repeat=True)
    ]
    bench.journal.apply(ops)
    again = bench.journal.get_owed(item.id)
    assert again.repeat and resume(again, bench.clock()) == []
    done = attrs.evolve(item, status=OwedStatus.DONE)
    assert resume(done, bench.clock()) == []


# -- the real gateway, started on the journal a crash left ---------------------------------


@pytest.mark.parametrize(("state", "builder"), CASES)
async def test_a_gateway_started_on_the_journal_applies_the_row(
    bench, tmp_path, autojump_clock, state, builder
):
    found = builder(bench)
    before = {i.id for i in bench.journal.owed_items(status=None, transaction_key=found.key)}
    legs = {leg.leg_id: leg for leg in bench.journal.legs(found.key)}
    start = bench.clock.advance(60)
    centers = {n: ledger for n, ledger in bench.ledgers.items() if n != "cups"}
    async with open_world(
        tmp_path / "journal.db", start, switch_ledger=bench.ledgers["cups"], centers=centers
    ) as world:
        journal = world.journal
        recovered = world.gateway.statistics().recovered
        expect_recovered = found.status is not _T.APPROVED and state != "owed item owed"
        assert recovered == (1 if expect_recovered else 0)
        record = journal.get_transaction(found.key)
        assert record.status is found.status
        await world.until(lambda: not journal.owed_items(transaction_key=found.key))
        await trio.sleep(1)
    items = journal_items(bench, found.key)
    reversals = [i for i in items if i.kind is OwedKind.REVERSAL]
    assert tuple(legs[i.leg_id].step for i in reversals) == found.reversed_steps
    for item in reversals:
        assert item.status is OwedStatus.DONE and item.last_response_code == "00"
    # what the switch received: each reversal once, matched; an item owed before the restart
    # comes as 0421 from its first attempt on (that attempt may have reached the switch). One
    # recovery owes may come as either: its first attempt cannot have reached anybody.
    to_switch = [m for m in world.switch.recent if m.mti in ("0420", "0421")]
    cups_items = [i for i in reversals if i.destination == "cups"]
    assert len(to_switch) == len(cups_items)
    for item, message in zip(cups_items, to_switch, strict=True):
        assert message.mti == "0421" or item.id not in before
    stats = bench.ledgers["cups"].statistics()
    assert stats.reversals_refused == 0
    assert stats.reversals_applied == len(cups_items)
    for item in reversals:
        ledger = bench.ledgers[item.destination]
        leg = legs[item.leg_id]
        entry = ledger.entry(ledger.key_of(bench.dialects[item.destination].decode(leg.payload)))
        assert entry is not None and entry.reversed, item
        assert ledger.statistics().reversals_refused == 0


def journal_items(bench: Bench, key: str) -> list[Any]:
    return bench.journal.owed_items(status=None, transaction_key=key)


async def test_a_gateway_started_with_an_advice_owed_delivers_it_again_as_0221(
    bench, tmp_path, autojump_clock
):
    purchase = bench.request("center-110000", Kind.CONTRIBUTION_PAYMENT, "bank", amount=5000)
    assert bench.drive(bench.start("center-110000", purchase), bench.peers()).code == "00"
    bench.clock.advance(30)
    run = bench.drive(bench.start("center-110000", bench.refund("center-110000", purchase,
                                                                 amount=5000)))  # fmt: skip
    assert run.code == "00"
    key = run.writes[-1][0].ops[0].record.transaction_key
    start = bench.clock.advance(60)
    async with open_world(
        tmp_path / "journal.db", start, switch_ledger=bench.ledgers["cups"]
    ) as world:
        assert world.gateway.statistics().recovered == 0
        await world.until(lambda: not world.journal.owed_items(transaction_key=key))
    (item,) = journal_items(bench, key)
    assert item.kind is OwedKind.ADVICE and item.status is OwedStatus.DONE
    assert [leg.state for leg in bench.journal.legs(key)] == [LegState.ADVISED]
    sent = [m.mti for m in world.switch.recent if m.mti[:2] in ("02", "04")]
    assert sent == ["0221"]  # re-delivered, never reversed
    assert bench.ledgers["cups"].statistics().advices_applied == 1
