"""Message helpers: responses, reversals, masking, MAC blocks."""

import json

import pytest

from sscard_gateway.errors import EncodeError
from sscard_gateway.iso import CupsHeader, Message, load_dialect, specs_dir
from sscard_gateway.iso.jsonio import message_from_dict

PAN = "6225880137654324"


def sample(name):
    data = json.loads((specs_dir() / "samples" / name).read_text(encoding="utf-8"))
    dialect = load_dialect(data["dialect"])
    return dialect, message_from_dict(dialect, data)


def test_response_to_echoes_and_swaps_header():
    _, request = sample("cups_0200_purchase.json")
    response = request.response_to("00", {38: "123456"})
    assert response.mti == "0210"
    assert response[39] == "00" and response[38] == "123456"
    assert response[11] == request[11] and response[2] == PAN
    assert 52 not in response and 55 not in response and 128 not in response
    assert isinstance(response.header, CupsHeader)
    assert response.header.destination == request.header.source
    with pytest.raises(EncodeError):
        response.response_to("00")


def test_reversal_of_builds_field_90():
    cups, request = sample("cups_0200_purchase.json")
    reversal = request.reversal_of({11: "000124", 7: "1126101630"})
    assert reversal.mti == "0420"
    assert reversal[90] == "0200" + "000123" + "1126101530" + "00048020000" + "00048020000"
    assert reversal[11] == "000124"
    assert 52 not in reversal
    frame = cups.encode(reversal)
    assert cups.decode(frame) == reversal


def test_masked_repr_never_shows_secrets():
    for name in ("cups_0200_purchase.json", "pos_0200_purchase.json", "center_0200_medical.json"):
        dialect, message = sample(name)
        decoded = dialect.decode(dialect.encode(message))
        for text in (repr(decoded), str(decoded), json.dumps(decoded.masked())):
            assert PAN not in text
            assert "7CE09CE60EE87A4F" not in text
            assert "A1B2C3D4E5F60708" not in text  # field 55 cryptogram
            assert "11010519491231002X" not in text
            assert "=2912" not in text
        assert "622588******4324" in repr(decoded)


def test_message_without_dialect_masks_by_default_positions():
    message = Message("0200", {2: PAN, 35: PAN + "=2912", 52: b"\x01" * 8})
    text = repr(message)
    assert PAN not in text and "0101010101010101" not in text


def test_key_usage_data_is_wiped():
    cups = load_dialect("cups")
    message = cups.message("0800", {48: "NK" + "AB" * 16 + "08D7B4FB", 70: "101"})
    assert "ABAB" not in repr(message)


def test_encode_refuses_wrong_values():
    cups = load_dialect("cups")
    with pytest.raises(EncodeError) as info:
        cups.encode(cups.message("0200", {3: "00000A"}))
    assert info.value.field == "3"
    with pytest.raises(EncodeError):
        cups.encode(cups.message("0200", {52: "not bytes"}))
    with pytest.raises(EncodeError):
        cups.encode(cups.message("0200", {8: "1"}))
    with pytest.raises(EncodeError):
        cups.encode(cups.message("02X0", {}))
    with pytest.raises(EncodeError) as info:
        cups.encode(cups.message("0200", {3: "0000"}))
    assert info.value.field == "3"


def test_encode_does_not_mutate_the_callers_fields():
    cups = load_dialect("cups")
    fields = {3: "000000", 11: "000001"}
    cups.encode(cups.message("0200", fields), mac=lambda mab: b"12345678")
    assert fields == {3: "000000", 11: "000001"}


def test_cups_mac_block_uses_selected_fields_as_received():
    cups, request = sample("cups_0200_purchase.json")
    seen = []

    def mac(block):
        seen.append(block)
        return b"ABCD1234"

    frame = cups.encode(request, mac=mac)
    decoded = cups.decode(frame)
    assert decoded[128] == b"ABCD1234"
    assert cups.mac_block(decoded) == seen[0]
    block = seen[0].decode("ascii")
    assert block.startswith("0200 16" + PAN + " 000000 000000012345")
    assert "HOSP0001" in block and "8062" in block
    assert "156" not in block.split()  # F49 is not selected


def test_message_mac_block_is_everything_before_the_mac():
    pos, request = sample("pos_0200_purchase.json")
    frame = pos.encode(request, mac=lambda block: b"E267B6E2")
    decoded = pos.decode(frame)
    assert decoded[64] == b"E267B6E2"
    assert pos.mac_block(decoded) == decoded.body[:-8]
    center, request = sample("center_0200_medical.json")
    frame = center.encode(request, mac=lambda block: bytes(range(8)))
    assert frame.endswith(b"0001020304050607")
    decoded = center.decode(frame)
    assert center.mac_block(decoded) == decoded.body[:-16]


def test_with_fields_and_without():
    cups = load_dialect("cups")
    message = cups.message("0200", {3: "000000"})
    assert message.with_fields({39: "00"})[39] == "00"
    assert 3 not in message.without(3)
    assert message.text(3) == "000000"
    assert list(message.with_fields({2: PAN})) == [2, 3]
