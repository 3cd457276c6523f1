"""Identifiers and money: Luhn, MOD 11-2, region and card numbers, fen amounts."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sscard_gateway.errors import DecodeError, ValidationError
from sscard_gateway.ids import (
    PROVINCE_CODES,
    AmountSplit,
    format_amount_field,
    format_yuan,
    is_valid_pan,
    luhn_check_digit,
    mask_pan,
    mask_ssn,
    parse_amount_field,
    ssn_check_char,
    validate_card_number,
    validate_pan,
    validate_region_code,
    validate_ssn,
)

SSN = "11010519491231002X"
PAN = "4111111111111111"

# --- PAN ------------------------------------------------------------------------


def test_luhn_known_values() -> None:
    assert luhn_check_digit("7992739871") == "3"
    assert luhn_check_digit("411111111111111") == "1"
    assert luhn_check_digit("0") == "0"
    assert is_valid_pan(PAN)
    payload = "622588013765432"
    assert is_valid_pan(payload + luhn_check_digit(payload))


@pytest.mark.parametrize("digits", ["", "12a4", "\u0661\u0662", "12 3"])
def test_luhn_refuses_non_digits(digits: str) -> None:
    with pytest.raises(ValidationError) as info:
        luhn_check_digit(digits)
    assert info.value.response_code == "14"


def test_pan_lengths() -> None:
    thirteen = "4222222222222"
    assert not is_valid_pan(thirteen)
    assert is_valid_pan(thirteen, min_len=13)
    nineteen = "622588013765432101"
    nineteen += luhn_check_digit(nineteen)
    assert is_valid_pan(nineteen)
    twenty = nineteen[:19] + luhn_check_digit(nineteen[:19])
    assert not is_valid_pan(twenty)
    assert not is_valid_pan(None)
    assert not is_valid_pan(4111111111111111)
    assert not is_valid_pan("\uff14111111111111111")  # full-width digit


@pytest.mark.parametrize(
    ("pan", "problem"),
    [
        ("4111111111111112", "PAN check digit is wrong"),
        ("411111111111111", "must be 16 to 19 digits"),
        ("41111111111111x1", "must be ASCII digits"),
    ],
)
def test_validate_pan_errors(pan: str, problem: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_pan(pan)
    assert info.value.what == "PAN"
    assert info.value.problem == problem
    assert info.value.response_code == "14"
    assert pan not in str(info.value) and "111111" not in str(info.value)


def test_validate_pan_returns_pan() -> None:
    assert validate_pan(PAN) == PAN


@given(st.text("0123456789", min_size=15, max_size=18), st.data())
def test_luhn_detects_any_single_digit_change(payload: str, data: st.DataObject) -> None:
    pan = payload + luhn_check_digit(payload)
    assert is_valid_pan(pan)
    pos = data.draw(st.integers(0, len(pan) - 1))
    new = data.draw(st.sampled_from([d for d in "0123456789" if d != pan[pos]]))
    assert not is_valid_pan(pan[:pos] + new + pan[pos + 1 :])


@pytest.mark.parametrize(
    ("pan", "masked"),
    [
        ("6225880137654321", "622588******4321"),
        ("6225880137654321012", "622588*********1012"),
        ("1234567890123", "12*******0123"),  # short: at most half shown
        ("12345678", "****5678"),
        ("123", "**3"),
        ("", ""),
    ],
)
def test_mask_pan(pan: str, masked: str) -> None:
    assert mask_pan(pan) == masked


def test_mask_pan_options() -> None:
    assert mask_pan(PAN, first=0, last=4, fill="X") == "XXXXXXXXXXXX1111"
    assert mask_pan(PAN, first=-3, last=-1) == "*" * 16


@given(st.text(st.characters(exclude_characters="\0"), max_size=30))
def test_mask_never_shows_more_than_allowed(value: str) -> None:
    masked = mask_pan(value, fill="\0")
    assert len(masked) == len(value)
    if len(value) >= 16:
        assert masked == value[:6] + "\0" * (len(value) - 10) + value[-4:]
    else:
        shown = [i for i, ch in enumerate(masked) if ch != "\0"]
        assert len(shown) <= len(value) // 2
        assert all(masked[i] == value[i] for i in shown)


# --- social security number ---------------------------------------------------------


def test_ssn_known_value() -> None:
    assert ssn_check_char(SSN[:17]) == "X"
    assert validate_ssn(SSN) == SSN
    assert mask_ssn(SSN) == "110105***********X"


@pytest.mark.parametrize(
    ("ssn", "problem"),
    [
        (SSN[:17], "must be 18 characters"),
        (SSN[:-1] + "x", "the last character must be a digit or X"),
        ("1101051949123100X2", "the first 17 characters must be digits"),
        (SSN[:-1] + "1", "check character is wrong"),
    ],
)
def test_ssn_errors(ssn: str, problem: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_ssn(ssn)
    assert info.value.problem == problem
    assert info.value.response_code == "30"
    assert SSN[:14] not in str(info.value)


def _ssn(first17: str) -> str:
    return first17 + ssn_check_char(first17)


@pytest.mark.parametrize(
    ("first17", "problem"),
    [
        ("99010519491231002", "region code has no known province"),
        ("00000019491231002", "region code has no known province"),
        ("11010519490230002", "birth date is not a calendar date"),
        ("11010518790101002", "birth date is not plausible"),
    ],
)
def test_ssn_rules(first17: str, problem: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_ssn(_ssn(first17))
    assert info.value.problem == problem


def test_ssn_today_and_special_regions() -> None:
    future = _ssn("11010520300101002")
    assert validate_ssn(future) == future
    with pytest.raises(ValidationError):
        validate_ssn(future, today=datetime.date(2025, 1, 1))
    for first17 in ("83000019900101002", "81000019900101002", "91103619900101002"):
        assert validate_ssn(_ssn(first17)) == _ssn(first17)


@pytest.mark.parametrize("first17", ["1101051949123100", "1101051949123100a", "1" * 18])
def test_ssn_check_char_input(first17: str) -> None:
    with pytest.raises(ValidationError):
        ssn_check_char(first17)


@given(st.text("0123456789", min_size=17, max_size=17), st.data())
def test_mod11_2_detects_any_single_change(first17: str, data: st.DataObject) -> None:
    ssn = _ssn(first17)
    pos = data.draw(st.integers(0, 17))
    alphabet = "0123456789X" if pos == 17 else "0123456789"
    new = data.draw(st.sampled_from([c for c in alphabet if c != ssn[pos]]))
    changed = ssn[:pos] + new + ssn[pos + 1 :]
    assert ssn_check_char(changed[:17]) != changed[17]


@given(st.dates(datetime.date(1900, 1, 1), datetime.date(2024, 12, 31)), st.data())
def test_generated_ssn_validates(born: datetime.date, data: st.DataObject) -> None:
    province = data.draw(st.sampled_from(sorted(PROVINCE_CODES)))
    rest = data.draw(st.text("0123456789", min_size=4, max_size=4))
    seq = data.draw(st.text("0123456789", min_size=3, max_size=3))
    ssn = _ssn(province + rest + born.strftime("%Y%m%d") + seq)
    assert validate_ssn(ssn, today=datetime.date(2025, 1, 1)) == ssn


# --- region code and card number ----------------------------------------------------


def test_region_code() -> None:
    assert validate_region_code("110105") == "110105"
    assert validate_region_code("820000") == "820000"


@pytest.mark.parametrize("code", ["000000", "990000", "190000", "11010", "1101055", "11010a", ""])
def test_region_code_errors(code: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_region_code(code)
    assert info.value.what == "region code"


def test_card_number() -> None:
    assert validate_card_number("A12345678") == "A12345678"
    assert validate_card_number("123456789") == "123456789"
    for bad in ("a12345678", "A1234567", "A123456789", "A1234567-", "\uff2112345678"):
        with pytest.raises(ValidationError) as info:
            validate_card_number(bad)
        assert info.value.response_code == "14"


# --- money ----------------------------------------------------------------------------


def test_amount_fields() -> None:
    assert parse_amount_field("000000012345") == 12345
    assert format_amount_field(12345) == "000000012345"
    assert format_amount_field(0) == "000000000000"
    assert format_amount_field(999_999_999_999) == "999999999999"
    assert format_amount_field(5, 4) == "0005"
    assert parse_amount_field("0005", width=4) == 5


@pytest.mark.parametrize(
    ("value", "offset"),
    [("00000001234a", 11), ("123", 3), ("0000000000001", 12), ("", 0), ("-00000000001", 0)],
)
def test_parse_amount_errors(value: str, offset: int) -> None:
    with pytest.raises(DecodeError) as info:
        parse_amount_field(value, field="4")
    assert (info.value.field, info.value.offset) == ("4", offset)


@pytest.mark.parametrize("fen", [-1, 10**12, True, 1.0, "1", None])
def test_format_amount_errors(fen: object) -> None:
    with pytest.raises(ValidationError) as info:
        format_amount_field(fen)  # type: ignore[arg-type]
    assert info.value.response_code == "13"


@given(st.integers(0, 10**12 - 1))
def test_amount_round_trip(fen: int) -> None:
    assert parse_amount_field(format_amount_field(fen)) == fen


@pytest.mark.parametrize(
    ("fen", "text"), [(12345, "123.45"), (5, "0.05"), (0, "0.00"), (-5, "-0.05"), (100, "1.00")]
)
def test_format_yuan(fen: int, text: str) -> None:
    assert format_yuan(fen) == text


def test_format_yuan_refuses_non_int() -> None:
    for bad in (True, 1.5):
        with pytest.raises(ValidationError):
            format_yuan(bad)  # type: ignore[arg-type]


def test_amount_split() -> None:
    split = AmountSplit(10000, 7000, 2000, 1000)
    assert split.cash == 1000
    assert AmountSplit.from_parts(fund=7000, personal_account=2000, cash=1000) == split
    assert AmountSplit(0, 0, 0, 0).total == 0


@pytest.mark.parametrize(
    "parts",
    [(10000, 7000, 2000, 999), (0, -1, 1, 0), (1, 1.0, 0, 0), (1, True, 0, 0), (-1, -1, 0, 0)],
)
def test_amount_split_errors(parts: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValidationError) as info:
        AmountSplit(*parts)
    assert info.value.response_code == "13"


@given(st.integers(0, 10**12), st.integers(0, 10**12), st.integers(0, 10**12), st.integers(1, 99))
def test_amount_split_property(fund: int, personal: int, cash: int, delta: int) -> None:
    split = AmountSplit.from_parts(fund=fund, personal_account=personal, cash=cash)
    assert split.total == fund + personal + cash
    with pytest.raises(ValidationError):
        AmountSplit(split.total + delta, fund, personal, cash)
    if split.total >= delta:
        with pytest.raises(ValidationError):
            AmountSplit(split.total - delta, fund, personal, cash)
