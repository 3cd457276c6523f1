"""UnionPay's clearing file: the layout from data, writing, reading, bad lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sscard_gateway.clearing import (
    AcomReader,
    load_acom_layout,
    read_acom,
    write_acom,
    write_acom_lines,
)
from sscard_gateway.errors import AcomFormatError, ClearingError, SpecError
from sscard_gateway.sim import SwitchRecord

LAYOUT = load_acom_layout()
PAN = "6225880137654321"


def row(n: int, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "acquirer": "48020000",
        "forwarder": "48020000",
        "stan": f"{n:06d}",
        "transmission_time": "1126200224",
        "pan": PAN,
        "amount": 100 * n,
        "mti": "0200",
        "processing_code": "000000",
        "rrn": f"1126{n:08d}",
        "authorization": "A1B2C3",
        "response_code": "00",
        "switching_fee": -35,
    }
    values.update(overrides)
    return values


def test_the_shipped_layout_has_the_public_fields_in_order() -> None:
    names = [f.name for f in LAYOUT.fields]
    assert names[:6] == ["acquirer", "forwarder", "stan", "transmission_time", "pan", "amount"]
    assert [f.width for f in LAYOUT.fields][:6] == [11, 11, 6, 10, 19, 12]
    assert len(LAYOUT.fields) == 34
    assert sum(n.startswith("reserved_") for n in names) == 10
    assert LAYOUT.separator == " " and LAYOUT.line_width == 300
    assert LAYOUT.file_name("20241126") == "IND24112601ACOM"
    assert LAYOUT.by_name["switching_fee"].offset == 218


def test_lines_are_written_fixed_width_with_signed_fees(tmp_path: Path) -> None:
    path = tmp_path / "f"
    assert write_acom_lines([row(1), row(2, switching_fee=120)], path) == 2
    first, second = path.read_text().splitlines()
    assert len(first) == LAYOUT.line_width
    assert first.startswith("48020000    48020000    000001 1126200224 6225880137654321    ")
    assert first[62:75] == "000000000100 "
    fee = LAYOUT.by_name["switching_fee"]
    assert first[fee.offset : fee.offset + 12] == "D00000000035"
    assert second[fee.offset : fee.offset + 12] == "C00000000120"


def test_written_records_read_back(tmp_path: Path) -> None:
    path = tmp_path / "f"
    write_acom_lines([row(n) for n in range(1, 6)], path)
    records, problems = read_acom(path)
    assert problems == []
    assert [r.line for r in records] == [1, 2, 3, 4, 5]
    r = records[2]
    assert r.amount == 300 and r["stan"] == "000003" and r["terminal"] == ""
    assert r.match_key == "112600000003|1126200224|000003|00048020000"
    assert r.settles
    assert PAN not in repr(r) and "622588******4321" in repr(r)


@pytest.mark.parametrize(
    ("overrides", "settles"),
    [
        ({}, True),
        ({"mti": "0220", "processing_code": "200000"}, True),
        ({"response_code": "51"}, False),
        ({"processing_code": "300000"}, False),
        ({"mti": "0420"}, False),
        ({"mti": "0100"}, False),
    ],
)
def test_which_lines_settle(tmp_path: Path, overrides: dict[str, str], settles: bool) -> None:
    write_acom_lines([row(1, **overrides)], tmp_path / "f")
    [record], _ = read_acom(tmp_path / "f")
    assert record.settles is settles


def test_bad_lines_are_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "f"
    write_acom_lines([row(n) for n in range(1, 7)], path)
    lines = path.read_text().splitlines(keepends=True)
    lines[1] = lines[1][:65] + "X" + lines[1][66:]  # amount gets a letter
    lines[2] = lines[2].replace("48020000    48020000", "4802 000    48020000", 1)
    lines[3] = lines[3][:100] + "\n"  # truncated
    lines[4] = "\n"
    lines[5] = lines[5].replace("\n", "\r\n")  # CRLF is fine
    path.write_text("".join(lines))
    reader = AcomReader(path)
    records = list(reader)
    assert [r.line for r in records] == [1, 6]
    assert [(p.line, p.field) for p in reader.problems] == [
        (2, "amount"),
        (3, "acquirer"),
        (4, "line"),
        (5, "line"),
    ]
    assert reader.problems[1].problem == "must be digits, left-aligned in 11 characters"
    assert reader.problems[2].problem == "has 100 characters; the layout needs 300"
    assert reader.problems[3].problem == "is empty"
    assert (reader.lines, reader.bad_lines, reader.problem_count) == (6, 4, 4)
    assert len(reader.sha256) == 64
    assert all(PAN not in p.problem for p in reader.problems)


def test_a_wrong_separator_is_named(tmp_path: Path) -> None:
    path = tmp_path / "f"
    write_acom_lines([row(1)], path)
    text = path.read_text()
    path.write_text(text[:11] + "|" + text[12:])
    _, problems = read_acom(path)
    assert [(p.field, p.problem) for p in problems] == [
        ("acquirer", "must be followed by the separator ' '")
    ]


def test_problems_beyond_the_cap_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("bad\n" * 5)
    reader = AcomReader(path, max_problems=2)
    assert list(reader) == []
    assert len(reader.problems) == 2 and reader.problem_count == 5


def test_a_missing_file_is_a_clearing_error(tmp_path: Path) -> None:
    with pytest.raises(ClearingError, match="cannot read the clearing file"):
        read_acom(tmp_path / "absent")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": -1}, "amount"),
        ({"stan": "12345X"}, "stan"),
        ({"pan": "6225 8801"}, "pan"),
        ({"rrn": "x" * 13}, "rrn"),
        ({"nonsense": "1"}, "nonsense"),
    ],
)
def test_values_that_do_not_fit_are_refused(
    tmp_path: Path, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(AcomFormatError) as info:
        write_acom_lines([row(1, **overrides)], tmp_path / "f")
    assert info.value.field == field
    assert not (tmp_path / "f").exists() and not list(tmp_path.iterdir())


def test_the_switch_records_of_a_day_become_its_file(tmp_path: Path) -> None:
    def record(stan: str, **overrides: Any) -> SwitchRecord:
        values: dict[str, Any] = dict(
            mti="0200",
            processing_code="000000",
            pan=PAN,
            amount=4500,
            stan=stan,
            transmission_time="1126200224",
            acquirer="48020000",
            forwarder="48020000",
            rrn="1126" + stan.rjust(8, "0"),
            authorization="000001",
            response_code="00",
            terminal="SSC00001",
            merchant="SSCENTER0000001",
        )
        values.update(overrides)
        return SwitchRecord(**values)

    records = [
        record("000001"),
        record("000002", response_code="51", authorization=""),
        record("000003", processing_code="300000", amount=0),
        record("000004", reversed=True),
        record("000005", mti="0221", processing_code="200000"),
    ]
    path = write_acom(records, tmp_path, settlement_date="20241126", switching_fee=lambda r: -3)
    assert path == tmp_path / "IND24112601ACOM"
    written, problems = read_acom(path)
    assert problems == []
    assert [r["stan"] for r in written] == ["000001", "000005"]
    assert written[0]["receiving"] == "00010000"
    assert written[0]["switching_fee"] == "D00000000003"
    assert written[0]["terminal"] == "SSC00001"


def write_layout(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "layout.toml"
    path.write_text(text)
    return path


FIELD = '[[field]]\nname = "{name}"\nwidth = {width}\ntype = "{type}"\n'
MINIMAL = '[file]\nname = "IND{yymmdd}01ACOM"\n' + "".join(
    FIELD.format(name=n, width=6, type="an")
    for n in (
        "acquirer",
        "stan",
        "transmission_time",
        "pan",
        "amount",
        "mti",
        "processing_code",
        "rrn",
        "response_code",
    )
)


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("[file]\nseparator = 'ab'\n", "file.separator", "one ASCII character"),
        ('[file]\nname = "ACOM"\n', "file.name", "{yymmdd}"),
        ('[file]\nname = "IND{yymmdd}"\n', "field", "array of tables"),
        (MINIMAL + FIELD.format(name="rrn", width=2, type="n"), "field[9].name", "named twice"),
        (MINIMAL + FIELD.format(name="x", width=0, type="n"), "field[9].width", "1 to 999"),
        (MINIMAL + FIELD.format(name="x", width=3, type="float"), "field[9].type", "one of"),
        (MINIMAL.replace('"rrn"', '"ref"'), "field", "named 'rrn'"),
        ("not toml [", "", "not valid TOML"),
    ],
)
def test_bad_layouts_name_the_place_and_the_problem(
    tmp_path: Path, text: str, where: str, problem: str
) -> None:
    with pytest.raises(SpecError) as info:
        load_acom_layout(write_layout(tmp_path, text))
    assert info.value.where == where
    assert problem in info.value.problem


def test_a_completed_layout_is_used_as_written(tmp_path: Path) -> None:
    layout = load_acom_layout(write_layout(tmp_path, MINIMAL))
    assert layout.line_width == 9 * 7
    values = {f.name: "A1" for f in layout.fields}
    write_acom_lines([values], tmp_path / "f", layout=layout)
    [record], problems = read_acom(tmp_path / "f", layout=layout)
    assert problems == [] and record["rrn"] == "A1"
    with pytest.raises(AcomFormatError, match="rrn: is required"):
        write_acom_lines([{**values, "rrn": ""}], tmp_path / "f", layout=layout)


VALUES = st.fixed_dictionaries(
    {
        "acquirer": st.from_regex(r"[0-9]{1,11}", fullmatch=True),
        "stan": st.from_regex(r"[0-9]{6}", fullmatch=True),
        "transmission_time": st.from_regex(r"[0-9]{10}", fullmatch=True),
        "pan": st.from_regex(r"[0-9]{12,19}", fullmatch=True),
        "amount": st.integers(0, 10**12 - 1),
        "mti": st.sampled_from(["0200", "0220", "0420"]),
        "processing_code": st.sampled_from(["000000", "200000", "300000"]),
        "terminal": st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=8),
        "rrn": st.from_regex(r"[0-9A-Z]{1,12}", fullmatch=True),
        "response_code": st.sampled_from(["00", "51", "A0"]),
        "switching_fee": st.integers(-(10**11) + 1, 10**11 - 1),
    }
)


@given(values=st.lists(VALUES, min_size=1, max_size=5), data=st.data())
def test_any_line_round_trips_and_any_corruption_is_named(
    tmp_path_factory: pytest.TempPathFactory, values: list[dict[str, Any]], data: st.DataObject
) -> None:
    path = tmp_path_factory.mktemp("acom") / "f"
    write_acom_lines(values, path)
    records, problems = read_acom(path)
    assert problems == []
    for record, given_values in zip(records, values, strict=True):
        assert record.amount == given_values["amount"]
        assert record["terminal"] == given_values["terminal"].rstrip(" ")
        assert record["pan"] == given_values["pan"]
    # corrupt one character of one line: it is read, or reported by field
    lines = path.read_bytes().splitlines(keepends=True)
    index = data.draw(st.integers(0, len(lines) - 1))
    at = data.draw(st.integers(0, LAYOUT.line_width - 1))
    byte = data.draw(st.sampled_from(b"0A| \x00\xff~"))
    lines[index] = lines[index][:at] + bytes([byte]) + lines[index][at + 1 :]
    path.write_bytes(b"".join(lines))
    reader = AcomReader(path)
    got = [r.line for r in reader]
    bad = {p.line for p in reader.problems}
    assert set(got) | bad == set(range(1, len(lines) + 1)) and not set(got) & bad
    assert bad <= {index + 1}
    names = {f.name for f in LAYOUT.fields} | {"line"}
    assert all(p.field in names for p in reader.problems)
