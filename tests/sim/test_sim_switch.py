"""The switch simulator and the home center on the ledger: rules, links, record file, ACOM, CLI."""

from __future__ import annotations

import argparse
import datetime
import functools
import math

import pytest
import trio
import trio.testing

from sscard_gateway.clearing import read_acom
from sscard_gateway.cli import _sim_listen, build_parser, main
from sscard_gateway.iso import load_dialect
from sscard_gateway.link import LinkConfig, open_link, serve_link_stream
from sscard_gateway.sim import (
    Action,
    CenterResponder,
    Decision,
    HomeCenter,
    Rule,
    SwitchRules,
    SwitchSimulator,
)

CUPS = load_dialect("cups")
CENTER = load_dialect("center")
PAN = "6225880112000006"
SILENT = Decision(action=Action.SILENT)


def declining(code="51", **conditions):
    """Rules with one rule answering ``code`` when ``conditions`` hold."""
    return SwitchRules((Rule(**conditions, decision=Decision(response_code=code)),))


def purchase(stan="000001", amount=1500, *, mti="0200", **extra):
    fields = {
        2: PAN,
        3: "000000",
        4: f"{amount:012d}",
        7: "1126101010",
        11: stan,
        32: "48020000",
        33: "48020000",
        41: "HOSP0001",
        42: "110105806200001",
    }
    fields.update({int(k.lstrip("f")): v for k, v in extra.items()})
    return CUPS.message(mti, fields)


def reversal_of(original, stan="900001", *, mti="0420", **changes):
    message = original.reversal_of({7: "1126101111", 11: stan}).evolve(mti=mti)
    return message.with_fields({int(k.lstrip("f")): v for k, v in changes.items()})


class MemoryListener(trio.abc.Listener[trio.abc.Stream]):
    """A listener on an in-memory network: ``connect`` is a client's connector."""

    def __init__(self) -> None:
        self._send, self._receive = trio.open_memory_channel[trio.abc.Stream](math.inf)

    async def connect(self) -> trio.abc.Stream:
        client, server = trio.testing.memory_stream_pair()
        await self._send.send(server)
        return client

    async def accept(self) -> trio.abc.Stream:
        return await self._receive.receive()

    async def aclose(self) -> None:
        await self._receive.aclose()


# -- over a link ---------------------------------------------------------------------------------


async def test_the_switch_serves_a_link_on_an_in_memory_network(autojump_clock):
    switch = SwitchSimulator(settlement_date=lambda: "1126")
    network = MemoryListener()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(functools.partial(switch.serve, listeners=[network]))
        assert port is None and switch.port is None
        config = LinkConfig(sign_on=False, echo_interval=None)
        async with open_link(CUPS, network.connect, config=config, name="member") as link:
            sale = purchase()
            response = await link.request(sale, timeout=5)
            assert (response.mti, response[39], response[15]) == ("0210", "00", "1126")
            assert len(response[38]) == 6
            assert (await link.request(sale.evolve(), timeout=5))[39] == "94"
            wrong = reversal_of(sale, f4="000000001600")
            assert (await link.request(wrong, timeout=5))[39] == "30"
            assert [r.rrn for r in switch.approved_records()] == [response[37]]
            right = reversal_of(sale, "900002")
            assert (await link.request(right, timeout=5))[39] == "00"
            assert (await link.request(right.evolve(mti="0421"), timeout=5))[39] == "00"
        nursery.cancel_scope.cancel()
    (record,) = switch.records.values()
    assert record.reversed and record.key == ("1126101010", "000001", "48020000", "48020000")
    assert PAN not in repr(record)
    assert switch.approved_records() == []
    stats = switch.statistics()
    assert (stats.requests, stats.approved, stats.reversals, stats.connections) == (5, 1, 3, 1)
    ledger = switch.ledger.statistics()
    assert (ledger.reversals_applied, ledger.reversals_refused, ledger.reversal_repeats) == (
        1,
        1,
        1,
    )


