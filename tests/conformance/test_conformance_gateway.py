"""--role gateway: our gateway (in the lab) passes; without a hook the timeout case says why not."""

import attrs
import pytest
import trio

from sscard_gateway.conformance import (
    KitKeys,
    Outcome,
    Peer,
    RunSettings,
    SwitchSimulatorControl,
    load_cases,
    run_cases,
)
from sscard_gateway.crypto import Algorithm, KeyUsage
from sscard_gateway.gateway import Gateway
from sscard_gateway.link import LinkKeys
from sscard_gateway.sim import Decision, Rule, SwitchSimulator
from sscard_gateway.sim.lab import lab_config, lab_security, open_lab
from sscard_gateway.store import OwedStatus, SQLiteJournal

DECLINE = Rule(amount_over=10_000_000, decision=Decision(response_code="51"))


@pytest.fixture
async def lab(tmp_path):
    async with open_lab(tmp_path, timeout=0.5) as lab:
        lab.switch.rules = lab.switch.rules.with_rule(DECLINE)
        yield lab


def gateway_cases(*ids):
    cases = [c for c in load_cases() if c.id.startswith("center.")]
    return [c for c in cases if c.id in ids] if ids else cases


async def test_our_gateway_passes_the_gateway_role(lab):
    peer = Peer("127.0.0.1", lab.gateway.ports["center-110000"])
    with trio.fail_after(40):
        report = await run_cases(
            gateway_cases(),
            peer,
            "gateway",
            security=lab.hsm,
            settings=RunSettings(timeout=5.0, reversal_timeout=10.0),
            control=SwitchSimulatorControl(lab.switch),
        )
    outcomes = {r.case_id: r.outcome for r in report.results}
    assert outcomes.pop("center.key-exchange-pin") is Outcome.NOT_APPLICABLE  # the lab has no ZMK
    assert set(outcomes.values()) == {Outcome.PASSED}, report.text()
    assert len(outcomes) == 8
    timeout = report.result("center.upstream-timeout")
    assert any("F39=68" in line for line in timeout.log)
    assert any("upstream received the reversal" in line for line in timeout.log)
    # the gateway journaled the reversal it owed and delivered it
    assert lab.journal.owed_items(status=OwedStatus.DONE)
    assert report.ok


async def test_without_an_upstream_hook_the_timeout_case_is_not_applicable(lab):
    peer = Peer("127.0.0.1", lab.gateway.ports["center-110000"])
    report = await run_cases(gateway_cases("center.upstream-timeout"), peer, "gateway",
                             security=lab.hsm)  # fmt: skip
    result = report.result("center.upstream-timeout")
    assert result.outcome is Outcome.NOT_APPLICABLE
    assert "cannot make the peer's upstream stay silent" in result.reason
    assert "000000077700" in result.reason  # the amount to configure


async def test_operator_configured_silence_notes_the_unobservable_reversal(lab):
    peer = Peer("127.0.0.1", lab.gateway.ports["center-110000"])
    lab.switch.rules = lab.switch.rules.with_rule(
        Rule(amount_over=77_699, mti=("02",), decision=Decision(response_code="00", delay=3.0))
    )
    settings = RunSettings(assume_silent_upstream=True, timeout=5.0)
    report = await run_cases(gateway_cases("center.upstream-timeout"), peer, "gateway",
                             security=lab.hsm, settings=settings)  # fmt: skip
    result = report.result("center.upstream-timeout")
    assert result.outcome is Outcome.PASSED, report.text()
    assert any("cannot see the upstream" in line for line in result.log)


async def test_a_gateway_whose_upstream_answers_fails_the_timeout_case(lab):
    # the hook claims silence but the switch keeps answering: 00 instead of 68
    class Deaf(SwitchSimulatorControl):
        async def silence(self):
            pass

    peer = Peer("127.0.0.1", lab.gateway.ports["center-110000"])
    report = await run_cases(gateway_cases("center.upstream-timeout"), peer, "gateway",
                             security=lab.hsm, control=Deaf(lab.switch))  # fmt: skip
    result = report.result("center.upstream-timeout")
    assert result.outcome is Outcome.FAILED
    assert "expected one of ['68', '98'], got '00'" in result.reason


async def test_key_exchange_against_a_gateway_holding_the_center_zmk(tmp_path):
    hsm = lab_security()
    hsm.generate_key("center-110000.zmk", Algorithm.TDES_2KEY, KeyUsage.ZONE_MASTER)
    switch = SwitchSimulator(security=hsm, keys=LinkKeys(mac_key="cups.zak"))
    journal = SQLiteJournal(tmp_path / "j.db", pan_key=b"p" * 32, data_key=b"d" * 32)
    try:
        async with trio.open_nursery() as nursery:
            config = lab_config(await nursery.start(switch.serve), timeout=1.0)
            centers = tuple(
                attrs.evolve(c, kek="center-110000.zmk") if c.name == "center-110000" else c
                for c in config.centers
            )
            gateway = Gateway(attrs.evolve(config, centers=centers), security=hsm, journal=journal)
            ports = await nursery.start(gateway.run)
            with trio.fail_after(20):
                while not gateway.statistics().upstream_ready:
                    await trio.sleep(0.01)
                report = await run_cases(
                    gateway_cases("center.key-exchange-pin", "center.approve"),
                    Peer("127.0.0.1", ports["center-110000"]),
                    "gateway",
                    security=hsm,
                    keys=KitKeys(kek="center-110000.zmk"),
                )
            nursery.cancel_scope.cancel()
    finally:
        journal.close()
    assert report.result("center.key-exchange-pin").outcome is Outcome.PASSED, report.text()
    assert report.result("center.approve").outcome is Outcome.PASSED
