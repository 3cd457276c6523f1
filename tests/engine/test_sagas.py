"""One test (or a few) per money-loss scenario of issue 11, driven at the sans-I/O level.

The sagas run on a real journal with outcomes made up by the test (see
``engine_helpers``); the peers are the simulators' strict ledgers, which
check every reversal and advice against the leg as they received it. Two
scenarios need the Trio side (a requester whose line drops, a journal
that refuses the write after an answer) and run the real Gateway or
Executor in virtual time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import trio
from engine_helpers import Bench
from world_helpers import center_link, open_world

from sscard_gateway.engine import (
    Answered,
    NotSent,
    Read,
    Reply,
    Send,
    Unknown,
    Wake,
    Write,
    transaction_key,
)
from sscard_gateway.iso import Message
from sscard_gateway.iso.composite import OriginalData
from sscard_gateway.sim import Action, Decision, Kind, Rule, SwitchRules
from sscard_gateway.store import (
    AddOwed,
    InsertLeg,
    InsertTransaction,
    LegKind,
    LegState,
    OwedKind,
    OwedStatus,
    TransactionStatus,
    UpdateLeg,
    UpdateTransaction,
)

_T = TransactionStatus


@pytest.fixture
def bench(tmp_path):
    bench = Bench(tmp_path)
    yield bench
    bench.close()


def _is_send(decision: Any) -> bool:
    return isinstance(decision, Send)


def _key(run: Any) -> str:
    return run.sent[0].leg.transaction_key


def _owed(bench: Bench, key: str, status: OwedStatus | None = None) -> list[Any]:
    return bench.journal.owed_items(status=status, transaction_key=key)


def _leg_message(bench: Bench, leg: Any) -> Message:
    return bench.dialects[leg.destination].decode(leg.payload)


def _held(bench: Bench, destination: str) -> list[Any]:
    return bench.ledgers[destination].held()


# -- the requester goes away -------------------------------------------------------------------


def test_an_approval_that_cannot_be_delivered_is_reversed_latest_leg_first(bench):
    request = bench.settlement("center-310000", "center-110000", fund=40000, cash=2000)
    run = bench.drive(bench.start("center-310000", request), bench.peers(), delivered=False)
    assert run.finished and run.code == "00"  # the answer was given, and went nowhere
    key = _key(run)
    assert bench.engine.counts["undeliverable"] == 1
    assert bench.journal.get_transaction(key).status is _T.TIMED_OUT
    owed = _owed(bench, key)
    assert [item.leg_id[-2:] for item in owed] == ["#2", "#1"]  # the bank leg first
    assert {item.destination for item in owed} == {"cups", "center-110000"}
    assert run.woken == {"cups", "center-110000"}
    bench.deliver(bench.clock())
    assert _held(bench, "cups") == [] and _held(bench, "center-110000") == []
    assert [leg.state for leg in bench.journal.legs(key)] == [LegState.REVERSED] * 2


def test_a_decline_that_cannot_be_delivered_owes_nothing(bench):
    request = bench.request("center-110000", Kind.BENEFIT_PAYOUT, "bank", amount=8800)
    run = bench.drive(bench.start("center-110000", request), bench.peers("51"), delivered=False)
    assert run.code == "51" and bench.engine.counts["undeliverable"] == 0
    assert _owed(bench, _key(run)) == []
    assert bench.journal.get_transaction(_key(run)).status is _T.DECLINED


async def test_a_requester_whose_line_drops_does_not_cancel_its_leg(bench, tmp_path,
                                                                    autojump_clock):  # fmt: skip
    """The center's line drops while its leg waits for a slow switch: the leg goes on, its
    approval is journaled, cannot be delivered, and is reversed upstream."""
    slow = Rule(mti=("02",), decision=Decision(action=Action.RESPOND, delay=20.0))
    async with open_world(
        tmp_path / "journal.db", bench.clock(), rules=SwitchRules().with_rule(slow)
    ) as world:
        bench.clock.now = world.now()
        request = bench.request("center-110000", Kind.BENEFIT_PAYOUT, "bank", amount=8800)
        async with center_link(world, "center-110000", bench.ledgers["center-110000"],
                               world.now) as link:  # fmt: skip
            with trio.move_on_after(2.0):
                await link.request(request, timeout=10.0)
            assert world.gateway.in_flight == 1
        # the line is down; the leg is still in flight
        key = transaction_key(request, "center-110000", "tx", world.now())
        await world.until(lambda: world.gateway.in_flight == 0, 60)
        assert world.gateway.statistics().undeliverable == 1
        await world.until(lambda: not world.journal.owed_items(transaction_key=key), 120)
    record = bench.journal.get_transaction(key)
    assert record.status is _T.TIMED_OUT
    (leg,) = bench.journal.legs(key)
    assert leg.state is LegState.REVERSED and leg.response_code == "00"
    assert world.switch.approved_records() == []  # approved, then reversed: nothing held


# -- a requester's reversal of a transaction still in flight -----------------------------------


def _reverse_in_flight(bench: Bench, request: Message, source: str, outcome: Any) -> tuple:
    original = bench.stepper(bench.start(source, request), outcome)
    original.until(_is_send)
    bench.clock.advance(10)
    reversal = bench.sims[source].reversal(request)
    run = bench.drive(bench.start(source, reversal))
    return original, run


def _received_then(bench: Bench, code: str | None) -> Any:
    """The leg reaches the switch (its ledger applies it), then the gateway learns ``code``
    (``None``: nothing, the deadline passes; ``"not sent"``: the leg never left)."""

    def answer(send: Send, now: datetime) -> Any:
        if code == "not sent":
            return NotSent("91", "cups is not connected", now)
        ledger = bench.ledgers[send.leg.destination]
        outcome = ledger.apply(send.message, "51" if code == "51" else "00")
        if code is None:
            return Unknown("deadline", now)
        response = outcome.response(send.message)
        return Answered(response.with_fields({39: code}) if code == "94" else response, now)

    return answer


@pytest.mark.parametrize("outcome", ["00", "51", "94", None, "not sent"])
def test_a_reversal_of_a_transaction_in_flight_owes_the_upstream_reversal_whatever_the_outcome(
    bench, outcome
):
    answer = _received_then(bench, outcome)
    request = bench.request("center-110000", Kind.CONTRIBUTION_PAYMENT, "bank", amount=5000)
    original, run = _reverse_in_flight(bench, request, "center-110000", answer)
    assert run.code == "00"
    # the answer came only once the reversal, the original's new status and the owed item
    # were durable, in one group
    (write, result) = run.writes[-1]
    reply = next(i for i, d in enumerate(run.decisions) if isinstance(d, Reply))
    assert result.applied and run.decisions.index(write) < reply
    kinds = [type(op) for op in write.ops]
    assert kinds == [InsertTransaction, UpdateTransaction, UpdateLeg, AddOwed]
    key = original.decision.leg.transaction_key
    assert bench.journal.get_transaction(key).status is _T.REVERSED
    late = original.finish()  # the leg's outcome arrives
    assert late.code != "00"  # the original's requester is never told approved
    record = bench.journal.get_transaction(key)
    assert record.status is _T.REVERSED  # a late approval never overwrites it
    (item,) = _owed(bench, key)
    assert item.kind is OwedKind.REVERSAL and item.destination == "cups"
    bench.deliver(bench.clock())
    assert _held(bench, "cups") == []
    assert [i.id for i in _owed(bench, key, OwedStatus.DONE)] == [item.id]
    assert bench.ledgers["cups"].statistics().reversals_refused == 0


def test_a_reversal_is_answered_only_once_durable(bench):
    request = bench.request("center-110000", Kind.CONTRIBUTION_PAYMENT, "bank", amount=5000)
    original = bench.stepper(bench.start("center-110000", request), bench.peers())
    original.until(_is_send)
    bench.fail_writes = lambda write: any(isinstance(op, InsertTransaction) for op in write.ops)
    run = bench.drive(bench.start("center-110000", bench.sims["center-110000"].reversal(request)))
    assert run.code == "96"  # never 00 while nothing is journaled
    bench.fail_writes = lambda write: False
    key = original.decision.leg.transaction_key
    assert bench.journal.get_transaction(key).status is _T.PENDING
    assert original.finish().code == "00"  # the original goes on; its requester may reverse again


def test_a_cross_region_reversal_racing_the_bank_leg_reverses_both_legs(bench):
    request = bench.settlement("center-310000", "center-110000", fund=40000, cash=2000)
    original = bench.stepper(bench.start("center-310000", request), bench.peers())
    original.until(_is_send)  # the home leg
    original.step()
    original.until(_is_send)  # the bank leg, in flight
    run = bench.drive(bench.start("center-310000", bench.sims["center-310000"].reversal(request)))
    assert run.code == "00"
    assert original.finish().code != "00"
    key = original.run.sent[0].leg.transaction_key
    assert [i.leg_id[-2:] for i in _owed(bench, key)] == ["#2", "#1"]
    bench.deliver(bench.clock())
    assert _held(bench, "cups") == [] and _held(bench, "center-110000") == []


# -- two-step writes are one group -------------------------------------------------------------


def _approved_purchase(bench: Bench, source: str = "center-110000") -> tuple[Message, str]:
    purchase = bench.request(source, Kind.CONTRIBUTION_PAYMENT, "bank", amount=5000)
    run = bench.drive(bench.start(source, purchase), bench.peers())
    assert run.code == "00"
    bench.clock.advance(60)
    return purchase, _key(run)


def test_a_refund_record_and_its_owed_advice_are_one_group(bench):
    purchase, _ = _approved_purchase(bench)
    refund = bench.refund("center-110000", purchase, amount=5000)
    run = bench.drive(bench.start("center-110000", refund))
    assert run.code == "00"
    ((write, result),) = run.writes
    assert result.applied
    assert [type(op) for op in write.ops] == [InsertTransaction, InsertLeg, AddOwed]
    record, leg, item = (write.ops[0].record, write.ops[1].leg, write.ops[2].item)
    assert record.status is _T.APPROVED and record.kind == "refund"
    assert leg.kind is LegKind.ADVICE and leg.state is LegState.ADVICE_OWED
    assert item.kind is OwedKind.ADVICE and item.leg_id == leg.leg_id
    assert run.decisions.index(write) < run.decisions.index(
        next(d for d in run.decisions if isinstance(d, Reply))
    )


def test_a_refund_whose_group_fails_is_not_accepted_and_leaves_nothing(bench):
    purchase, _ = _approved_purchase(bench)
    refund = bench.refund("center-110000", purchase, amount=5000)
    bench.fail_writes = lambda write: True
    run = bench.drive(bench.start("center-110000", refund))
    assert run.code == "96"
    key = transaction_key(refund, "center-110000", "tx", bench.clock())
    assert bench.journal.get_transaction(key) is None and _owed(bench, key) == []
    # resent once the disk has room: accepted, one advice owed
    bench.fail_writes = lambda write: False
    again = bench.drive(bench.start("center-110000", refund.evolve(mti="0221")))
    assert again.code == "00" and len(_owed(bench, key)) == 1


def test_a_refund_resent_while_the_disk_is_full_is_answered_as_first_not_refused(bench):
    """Seed 17478 of the soak: the center missed the first 0230, resent the refund while
    the disk was full, was answered 96 and took the refund as refused, while the advice
    was owed and delivered."""
    purchase, _ = _approved_purchase(bench)
    refund = bench.refund("center-110000", purchase, amount=5000)
    first = bench.drive(bench.start("center-110000", refund))
    assert first.code == "00"
    bench.fail_writes = lambda write: True
    again = bench.drive(bench.start("center-110000", refund.evolve(mti="0221")))
    assert again.code == "00"
    key = transaction_key(refund, "center-110000", "tx", bench.clock())
    assert len(_owed(bench, key)) == 1


def test_a_request_resent_while_the_disk_is_full_gets_the_duplicate_code_not_a_decline(bench):
    purchase, key = _approved_purchase(bench)
    bench.fail_writes = lambda write: True
    again = bench.drive(bench.start("center-110000", purchase.evolve(mti="0201")))
    assert again.code == "94"
    assert bench.journal.get_transaction(key).status is _T.APPROVED


def test_a_refund_resent_after_a_crash_after_its_commit_is_answered_from_the_journal(bench):
    purchase, _ = _approved_purchase(bench)
    refund = bench.refund("center-110000", purchase, amount=5000)
    stepper = bench.stepper(bench.start("center-110000", refund))
    stepper.until(lambda d: isinstance(d, Wake))  # committed; the answer never left
    stepper.crash()
    run = bench.drive(bench.start("center-110000", refund.evolve(mti="0221")))
    assert run.code == "00"
    key = transaction_key(refund, "center-110000", "tx", bench.clock())
    assert len(_owed(bench, key)) == 1 and len(bench.journal.legs(key)) == 1


def test_a_bank_decline_and_the_home_leg_reversal_it_owes_are_one_group(bench):
    request = bench.settlement("center-310000", "center-110000", fund=40000, cash=2000)

    def answer(send: Send, now: datetime) -> Any:
        code = "51" if send.leg.destination == "cups" else "00"
        return bench.peers(code)(send, now)

    run = bench.drive(bench.start("center-310000", request), answer)
    assert run.code == "51"
    last, result = run.writes[-1]
    assert result.applied and last.must_land
    assert [type(op) for op in last.ops] == [UpdateLeg, UpdateTransaction, UpdateLeg, AddOwed]
    assert last.ops[1].status is _T.DECLINED
    assert last.ops[3].item.destination == "center-110000"
    bench.deliver(bench.clock())
    assert _held(bench, "center-110000") == []


# -- repeated reversals ------------------------------------------------------------------------


def test_a_resent_0421_whose_first_answer_was_25_is_answered_25_again(bench):
    never_seen = bench.request("center-110000", Kind.CONTRIBUTION_PAYMENT, "bank", amount=5000)
    reversal = bench.sims["center-110000"].reversal(never_seen)
    first = bench.drive(bench.start("center-110000", reversal))
    assert first.code == "25"
    bench.clock.advance(2)
    again = bench.drive(bench.start("center-110000", reversal.evolve(mti="0421")))
    assert again.code == "25"
    # the original, arriving after its reversal, is refused: never debited
    late = bench.drive(bench.start("center-110000", never_seen), bench.peers())
    assert late.code != "00" and late.sent == []
    assert bench.ledgers["cups"].entries() == []


def test_a_resent_0421_whose_first_was_accepted_is_answered_00_and_owes_nothing_new(bench):
    purchase, key = _approved_purchase(bench)
    reversal = bench.sims["center-110000"].reversal(purchase)
    assert bench.drive(bench.start("center-110000", reversal)).code == "00"
    (item,) = _owed(bench, key)
    for _ in range(3):
        bench.clock.advance(2)
        again = bench.drive(bench.start("center-110000", reversal.evolve(mti="0421")))
        assert again.code == "00"
    assert _owed(bench, key) == [item]


def test_a_0421_whose_first_never_came_is_a_reversal(bench):
    purchase, key = _approved_purchase(bench)
    reversal = bench.sims["center-110000"].reversal(purchase).evolve(mti="0421")
    assert bench.drive(bench.start("center-110000", reversal)).code == "00"
    assert bench.journal.get_transaction(key).status is _T.REVERSED
    assert len(_owed(bench, key)) == 1


# -- reversals built from the journaled leg ----------------------------------------------------


def _check_reversal_of(bench: Bench, leg: Any, reversal: Message) -> None:
    sent = _leg_message(bench, leg)
    dialect = bench.dialects[leg.destination]
    spec = dialect.spec
    assert reversal.mti == spec.reversal_mti == "0420"
    assert (
        reversal[90]
        == OriginalData.from_original(
            mti=sent.mti, stan=sent[11], f7=sent[7], f32=sent[32], f33=sent.fields.get(33) or None
        ).format()
    )
    assert OriginalData.parse(reversal[90]).mti == leg.mti == "0200"
    for number in spec.reversal_echo:
        if number in (7, 11):
            continue
        assert reversal.fields.get(number) == sent.fields.get(number), number
    assert reversal[11] != sent[11]  # a new transmission
    assert 52 not in reversal.fields and 53 not in reversal.fields


def test_a_reversal_is_built_from_the_leg_as_sent_not_from_the_request(bench):
    """A contribution payment: the center sent F3 500000; the bank leg carried 000000, MCC 9399."""
    request = bench.request("center-110000", Kind.CONTRIBUTION_PAYMENT, "bank", amount=5000)

    def lost(send: Send, now: datetime) -> Any:
        bench.ledgers["cups"].apply(send.message)
        return Unknown("deadline", now)

    run = bench.drive(bench.start("center-110000", request), lost)
    assert run.code == "68"
    (leg,) = bench.journal.legs(_key(run))
    (item,) = _owed(bench, leg.transaction_key)
    reversal = bench.cups.decode(item.payload)
    _check_reversal_of(bench, leg, reversal)
    assert request[3] == "500000" and reversal[3] == "000000"
    for number in (18, 22, 25, 41, 42, 49):
        assert reversal[number] == _leg_message(bench, leg)[number], number
    assert reversal[18] == "9399" and reversal[32] == reversal[33] == "48020000"
    ((_, _, verdict),) = bench.deliver(bench.clock())
    assert verdict == "done"
    assert bench.ledgers["cups"].statistics().reversals_applied == 1
    assert _held(bench, "cups") == []


def test_the_reversals_of_a_cross_region_settlement_follow_each_destinations_dialect(bench):
    request = bench.settlement("center-310000", "center-110000", fund=40000, cash=2000)

    def answer(send: Send, now: datetime) -> Any:
        outcome = bench.peers()(send, now)
        return outcome if send.leg.destination != "cups" else Unknown("deadline", now)

    run = bench.drive(bench.start("center-310000", request), answer)
    assert run.code == "68"
    legs = {leg.destination: leg for leg in bench.journal.legs(_key(run))}
    items = {i.destination: i for i in _owed(bench, _key(run))}
    home = bench.center.decode(items["center-110000"].payload)
    _check_reversal_of(bench, legs["center-110000"], home)
    bank = bench.cups.decode(items["cups"].payload)
    _check_reversal_of(bench, legs["cups"], bank)
    assert bank[4] == f"{2000:012d}" and home[4] == f"{42000:012d}"  # each as its leg carried
    assert home[58] == "110105" and home[61] == request[61]  # the center echo keeps its fields
    assert [i.destination for i in _owed(bench, _key(run))] == ["cups", "center-110000"]
    bench.deliver(bench.clock())
    for name in ("center-110000",):  # the switch never received its leg: 25, finished
        assert bench.ledgers[name].statistics().reversals_applied == 1
    assert bench.ledgers["cups"].statistics().reversals_refused == 0


# -- compensation paths ------------------------------------------------------------------------


def test_a_cross_region_settlements_reversal_reverses_the_home_leg_too_latest_first(bench):
    request = bench.settlement("center-310000", "center-110000", fund=40000, cash=2000)
    run = bench.drive(bench.start("center-310000", request), bench.peers())
    assert run.code == "00"
    key = _key(run)
    bench.clock.advance(30)
    reversal = bench.drive(
        bench.start("center-310000", bench.sims["center-310000"].reversal(request))
    )
    assert reversal.code == "00"
    ((write, _),) = reversal.writes
    owed = [op.item for op in write.ops if isinstance(op, AddOwed)]
    assert [(i.destination, i.leg_id[-2:]) for i in owed] == [
        ("cups", "#2"),
        ("center-110000", "#1"),
    ]
    assert [i.id for i in _owed(bench, key)] == [i.id for i in owed]
    assert reversal.woken == {"cups", "center-110000"}
    bench.deliver(bench.clock())
    assert _held(bench, "cups") == [] and _held(bench, "center-110000") == []
    for name in ("cups", "center-110000"):
        assert bench.ledgers[name].statistics().reversals_applied == 1
    assert bench.journal.get_transaction(key).status is _T.REVERSED


@pytest.mark.parametrize("mti", ["0420", "0421"])
def test_a_cups_reversal_for_a_transaction_forwarded_to_a_home_center_is_owed_to_it(bench, mti):
    purchase = bench.purchase("center-310000", amount=1500)
    run = bench.drive(bench.start("cups", purchase), bench.peers())
    assert run.code == "00" and run.sent[0].leg.destination == "center-310000"
    key = _key(run)
    reversal = bench.cups_reversal(purchase).evolve(mti=mti)
    answered = bench.drive(bench.start("cups", reversal))
    assert answered.code == "00" and answered.replies[0].mti[:3] == "043"
    (item,) = _owed(bench, key)
    assert item.kind is OwedKind.REVERSAL and item.destination == "center-310000"
    (leg,) = bench.journal.legs(key)
    _check_reversal_of(bench, leg, bench.center.decode(item.payload))
    bench.deliver(bench.clock())
    assert _held(bench, "center-310000") == []
    assert bench.journal.get_transaction(key).status is _T.REVERSED


def test_a_cups_reversal_of_a_purchase_still_at_the_home_center_is_owed_to_it(bench):
    purchase = bench.purchase("center-310000", amount=1500)
    original = bench.stepper(bench.start("cups", purchase), bench.peers())
    original.until(_is_send)
    run = bench.drive(bench.start("cups", bench.cups_reversal(purchase)))
    assert run.code == "00"
    original.finish()
    key = original.run.sent[0].leg.transaction_key
    assert bench.journal.get_transaction(key).status is _T.REVERSED
    (item,) = _owed(bench, key)
    assert item.destination == "center-310000"
    bench.deliver(bench.clock())
    assert _held(bench, "center-310000") == []


def _cups_refund(bench: Bench, purchase: Message, mti: str) -> Message:
    data = OriginalData.from_original(
        mti=purchase.mti, stan=purchase[11], f7=purchase[7], f32=purchase[32], f33=purchase[33]
    ).format()
    refund = bench.purchase("center-310000", amount=1500, mti=mti)
    return refund.with_fields({3: "200000", 90: data})


@pytest.mark.parametrize("mti", ["0220", "0221"])
def test_a_cups_advice_is_handled_whether_0220_or_its_repeat_0221(bench, mti):
    purchase = bench.purchase("center-310000", amount=1500)
    assert bench.drive(bench.start("cups", purchase), bench.peers()).code == "00"
    bench.clock.advance(60)
    refund = _cups_refund(bench, purchase, mti)
    run = bench.drive(bench.start("cups", refund))
    assert run.code == "00" and run.replies[0].mti[:3] == "023"
    key = transaction_key(refund, "cups", "tx", bench.clock())
    (leg,) = bench.journal.legs(key)
    assert leg.kind is LegKind.ADVICE and leg.destination == "center-310000"
    (item,) = _owed(bench, key)
    advice = bench.center.decode(item.payload)
    assert advice.mti == "0220" and advice[3] == "200000"
    (purchase_leg,) = bench.journal.legs(transaction_key(purchase, "cups", "tx", bench.clock()))
    sent = _leg_message(bench, purchase_leg)
    assert OriginalData.parse(advice[90]) == OriginalData.from_original(
        mti=sent.mti, stan=sent[11], f7=sent[7], f32=sent[32], f33=sent.fields.get(33) or None
    )
    ((_, _, verdict),) = bench.deliver(bench.clock())
    assert verdict == "done"
    assert bench.ledgers["center-310000"].statistics().advices_applied == 1


@pytest.mark.parametrize("source", ["cups", "center-110000"])
def test_an_advice_is_delivered_again_until_acknowledged_never_reversed(bench, source):
    if source == "cups":
        purchase = bench.purchase("center-310000", amount=1500)
        assert bench.drive(bench.start("cups", purchase), bench.peers()).code == "00"
        bench.clock.advance(60)
        advice = _cups_refund(bench, purchase, "0220")
    else:
        purchase, _ = _approved_purchase(bench)
        advice = bench.refund(source, purchase, amount=5000)
    assert bench.drive(bench.start(source, advice)).code == "00"
    key = transaction_key(advice, source, "tx", bench.clock())
    (leg,) = bench.journal.legs(key)
    mtis = []
    for answer in (None, None, "96", None):  # the destination does not answer, or fails
        bench.clock.advance(3600)
        ((_, message, verdict),) = bench.deliver(bench.clock(), lambda i, m, a=answer: a)
        mtis.append(message.mti)
        assert verdict == "retry"
        assert bench.journal.legs(key)[0].state is LegState.ADVICE_OWED
    assert mtis == ["0220", "0221", "0221", "0221"]
    bench.clock.advance(3600)
    ((_, message, verdict),) = bench.deliver(bench.clock())
    assert message.mti == "0221" and verdict == "done"
    assert bench.journal.legs(key)[0].state is LegState.ADVISED
    items = _owed(bench, key, None)
    assert [i.kind for i in items] == [OwedKind.ADVICE]  # never a reversal
    assert bench.ledgers[leg.destination].statistics().advices_applied == 1


def test_a_refund_advice_carries_f90_of_the_original_leg_as_the_switch_received_it(bench):
    purchase, original_key = _approved_purchase(bench)
    refund = bench.refund("center-110000", purchase, amount=5000)
    assert bench.drive(bench.start("center-110000", refund)).code == "00"
    key = transaction_key(refund, "center-110000", "tx", bench.clock())
    (item,) = _owed(bench, key)
    advice = bench.cups.decode(item.payload)
    (original_leg,) = bench.journal.legs(original_key)
    sent = _leg_message(bench, original_leg)
    assert advice.mti == "0220" and advice[3] == "200000"
    expected = OriginalData.from_original(
        mti=sent.mti, stan=sent[11], f7=sent[7], f32=sent[32], f33=sent[33]
    ).format()
    assert advice[90] == expected != refund[90]  # the leg's identity, not the center's request
    ((_, _, verdict),) = bench.deliver(bench.clock())
    assert verdict == "done"
    assert bench.ledgers["cups"].statistics().advices_applied == 1


def test_a_refund_of_an_original_never_approved_is_refused(bench):
    purchase = bench.request("center-110000", Kind.CONTRIBUTION_PAYMENT, "bank", amount=5000)
    assert bench.drive(bench.start("center-110000", purchase), bench.peers("51")).code == "51"
    refund = bench.refund("center-110000", purchase, amount=5000)
    run = bench.drive(bench.start("center-110000", refund))
    assert run.code == "25"
    key = transaction_key(refund, "center-110000", "tx", bench.clock())
    assert _owed(bench, key) == []


# -- a duplicate answer says nothing of the leg ------------------------------------------------


@pytest.mark.parametrize("home", ["bank", "center-310000"])
def test_a_leg_answered_94_counts_as_unknown_and_its_reversal_is_owed(bench, home):
    request = bench.request("center-110000", Kind.CONTRIBUTION_PAYMENT, home, amount=5000)

    def duplicate(send: Send, now: datetime) -> Any:
        bench.ledgers[send.leg.destination].apply(send.message)  # the first one was approved
        return Answered(send.message.response_to("94"), now)

    run = bench.drive(bench.start("center-110000", request), duplicate)
    assert run.code == "68"  # the center's "too late", not a decline
    key = _key(run)
    assert bench.journal.get_transaction(key).status is _T.TIMED_OUT
    (leg,) = bench.journal.legs(key)
    assert leg.state is LegState.REVERSAL_OWED
    (item,) = _owed(bench, key)
    assert item.kind is OwedKind.REVERSAL and item.destination == leg.destination
    bench.deliver(bench.clock())
    assert _held(bench, leg.destination) == []


def test_the_dialects_declare_94_an_unknown_outcome(bench):
    assert "94" in bench.cups.spec.unknown_outcome
    assert "94" in bench.center.spec.unknown_outcome


# -- what must land, lands ---------------------------------------------------------------------


def test_the_write_after_an_answer_must_land(bench):
    request = bench.settlement("center-310000", "center-110000", fund=40000, cash=2000)
    run = bench.drive(bench.start("center-310000", request), bench.peers())
    writes = [w for w, _ in run.writes]
    after_send = [w for w in writes if run.decisions.index(w) > run.decisions.index(run.sent[0])]
    assert after_send and all(w.must_land for w in after_send)


async def test_a_full_disk_after_an_answer_delays_the_answer_and_loses_nothing(
    bench, tmp_path, autojump_clock
):
    """The journal refuses writes from the moment the leg is answered for 30 s: the executor
    retries the outcome's write until it lands, then answers."""
    from sscard_gateway.gateway._executor import Executor, Ticket
    from sscard_gateway.store import open_batching_journal
    from sscard_gateway.testing._faulty_journal import FaultyJournal

    full_until = [0.0]
    journal = FaultyJournal(bench.journal, disk_full=lambda: trio.current_time() < full_until[0])

    class Link:
        async def request(self, message: Message, *, timeout: float) -> Message:
            await trio.sleep(1)
            response = bench.ledgers["cups"].apply(message).response(message)
            full_until[0] = trio.current_time() + 30
            return response

    request = bench.request("center-110000", Kind.BENEFIT_PAYOUT, "bank", amount=8800)
    async with open_batching_journal(journal, threads=False) as batching:
        executor = Executor(
            batching,
            links=lambda name: Link(),  # type: ignore[arg-type,return-value]
            wake=lambda names: None,
            clock=bench.clock,
            on_reply=lambda kind, code: None,
        )
        ticket = Ticket()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(executor.drive, bench.start("center-110000", request), ticket)
            started = trio.current_time()
            answer = await ticket.wait()
            ticket.sent(True)
        assert answer[39] == "00" and trio.current_time() - started >= 30
        assert executor.counts["write_retries"] > 0
    key = transaction_key(request, "center-110000", "tx", bench.clock())
    assert bench.journal.get_transaction(key).status is _T.APPROVED
    assert [leg.state for leg in bench.journal.legs(key)] == [LegState.ANSWERED]


