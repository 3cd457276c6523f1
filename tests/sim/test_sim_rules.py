"""Switch simulator rules, and the load generator."""

import pytest
import trio

from sscard_gateway.errors import RequestTimeout, SpecError
from sscard_gateway.iso import load_dialect
from sscard_gateway.sim import Action, Decision, Rule, SwitchRules
from sscard_gateway.sim.load import run_load

CUPS = load_dialect("cups")


def purchase(amount=100, pan="6225880112000006"):
    return CUPS.message("0200", {2: pan, 3: "000000", 4: f"{amount:012d}"})


def test_first_matching_rule_decides():
    rules = SwitchRules.from_dict(
        {
            "rules": [
                {"amount_over": 1000, "code": "51"},
                {"pan_suffixes": ["0006"], "code": "05"},
                {"mti": "02", "processing_codes": ["300000"], "action": "silent"},
            ],
            "default": {"code": "00", "delay": 0.5},
        }
    )
    assert rules.decide(purchase(5000)).response_code == "51"
    assert rules.decide(purchase(10)).response_code == "05"
    inquiry = CUPS.message("0200", {2: "6225880112000014", 3: "300000"})
    assert rules.decide(inquiry).action is Action.SILENT
    default = rules.decide(purchase(10, pan="6225880112000014"))
    assert (default.response_code, default.delay) == ("00", 0.5)


def test_with_rule_takes_precedence():
    rules = SwitchRules().with_rule(Rule(decision=Decision(action=Action.DROP)))
    assert rules.decide(purchase()).action is Action.DROP


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"rules": [{"colour": "red"}]}, "rules[0].colour"),
        ({"rules": [{"action": "explode"}]}, "rules[0].action"),
        ({"rules": [{"code": "5"}]}, "rules[0].code"),
        ({"rules": [{"delay": -1}]}, "rules[0].delay"),
        ({"rules": [{"amount_over": "big"}]}, "rules[0].amount_over"),
        ({"rules": [{"mti": [2]}]}, "rules[0].mti"),
        ({"rules": "x"}, "rules"),
    ],
)
def test_bad_rules_name_the_place(data, where):
    with pytest.raises(SpecError) as info:
        SwitchRules.from_dict(data)
    assert info.value.where == where


async def test_load_generator_counts_codes_errors_and_latency(autojump_clock):
    calls = []

    async def request(message):
        calls.append(message)
        await trio.sleep(0.010)
        if int(message[11]) % 10 == 0:
            raise RequestTimeout("timed out")
        return message.response_to("00") if message.dialect else message

    cups_request = lambda i: CUPS.message("0200", {3: "000000", 11: f"{i + 1:06d}"})  # noqa: E731
    result = await run_load(request, cups_request, total=100, concurrency=8)
    assert len(calls) == 100
    assert result.codes == {"00": 90}
    assert result.errors == {"RequestTimeout": 10}
    assert result.completed == 90
    assert result.percentile(50) == pytest.approx(10.0)
    assert result.throughput == pytest.approx(90 / result.seconds)
    assert "p99" in result.table()
