"""Faults end to end: silence and reversal, restart with reversals owed, bad MAC, bad frames."""

from datetime import datetime

import trio

from sscard_gateway.engine import transaction_key
from sscard_gateway.ids import AmountSplit
from sscard_gateway.iso import FrameDecoder, load_dialect
from sscard_gateway.sim import Action, Decision, Kind, Rule
from sscard_gateway.sim.lab import acquirer_purchase
from sscard_gateway.store import OwedStatus, TransactionStatus

SILENT = Rule(mti=("02", "04"), decision=Decision(action=Action.SILENT))


def key(request):
    return transaction_key(request, "center-110000", "tx", datetime.now())


async def wait_for(predicate, seconds=5.0):
    with trio.fail_after(seconds):
        while not predicate():
            await trio.sleep(0.01)


async def test_silence_gives_68_and_a_reversal_delivered_when_the_switch_answers(world):
    world.switch.rules = world.switch.rules.with_rule(SILENT)
    request = world.sims["center-110000"].build(
        Kind.BENEFIT_PAYOUT, world.cards["center-110000"], amount=8800
    )
    response = await world.links["center-110000"].request(request, timeout=5)
    assert response[39] == "68"
    record = world.journal.get_transaction(key(request))
    assert record.status is TransactionStatus.TIMED_OUT
    owed = world.journal.owed_items(transaction_key=key(request))
    assert len(owed) == 1 and owed[0].status is OwedStatus.OWED
    # the switch answers again: the reversal (0420, then 0421 on resends) is delivered
    world.switch.rules = type(world.switch.rules)()
    await wait_for(
        lambda: world.journal.owed_items(status=OwedStatus.DONE, transaction_key=key(request))
    )
    reversals = [m for m in world.switch.recent if m.mti in ("0420", "0421")]
    assert reversals and reversals[-1][90][4:10] == record.upstream_stan
    done = world.journal.owed_items(status=OwedStatus.DONE, transaction_key=key(request))[0]
    assert done.last_response_code in ("00", "25")


async def test_restart_with_reversals_owed_delivers_them(world, tmp_path):
    world.switch.rules = world.switch.rules.with_rule(SILENT)
    request = world.sims["center-110000"].build(
        Kind.CONTRIBUTION_PAYMENT, world.cards["center-110000"], amount=777
    )
    assert (await world.links["center-110000"].request(request, timeout=5))[39] == "68"
    assert world.journal.owed_items(transaction_key=key(request))
    world.switch.rules = type(world.switch.rules)()
    await world.restart_gateway()  # stops with a reversal owed; a new gateway, same journal
    await wait_for(
        lambda: world.journal.owed_items(status=OwedStatus.DONE, transaction_key=key(request))
    )
    assert any(m.mti in ("0420", "0421") for m in world.switch.recent)


async def raw_client(port):
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    center = load_dialect("center")
    decoder = FrameDecoder(center.spec.prefix, max_length=center.spec.max_length)

    async def exchange(frame):
        await stream.send_all(frame)
        with trio.fail_after(5):
            while True:
                payload = decoder.next_frame()
                if payload is not None:
                    return center.decode_payload(payload)
                decoder.receive_data(await stream.receive_some(65536))

    sign_on = center.message("0820", {7: "1126101010", 11: "900001", 32: "11010500", 70: "001"})
    assert (await exchange(center.encode(sign_on)))[39] == "00"
    return stream, exchange


async def test_bad_mac_gives_a0_and_nothing_reaches_the_switch(world):
    center = load_dialect("center")
    stream, exchange = await raw_client(world.gateway.ports["center-110000"])
    request = world.sims["center-110000"].build(
        Kind.BENEFIT_PAYOUT, world.cards["center-110000"], amount=100
    )
    before = world.switch.statistics().requests
    response = await exchange(center.encode(request, mac=lambda block: b"\x00" * 8))
    assert response[39] == "A0"
    assert world.switch.statistics().requests == before
    await stream.aclose()


async def test_malformed_frame_gives_30_and_the_link_stays_up(world):
    center = load_dialect("center")
    stream, exchange = await raw_client(world.gateway.ports["center-110000"])
    request = world.sims["center-110000"].build(Kind.BALANCE_INQUIRY, world.cards["center-110000"])
    frame = bytearray(center.encode(request, mac=lambda block: b"\x00" * 8))
    at = frame.index(b"300000")  # field 3
    frame[at] = ord("X")
    response = await exchange(bytes(frame))
    assert response.mti == "0210" and response[39] == "30"
    # the same connection still carries traffic
    sign_on = center.message("0820", {7: "1126101011", 11: "900002", 32: "11010500", 70: "301"})
    assert (await exchange(center.encode(sign_on)))[39] == "00"
    await stream.aclose()
    # and the regular link is unaffected
    ok = world.sims["center-110000"].build(Kind.BALANCE_INQUIRY, world.cards["center-110000"])
    assert (await world.links["center-110000"].request(ok, timeout=5))[39] == "00"


async def test_center_reversal_is_answered_and_delivered_upstream(world):
    sim = world.sims["center-110000"]
    original = sim.build(
        Kind.MEDICAL_SETTLEMENT,
        world.cards["center-110000"],
        split=AmountSplit.from_parts(fund=100, personal_account=0, cash=900),
    )
    assert (await world.links["center-110000"].request(original, timeout=5))[39] == "00"
    reversal = sim.reversal(original)
    response = await world.links["center-110000"].request(reversal, timeout=5)
    assert response.mti == "0430" and response[39] == "00"
    await wait_for(lambda: any(r.reversed for r in world.switch.records.values()))
    assert world.journal.get_transaction(key(original)).status is TransactionStatus.REVERSED


async def test_cross_region_settlement_goes_to_the_home_center(world):
    shanghai = world.sims["center-310000"]
    beijing_card = world.cards["center-110000"]
    request = shanghai.build(
        Kind.MEDICAL_SETTLEMENT,
        beijing_card,
        split=AmountSplit.from_parts(fund=40000, personal_account=0, cash=2000),
    )
    assert request[58] == "110105" and request[59] == "310104"
    response = await world.links["center-310000"].request(request, timeout=5)
    assert response[39] == "00"
    seen = [m for name, m in world.seen if name == "center-110000"]
    assert seen and seen[-1][58] == "110105" and seen[-1][4] == request[4]
    assert world.switch.recent[-1][4] == f"{2000:012d}"  # then the cash part to CUPS


async def test_cross_region_declined_by_the_bank_reverses_the_home_leg(world):
    world.switch.rules = world.switch.rules.with_rule(
        Rule(mti=("02",), decision=Decision(response_code="51"))
    )
    request = world.sims["center-310000"].build(
        Kind.MEDICAL_SETTLEMENT,
        world.cards["center-110000"],
        split=AmountSplit.from_parts(fund=40000, personal_account=0, cash=2000),
    )
    response = await world.links["center-310000"].request(request, timeout=5)
    assert response[39] == "51"
    await wait_for(
        lambda: any(m.mti in ("0420", "0421") for name, m in world.seen if name == "center-110000")
    )


async def test_cups_originated_request_is_answered_by_the_home_center(world):
    card = world.cards["center-310000"]
    request = acquirer_purchase(card.pan, 1500, stan="345678", now="1126101530")
    link = world.switch.links[0]
    response = await link.request(request, timeout=5)
    assert response.mti == "0210" and response[39] == "00"
    seen = [m for name, m in world.seen if name == "center-310000"]
    assert seen and seen[-1][2] == card.pan