# -- rules -----------------------------------------------------------------------------------------


class FakeLink:
    def __init__(self) -> None:
        self.dropped = 0

    def drop(self) -> None:
        self.dropped += 1


async def test_a_silent_rule_naming_no_mti_leaves_reversals_answered():
    switch = SwitchSimulator()
    sale = purchase()
    assert (await switch.handle(sale))[39] == "00"
    switch.rules = SwitchRules().with_rule(Rule(decision=SILENT))
    assert await switch.handle(purchase("000002")) is None  # silent: never recorded
    assert len(switch.records) == 1
    assert (await switch.handle(reversal_of(sale)))[39] == "00"
    assert switch.approved_records() == []
    assert switch.statistics().silent == 1


@pytest.mark.parametrize("mti", [("04",), ("0420",), ("02", "04")])
async def test_a_silent_rule_naming_reversals_silences_them_and_nothing_is_applied(mti):
    switch = SwitchSimulator()
    sale = purchase()
    await switch.handle(sale)
    switch.rules = SwitchRules().with_rule(Rule(mti=mti, decision=SILENT))
    assert await switch.handle(reversal_of(sale)) is None
    assert len(switch.approved_records()) == 1
    switch.rules = SwitchRules()
    assert (await switch.handle(reversal_of(sale, mti="0421")))[39] == "00"
    assert switch.approved_records() == []


async def test_a_drop_rule_naming_reversals_drops_the_line_and_applies_nothing():
    switch = SwitchSimulator()
    sale = purchase()
    await switch.handle(sale)
    switch.links.append(link := FakeLink())
    switch.rules = SwitchRules().with_rule(Rule(decision=Decision(action=Action.DROP)))
    assert (await switch.handle(reversal_of(sale, f4="000000000001")))[39] == "30"
    assert link.dropped == 0  # the rule names no MTI: reversals are not dropped
    switch.rules = SwitchRules().with_rule(
        Rule(mti=("0421",), decision=Decision(action=Action.DROP))
    )
    assert await switch.handle(reversal_of(sale, "900002", mti="0421")) is None
    assert link.dropped == 1 and switch.statistics().dropped == 1
    assert len(switch.approved_records()) == 1


async def test_a_rule_naming_reversals_with_a_code_refuses_them_without_effect():
    switch = SwitchSimulator()
    sale = purchase()
    await switch.handle(sale)
    switch.rules = SwitchRules().with_rule(Rule(mti=("04",), decision=Decision(response_code="96")))
    assert (await switch.handle(reversal_of(sale)))[39] == "96"
    assert len(switch.approved_records()) == 1
    switch.rules = SwitchRules()
    assert (await switch.handle(reversal_of(sale, "900002")))[39] == "00"
    assert switch.approved_records() == []


async def test_a_decline_rule_applies_to_requests_not_to_their_reversals():
    switch = SwitchSimulator(rules=declining(amount_over=1000))
    sale = purchase(amount=5000)
    assert (await switch.handle(sale))[39] == "51"
    (record,) = switch.records.values()
    assert record.response_code == "51" and switch.approved_records() == []
    assert (await switch.handle(reversal_of(sale)))[39] == "00"
    assert switch.ledger.statistics().reversals_of_declined == 1
    assert switch.statistics().declined == 1


async def test_an_advice_is_applied_whatever_the_rules_code():
    switch = SwitchSimulator(rules=declining(mti=("02",)))
    advice = purchase("000010", mti="0220")
    assert (await switch.handle(advice))[39] == "00"
    assert (await switch.handle(advice.evolve(mti="0221")))[39] == "00"
    assert len(switch.approved_records()) == 1
    assert switch.ledger.statistics().advice_repeats == 1


