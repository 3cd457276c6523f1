"""Round trips and fuzzing of every shipped dialect (STYLE.md 14)."""

import contextlib

import iso8583
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sscard_gateway.errors import DecodeError, RejectedByPeer
from sscard_gateway.iso import available_dialects, load_dialect
from sscard_gateway.iso.strategies import frames, messages

DIALECTS = available_dialects()


def test_every_shipped_dialect_is_covered():
    assert set(DIALECTS) >= {"cups", "pos", "center"}


@pytest.mark.parametrize("name", DIALECTS)
@given(data=st.data())
def test_decode_encode_round_trip(name, data):
    dialect = load_dialect(name)
    message = data.draw(messages(dialect))
    frame = dialect.encode(message)
    decoded = dialect.decode(frame)
    expected_header = message.header if message.header is not None else dialect.default_header()
    assert decoded == message.evolve(header=expected_header)
    # byte-exact: re-encoding what was decoded gives the same frame
    assert dialect.encode(decoded) == frame


@pytest.mark.parametrize("name", DIALECTS)
@given(data=st.data())
def test_agrees_with_raw_pyiso8583(name, data):
    """Differential: the body we write decodes the same with pyiso8583 alone."""
    dialect = load_dialect(name)
    message = data.draw(messages(dialect))
    frame = dialect.encode(message)
    decoded = dialect.decode(frame)
    doc, _ = iso8583.decode(decoded.body, dialect.compiled)
    assert doc["t"] == message.mti
    for number, value in message.fields.items():
        raw = doc[str(number)]
        if isinstance(value, bytes):
            assert bytes.fromhex(raw) == value
        else:
            assert raw.replace("D", "=") == value or raw == value


@pytest.mark.parametrize("name", DIALECTS)
@given(data=st.binary(max_size=400))
def test_random_bytes_give_only_typed_errors(name, data):
    dialect = load_dialect(name)
    with contextlib.suppress(DecodeError, RejectedByPeer):
        dialect.decode(data)
    with contextlib.suppress(DecodeError, RejectedByPeer):
        dialect.decode_payload(data)


@st.composite
def mutated(draw, dialect):
    frame = bytearray(draw(frames(dialect)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "byte"]))
        at = draw(st.integers(0, max(len(frame) - 1, 0)))
        if kind == "flip" and frame:
            frame[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and frame:
            frame[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            frame[at:at] = draw(st.binary(min_size=1, max_size=3))
        elif kind == "delete" and frame:
            del frame[at]
        elif kind == "truncate":
            del frame[at:]
    return bytes(frame)


@pytest.mark.parametrize("name", DIALECTS)
@given(data=st.data())
def test_mutated_frames_give_only_typed_errors(name, data):
    dialect = load_dialect(name)
    frame = data.draw(mutated(dialect))
    try:
        message = dialect.decode(frame)
    except (DecodeError, RejectedByPeer):
        return
    # whatever decodes must encode back to the same bytes
    assert dialect.encode(message) == frame
