"""pos_to_cups: a hospital terminal's request to CUPS and the answer back."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sscard_gateway.errors import MappingError
from sscard_gateway.iso import CupsHeader, PosHeader, Tpdu, load_dialect, specs_dir
from sscard_gateway.iso.jsonio import message_from_dict
from sscard_gateway.iso.strategies import field_values
from sscard_gateway.routing import InstitutionCodes, LegCounters, load_mapping

POS = load_dialect("pos")
CUPS = load_dialect("cups")
T = load_mapping("pos_to_cups")
GATEWAY = InstitutionCodes("48021000", "48021001")
NOW = "1126101531"
PAN = "6225880137654324"
TRACK = "6225880137654324=29122011234567890000"


def sample():
    path = specs_dir() / "samples" / "pos_0200_purchase.json"
    return message_from_dict(POS, json.loads(path.read_text()))


PURCHASE = sample()


def translate(message, original=None):
    counters = LegCounters(last_stan=456)
    leg = T.request(message, counters=counters, now_f7=NOW, institution=GATEWAY, original=original)
    return leg, counters


def test_purchase_leg_field_by_field():
    leg, _ = translate(PURCHASE)
    assert leg.mti == "0200"
    assert leg.header == CupsHeader(destination="00010000", source="48021001")
    assert dict(leg.fields) == {
        2: PAN,
        3: "000000",
        4: "000000012345",
        7: NOW,
        11: "000457",  # the gateway's STAN, not the terminal's 000123
        12: "101531",  # the terminal sent no local time: the leg's
        13: "1126",
        14: "2912",
        18: "8062",
        22: "051",
        23: "001",
        25: "00",
        26: "06",
        32: "48021000",
        33: "48021001",
        35: TRACK,
        37: "112610000457",
        41: "HOSP0001",
        42: "110105806200001",
        49: "156",
        52: bytes.fromhex("7CE09CE60EE87A4F"),
        53: "2600000000000000",
        60: "0000050",  # reason 0000, owner 0, read capability 5 (IC), IC condition 0
    }
    frame = CUPS.encode(leg)
    assert CUPS.decode(frame).fields == leg.fields


def test_terminal_time_is_kept_when_sent():
    leg, _ = translate(PURCHASE.with_fields({12: "093000", 13: "1125"}))
    assert (leg[12], leg[13]) == ("093000", "1125")


@pytest.mark.parametrize(
    ("f60", "cups_f60"),
    [
        ("22000001000500", "0000050"),  # 60.6 beyond the declared layout is not read
        ("2200000100061", "0000061"),
        ("22000001000", "0000000"),  # no read capability: defaults
        (None, "0000000"),
    ],
)
def test_field_60_is_rebuilt_from_the_pos_layout(f60, cups_f60):
    message = PURCHASE.without(60) if f60 is None else PURCHASE.with_fields({60: f60})
    leg, _ = translate(message)
    assert leg[60] == cups_f60
    CUPS.encode(leg)


def test_a_malformed_field_60_answers_30():
    with pytest.raises(MappingError) as info:
        translate(PURCHASE.with_fields({60: "2200"}))
    assert (info.value.where, info.value.response_code) == ("field 60", "30")


@pytest.mark.parametrize(
    ("mti", "pos_code", "cups_code"),
    [
        ("0200", "000000", "000000"),
        ("0200", "310000", "300000"),
        ("0200", "200000", "200000"),
        ("0220", "200000", "200000"),
        ("0100", "030000", "030000"),
    ],
)
def test_processing_codes(mti, pos_code, cups_code):
    leg, _ = translate(PURCHASE.evolve(mti=mti).with_fields({3: pos_code}))
    assert (leg.mti, leg[3]) == (mti, cups_code)


def test_a_void_refers_to_the_original_outbound_leg():
    original, counters = translate(PURCHASE)
    void = PURCHASE.with_fields({3: "200000", 11: "000124", 61: "000001000123"})
    leg = T.request(
        void, counters=counters, now_f7="1126102000", institution=GATEWAY, original=original
    )
    assert leg[90] == "020000045711261015310004802100000048021001"
    assert 61 not in leg and leg[11] == "000458"
    CUPS.encode(leg)


def test_purchase_response_field_by_field():
    leg, _ = translate(PURCHASE)
    answer = CUPS.decode(
        CUPS.encode(leg.response_to("00", {38: "123456", 15: "1127", 44: "0102030405"}))
    )
    reply = T.response(PURCHASE, answer)
    assert reply.mti == "0210"
    assert reply.header == PosHeader(
        tpdu=Tpdu(destination="0000", source="0003"), application="61", version="31"
    )
    assert dict(reply.fields) == {
        2: PAN,
        3: "000000",
        4: "000000012345",
        11: "000123",  # the terminal's STAN
        12: "101531",
        13: "1126",
        14: "2912",
        15: "1127",
        22: "051",
        23: "001",
        25: "00",
        26: "06",
        37: "112610000457",  # the switch's RRN, printed on the slip
        38: "123456",
        39: "00",
        41: "HOSP0001",
        42: "110105806200001",
        44: "0102030405",
        49: "156",
        53: "2600000000000000",
        60: "22000001000500",
    }
    assert POS.decode(POS.encode(reply)).fields == reply.fields


@pytest.mark.parametrize(
    ("cups_code", "pos_code"),
    [
        ("00", "00"),
        ("05", "05"),
        ("15", "14"),
        ("40", "12"),
        ("68", "98"),
        ("91", "98"),
        ("92", "96"),
        ("A9", "96"),
        ("C3", "12"),
        ("A0", "A0"),
    ],
)
def test_response_codes(cups_code, pos_code):
    leg, _ = translate(PURCHASE)
    assert T.response(PURCHASE, leg.response_to(cups_code))[39] == pos_code


def test_a_terminal_reversal_goes_through_reversal():
    leg, counters = translate(PURCHASE)
    pos_reversal = PURCHASE.reversal_of()
    assert pos_reversal.mti == "0400"
    with pytest.raises(MappingError, match="reversal"):
        translate(pos_reversal)
    upstream = T.reversal(leg, counters=counters, now_f7="1126101600")
    assert upstream.mti == "0420"
    assert upstream[90] == "020000045711261015310004802100000048021001"
    reply = T.response(pos_reversal, upstream.response_to("00"))
    assert (reply.mti, reply[39], reply[11]) == ("0410", "00", "000123")
    POS.encode(reply)


_OPTIONAL = [12, 13, 14, 22, 23, 25, 26, 35, 36, 41, 42, 49, 52, 53, 55, 63]


@st.composite
def pos_requests(draw):
    numbers = draw(st.sets(st.sampled_from(_OPTIONAL)))
    fields = {n: draw(field_values(POS, POS.spec.fields[n])) for n in sorted(numbers)}
    fields[2] = draw(st.text("0123456789", min_size=16, max_size=19))
    fields[3] = draw(st.sampled_from(["000000", "310000", "200000"]))
    fields[4] = draw(st.text("0123456789", min_size=12, max_size=12))
    fields[11] = draw(st.text("0123456789", min_size=6, max_size=6))
    fields[60] = draw(field_values(POS, POS.spec.fields[60]))
    return POS.message("0200", fields)


def test_a_value_the_cups_field_refuses_answers_30():
    with pytest.raises(MappingError) as info:
        translate(PURCHASE.with_fields({49: "CNY"}))  # POS an3, CUPS n3
    assert (info.value.where, info.value.response_code) == ("field 49", "30")


@given(pos_requests())
def test_generated_pos_requests_encode_in_cups(request):
    if not request.text(49, "156").isdigit():
        with pytest.raises(MappingError, match="field 49"):
            translate(request)
        return
    leg, _ = translate(request)
    sent = CUPS.decode(CUPS.encode(leg))
    assert sent.fields == leg.fields
    assert (sent[2], sent[4], sent[11]) == (request[2], request[4], "000457")
    assert 64 not in sent and 63 not in sent
    reply = T.response(request, sent.response_to("00"))
    assert POS.decode(POS.encode(reply)).fields == reply.fields
