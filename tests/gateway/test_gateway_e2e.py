"""End to end over loopback: two centers -> gateway -> switch simulator (issue 5)."""

from datetime import datetime

import pytest
import trio

from sscard_gateway.clearing import Cutover
from sscard_gateway.engine import transaction_key
from sscard_gateway.ids import AmountSplit
from sscard_gateway.iso import load_dialect
from sscard_gateway.sim import Decision, Kind, Rule
from sscard_gateway.store import TransactionStatus

SPLIT = AmountSplit.from_parts(fund=32000, personal_account=10000, cash=8000)


async def send(world, center, message, timeout=5):
    return await world.links[center].request(message, timeout=timeout)


def record_for(world, center, request):
    return world.journal.get_transaction(transaction_key(request, center, "tx", datetime.now()))


async def wait_for(predicate, seconds=5.0):
    with trio.fail_after(seconds):
        while not predicate():
            await trio.sleep(0.01)


@pytest.mark.parametrize(
    ("kind", "kwargs", "cups_amount"),
    [
        (Kind.MEDICAL_SETTLEMENT, {"split": SPLIT}, 8000),
        (Kind.BENEFIT_PAYOUT, {"amount": 250000, "insurance": "pension"}, 250000),
        (Kind.BENEFIT_PAYOUT, {"amount": 120000, "insurance": "unemployment"}, 120000),
        (Kind.BENEFIT_PAYOUT, {"amount": 90000, "insurance": "maternity"}, 90000),
        (Kind.BENEFIT_PAYOUT, {"amount": 70000, "insurance": "work_injury"}, 70000),
        (Kind.CONTRIBUTION_PAYMENT, {"amount": 45600, "insurance": "pension"}, 45600),
        (Kind.BALANCE_INQUIRY, {}, None),
    ],
)
async def test_every_kind_approved_through_the_switch(world, kind, kwargs, cups_amount):
    request = world.sims["center-110000"].build(kind, world.cards["center-110000"], **kwargs)
    response = await send(world, "center-110000", request)
    assert response[39] == "00"
    assert response[11] == request[11] and response[7] == request[7]
    seen = world.switch.recent[-1]
    assert seen[2] == request[2]
    assert seen[32] == "48020000"  # the gateway's institution code
    if cups_amount is not None:
        assert int(seen[4]) == cups_amount
    record = record_for(world, "center-110000", request)
    assert record.status is TransactionStatus.APPROVED
    assert record.pan_masked.startswith("622588") and "*" in record.pan_masked
    assert record.destination == "cups"


async def test_pin_is_translated_to_the_switch_key(world):
    request = world.sims["center-110000"].build(
        Kind.CONTRIBUTION_PAYMENT, world.cards["center-110000"], amount=100
    )
    await send(world, "center-110000", request)
    seen = world.switch.recent[-1]
    assert seen[52] != request[52]
    # format 0 is deterministic: translating back under the center's key gives its block
    back = world.hsm.translate_pin(
        seen[52], request[2], "cups.zpk", "iso0", "center-110000.zpk", "iso0"
    )
    assert back == request[52]


@pytest.mark.parametrize(
    ("rule", "code"),
    [
        (Rule(amount_over=100000, decision=Decision(response_code="51")), "51"),
        (Rule(mti=("02",), decision=Decision(response_code="05")), "05"),
        (Rule(mti=("02",), decision=Decision(response_code="61")), "51"),  # mapped for centers
    ],
)
async def test_declines_are_answered_and_journaled(world, rule, code):
    world.switch.rules = world.switch.rules.with_rule(rule)
    request = world.sims["center-110000"].build(
        Kind.BENEFIT_PAYOUT, world.cards["center-110000"], amount=150000
    )
    response = await send(world, "center-110000", request)
    assert response[39] == code
    assert record_for(world, "center-110000", request).status is TransactionStatus.DECLINED


async def test_decline_by_card(world):
    card = world.cards["center-110000"]
    world.switch.rules = world.switch.rules.with_rule(
        Rule(pan_suffixes=(card.pan[-4:],), decision=Decision(response_code="14"))
    )
    request = world.sims["center-110000"].build(Kind.CONTRIBUTION_PAYMENT, card, amount=300)
    assert (await send(world, "center-110000", request))[39] == "14"


async def test_medical_settlement_without_cash_has_no_bank_leg(world):
    split = AmountSplit.from_parts(fund=30000, personal_account=5000, cash=0)
    request = world.sims["center-110000"].build(
        Kind.MEDICAL_SETTLEMENT, world.cards["center-110000"], split=split
    )
    before = world.switch.statistics().requests
    response = await send(world, "center-110000", request)
    assert response[39] == "00"
    assert world.switch.statistics().requests == before
    record = record_for(world, "center-110000", request)
    assert (record.amount.fund, record.amount.personal_account, record.amount.cash) == (
        30000,
        5000,
        0,
    )
    assert (record.home_region, record.treating_region, record.insurance_kind) == (
        "110105",
        "110105",
        "310",
    )


