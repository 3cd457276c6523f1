"""--role center: the center responder passes; a responder that misbehaves fails."""

import pytest

from sscard_gateway.conformance import (
    CenterResponder,
    KitKeys,
    Outcome,
    Peer,
    RunSettings,
    load_cases,
    run_cases,
)
from sscard_gateway.link import LinkKeys

KEYS = LinkKeys(mac_key="center-110000.zak", pin_key="center-110000.zpk",
                kek="center-110000.zmk")  # fmt: skip


@pytest.fixture
async def responder(keystore, nursery):
    async def start(keys=KEYS, **options):
        center = CenterResponder(security=keystore.hsm, keys=keys, **options)
        port = await nursery.start(center.serve)
        return center, Peer("127.0.0.1", port)

    return start


async def kit(peer, keystore):
    return await run_cases(load_cases(), peer, "center", None, keystore.hsm,
                           KitKeys(kek="center-110000.zmk"),
                           settings=RunSettings(timeout=3.0))  # fmt: skip


async def test_center_responder_passes_the_center_role(responder, keystore):
    center, peer = await responder()
    report = await kit(peer, keystore)
    live = {r.case_id: r.outcome for r in report.results if r.kind == "live"}
    assert "center.upstream-timeout" not in live  # a gateway-only case
    assert set(live.values()) == {Outcome.PASSED}, report.text()
    assert len(live) == 8
    assert center.answered["94"] == 1 and center.answered["51"] == 1
    assert report.ok and report.dialect == "center"


async def test_a_center_approving_everything_fails_decline(responder, keystore):
    _, peer = await responder(decline_over=None)
    report = await kit(peer, keystore)
    result = report.result("center.decline")
    assert result.outcome is Outcome.FAILED
    assert result.reason == "step 'payout': field 39: expected none of ['00'], got '00'"
    assert not report.ok


async def test_a_center_with_another_mac_key_answers_a0_and_fails(responder, keystore):
    # the kit MACs under center-110000.zak; this center holds center-310000's key
    _, peer = await responder(keys=LinkKeys(mac_key="center-310000.zak"))
    cases = [c for c in load_cases() if c.id in ("center.approve", "center.echo")]
    report = await run_cases(cases, peer, "center", None, keystore.hsm)
    assert report.result("center.echo").outcome is Outcome.PASSED  # network: no MAC
    result = report.result("center.approve")
    assert result.outcome is Outcome.FAILED
    assert "expected one of ['00'], got 'A0'" in result.reason
