"""The ledger: a peer's record of the day and the answers it gives from it (sans-I/O)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from sscard_gateway.errors import SpecError
from sscard_gateway.iso import load_dialect
from sscard_gateway.iso.composite import OriginalData
from sscard_gateway.sim import Effect, EntryKind, KeyEffects, Ledger

CUPS = load_dialect("cups")
CENTER = load_dialect("center")
PAN = "6225880112000006"
OTHER_PAN = "6225880112000014"


def purchase(stan="000001", amount=1500, *, mti="0200", f7="1126101010", **extra):
    fields = {
        2: PAN,
        3: "000000",
        4: f"{amount:012d}",
        7: f7,
        11: stan,
        32: "48020000",
        33: "48020000",
        41: "HOSP0001",
        42: "110105806200001",
    }
    fields.update({int(k.lstrip("f")): v for k, v in extra.items()})
    return CUPS.message(mti, fields)


def reversal_of(original, stan="900001", *, mti="0420", **changes):
    message = original.reversal_of({7: "1126101111", 11: stan})
    fields = {int(k.lstrip("f")): v for k, v in changes.items()}
    if mti != message.mti:
        message = message.evolve(mti=mti)
    return message.with_fields(fields) if fields else message


def center_request(stan="000001", amount=800, mti="0200"):
    fields = {
        2: PAN,
        3: "210000",
        4: f"{amount:012d}",
        7: "1126101010",
        11: stan,
        32: "11010500",
        37: "112600000100",
        41: "SSC00001",
        42: "SSCENTER0000001",
    }
    return CENTER.message(mti, fields)


@pytest.fixture
def ledger():
    return Ledger(CUPS)


# -- financial requests --------------------------------------------------------------------


def test_a_new_request_is_recorded_approved_with_rrn_and_authorization(ledger):
    request = purchase()
    response = ledger.answer(request)
    assert response.mti == "0210" and response[39] == "00"
    assert len(response[37]) == 12 and response[37].startswith("SW")
    assert len(response[38]) == 6 and response[38].isdigit()
    (entry,) = ledger.entries()
    assert entry.kind is EntryKind.FINANCIAL
    assert (entry.amount, entry.pan, entry.processing_code) == (1500, PAN, "000000")
    assert (entry.rrn, entry.authorization) == (response[37], response[38])
    assert (entry.terminal, entry.merchant) == ("HOSP0001", "110105806200001")
    assert ledger.held() == [entry]
    assert PAN not in repr(entry) and PAN not in repr(ledger.apply(purchase("000002")))


def test_an_rrn_the_request_carries_is_kept(ledger):
    response = ledger.answer(purchase(f37="112610000001"))
    assert 37 not in response.fields or response[37] == "112610000001"
    assert ledger.entries()[0].rrn == "112610000001"


def test_a_declined_request_is_recorded_and_not_held(ledger):
    asked = []

    def decide(message):
        asked.append(message)
        return "51"

    response = ledger.answer(purchase(), decide)
    assert response[39] == "51" and 38 not in response.fields
    assert ledger.entries()[0].response_code == "51"
    assert ledger.held() == []
    assert ledger.answer(purchase(), decide)[39] == "94"
    assert len(asked) == 1  # the decision is asked for once
    assert ledger.statistics().declined == 1


def test_the_same_key_again_is_94_without_effect(ledger):
    first = ledger.apply(purchase())
    again = ledger.apply(purchase(amount=9999))
    assert (again.response_code, again.effect) == ("94", Effect.DUPLICATE)
    assert again.entry == first.entry and len(ledger.entries()) == 1
    assert ledger.entries()[0].amount == 1500
    assert ledger.effects(ledger.key_of(purchase())) == KeyEffects(applied=1, repeats=1)
    assert ledger.statistics().duplicates == 1


def test_institution_codes_compare_without_leading_zeros(ledger):
    ledger.apply(purchase())
    assert ledger.apply(purchase(f32="0048020000", f33="48020000")).response_code == "94"
    assert ledger.apply(purchase(f33="00010000")).response_code == "00"  # another forwarder


def test_reversals_of_other_classes_and_other_messages(ledger):
    other = purchase(mti="0400")
    assert ledger.apply(other).response_code == "12"
    assert ledger.entries() == [] and ledger.statistics().not_recorded == 1


# -- advices -------------------------------------------------------------------------------


def test_an_advice_is_applied_once_and_its_repeats_have_no_effect(ledger):
    advice = purchase("000010", mti="0220")
    first = ledger.apply(advice)
    assert (first.response_code, first.effect) == ("00", Effect.ADVICE_APPLIED)
    assert first.entry.kind is EntryKind.ADVICE
    for repeat in (advice.evolve(mti="0221"), advice):
        outcome = ledger.apply(repeat)
        assert (outcome.response_code, outcome.effect) == ("00", Effect.ADVICE_REPEAT)
    assert len(ledger.entries()) == 1 and ledger.held() == ledger.entries()
    stats = ledger.statistics()
    assert (stats.advices_applied, stats.advice_repeats) == (1, 2)
    assert ledger.effects(ledger.key_of(advice)) == KeyEffects(applied=1, repeats=2)


def test_an_advice_is_applied_whatever_the_decision(ledger):
    assert ledger.apply(purchase("000010", mti="0220"), "51").response_code == "00"


def refund(original_f90, stan="000020"):
    fields = {3: "200000", 90: original_f90} if original_f90 is not None else {3: "200000"}
    return purchase(stan, amount=500, mti="0220").with_fields(fields)


def f90_of(message):
    return message.reversal_of()[90]


def test_a_refund_advice_must_name_a_known_approved_original(ledger):
    sale = purchase()
    unknown = refund(f90_of(purchase("000099")))
    outcome = ledger.apply(unknown)
    assert (outcome.response_code, outcome.effect) == ("25", Effect.ADVICE_REFUSED)
    assert ledger.entries() == []
    ledger.apply(sale)
    assert ledger.apply(refund(f90_of(sale))).response_code == "00"
    assert ledger.apply(refund(None, stan="000021")).response_code == "00"  # offline: no F90
    assert ledger.statistics().advices_refused == 1


def test_a_refund_advice_with_an_unreadable_f90_is_30(ledger):
    assert ledger.apply(refund("12345")).response_code == "30"
    assert ledger.apply(refund("X" * 42, stan="000021")).response_code == "30"


def test_a_refund_of_a_declined_or_reversed_original_is_25(ledger):
    declined, reversed_ = purchase("000001"), purchase("000002")
    ledger.apply(declined, "05")
    ledger.apply(reversed_)
    ledger.apply(reversal_of(reversed_))
    assert ledger.apply(refund(f90_of(declined), stan="000021")).response_code == "25"
    assert ledger.apply(refund(f90_of(reversed_), stan="000022")).response_code == "25"


# -- reversals -------------------------------------------------------------------------------


def test_a_reversal_of_an_approved_original_reverses_it(ledger):
    sale = purchase()
    ledger.apply(sale)
    outcome = ledger.apply(reversal_of(sale))
    assert (outcome.response_code, outcome.effect) == ("00", Effect.REVERSED)
    assert outcome.entry.reversed and ledger.held() == []
    assert ledger.effects(ledger.key_of(sale)).reversed == 1
    assert ledger.statistics().reversals_applied == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (4, "000000001600"),  # another amount
        (3, "200000"),  # another processing code
        (32, "48029999"),  # another acquirer
        (33, "00010000"),  # another forwarder
        (2, OTHER_PAN),  # another card
    ],
)
def test_a_reversal_that_does_not_match_its_original_is_30_and_the_original_stays(
    ledger, field, value
):
    sale = purchase()
    ledger.apply(sale)
    outcome = ledger.apply(reversal_of(sale, **{f"f{field}": value}))
    assert (outcome.response_code, outcome.effect) == ("30", Effect.REVERSAL_REFUSED)
    assert [e.key for e in ledger.held()] == [ledger.key_of(sale)]
    assert not ledger.entries()[0].reversed
    assert ledger.statistics().reversals_refused == 1
    assert ledger.effects(ledger.key_of(sale)) == KeyEffects(applied=1, reversals_refused=1)


def test_a_reversal_without_its_amount_is_30(ledger):
    sale = purchase()
    ledger.apply(sale)
    assert ledger.apply(reversal_of(sale).without(4)).response_code == "30"


def test_a_reversal_naming_another_original_type_is_30(ledger):
    sale = purchase()
    ledger.apply(sale)
    wrong = OriginalData.parse(f90_of(sale))
    f90 = "0100" + wrong.format()[4:]
    assert ledger.apply(reversal_of(sale, f90=f90)).response_code == "30"


@pytest.mark.parametrize("f90", [None, "0200", "02000000011126101010" + "x" * 22])
def test_a_reversal_with_a_missing_or_malformed_f90_is_30(ledger, f90):
    sale = purchase()
    ledger.apply(sale)
    reversal = reversal_of(sale)
    reversal = reversal.without(90) if f90 is None else reversal.with_fields({90: f90})
    outcome = ledger.apply(reversal)
    assert (outcome.response_code, outcome.effect) == ("30", Effect.REVERSAL_REFUSED)
    assert len(ledger.held()) == 1


def test_a_reversal_of_an_unknown_original_is_25(ledger):
    outcome = ledger.apply(reversal_of(purchase()))
    assert (outcome.response_code, outcome.effect) == ("25", Effect.REVERSAL_UNKNOWN)
    assert outcome.entry is None and ledger.statistics().reversals_unknown == 1


def test_a_repeated_reversal_is_00_once_applied(ledger):
    sale = purchase()
    ledger.apply(sale)
    first = reversal_of(sale)
    assert ledger.apply(first).effect is Effect.REVERSED
    for repeat in (first.evolve(mti="0421"), first, reversal_of(sale, "900002")):
        outcome = ledger.apply(repeat)
        assert (outcome.response_code, outcome.effect) == ("00", Effect.REVERSAL_REPEAT)
    assert ledger.effects(ledger.key_of(sale)) == KeyEffects(
        applied=1, reversed=1, reversal_repeats=3
    )
    stats = ledger.statistics()
    assert (stats.reversals_applied, stats.reversal_repeats) == (1, 3)


def test_0421_after_0420_is_idempotent(ledger):
    sale = purchase()
    ledger.apply(sale)
    original = reversal_of(sale)
    resend = original.evolve(mti="0421")
    answers = [ledger.apply(m) for m in (original, resend, resend)]
    assert [a.response_code for a in answers] == ["00", "00", "00"]
    assert [a.effect for a in answers] == [Effect.REVERSED] + [Effect.REVERSAL_REPEAT] * 2
    assert ledger.effects(ledger.key_of(sale)).reversed == 1


def test_a_0421_first_is_applied(ledger):
    sale = purchase()
    ledger.apply(sale)
    assert ledger.apply(reversal_of(sale, mti="0421")).effect is Effect.REVERSED


def test_a_resent_reversal_gets_its_first_answer(ledger):
    sale = purchase()
    ledger.apply(sale)
    wrong = reversal_of(sale, f4="000000000001")
    assert ledger.apply(wrong).response_code == "30"
    assert ledger.apply(wrong.evolve(mti="0421")).response_code == "30"
    unknown = reversal_of(purchase("000002"), "900002")
    assert ledger.apply(unknown).response_code == "25"
    # the original, overtaken by its reversal, is declined when it comes: never held
    assert ledger.apply(purchase("000002")).response_code == "12"
    assert ledger.apply(unknown.evolve(mti="0421")).response_code == "25"
    assert len(ledger.held()) == 1


def test_a_reversal_of_a_declined_original_is_00_without_effect(ledger):
    sale = purchase()
    ledger.apply(sale, "51")
    outcome = ledger.apply(reversal_of(sale))
    assert (outcome.response_code, outcome.effect) == ("00", Effect.REVERSAL_OF_DECLINED)
    assert not ledger.entries()[0].reversed


def test_an_advice_can_be_reversed(ledger):
    advice = purchase("000010", mti="0220")
    ledger.apply(advice)
    assert ledger.apply(reversal_of(advice)).effect is Effect.REVERSED
    assert ledger.held() == []


# -- the center dialect ------------------------------------------------------------------------


def test_the_center_dialect_keys_on_f7_f11_f32():
    ledger = Ledger(CENTER, rrn_prefix="HC")
    request = center_request()
    assert ledger.key_of(request) == ("1126101010", "000001", "11010500")
    assert ledger.answer(request)[39] == "00"
    assert ledger.answer(request.with_fields({33: "00010000"}))[39] == "94"
    reversal = request.reversal_of({7: "1126101111", 11: "000002"})
    assert OriginalData.parse(reversal[90]).forwarder == "0" * 11
    assert ledger.answer(reversal.with_fields({4: "000000000801"}))[39] == "30"
    assert ledger.answer(reversal.with_fields({11: "000003"}))[39] == "00"
    assert ledger.held() == []
    assert ledger.answer(reversal.with_fields({11: "000004"}))[39] == "00"
    assert ledger.statistics().reversal_repeats == 1


def test_a_key_field_90_cannot_name_is_refused():
    import attrs

    spec = attrs.evolve(CUPS.spec, transaction_key=(7, 11, 41))
    dialect = type("D", (), {"spec": spec})()
    with pytest.raises(SpecError) as info:
        Ledger(dialect)
    assert info.value.where == "keys.transaction"


# -- the record file ---------------------------------------------------------------------------


def test_a_restart_from_the_record_file_keeps_the_day(tmp_path):
    path = tmp_path / "switch.ledger"
    with Ledger(CUPS, path) as ledger:
        sale, other, declined = purchase("000001"), purchase("000002"), purchase("000003")
        ledger.apply(sale)
        ledger.apply(other)
        ledger.apply(declined, "51")
        ledger.apply(reversal_of(sale))
        ledger.apply(purchase("000010", mti="0220"))
        entries, stats, effects = ledger.entries(), ledger.statistics(), ledger.effect_counts()
        rrns = {e.rrn for e in entries}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with Ledger(CUPS, path) as again:
        assert again.entries() == entries
        assert again.statistics() == stats and again.effect_counts() == effects
        assert again.apply(reversal_of(sale)).effect is Effect.REVERSAL_REPEAT
        assert again.apply(reversal_of(sale, "900001", mti="0421")).response_code == "00"
        assert again.apply(other).response_code == "94"
        assert again.apply(reversal_of(other, "900005")).effect is Effect.REVERSED
        fresh = again.apply(purchase("000004"))
        assert fresh.entry.rrn not in rrns  # the RRN sequence goes on
    with Ledger(CUPS, path) as third:
        assert third.held() == [e for e in third.entries() if e.stan in ("000004", "000010")]


def test_a_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / "switch.ledger"
    with Ledger(CUPS, path) as ledger:
        ledger.apply(purchase("000001"))
        ledger.apply(purchase("000002"))
    whole = path.read_bytes()
    lines = whole.splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    with Ledger(CUPS, path) as ledger:
        assert [e.stan for e in ledger.entries()] == ["000001"]
        assert ledger.statistics().requests == 1
        assert ledger.apply(purchase("000002")).effect is Effect.APPROVED
    with Ledger(CUPS, path) as ledger:  # the torn part was cut: the next line starts clean
        assert [e.stan for e in ledger.entries()] == ["000001", "000002"]
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_a_bad_line_inside_the_file_names_the_line(tmp_path):
    path = tmp_path / "switch.ledger"
    with Ledger(CUPS, path) as ledger:
        ledger.apply(purchase("000001"))
    path.write_text('not json\n{"effect": "approved"}\n' + path.read_text())
    with pytest.raises(SpecError) as info:
        Ledger(CUPS, path)
    assert info.value.where == "line 1" and PAN not in str(info.value)
    path.write_text('{"effect": "approved"}\n')
    with pytest.raises(SpecError) as info:
        Ledger(CUPS, path)
    assert info.value.where == "line 1"
