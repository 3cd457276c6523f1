"""BER-TLV of field 55: exact values, byte-exact round trips, only DecodeError on bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sscard_gateway.errors import DecodeError, EncodeError
from sscard_gateway.iso.tlv import (
    MASKED,
    SENSITIVE_TAGS,
    TAG_NAMES,
    Tlv,
    TlvRow,
    children,
    describe,
    encode_tlv,
    get,
    parse_tlv,
    tag_name,
)

H = bytes.fromhex

REQUEST = H(
    "9F2608 1122334455667788"
    "9F2701 80"
    "9F1013 07010103A0A000010A0100000000005D4F1A64"
    "9F3704 12345678"
    "9F3602 0001"
    "9505 0000000000"
    "DF8116 02 AABB"
)


# --- exact values ---------------------------------------------------------------


def test_parse_request_tags_in_order() -> None:
    items = parse_tlv(REQUEST)
    assert [i.tag for i in items] == [0x9F26, 0x9F27, 0x9F10, 0x9F37, 0x9F36, 0x95, 0xDF8116]
    assert items[0] == Tlv(0x9F26, H("1122334455667788"))
    assert items[-1].value == H("AABB")
    assert items[-1].tag_bytes == H("DF8116")
    assert items[-1].tag_hex == "DF8116"
    assert all(i.length_form is None for i in items)
    assert encode_tlv(items) == REQUEST


def test_non_minimal_long_form_is_kept() -> None:
    data = H("5A8105 6225880137") + H("9F02820006 000000012345")
    items = parse_tlv(data)
    assert items == (Tlv(0x5A, H("6225880137")), Tlv(0x9F02, H("000000012345")))
    assert items[0].length_form == H("8105")
    assert items[1].length_form == H("820006")
    assert encode_tlv(items) == data
    # The same objects built by hand encode minimally.
    assert encode_tlv([Tlv(0x5A, H("6225880137"))]) == H("5A05 6225880137")


@pytest.mark.parametrize(
    ("length", "header"),
    [(0, "00"), (127, "7F"), (128, "8180"), (255, "81FF"), (256, "820100"), (65536, "83010000")],
)
def test_minimal_length_encodings(length: int, header: str) -> None:
    data = encode_tlv([Tlv(0x9F10, bytes(length))])
    assert data[:2] == H("9F10")
    assert data[2 : 2 + len(header) // 2] == H(header)
    parsed = parse_tlv(data)
    assert parsed[0].length_form is None
    assert parsed[0].value == bytes(length)


def test_leading_zero_long_form_is_non_minimal() -> None:
    data = H("DF31 820080") + bytes(128)
    (item,) = parse_tlv(data)
    assert item.length_form == H("820080")
    assert encode_tlv([item]) == data


def test_unknown_and_duplicate_tags_are_kept() -> None:
    data = H("DF7F01 01 9F2601 AA DF7F01 02 C101 FF")
    items = parse_tlv(data)
    assert [i.tag for i in items] == [0xDF7F, 0x9F26, 0xDF7F, 0xC1]
    assert get(items, 0xDF7F) == H("01")
    assert get(items, 0x9F27) is None
    assert encode_tlv(items) == data


def test_four_byte_tag_and_zero_tag() -> None:
    data = H("DF818116 01 01 0000")
    items = parse_tlv(data)
    assert [i.tag for i in items] == [0xDF818116, 0x00]
    assert items[1].value == b""
    assert encode_tlv(items) == data


def test_bytearray_input_is_accepted() -> None:
    assert parse_tlv(bytearray(H("9F2701 80"))) == (Tlv(0x9F27, H("80")),)


def test_constructed_children() -> None:
    script = H("9F1804 00000001 8605 8424000008")
    data = H("710E") + script + H("8A02 3030")
    items = parse_tlv(data)
    assert items[0].constructed and not items[1].constructed
    assert items[0].value == script
    inner = children(items[0])
    assert [i.tag for i in inner] == [0x9F18, 0x86]
    assert encode_tlv(inner) == script
    assert children(Tlv(0x70, b"")) == ()


# --- errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hex_data", "offset"),
    [
        ("", 0),  # empty field
        ("9F", 0),  # truncated tag
        ("5A0100 9F", 3),  # truncated tag after an object
        ("DF8181", 0),  # truncated multi-byte tag
        ("DF81818101 00", 0),  # tag of 5 bytes
        ("9F26", 2),  # no length
        ("9F26 80", 2),  # indefinite length
        ("5A 85 0000000001 00", 1),  # length of length > 4
        ("5A FF", 1),  # length of length 127
        ("5A 82 01", 1),  # truncated long length
        ("5A 05 0102", 2),  # value past the end
        ("9F2701 80 9F26 08 11", 7),  # value past the end, second object
        ("5A 84 FFFFFFFF 00", 6),  # huge length past the end
    ],
)
def test_malformed_input_offsets(hex_data: str, offset: int) -> None:
    with pytest.raises(DecodeError) as info:
        parse_tlv(H(hex_data))
    assert info.value.field == "55"
    assert info.value.offset == offset
    assert info.value.response_code == "30"


def test_field_and_base_are_reported() -> None:
    with pytest.raises(DecodeError) as info:
        parse_tlv(H("5A 05 01"), field="55.71", base=100)
    assert (info.value.field, info.value.offset) == ("55.71", 102)
    with pytest.raises(DecodeError) as info:
        children(Tlv(0x71, H("9F18")), base=10)
    assert info.value.offset == 12


@pytest.mark.parametrize(
    "tag", [-1, 0x1F, 0x9F, 0x9F80, 0x5A1F, 0xDF8181, 0xDF81818116, 1 << 40, True]
)
def test_malformed_tags_are_refused(tag: int) -> None:
    with pytest.raises(EncodeError) as info:
        Tlv(tag, b"")
    assert info.value.field == "55"


def test_value_and_length_form_are_checked() -> None:
    with pytest.raises(EncodeError):
        Tlv(0x5A, "6225")  # type: ignore[arg-type]
    with pytest.raises(EncodeError):
        Tlv(0x5A, b"12345", length_form=H("8106"))
    with pytest.raises(EncodeError):
        Tlv(0x5A, b"12345", length_form=H("85 0000000005"))
    assert Tlv(0x5A, b"12345", length_form=H("8105")) == Tlv(0x5A, b"12345")


def test_encode_refuses_empty_and_foreign_items() -> None:
    with pytest.raises(EncodeError):
        encode_tlv([])
    with pytest.raises(EncodeError):
        encode_tlv([(0x9F26, b"")])  # type: ignore[list-item]


# --- names and masking ----------------------------------------------------------


def test_tag_names() -> None:
    assert tag_name(0x9F26) == "Application Cryptogram"
    assert tag_name(0xDF31) == "Issuer Script Results"
    assert tag_name(0xDF8116) is None
    for tag in (0x9F26, 0x9F27, 0x9F10, 0x9F37, 0x9F36, 0x95, 0x9A, 0x9C, 0x9F02, 0x5F2A):
        assert tag in TAG_NAMES
    for tag in (0x82, 0x9F1A, 0x9F03, 0x9F33, 0x9F34, 0x9F35, 0x9F1E, 0x84, 0x9F09, 0x9F41):
        assert tag in TAG_NAMES
    for tag in (0x9F63, 0x9F74, 0x91, 0x71, 0x72, 0x8A):
        assert tag in TAG_NAMES


def test_describe_masks_secrets() -> None:
    pan = H("6225880137654321")
    items = (
        Tlv(0x9F26, H("1122334455667788")),
        Tlv(0x5A, pan),
        Tlv(0x57, H("6225880137654321D2512F")),
        Tlv(0x5F20, b"ZHANG/SAN"),
        Tlv(0x9F10, H("0701")),
        Tlv(0x70, H("5701AA 9F3602 0001")),
        Tlv(0x71, H("9F180400000001")),
        Tlv(0x77, H("9F")),
        Tlv(0xDF8116, H("00")),
    )
    rows = describe(items)
    assert rows[0] == TlvRow(0, "9F26", "Application Cryptogram", 8, MASKED)
    assert rows[1].value == "622588******4321"
    assert rows[2].value == MASKED
    assert rows[3].value == MASKED
    assert rows[4].value == "0701"
    assert rows[5] == TlvRow(0, "70", "READ RECORD Response Message Template", 8, "")
    assert rows[6] == TlvRow(1, "57", "Track 2 Equivalent Data", 1, MASKED)
    assert rows[7] == TlvRow(1, "9F36", "Application Transaction Counter (ATC)", 2, "0001")
    assert rows[8].value == MASKED  # script
    assert rows[9].value == MASKED  # constructed but unparsable
    assert rows[10] == TlvRow(0, "DF8116", "unknown", 1, "00")
    text = repr(rows) + repr(items)
    assert "1122334455667788" not in text
    assert "0137654321" not in text
    assert "ZHANG" not in text and "5A48414E47" not in text.upper()
    assert {0x9F26, 0x91, 0x71, 0x72, 0x57, 0x5F20} <= SENSITIVE_TAGS


def test_short_pan_tag_shows_at_most_half() -> None:
    (row,) = describe([Tlv(0x5A, H("12345678"))])
    assert row.value == "****5678"


# --- properties -----------------------------------------------------------------


@st.composite
def tags(draw: st.DrawFn) -> int:
    first = draw(st.integers(0, 255))
    if first & 0x1F != 0x1F and draw(st.booleans()):
        return first
    first |= 0x1F
    middle = draw(st.lists(st.integers(0x80, 0xFF), max_size=2))
    last = draw(st.integers(0, 0x7F))
    return int.from_bytes(bytes([first, *middle, last]), "big")


@st.composite
def tlvs(draw: st.DrawFn) -> Tlv:
    tag = draw(tags())
    value = draw(st.one_of(st.binary(max_size=40), st.binary(min_size=120, max_size=300)))
    n = len(value)
    minimal = 0 if n < 0x80 else (n.bit_length() + 7) // 8
    sizes = [k for k in range(1, 5) if k > minimal]
    non_minimal = draw(st.booleans())
    if sizes and non_minimal:
        k = draw(st.sampled_from(sizes))
        return Tlv(tag, value, length_form=bytes([0x80 | k]) + n.to_bytes(k, "big"))
    return Tlv(tag, value)


tlv_lists = st.lists(tlvs(), min_size=1, max_size=8)


@given(tlv_lists)
def test_parse_encode_round_trip(items: list[Tlv]) -> None:
    data = encode_tlv(items)
    parsed = parse_tlv(data)
    assert parsed == tuple(items)
    assert [p.length_form for p in parsed] == [i.length_form for i in items]
    assert encode_tlv(parsed) == data


def _check_any_bytes(data: bytes) -> None:
    try:
        items = parse_tlv(data)
    except DecodeError as exc:
        assert exc.field == "55"
        assert 0 <= exc.offset <= len(data)
    else:
        assert encode_tlv(items) == data
        for item in items:
            if item.constructed and item.value:
                try:
                    inner = children(item)
                except DecodeError as exc:  # not a TLV list: kept opaque
                    assert 0 <= exc.offset <= len(item.value)
                    continue
                assert encode_tlv(inner) == item.value


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_decode_error(data: bytes) -> None:
    _check_any_bytes(data)


@given(tlv_lists, st.data())
def test_mutated_encodings_parse_or_decode_error(items: list[Tlv], data: st.DataObject) -> None:
    raw = bytearray(encode_tlv(items))
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[pos] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del raw[pos:]
        elif op == "insert":
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=4))
        elif raw:
            del raw[pos]
    _check_any_bytes(bytes(raw))


@given(tlv_lists)
def test_constructed_round_trip(inner: list[Tlv]) -> None:
    outer = Tlv(0x70, encode_tlv(inner))
    (parsed,) = parse_tlv(encode_tlv([outer]))
    assert children(parsed) == tuple(inner)
