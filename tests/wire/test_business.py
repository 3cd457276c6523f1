"""Business validation declared by the center dialect."""

import json

import pytest

from sscard_gateway.errors import DecodeError, ValidationError
from sscard_gateway.ids import AmountSplit
from sscard_gateway.iso import load_dialect, specs_dir
from sscard_gateway.iso.business import amount, amount_split, subfields, validate
from sscard_gateway.iso.jsonio import message_from_dict


@pytest.fixture
def medical():
    data = json.loads((specs_dir() / "samples" / "center_0200_medical.json").read_text())
    return message_from_dict(load_dialect("center"), data)


def test_sample_is_valid_and_amounts_are_integer_fen(medical):
    validate(medical)
    assert amount(medical) == 50000
    assert amount_split(medical) == AmountSplit(50000, 32000, 10000, 8000)
    assert subfields(medical, 61)["cash"] == "000000008000"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        (2, "6225880137654321", "14"),  # Luhn digit wrong
        (56, "110105194912310021", "30"),  # MOD 11-2 character wrong
        (58, "990105", "30"),  # no such province
        (60, "999", "12"),  # unknown insurance kind
        (4, "000000050001", "13"),  # split no longer adds up
    ],
)
def test_each_check_answers_with_its_code(medical, field, value, code):
    with pytest.raises(ValidationError) as info:
        validate(medical.with_fields({field: value}))
    assert info.value.response_code == code


def test_bad_split_layout_is_a_decode_error(medical):
    with pytest.raises(DecodeError):
        amount_split(medical.with_fields({61: "12"}))


def test_no_split_without_field_61(medical):
    assert amount_split(medical.without(61)) is None
    validate(medical.without(61))


def test_cups_has_no_split():
    cups = load_dialect("cups")
    assert amount_split(cups.message("0200", {4: "000000000100"})) is None