# -- sagas racing one another on one transaction -----------------------------------------------


def test_a_reversal_that_read_the_legs_before_the_bank_leg_was_journaled_still_reverses_it(bench):
    """The reversal reads the legs (home leg only), the bank leg is journaled, then the reversal
    commits: the bank leg, answered later, finds its transaction reversed and owes its own
    reversal. Nothing is held anywhere; nothing is reversed twice."""
    request = bench.settlement("center-310000", "center-110000", fund=40000, cash=2000)
    original = bench.stepper(bench.start("center-310000", request), bench.peers())
    original.until(lambda d: isinstance(d, Write) and any(
        isinstance(op, InsertLeg) and op.leg.step == 2 for op in d.ops))  # fmt: skip
    reversal = bench.stepper(
        bench.start("center-310000", bench.sims["center-310000"].reversal(request))
    )
    reversal.until(lambda d: isinstance(d, Write))  # it has read the legs
    original.step()  # the bank leg is journaled as sent
    assert reversal.finish().code == "00"
    assert original.finish().code != "00"
    key = original.run.sent[0].leg.transaction_key
    assert bench.journal.get_transaction(key).status is _T.REVERSED
    assert sorted(i.leg_id[-2:] for i in _owed(bench, key)) == ["#1", "#2"]
    bench.deliver(bench.clock())
    assert _held(bench, "cups") == [] and _held(bench, "center-110000") == []
    for name in ("cups", "center-110000"):
        assert bench.ledgers[name].statistics().reversals_applied == 1


