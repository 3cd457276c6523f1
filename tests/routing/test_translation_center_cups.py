"""center_to_cups: every center transaction kind to CUPS and back, field by field."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sscard_gateway.errors import MappingError, ValidationError
from sscard_gateway.iso import CupsHeader, load_dialect, specs_dir
from sscard_gateway.iso.jsonio import message_from_dict
from sscard_gateway.iso.strategies import field_values
from sscard_gateway.routing import InstitutionCodes, LegCounters, load_mapping

CENTER = load_dialect("center")
CUPS = load_dialect("cups")
T = load_mapping("center_to_cups")
GATEWAY = InstitutionCodes("48021000")
NOW = "1126101531"
PAN = "6225880137654324"
PIN = bytes.fromhex("7CE09CE60EE87A4F")


def sample():
    path = specs_dir() / "samples" / "center_0200_medical.json"
    return message_from_dict(CENTER, json.loads(path.read_text()))


MEDICAL = sample()


def center_request(kind):
    if kind == "medical_settlement":
        return MEDICAL
    if kind == "benefit_payout":
        return MEDICAL.without(52, 53, 61).with_fields(
            {3: "210000", 4: "000000300000", 60: "110", 62: "PAYROLL-2026-11"}
        )
    if kind == "contribution_payment":
        return MEDICAL.without(61).with_fields({3: "500000", 4: "000000045600", 60: "110"})
    if kind == "balance_inquiry":
        return MEDICAL.without(4, 60, 61, 62).with_fields({3: "300000"})
    assert kind == "refund"
    return MEDICAL.evolve(mti="0220").with_fields({3: "200000"})


# kind: (CUPS MTI, F3, F4 or None, F18)
EXPECTED = {
    "medical_settlement": ("0200", "000000", "000000008000", "8062"),
    "benefit_payout": ("0200", "210000", "000000300000", "9399"),
    "contribution_payment": ("0200", "000000", "000000045600", "9399"),
    "balance_inquiry": ("0200", "300000", None, "9399"),
    "refund": ("0220", "200000", "000000008000", "8062"),
}


def translate(message, last_stan=456):
    counters = LegCounters(last_stan=last_stan)
    return T.request(message, counters=counters, now_f7=NOW, institution=GATEWAY), counters


def test_medical_settlement_leg_field_by_field():
    leg, counters = translate(MEDICAL)
    assert leg.mti == "0200"
    assert leg.header == CupsHeader(destination="00010000", source="48021000")
    assert dict(leg.fields) == {
        2: PAN,
        3: "000000",
        4: "000000008000",  # cash 80.00, not the total 500.00
        7: NOW,
        11: "000457",
        12: "101530",
        13: "1126",
        18: "8062",
        22: "051",
        25: "00",
        32: "48021000",
        33: "48021000",
        37: "112610000457",
        41: "HOSP0001",
        42: "110105806200001",
        49: "156",
        52: PIN,
        53: "2600000000000000",
        60: "0000",
    }
    assert counters.last_stan == 457  # one STAN per leg, shared by F11 and the RRN


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_kind_translates_and_encodes(kind):
    request = center_request(kind)
    leg, _ = translate(request)
    mti, f3, f4, f18 = EXPECTED[kind]
    assert (leg.mti, leg[3], leg.get(4), leg[18]) == (mti, f3, f4, f18)
    assert (leg[2], leg[11], leg[37], leg[32], leg[33]) == (
        PAN,
        "000457",
        "112610000457",
        "48021000",
        "48021000",
    )
    assert not {56, 57, 58, 59, 61, 62, 128} & set(leg.fields)
    decoded = CUPS.decode(CUPS.encode(leg))
    assert decoded.fields == leg.fields and decoded.header == leg.header


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_kind_round_trips_to_the_center_response(kind):
    request = center_request(kind)
    leg, _ = translate(request)
    sent = CUPS.decode(CUPS.encode(leg))
    extra = {38: "A1B2C3", 15: "1127"}
    if kind == "balance_inquiry":
        extra = {15: "1127", 54: "1001156C000000123456"}
    answer = CUPS.decode(CUPS.encode(sent.response_to("00", extra)))
    reply = T.response(request, answer)
    assert reply.mti == {"0200": "0210", "0220": "0230"}[request.mti]
    assert reply[39] == "00" and reply[15] == "1127"  # settlement date: the center sent none
    for n in set(CENTER.spec.response_echo) - {15}:  # the center's own values, never CUPS's
        assert reply.get(n) == request.get(n)
    if kind == "balance_inquiry":
        assert reply[48] == "BL1001156C000000123456"
    else:
        assert reply[38] == "A1B2C3"
    assert CENTER.decode(CENTER.encode(reply)).fields == reply.fields


def test_medical_settlement_response_field_by_field():
    leg, _ = translate(MEDICAL)
    answer = leg.response_to("00", {38: "A1B2C3", 15: "1127", 55: b"\x91\x02\x01\x02"})
    reply = T.response(MEDICAL, answer)
    assert reply.header is None
    expected = {
        n: MEDICAL[n]
        for n in (2, 3, 4, 7, 11, 12, 13, 22, 25, 32, 37, 41, 42, 49, 56, 57, 58, 59, 60, 61, 62)
    }
    expected.update({15: "1127", 38: "A1B2C3", 39: "00", 55: b"\x91\x02\x01\x02"})
    assert dict(reply.fields) == expected
    assert reply[4] == "000000050000" and reply[37] == "112610000456"


def test_the_bank_leg_rrn_fills_in_when_the_center_sent_none():
    request = MEDICAL.without(37)
    leg, _ = translate(request)
    reply = T.response(request, leg.response_to("00"))
    assert reply[37] == leg[37] == "112610000457"


@pytest.mark.parametrize(
    ("cups_code", "center_code"),
    [
        ("00", "00"),
        ("51", "51"),
        ("68", "68"),
        ("A0", "A0"),
        ("01", "05"),
        ("03", "05"),
        ("40", "12"),
        ("61", "51"),
        ("90", "91"),
        ("C3", "12"),
        ("Q9", "96"),  # unknown to both: the fallback
    ],
)
def test_response_codes(cups_code, center_code):
    leg, _ = translate(MEDICAL)
    assert T.response(MEDICAL, leg.response_to(cups_code))[39] == center_code
    assert T.response_code(cups_code) == center_code


def test_a_response_without_field_39_gets_the_fallback():
    leg, _ = translate(MEDICAL)
    assert T.response(MEDICAL, leg.response_to())[39] == "96"


def test_reversal_of_the_bank_leg_and_the_center_s_reversal_response():
    leg, counters = translate(MEDICAL)
    reversal = T.reversal(leg, counters=counters, now_f7="1126101600")
    assert reversal.mti == "0420" and reversal.header == leg.header
    assert dict(reversal.fields) == {
        2: PAN,
        3: "000000",
        4: "000000008000",
        7: "1126101600",
        11: "000458",
        12: "101530",
        13: "1126",
        18: "8062",
        22: "051",
        25: "00",
        32: "48021000",
        33: "48021000",
        37: "112610000457",
        41: "HOSP0001",
        42: "110105806200001",
        49: "156",
        60: "0000",
        90: "020000045711261015310004802100000048021000",
    }
    CUPS.encode(reversal)
    # the center's own 0420 is answered from the center's message
    center_reversal = MEDICAL.reversal_of({11: "000460", 7: "1126101700"})
    ack = T.response(center_reversal, reversal.response_to("25"))
    assert (ack.mti, ack[39], ack[11]) == ("0430", "25", "000460")
    assert ack[90] == center_reversal[90] == "0200000456112610153000011010500" + "0" * 11
    CENTER.encode(ack)


def test_a_center_reversal_is_not_a_request():
    with pytest.raises(MappingError, match=r"use Translator\.reversal") as info:
        translate(MEDICAL.reversal_of({11: "000460"}))
    assert info.value.response_code == "12"


def test_a_refund_carries_its_original_leg_in_field_90():
    original, counters = translate(MEDICAL)
    refund = center_request("refund").with_fields({7: "1127090000", 11: "000500"})
    leg = T.request(
        refund, counters=counters, now_f7="1127090001", institution=GATEWAY, original=original
    )
    assert leg[90] == "020000045711261015310004802100000048021000"
    assert leg[11] == "000458"
    CUPS.encode(leg)


def test_outbound_amounts():
    assert T.outbound_amount(MEDICAL) == 8000
    assert T.outbound_amount(center_request("benefit_payout")) == 300000
    assert T.outbound_amount(center_request("balance_inquiry")) is None
    no_cash = MEDICAL.with_fields({61: "000000040000000000010000000000000000"})
    assert T.outbound_amount(no_cash) == 0


@pytest.mark.parametrize(
    ("message", "where", "code"),
    [
        (MEDICAL.with_fields({3: "400000"}), "processing_codes", "12"),
        (MEDICAL.without(3), "processing_codes", "12"),
        (MEDICAL.evolve(mti="0100"), "mti", "12"),
        (MEDICAL.with_fields({61: "12"}), "field 61", "30"),
        (MEDICAL.without(61), "field 61", "30"),  # never the total to the bank
        (CUPS.message("0200", {2: PAN}), "request", "96"),
    ],
)
def test_requests_the_mapping_cannot_carry(message, where, code):
    with pytest.raises(MappingError) as info:
        translate(message)
    assert (info.value.mapping, info.value.where, info.value.response_code) == (
        "center_to_cups",
        where,
        code,
    )
    assert PAN not in str(info.value)


def test_a_split_that_does_not_add_up_answers_13():
    with pytest.raises(ValidationError) as info:
        translate(MEDICAL.with_fields({4: "000000050001"}))
    assert info.value.response_code == "13"


def test_misuse_is_refused_with_96():
    leg, counters = translate(MEDICAL)
    with pytest.raises(MappingError, match="dialect 'cups'") as info:
        T.response(MEDICAL, MEDICAL)
    assert info.value.response_code == "96"
    with pytest.raises(MappingError, match="already a response"):
        T.response(MEDICAL.response_to("00"), leg.response_to("00"))
    with pytest.raises(MappingError, match="is a response"):
        T.reversal(leg.response_to("00"), counters=counters, now_f7=NOW)
    with pytest.raises(MappingError, match="lacks F7, F11 or F32"):
        T.reversal(leg.without(32), counters=counters, now_f7=NOW)
    with pytest.raises(ValueError, match="now_f7"):
        T.request(MEDICAL, counters=counters, now_f7="11261015", institution=GATEWAY)


# -- generated center messages of each kind ------------------------------------------------

_OPTIONAL = [
    12,
    13,
    14,
    15,
    22,
    25,
    35,
    37,
    41,
    42,
    43,
    48,
    49,
    52,
    53,
    55,
    56,
    57,
    58,
    59,
    62,
    63,
    100,
    102,
    103,
]
_KINDS = {
    "000000": ("0200", True),
    "500000": ("0200", False),
    "210000": ("0200", False),
    "300000": ("0200", False),
    "200000": ("0220", True),
}
_fen = st.integers(0, 10**9)


@st.composite
def center_requests(draw):
    code = draw(st.sampled_from(sorted(_KINDS)))
    mti, split = _KINDS[code]
    numbers = draw(st.sets(st.sampled_from(_OPTIONAL)))
    fields = {n: draw(field_values(CENTER, CENTER.spec.fields[n])) for n in sorted(numbers)}
    fields[2] = draw(st.text("0123456789", min_size=16, max_size=19))
    fields[3] = code
    fields[7] = draw(st.text("0123456789", min_size=10, max_size=10))
    fields[11] = draw(st.text("0123456789", min_size=6, max_size=6))
    fields[32] = draw(st.text("0123456789", min_size=1, max_size=11))
    fields[60] = draw(st.sampled_from(sorted(CENTER.spec.fields[60].values)))
    if split:
        fund, personal, cash = draw(_fen), draw(_fen), draw(_fen)
        fields[61] = f"{fund:012d}{personal:012d}{cash:012d}"
        fields[4] = f"{fund + personal + cash:012d}"
    elif code != "300000":
        fields[4] = f"{draw(_fen):012d}"
    return CENTER.message(mti, fields)


@given(
    center_requests(), st.integers(0, 999_999), st.sampled_from(sorted(CUPS.spec.response_codes))
)
def test_generated_center_requests_translate_both_ways(request, last_stan, code):
    counters = LegCounters(last_stan=last_stan)
    leg = T.request(request, counters=counters, now_f7=NOW, institution=GATEWAY)
    sent = CUPS.decode(CUPS.encode(leg))
    assert sent.fields == leg.fields
    stan = f"{counters.last_stan:06d}"
    assert (sent[2], sent[11], sent[37]) == (request[2], stan, NOW[:6] + stan)
    assert (sent[32], sent[33], sent[7]) == ("48021000", "48021000", NOW)
    if 61 in request.fields:
        assert sent[4] == request[61][24:36]  # the cash part
    else:
        assert sent.get(4) == request.get(4)
    for n in (12, 13, 14, 22, 35, 41, 42, 43, 52, 53, 55, 63, 102, 103):
        assert sent.get(n) == request.get(n)
    reply = T.response(request, sent.response_to(code))
    back = CENTER.decode(CENTER.encode(reply))
    assert back[39] in CENTER.spec.response_codes
    for n in CENTER.spec.response_echo:
        assert back.get(n) == request.get(n) or (n == 37 and 37 not in request.fields)
