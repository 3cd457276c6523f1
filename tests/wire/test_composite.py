"""Composite fields: field 90, fixed layouts (field 60), usage tags (48/63), field 62 keys."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sscard_gateway.errors import DecodeError, EncodeError, SpecError
from sscard_gateway.iso.composite import (
    DEFAULT_F62_LAYOUTS,
    F62Layout,
    FixedLayout,
    KeyBlock,
    OriginalData,
    SignOnKeys,
    Subfield,
    Usage,
    format_f62_keys,
    format_nk,
    parse_f62_keys,
    parse_nk,
)

H = bytes.fromhex

# --- field 90 -------------------------------------------------------------------

F90 = "020012345611261907000004802100000001020000"


def test_original_data_parse_and_format() -> None:
    od = OriginalData.parse(F90)
    assert od == OriginalData("0200", "123456", "1126190700", "00048021000", "00001020000")
    assert od.format() == F90
    assert len(F90) == 42


def test_original_data_from_original_pads_institutions() -> None:
    od = OriginalData.from_original(
        mti="0200", stan="123456", f7="1126190700", f32="48021000", f33="01020000"
    )
    assert od.acquirer == "00048021000"
    assert od.forwarder == "00001020000"
    assert od.format() == "0200123456112619070000048021000" + "00001020000"
    od = OriginalData.from_original(mti="0200", stan="123456", f7="1126190700", f32="48021000")
    assert od.forwarder == "0" * 11


@pytest.mark.parametrize(
    ("value", "offset"),
    [
        (F90[:41], 41),
        (F90 + "0", 42),
        (F90[:10] + "A" + F90[11:], 10),
        ("", 0),
        ("\uff10" + F90[1:], 0),  # full-width digit
    ],
)
def test_original_data_parse_errors(value: str, offset: int) -> None:
    with pytest.raises(DecodeError) as info:
        OriginalData.parse(value)
    assert (info.value.field, info.value.offset) == ("90", offset)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"f32": "123456789012"},  # 12 digits
        {"f32": ""},  # acquirer is required
        {"f32": "4802100A"},
        {"f33": "1" * 12},
        {"stan": "12345"},
        {"mti": "200"},
        {"f7": "11261907000"},
    ],
)
def test_original_data_from_original_errors(kwargs: dict[str, str]) -> None:
    args = {"mti": "0200", "stan": "123456", "f7": "1126190700", "f32": "48021000"} | kwargs
    with pytest.raises(EncodeError) as info:
        OriginalData.from_original(**args)
    assert info.value.field == "90"


digits = st.text(alphabet="0123456789", min_size=42, max_size=42)


@given(digits)
def test_original_data_round_trip(value: str) -> None:
    assert OriginalData.parse(value).format() == value


@given(
    st.text("0123456789", min_size=4, max_size=4),
    st.text("0123456789", min_size=6, max_size=6),
    st.text("0123456789", min_size=10, max_size=10),
    st.text("0123456789", min_size=1, max_size=11),
    st.one_of(st.none(), st.text("0123456789", min_size=1, max_size=11)),
)
def test_original_data_from_original_round_trip(
    mti: str, stan: str, f7: str, f32: str, f33: str | None
) -> None:
    od = OriginalData.from_original(mti=mti, stan=stan, f7=f7, f32=f32, f33=f33)
    assert OriginalData.parse(od.format()) == od
    assert int(od.acquirer) == int(f32)
    assert od.acquirer.endswith(f32)


# --- fixed layouts --------------------------------------------------------------

POS_F60_SPEC: list[list[object]] = [
    ["transaction_type", 2, True],
    ["batch", 6, True],
    ["network_code", 3, True],
    ["read_capability", 1, False],
    ["ic_condition", 1, False],
]


def pos_f60() -> FixedLayout:
    return FixedLayout.from_spec(POS_F60_SPEC, file="pos.toml", where="fields.60", field="60")


def test_fixed_layout_parse_and_format() -> None:
    layout = pos_f60()
    assert layout.subfields[3] == Subfield("read_capability", 1, False)
    assert layout.parse("00000001003") == {
        "transaction_type": "00",
        "batch": "000001",
        "network_code": "003",
    }
    full = layout.parse("2200000100050")
    assert list(full) == [name for name, *_ in POS_F60_SPEC]
    assert full["read_capability"] == "5" and full["ic_condition"] == "0"
    assert layout.format(full) == "2200000100050"
    assert layout.parse("220000010005") == {
        "transaction_type": "22",
        "batch": "000001",
        "network_code": "000",
        "read_capability": "5",
    }


@pytest.mark.parametrize(
    ("value", "offset"),
    [
        ("", 0),  # required missing
        ("22000", 2),  # ends inside batch
        ("2200000100", 8),  # ends inside network_code
        ("22000001000501", 13),  # trailing character
    ],
)
def test_fixed_layout_parse_errors(value: str, offset: int) -> None:
    with pytest.raises(DecodeError) as info:
        pos_f60().parse(value)
    assert (info.value.field, info.value.offset) == ("60", offset)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"transaction_type": "22", "batch": "000001"}, "network_code is required"),
        (
            {
                "transaction_type": "22",
                "batch": "000001",
                "network_code": "000",
                "ic_condition": "0",
            },
            "ic_condition needs read_capability",
        ),
        ({"transaction_type": "2", "batch": "000001", "network_code": "000"}, "2 characters"),
        (
            {"transaction_type": "22", "batch": "000001", "network_code": "000", "x": "1"},
            "no subfield named x",
        ),
    ],
)
def test_fixed_layout_format_errors(values: dict[str, str], problem: str) -> None:
    with pytest.raises(EncodeError) as info:
        pos_f60().format(values)
    assert info.value.field == "60"
    assert problem in info.value.problem


def test_fixed_layout_format_treats_none_as_absent() -> None:
    values = {"transaction_type": "22", "batch": "000001", "network_code": "000"}
    assert pos_f60().format(values | {"read_capability": None}) == "22000001000"


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ("a", "fields.60"),
        ([], "fields.60[0]"),
        ([["a"]], "fields.60[0]"),
        ([("a", 1)], "fields.60[0]"),
        ([["", 1]], "fields.60[0]"),
        ([[3, 1]], "fields.60[0]"),
        ([["a", 1], ["a", 2]], "fields.60[1]"),
        ([["a", 0]], "fields.60[0]"),
        ([["a", True]], "fields.60[0]"),
        ([["a", "2"]], "fields.60[0]"),
        ([["a", 1, "yes"]], "fields.60[0]"),
        ([["a", 1, False], ["b", 1, True]], "fields.60[1]"),
    ],
)
def test_fixed_layout_spec_errors(spec: object, where: str) -> None:
    with pytest.raises(SpecError) as info:
        FixedLayout.from_spec(spec, file="pos.toml", where="fields.60", field="60")
    assert (info.value.file, info.value.where) == ("pos.toml", where)


def test_fixed_layout_direct_construction_is_checked() -> None:
    with pytest.raises(SpecError):
        FixedLayout("60", ())
    assert FixedLayout("60", (Subfield("a", 2),)).parse("12") == {"a": "12"}


@st.composite
def layouts_and_values(draw: st.DrawFn) -> tuple[FixedLayout, dict[str, str]]:
    n_required = draw(st.integers(1, 4))
    n_optional = draw(st.integers(0, 3))
    lengths = draw(
        st.lists(
            st.integers(1, 6), min_size=n_required + n_optional, max_size=n_required + n_optional
        )
    )
    spec: list[list[object]] = [
        [f"s{i}", length, i < n_required] for i, length in enumerate(lengths)
    ]
    layout = FixedLayout.from_spec(spec, file="f.toml", where="x", field="60")
    present = n_required + draw(st.integers(0, n_optional))
    values = {
        f"s{i}": draw(st.text("0123456789ABC ", min_size=lengths[i], max_size=lengths[i]))
        for i in range(present)
    }
    return layout, values


@given(layouts_and_values())
def test_fixed_layout_round_trip(case: tuple[FixedLayout, dict[str, str]]) -> None:
    layout, values = case
    text = layout.format(values)
    assert layout.parse(text) == values
    assert list(layout.parse(text)) == list(values)


# --- usage tags -------------------------------------------------------------------

KEY = H("0123456789ABCDEFFEDCBA9876543210")
KCV = H("08D7B4FB")


def test_usage_parse_and_format() -> None:
    usage = Usage.parse("NK0123")
    assert usage == Usage("NK", "0123")
    assert usage.format() == "NK0123"
    assert Usage.parse("A1") == Usage("A1", "")
    assert "0123" not in repr(usage)


@pytest.mark.parametrize(("value", "offset"), [("", 0), ("N", 1), ("nk01", 0), ("N-01", 1)])
def test_usage_parse_errors(value: str, offset: int) -> None:
    with pytest.raises(DecodeError) as info:
        Usage.parse(value, field="63")
    assert (info.value.field, info.value.offset) == ("63", offset)


@pytest.mark.parametrize("tag", ["nk", "N", "NKK", "N_", 12])
def test_usage_tag_is_checked(tag: str) -> None:
    with pytest.raises(EncodeError):
        Usage(tag, "")


def test_nk_double_and_single_length() -> None:
    value = "NK" + KEY.hex().upper() + KCV.hex().upper()
    block = parse_nk(value)
    assert block == KeyBlock(KEY, KCV)
    assert format_nk(block) == value
    assert parse_nk(value.lower().replace("nk", "NK", 1)) == block
    single = "NK" + KEY[:8].hex() + KCV.hex()
    assert parse_nk(single, key_length=8) == KeyBlock(KEY[:8], KCV)
    assert format_nk(KeyBlock(KEY[:8], KCV), key_length=8) == single.upper()
    assert "0123456789" not in repr(block) and "08D7B4FB" in repr(block)


@pytest.mark.parametrize(
    ("value", "offset"),
    [
        ("SM" + "00" * 20, 0),  # wrong usage
        ("NK" + "00" * 19, 40),  # too short
        ("NK" + "00" * 21, 42),  # too long
        ("NK" + "00" * 5 + "G0" + "00" * 14, 12),  # not hex
        ("NK" + "0" * 39 + "é", 41),  # not ASCII
    ],
)
def test_nk_errors(value: str, offset: int) -> None:
    with pytest.raises(DecodeError) as info:
        parse_nk(value)
    assert (info.value.field, info.value.offset) == ("48", offset)


def test_format_nk_checks_lengths() -> None:
    with pytest.raises(EncodeError):
        format_nk(KeyBlock(KEY[:8], KCV))


# --- field 62 ---------------------------------------------------------------------


def _blocks(key_length: int, n: int) -> list[KeyBlock]:
    return [KeyBlock(bytes([i + 1]) * key_length, bytes([0xA0 + i]) * 4) for i in range(n)]


@pytest.mark.parametrize(("code", "size"), [("001", 24), ("003", 40), ("004", 60)])
def test_f62_sizes(code: str, size: int) -> None:
    assert DEFAULT_F62_LAYOUTS[code].size == size
    layout = DEFAULT_F62_LAYOUTS[code]
    blocks = _blocks(layout.key_length, 3 if layout.track else 2)
    data = b"".join(b.cryptogram + b.check_value for b in blocks)
    assert len(data) == size
    keys = parse_f62_keys(data, code)
    assert keys.pin == blocks[0] and keys.mac == blocks[1]
    assert keys.track == (blocks[2] if layout.track else None)
    assert format_f62_keys(keys, code) == data


def test_f62_exact_split_single_length() -> None:
    data = H("1111111111111111 AAAAAAAA 2222222222222222 BBBBBBBB")
    keys = parse_f62_keys(data, "001")
    assert keys == SignOnKeys(
        KeyBlock(H("1111111111111111"), H("AAAAAAAA")),
        KeyBlock(H("2222222222222222"), H("BBBBBBBB")),
    )


@pytest.mark.parametrize(
    ("length", "code", "offset"),
    [(23, "001", 23), (25, "001", 24), (0, "003", 0), (40, "004", 40), (40, "002", 0)],
)
def test_f62_errors(length: int, code: str, offset: int) -> None:
    with pytest.raises(DecodeError) as info:
        parse_f62_keys(bytes(length), code)
    assert (info.value.field, info.value.offset) == ("62", offset)


def test_f62_layout_override() -> None:
    layouts = {"003": F62Layout(16, check_value_length=8)}
    keys = parse_f62_keys(bytes(48), "003", layouts=layouts)
    assert len(keys.pin.check_value) == 8
    with pytest.raises(DecodeError):
        parse_f62_keys(bytes(24), "001", layouts=layouts)


def test_format_f62_errors() -> None:
    pin, mac, track = _blocks(16, 3)
    with pytest.raises(EncodeError):
        format_f62_keys(SignOnKeys(pin, mac, track), "003")  # track not expected
    with pytest.raises(EncodeError):
        format_f62_keys(SignOnKeys(pin, mac), "004")  # track missing
    with pytest.raises(EncodeError):
        format_f62_keys(SignOnKeys(pin, mac), "001")  # double-length keys under 001
    with pytest.raises(EncodeError):
        format_f62_keys(SignOnKeys(pin, KeyBlock(mac.cryptogram, b"\0" * 3)), "003")
    with pytest.raises(EncodeError):
        format_f62_keys(SignOnKeys(pin, mac), "009")


@given(st.sampled_from(sorted(DEFAULT_F62_LAYOUTS)), st.data())
def test_f62_round_trip(code: str, data: st.DataObject) -> None:
    size = DEFAULT_F62_LAYOUTS[code].size
    raw = data.draw(st.binary(min_size=size, max_size=size))
    keys = parse_f62_keys(raw, code)
    assert format_f62_keys(keys, code) == raw
    assert parse_f62_keys(format_f62_keys(keys, code), code) == keys
