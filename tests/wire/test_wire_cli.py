"""The decode, encode and demo commands."""

import io
import json

import pytest

from sscard_gateway.cli import main
from sscard_gateway.iso import load_dialect, specs_dir
from sscard_gateway.iso.jsonio import message_from_dict

PAN = "6225880137654324"


def sample_frame(name="cups_0200_purchase.json"):
    data = json.loads((specs_dir() / "samples" / name).read_text(encoding="utf-8"))
    dialect = load_dialect(data["dialect"])
    return data, dialect.encode(message_from_dict(dialect, data))


def test_decode_prints_every_field_with_pan_masked(capsys):
    data, frame = sample_frame()
    assert main(["decode", "--dialect", "cups", frame.hex()]) == 0
    out = capsys.readouterr().out
    assert "MTI 0200" in out and "destination=00010000" in out
    assert "622588******4324" in out and PAN not in out
    assert "<pin wiped, 8 bytes>" in out and "<mac wiped, 8 bytes>" in out
    assert "9F26=<masked>" in out
    for number in data["fields"]:
        assert f"  {int(number):>3}  " in out


def test_decode_json_from_stdin(capsys, monkeypatch):
    _, frame = sample_frame("center_0200_medical.json")
    monkeypatch.setattr("sys.stdin", io.StringIO(frame.hex()))
    assert main(["decode", "--dialect", "center", "--json", "-"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["mti"] == "0200"
    values = {row["field"]: row["value"] for row in info["fields"]}
    assert values[2] == "622588******4324"
    assert values[56] != "11010519491231002X"


def test_decode_raw_file(tmp_path, capsys):
    _, frame = sample_frame("pos_0200_purchase.json")
    path = tmp_path / "frame.bin"
    path.write_bytes(frame)
    assert main(["decode", "--dialect", "pos", "--file", str(path)]) == 0
    assert "application=61" in capsys.readouterr().out


def test_decode_bad_input_is_an_error_not_a_traceback(capsys):
    assert main(["decode", "--dialect", "cups", "00ZZ"]) == 2
    assert "hexadecimal" in capsys.readouterr().err
    assert main(["decode", "--dialect", "cups", "0004303230"]) == 2
    assert "error" in capsys.readouterr().err


def test_encode_then_decode(capsys):
    data, frame = sample_frame()
    assert main(["encode", "--dialect", "cups", json.dumps(data)]) == 0
    assert capsys.readouterr().out.strip() == frame.hex().upper()


def test_encode_reports_bad_fields(capsys):
    bad = json.dumps({"mti": "0200", "fields": {"3": "12"}})
    assert main(["encode", "--dialect", "cups", bad]) == 2
    assert "field 3" in capsys.readouterr().err
    assert main(["encode", "--dialect", "cups", "{not json"]) == 2


def test_demo_prints_each_dialect(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for name in ("dialect cups", "dialect pos", "dialect center"):
        assert name in out
    assert PAN not in out


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "decode" in capsys.readouterr().out
