"""cups_to_center: a CUPS-originated request to the card's home center and back."""

import json

import pytest

from sscard_gateway.errors import MappingError
from sscard_gateway.iso import CupsHeader, load_dialect, specs_dir
from sscard_gateway.iso.jsonio import message_from_dict
from sscard_gateway.routing import InstitutionCodes, LegCounters, load_mapping

CENTER = load_dialect("center")
CUPS = load_dialect("cups")
T = load_mapping("cups_to_center")
GATEWAY = InstitutionCodes("99000000")
NOW = "1126101531"
PAN = "6225880137654324"


def sample():
    path = specs_dir() / "samples" / "cups_0200_purchase.json"
    return message_from_dict(CUPS, json.loads(path.read_text()))


PURCHASE = sample()


def translate(message):
    counters = LegCounters(last_stan=456)
    return T.request(message, counters=counters, now_f7=NOW, institution=GATEWAY), counters


def test_purchase_becomes_a_medical_settlement_at_the_home_center():
    leg, _ = translate(PURCHASE)
    assert (leg.mti, leg.header, leg.dialect) == ("0200", None, CENTER)
    assert dict(leg.fields) == {
        2: PAN,
        3: "000000",
        4: "000000012345",
        7: NOW,
        11: "000457",
        12: "101530",
        13: "1126",
        14: "2912",
        22: "051",
        25: "00",
        32: "99000000",
        33: "99000000",
        37: "112610000457",
        41: "HOSP0001",
        42: "110105806200001",
        43: "Beijing Chaoyang Hospital               ",
        49: "156",
        52: PURCHASE[52],
        53: "2600000000000000",
        55: PURCHASE[55],
        60: "310",  # medical: CUPS field 60 (reason code) is not carried
    }
    assert CENTER.decode(CENTER.encode(leg)).fields == leg.fields


@pytest.mark.parametrize(
    ("mti", "cups_code", "center_code"),
    [("0200", "300000", "300000"), ("0200", "200000", "200000"), ("0220", "200000", "200000")],
)
def test_other_processing_codes(mti, cups_code, center_code):
    leg, _ = translate(PURCHASE.evolve(mti=mti).with_fields({3: cups_code}))
    assert (leg.mti, leg[3]) == (mti, center_code)
    assert 60 not in leg  # only a purchase is declared medical
    CENTER.encode(leg)


@pytest.mark.parametrize(
    ("change", "where"),
    [({3: "210000"}, "processing_codes"), ({"mti": "0100", 3: "030000"}, "mti")],
)
def test_what_the_center_does_not_take_answers_12(change, where):
    mti = change.pop("mti", "0200")
    with pytest.raises(MappingError) as info:
        translate(PURCHASE.evolve(mti=mti).with_fields(change))
    assert (info.value.where, info.value.response_code) == (where, "12")


def test_the_center_s_answer_becomes_the_cups_response():
    leg, _ = translate(PURCHASE)
    answer = CENTER.decode(
        CENTER.encode(leg.response_to("00", {38: "654321", 48: "BL1001156C000000012345"}))
    )
    reply = T.response(PURCHASE, answer)
    assert reply.mti == "0210"
    assert reply.header == CupsHeader(destination="48020000", source="00010000")
    expected = {
        n: PURCHASE[n]
        for n in (2, 3, 4, 7, 11, 12, 13, 14, 18, 22, 23, 25, 32, 33, 37, 41, 42, 49, 53, 60)
    }
    expected.update({38: "654321", 39: "00", 54: "1001156C000000012345"})
    assert dict(reply.fields) == expected
    assert reply[11] == "000123" and reply[32] == "48020000"  # CUPS's own, echoed
    assert CUPS.decode(CUPS.encode(reply)).fields == reply.fields


@pytest.mark.parametrize(
    "f48", ["NK0123", "BL" + "1" * 41]
)  # another usage tag; a balance too long for F54
def test_field_48_that_is_not_a_fitting_balance_is_not_carried(f48):
    leg, _ = translate(PURCHASE)
    reply = T.response(PURCHASE, leg.response_to("00", {48: f48}))
    assert 54 not in reply and 48 not in reply
    CUPS.encode(reply)


@pytest.mark.parametrize("code", sorted(CENTER.spec.response_codes))
def test_every_center_code_is_a_cups_code(code):
    assert T.response_code(code) == code


def test_a_cups_reversal_reverses_the_center_leg():
    leg, counters = translate(PURCHASE)
    cups_reversal = PURCHASE.reversal_of({11: "000124", 7: "1126101700"})
    with pytest.raises(MappingError, match="reversal"):
        translate(cups_reversal)
    upstream = T.reversal(leg, counters=counters, now_f7="1126101600")
    assert (upstream.mti, upstream[11], upstream[7]) == ("0420", "000458", "1126101600")
    assert upstream[90] == "020000045711261015310009900000000099000000"
    assert (upstream[2], upstream[4], upstream[60]) == (PAN, "000000012345", "310")
    CENTER.encode(upstream)
    reply = T.response(cups_reversal, upstream.response_to("00"))
    assert (reply.mti, reply[39], reply[11]) == ("0430", "00", "000124")
    assert reply[90] == cups_reversal[90]
    CUPS.encode(reply)