async def test_duplicate_gives_94_without_forwarding(world):
    request = world.sims["center-110000"].build(
        Kind.BENEFIT_PAYOUT, world.cards["center-110000"], amount=500
    )
    assert (await send(world, "center-110000", request))[39] == "00"
    before = world.switch.statistics().requests
    again = await send(world, "center-110000", request.evolve())
    assert again[39] == "94"
    assert world.switch.statistics().requests == before


async def test_business_checks_answer_without_forwarding(world):
    request = world.sims["center-110000"].build(
        Kind.MEDICAL_SETTLEMENT, world.cards["center-110000"], split=SPLIT
    )
    before = world.switch.statistics().requests
    bad_split = request.with_fields({4: "000000050001"})
    assert (await send(world, "center-110000", bad_split))[39] == "13"
    bad_ssn = (
        world.sims["center-110000"]
        .build(Kind.BALANCE_INQUIRY, world.cards["center-110000"])
        .with_fields({56: "110105194912310021"})
    )
    assert (await send(world, "center-110000", bad_ssn))[39] == "30"
    assert world.switch.statistics().requests == before


async def test_card_of_no_center_goes_to_the_default_route(world):
    card = world.cards["center-110000"]
    from sscard_gateway.ids import luhn_check_digit

    body = "999999000000000"
    other = type(card)(
        pan=body + luhn_check_digit(body),
        ssn=card.ssn,
        card_number=card.card_number,
        home_region="110105",
    )
    request = world.sims["center-110000"].build(Kind.BALANCE_INQUIRY, other)
    # a card of no configured BIN and no home center goes to the default route (CUPS)
    response = await send(world, "center-110000", request)
    assert response[39] == "00"


async def test_refund_advice_is_accepted_then_delivered_by_store_and_forward(world):
    request = world.sims["center-110000"].build(
        Kind.REFUND, world.cards["center-110000"], amount=1200
    )
    assert request.mti == "0220"
    response = await send(world, "center-110000", request)
    assert response.mti == "0230" and response[39] == "00"
    await wait_for(lambda: any(m.mti in ("0220", "0221") for m in world.switch.recent))
    advice = [m for m in world.switch.recent if m.mti in ("0220", "0221")][-1]
    assert advice[3] == "200000" and int(advice[4]) == 1200


async def test_duplicate_is_detected_across_a_restart(world):
    request = world.sims["center-110000"].build(
        Kind.BENEFIT_PAYOUT, world.cards["center-110000"], amount=4242
    )
    assert (await send(world, "center-110000", request))[39] == "00"
    await world.restart_gateway()
    with trio.fail_after(5):
        await world.links["center-110000"].wait_ready()
    before = world.switch.statistics().requests
    assert (await send(world, "center-110000", request.evolve()))[39] == "94"
    assert world.switch.statistics().requests == before


async def test_pin_goes_to_cups_as_an_sm4_block_where_configured(world):
    await world.restart_gateway(pin_format="sm4")
    with trio.fail_after(5):
        await world.links["center-110000"].wait_ready()
    request = world.sims["center-110000"].build(
        Kind.CONTRIBUTION_PAYMENT, world.cards["center-110000"], amount=250
    )
    assert (await send(world, "center-110000", request))[39] == "00"
    seen = world.switch.recent[-1]
    assert 52 not in seen
    assert seen[63].startswith("SM") and len(seen[63]) == 2 + 32
    assert seen[53] == "2700000000000000"  # the dialect's SM4 control value [assumed]
    back = world.hsm.translate_pin(
        bytes.fromhex(seen[63][2:]),
        request[2],
        "cups.zpk.sm4",
        "sm4",
        "center-110000.zpk",
        "iso0",
    )
    assert back == request[52]


async def test_switch_cutover_messages_are_answered_and_applied(world):
    cups = load_dialect("cups")
    now = datetime.now()
    begin = cups.message(
        "0820",
        {7: now.strftime("%m%d%H%M%S"), 11: "880001", 33: "00010000", 70: "201"},
        header=cups.default_header(),
    )
    response = await world.switch.links[0].request(begin, timeout=5)
    assert response.mti == "0830" and response[39] == "00"
    # the gateway applied it exactly as a fresh cutover at the configured time would
    expected = Cutover(world.gateway.config.cutover_at).on_cutover_begin(datetime.now())
    state = world.gateway.cutover.state()
    assert (state.last_begin is not None) == expected.accepted
    assert state.in_progress == expected.accepted


async def test_a_cutover_the_switch_moved_survives_a_restart(world):
    cups = load_dialect("cups")
    early = datetime(2024, 11, 26, 22, 55)  # five minutes before the configured 23:00
    world.gateway._clock = lambda: early
    begin = cups.message(
        "0820",
        {7: early.strftime("%m%d%H%M%S"), 11: "880002", 33: "00010000", 70: "201"},
        header=cups.default_header(),
    )
    response = await world.switch.links[0].request(begin, timeout=5)
    assert response[39] == "00"
    assert world.gateway.cutover.state().moved == {"20241126": early}
    assert world.journal.setting("cutover.moved") == world.gateway.cutover.saved()
    await world.restart_gateway()
    restored = world.gateway.cutover
    assert restored.state().moved == {"20241126": early}
    assert restored.settlement_date(datetime(2024, 11, 26, 22, 56)) == "20241127"