async def test_a_late_answer_is_recorded_on_arrival(mock_clock):
    switch = SwitchSimulator(rules=SwitchRules(default=Decision(delay=3.0)))
    answers = []

    async def ask(message):
        answers.append(await switch.handle(message))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ask, purchase())
        await trio.testing.wait_all_tasks_blocked()
        assert answers == [] and len(switch.approved_records()) == 1
        nursery.start_soon(ask, purchase().evolve())  # a resend while the first is late
        await trio.testing.wait_all_tasks_blocked()
        mock_clock.jump(3.0)
    assert sorted(a[39] for a in answers) == ["00", "94"]


# -- the record of the day -------------------------------------------------------------------------


async def test_a_restarted_switch_keeps_its_day(tmp_path):
    path = tmp_path / "switch.ledger"
    first = SwitchSimulator(record=path)
    sale, other = purchase("000001"), purchase("000002")
    await first.handle(sale)
    await first.handle(other)
    await first.handle(reversal_of(sale))
    records = dict(first.records)
    first.close()
    again = SwitchSimulator(record=path)
    assert dict(again.records) == records
    assert (await again.handle(other.evolve()))[39] == "94"
    assert (await again.handle(reversal_of(sale, mti="0421")))[39] == "00"
    assert (await again.handle(reversal_of(other, "900002")))[39] == "00"
    assert again.approved_records() == []
    assert again.ledger.effects(again.ledger.key_of(sale)).reversed == 1
    again.close()


async def test_the_acom_file_lists_exactly_the_held_entries(tmp_path):
    switch = SwitchSimulator(rules=declining(amount_over=9000))
    kept, reversed_, declined = purchase("000001"), purchase("000002"), purchase("000003", 9500)
    for message in (kept, reversed_, declined, purchase("000010", 700, mti="0220")):
        await switch.handle(message)
    await switch.handle(reversal_of(reversed_))
    await switch.handle(reversal_of(kept, "900002", f4="000000000001"))  # refused: still held
    path = switch.write_acom(tmp_path, "20241126")
    assert path.name == "IND24112601ACOM"
    lines, problems = read_acom(path)
    assert problems == []
    held = {(e.stan, e.amount, e.rrn) for e in switch.ledger.held()}
    assert {(line["stan"], line.amount, line["rrn"]) for line in lines} == held
    assert {stan for stan, _, _ in held} == {"000001", "000010"}
    assert {line["pan"] for line in lines} == {PAN}


# -- the home center -------------------------------------------------------------------------------


def center_request(stan="000001", amount=800):
    fields = {
        2: PAN,
        3: "210000",
        4: f"{amount:012d}",
        7: "1126101010",
        11: stan,
        32: "48020000",
        37: "112600000100",
        41: "SSC00001",
        42: "SSCENTER0000001",
    }
    return CENTER.message("0200", fields)


async def test_the_center_responder_answers_from_its_ledger(tmp_path):
    responder = CenterResponder(decline_over=1000, record=tmp_path / "center.ledger")
    request = center_request()
    response = await responder.handle(request)
    assert response[39] == "00" and len(response[38]) == 6
    assert (await responder.handle(request.evolve()))[39] == "94"
    assert (await responder.handle(center_request("000002", 5000)))[39] == "51"
    reversal = request.reversal_of({7: "1126101111", 11: "000003"})
    wrong = reversal.with_fields({4: "000000000801", 11: "000005"})
    assert (await responder.handle(wrong))[39] == "30"
    assert (await responder.handle(reversal))[39] == "00"
    unknown = center_request("000099").reversal_of({7: "1126101111", 11: "000004"})
    assert (await responder.handle(unknown))[39] == "25"
    assert responder.answered == {"00": 2, "94": 1, "51": 1, "30": 1, "25": 1}
    assert responder.ledger.held() == []
    responder.decline_over = None
    assert responder.home.decline_over is None
    responder.ledger.close()
    restarted = CenterResponder(record=tmp_path / "center.ledger")
    assert len(restarted.ledger.entries()) == 2
    restarted.ledger.close()