@pytest.mark.parametrize("first", ["reversal", "undeliverable"])
def test_an_undeliverable_approval_and_a_reversal_racing_owe_one_reversal_per_leg(bench, first):
    request = bench.settlement("center-310000", "center-110000", fund=40000, cash=2000)
    original = bench.stepper(bench.start("center-310000", request), bench.peers(), delivered=False)
    original.until(lambda d: isinstance(d, Read))  # approved, answered, the answer went nowhere
    reversal = bench.stepper(
        bench.start("center-310000", bench.sims["center-310000"].reversal(request))
    )
    reversal.until(lambda d: isinstance(d, Write))  # it read the transaction approved
    if first == "reversal":
        reversal.finish()
        original.finish()
    else:
        original.finish()
        reversal.finish()
    assert reversal.run.code == "00"
    key = original.run.sent[0].leg.transaction_key
    owed = _owed(bench, key)
    assert sorted(i.leg_id[-2:] for i in owed) == ["#1", "#2"]  # once each, never twice
    expected = _T.REVERSED if first == "reversal" else _T.TIMED_OUT
    assert bench.journal.get_transaction(key).status is expected
    bench.deliver(bench.clock())
    assert _held(bench, "cups") == [] and _held(bench, "center-110000") == []


def test_two_different_reversals_of_one_original_racing_owe_one_reversal(bench):
    purchase, key = _approved_purchase(bench)
    sim = bench.sims["center-110000"]
    first = bench.stepper(bench.start("center-110000", sim.reversal(purchase)))
    second = bench.stepper(bench.start("center-110000", sim.reversal(purchase)))
    first.until(lambda d: isinstance(d, Write))
    second.until(lambda d: isinstance(d, Write))  # both read the original approved
    assert first.finish().code == "00"
    assert second.finish().code == "00"
    assert len(_owed(bench, key)) == 1
    assert bench.engine.counts["refused"] == 1  # the second's first try, re-read and retried
    bench.deliver(bench.clock())
    assert bench.ledgers["cups"].statistics().reversals_applied == 1
