"""--role switch: our switch simulator passes; broken switches fail the cases they break."""

import pytest
import trio

from sscard_gateway.conformance import KitKeys, Outcome, Peer, RunSettings, load_cases, run_cases
from sscard_gateway.errors import DecodeError
from sscard_gateway.iso import FrameDecoder, load_dialect
from sscard_gateway.link import LinkKeys
from sscard_gateway.sim import Decision, Rule, SwitchRules, SwitchSimulator

DECLINE = Rule(amount_over=10_000_000, decision=Decision(response_code="51"))

# SwitchSimulator keeps no table of transactions already answered, so it
# approves a repeated purchase instead of answering 94: the kit reports the
# gap. Remove the entry when the simulator learns duplicates.


@pytest.fixture
async def switch(keystore, nursery):
    async def start(*, rules=None, keys=None):
        sim = SwitchSimulator(
            rules=rules or SwitchRules((DECLINE,)),
            security=keystore.hsm,
            keys=keys or LinkKeys(mac_key="cups.zak", pin_key="cups.zpk", kek="cups.zmk"),
        )
        port = await nursery.start(sim.serve)
        return sim, Peer("127.0.0.1", port)

    return start


WITH_KEK = KitKeys(kek="cups.zmk")


async def kit(peer, keystore, keys=WITH_KEK):
    settings = RunSettings(timeout=3.0)
    with trio.fail_after(30):
        return await run_cases(load_cases(), peer, "switch", None, keystore.hsm, keys,
                               settings=settings)  # fmt: skip


def live(report):
    return {r.case_id: r for r in report.results if r.kind == "live"}


async def test_switch_simulator_passes_the_switch_role(switch, keystore):
    sim, peer = await switch()
    report = await kit(peer, keystore)
    results = live(report)
    assert set(results) == {c.id for c in load_cases() if c.id.startswith("switch.")}
    failing = {case for case, r in results.items() if r.outcome is not Outcome.PASSED}
    assert failing == set(), report.text()
    assert report.dialect == "cups" and report.role == "switch"
    assert sim.statistics().connections == len(results)  # one connection per case


async def test_without_a_kek_the_key_exchange_cases_are_not_applicable(switch, keystore):
    _, peer = await switch()
    results = live(await kit(peer, keystore, keys=None))
    for case in ("switch.key-exchange-pin", "switch.key-exchange-mac"):
        assert results[case].outcome is Outcome.NOT_APPLICABLE
        assert "--kek" in results[case].reason
    assert results["switch.approve"].outcome is Outcome.PASSED


async def test_a_switch_declining_everything_fails_approve(switch, keystore):
    everything = Rule(mti=("02",), decision=Decision(response_code="05"))
    _, peer = await switch(rules=SwitchRules((everything,)))
    results = live(await kit(peer, keystore))
    assert results["switch.approve"].outcome is Outcome.FAILED
    assert results["switch.approve"].reason == (
        "step 'purchase': field 39: expected one of ['00'], got '05'"
    )
    assert results["switch.decline"].outcome is Outcome.PASSED


async def test_a_switch_that_does_not_check_macs_fails_bad_mac(switch, keystore):
    # no MAC key on the switch's side: it neither verifies nor generates MACs
    _, peer = await switch(keys=LinkKeys(pin_key="cups.zpk", kek="cups.zmk"))
    results = live(await kit(peer, keystore))
    bad = results["switch.bad-mac"]
    assert bad.outcome is Outcome.FAILED
    assert "step 'wrong-mac': field 39: expected one of ['A0'], got '00'" in bad.reason
    # and its approvals come back without a MAC
    assert results["switch.approve"].outcome is Outcome.FAILED
    assert "carries no MAC" in results["switch.approve"].reason


async def test_a_switch_that_hangs_up_on_a_malformed_frame_fails(nursery):
    cups = load_dialect("cups")

    async def hang_up_on_garbage(stream):
        decoder = FrameDecoder(cups.spec.prefix, max_length=cups.spec.max_length)
        async with stream:
            async for data in stream:
                decoder.receive_data(data)
                while (payload := decoder.next_frame()) is not None:
                    try:
                        request = cups.decode_payload(payload)
                    except DecodeError:
                        return  # closes the connection instead of answering 30
                    await stream.send_all(cups.encode(request.response_to("00")))

    listeners = await nursery.start(trio.serve_tcp, hang_up_on_garbage, 0)
    peer = Peer("127.0.0.1", listeners[0].socket.getsockname()[1])
    cases = [c for c in load_cases() if c.id in ("switch.malformed", "switch.approve")]
    report = await run_cases(cases, peer, "switch", settings=RunSettings(timeout=3.0))
    assert report.result("switch.approve").outcome is Outcome.PASSED  # no MACs: no keys
    result = report.result("switch.malformed")
    assert result.outcome is Outcome.FAILED
    assert result.reason == (
        "step 'malformed': no answer within 3 s (the peer closed the connection)"
    )


async def test_a_silent_switch_fails_with_a_timeout(switch, keystore):
    from sscard_gateway.sim import Action

    silent = Rule(mti=("02",), decision=Decision(action=Action.SILENT))
    _, peer = await switch(rules=SwitchRules((silent,)))
    settings = RunSettings(timeout=0.3)
    cases = [c for c in load_cases() if c.id == "switch.approve"]
    report = await run_cases(cases, peer, "switch", "cups", keystore.hsm, settings=settings)
    result = report.result("switch.approve")
    assert result.outcome is Outcome.FAILED
    assert result.reason == "step 'purchase': no answer within 0.3 s"


async def test_nobody_listening_is_an_error_not_a_failure(keystore):
    cases = [c for c in load_cases() if c.id == "switch.echo"]
    report = await run_cases(cases, Peer("127.0.0.1", 1), "switch", None, keystore.hsm)
    result = report.result("switch.echo")
    assert result.outcome is Outcome.ERROR
    assert "cannot connect" in result.reason
    assert not report.ok