async def test_a_home_center_answers_a_client_links_requests(autojump_clock):
    home = HomeCenter(decline_over=1000)
    served = []

    async def serve(stream):
        await serve_link_stream(
            stream,
            CENTER,
            handler=None,
            config=LinkConfig(echo_interval=None),
            on_connect=served.append,
        )

    async with trio.open_nursery() as nursery:

        async def connect():
            client, server = trio.testing.memory_stream_pair()
            nursery.start_soon(serve, server)
            return client

        config = LinkConfig(echo_interval=None, network_fields={32: "11010500"})
        async with open_link(CENTER, connect, config=config, handler=home.handle) as link:
            await link.wait_ready()
            gateway = served[0]
            request = center_request()
            assert (await gateway.request(request, timeout=5))[39] == "00"
            assert (await gateway.request(center_request("000002", 5000), timeout=5))[39] == "51"
            reversal = request.reversal_of({7: "1126101111", 11: "000003"})
            assert (await gateway.request(reversal, timeout=5))[39] == "00"
        nursery.cancel_scope.cancel()
    assert home.ledger.held() == [] and home.ledger.statistics().reversals_applied == 1


# -- the command line ------------------------------------------------------------------------------


def _fake_serve(messages, answers):
    async def serve_until_signal(serve, args, what):
        switch = serve.__self__
        for message in messages:
            answers.append(await switch.handle(message))

    return serve_until_signal


def test_sim_switch_keeps_its_day_in_the_record_and_writes_the_acom_file(
    tmp_path, monkeypatch, capsys
):
    record, out = tmp_path / "switch.ledger", tmp_path / "acom"
    argv = ["sim", "switch", "--record", str(record), "--acom-out", str(out)]
    argv += ["--settlement-date", "20241126"]
    sale, other = purchase("000001"), purchase("000002")
    answers = []
    monkeypatch.setattr(_sim_listen, "_serve_until_signal", _fake_serve([sale, other], answers))
    assert main(argv) == 0
    assert [a[39] for a in answers] == ["00", "00"] and answers[0][15] == "1126"
    lines, _ = read_acom(out / "IND24112601ACOM")
    assert {line["stan"] for line in lines} == {"000001", "000002"}
    printed = capsys.readouterr().out
    assert "2 held today" in printed and PAN not in printed
    # a restarted switch: the same record, a reversal and a resend
    answers.clear()
    restart = [reversal_of(sale), sale.evolve()]
    monkeypatch.setattr(_sim_listen, "_serve_until_signal", _fake_serve(restart, answers))
    assert main(argv) == 0
    assert [a[39] for a in answers] == ["00", "94"]
    lines, _ = read_acom(out / "IND24112601ACOM")
    assert [line["stan"] for line in lines] == ["000002"]


def test_sim_responder_keeps_its_day_in_the_record(tmp_path, monkeypatch):
    record = tmp_path / "center.ledger"
    answers = []
    monkeypatch.setattr(
        _sim_listen, "_serve_until_signal", _fake_serve([center_request()] * 2, answers)
    )
    assert main(["sim", "responder", "--record", str(record)]) == 0
    assert main(["sim", "responder", "--record", str(record)]) == 0
    assert [a[39] for a in answers] == ["00", "94", "94", "94"]


def test_the_new_options_have_help():
    sim = build_parser()._subparsers._group_actions[0].choices["sim"]
    commands = sim._subparsers._group_actions[0].choices
    for command, options in (
        ("switch", {"--record", "--acom-out", "--settlement-date"}),
        ("responder", {"--record"}),
    ):
        actions = {o: a for a in commands[command]._actions for o in a.option_strings}
        assert all(actions[o].help for o in options), command


def test_the_settlement_date_is_mmdd_or_yyyymmdd():
    assert _sim_listen._settlement_date("20241126") == "20241126"
    today = datetime.date.today()
    near = _sim_listen._settlement_date(today.strftime("%m%d"))
    assert near == today.strftime("%Y%m%d")
    for bad in ("1326", "11261", "2024-11-26", "20241331"):
        with pytest.raises(argparse.ArgumentTypeError):
            _sim_listen._settlement_date(bad)
