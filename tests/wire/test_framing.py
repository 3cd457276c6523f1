"""Length prefixes, FrameDecoder reassembly, CUPS header and reject form, TPDU."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sscard_gateway.errors import (
    DecodeError,
    FrameTooLarge,
    FramingError,
    HeaderError,
    RejectedByPeer,
)
from sscard_gateway.iso import CupsHeader, FrameDecoder, LengthPrefix, PosHeader, Tpdu, load_dialect
from sscard_gateway.iso.framing import add_prefix


@pytest.mark.parametrize(
    ("prefix", "length", "wire"),
    [
        (LengthPrefix.BINARY2, 300, b"\x01\x2c"),
        (LengthPrefix.ASCII4, 300, b"0300"),
        (LengthPrefix.BCD2, 300, b"\x03\x00"),
        (LengthPrefix.NONE, 0, b""),
    ],
)
def test_prefix_forms(prefix, length, wire):
    assert prefix.encode(length) == wire
    assert prefix.decode(wire) == length


def test_prefix_refuses_what_it_cannot_write():
    with pytest.raises(FramingError):
        LengthPrefix.ASCII4.encode(10000)
    with pytest.raises(FramingError):
        LengthPrefix.ASCII4.decode(b"01a0")
    with pytest.raises(FramingError):
        LengthPrefix.BCD2.decode(b"\x0a\x00")


def _feed(decoder, data, chunks):
    out = []
    pos = 0
    for size in chunks:
        decoder.receive_data(data[pos : pos + size])
        pos += size
        out.extend(decoder.frames())
    decoder.receive_data(data[pos:])
    out.extend(decoder.frames())
    return out


@pytest.mark.parametrize("prefix", [LengthPrefix.BINARY2, LengthPrefix.ASCII4, LengthPrefix.BCD2])
@pytest.mark.parametrize("includes", [False, True])
@given(
    payloads=st.lists(st.binary(max_size=300), min_size=1, max_size=6),
    chunks=st.lists(st.integers(1, 50), max_size=40),
)
def test_reassembly_from_any_chunking(prefix, includes, payloads, chunks):
    stream = b"".join(add_prefix(prefix, p, includes_itself=includes) for p in payloads)
    whole = FrameDecoder(prefix, max_length=1000, includes_itself=includes)
    whole.receive_data(stream)
    assert whole.frames() == payloads
    split = FrameDecoder(prefix, max_length=1000, includes_itself=includes)
    assert _feed(split, stream, chunks) == payloads
    assert split.buffered == 0


def test_byte_by_byte_and_trailing_bytes():
    stream = add_prefix(LengthPrefix.ASCII4, b"hello") + b"00"
    decoder = FrameDecoder(LengthPrefix.ASCII4, max_length=100)
    got = []
    for i in range(len(stream)):
        decoder.receive_data(stream[i : i + 1])
        got.extend(decoder.frames())
    assert got == [b"hello"]
    assert decoder.buffered == 2  # an incomplete prefix waits


def test_too_large_is_refused_before_buffering_and_poisons():
    decoder = FrameDecoder(LengthPrefix.ASCII4, max_length=100)
    decoder.receive_data(b"0101")
    with pytest.raises(FrameTooLarge) as info:
        decoder.next_frame()
    assert info.value.declared == 101
    assert info.value.maximum == 100
    with pytest.raises(FrameTooLarge):
        decoder.receive_data(b"x" * 101)


def test_zero_length_keepalive_frame():
    decoder = FrameDecoder(LengthPrefix.BINARY2, max_length=100)
    decoder.receive_data(b"\x00\x00")
    assert decoder.next_frame() == b""


def test_unreadable_prefix_is_a_framing_error():
    decoder = FrameDecoder(LengthPrefix.ASCII4, max_length=100)
    decoder.receive_data(b"ab12")
    with pytest.raises(FramingError) as info:
        decoder.next_frame()
    assert info.value.field == "length"


def test_cups_header_layout_and_reply():
    header = CupsHeader(destination="00010000", source="48020000", batch=7, user_info=1)
    raw = header.encode(100)
    assert len(raw) == 46
    assert raw[0] == 0x2E and raw[1] == 0x02
    assert raw[2:6] == b"0146"
    assert raw[6:17] == b"00010000   "
    assert raw[17:28] == b"48020000   "
    assert raw[28:31] == b"\x00\x00\x00" and raw[31] == 7
    assert raw[41:46] == b"00000"
    decoded, total = CupsHeader.decode(raw)
    assert decoded == header and total == 146
    assert header.reply().destination == "48020000"
    assert header.reply().source == "00010000"
    test = CupsHeader(test=True).encode(0)
    assert test[1] == 0x82


@pytest.mark.parametrize(
    ("offset", "value", "reject"),
    [(0, 0x2F, "00015"), (1, 0x05, "00025"), (2, ord("x"), "00035")],
)
def test_cups_header_errors_carry_reject_codes(offset, value, reject):
    raw = bytearray(CupsHeader(source="1").encode(0))
    raw[offset] = value
    with pytest.raises(HeaderError) as info:
        CupsHeader.decode(bytes(raw))
    assert info.value.reject_code == reject
    assert info.value.response_code == "30"


def test_total_length_must_match_frame():
    cups = load_dialect("cups")
    frame = bytearray(cups.encode(cups.message("0820", {7: "1126101010", 11: "000001", 70: "301"})))
    frame[4 + 2 : 4 + 6] = b"0999"
    with pytest.raises(HeaderError) as info:
        cups.decode(bytes(frame))
    assert info.value.reject_code == "00035"


def test_reject_form_reports_code_and_does_not_trust_field_39():
    cups = load_dialect("cups")
    original = cups.message(
        "0200",
        {3: "000000", 7: "1126101010", 11: "000001", 32: "48020000", 33: "48020000", 39: "00"},
        header=CupsHeader(destination="00010000", source="48020000"),
    )
    frame = cups.encode(original)
    body = frame[4:]
    reject = CupsHeader(destination="48020000", source="00010000", reject_code="00045")
    rejected = reject.encode(len(body)) + body
    wire = LengthPrefix.ASCII4.encode(len(rejected)) + rejected
    with pytest.raises(RejectedByPeer) as info:
        cups.decode(wire)
    assert info.value.reject_code == "00045"
    assert info.value.message.fields[11] == "000001"


def test_tpdu_and_pos_header_swap():
    header = PosHeader(tpdu=Tpdu(destination="0003", source="0001"), application="61")
    raw = header.encode()
    assert raw == bytes.fromhex("6000030001") + bytes.fromhex("613100000000")
    assert PosHeader.decode(raw) == header
    assert header.reply().tpdu == Tpdu(destination="0001", source="0003")
    with pytest.raises(FramingError):
        Tpdu(destination="00G3").encode()
    with pytest.raises(FramingError):
        PosHeader.decode(raw[:8])


def test_decode_errors_name_field_and_offset():
    cups = load_dialect("cups")
    frame = bytearray(
        cups.encode(cups.message("0200", {3: "000000", 4: "000000000100", 11: "000001"}))
    )
    # field 3 starts after prefix(4) + header(46) + MTI(4) + bitmaps(16)
    frame[70] = ord("A")
    with pytest.raises(DecodeError) as info:
        cups.decode(bytes(frame))
    assert info.value.field == "3"
    assert info.value.response_code == "30"
    assert "digits" in info.value.expected


def test_missing_secondary_bitmap_is_refused_where_always():
    cups = load_dialect("cups")
    frame = bytearray(cups.encode(cups.message("0820", {7: "1126101010", 11: "000001"})))
    assert frame[54] & 0x80  # always written even with no field above 64
    frame[54] &= 0x7F
    del frame[62:70]
    prefix_len = len(frame) - 4
    frame[0:4] = b"%04d" % prefix_len
    frame[4 + 2 : 4 + 6] = b"%04d" % prefix_len
    with pytest.raises(DecodeError) as info:
        cups.decode(bytes(frame))
    assert info.value.field == "bitmap"
