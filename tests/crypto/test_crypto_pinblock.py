"""PIN blocks: layouts, validation errors without card data, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sscard_gateway.crypto import (
    Algorithm,
    Key,
    KeyUsage,
    PinFormat,
    decode_pin_block,
    decrypt_pin_block,
    encode_pin_block,
    encrypt_pin,
    encrypt_pin_block,
)
from sscard_gateway.errors import PinBlockError, SecurityError

PAN = "6225880137654321"
TDES = Key.from_hex("0123456789ABCDEFFEDCBA9876543210", KeyUsage.ZONE_PIN)
SM4 = Key.from_hex("0123456789ABCDEFFEDCBA9876543210", KeyUsage.ZONE_PIN, family="sm4")
AES = Key.from_hex("2B7E151628AED2A6ABF7158809CF4F3C", KeyUsage.ZONE_PIN, family="aes")
KEYS = {
    fmt: (AES if fmt is PinFormat.ISO4 else SM4 if fmt is PinFormat.SM4 else TDES)
    for fmt in PinFormat
}

pins = st.text("0123456789", min_size=4, max_size=12)
pans = st.text("0123456789", min_size=13, max_size=19)


def test_domain_vector() -> None:
    block = encode_pin_block("123456", PAN, PinFormat.ISO0)
    assert block == bytes.fromhex("06126CD6EC89ABCD")
    assert encrypt_pin_block(TDES, block, "iso0") == bytes.fromhex("7CE09CE60EE87A4F")
    assert encrypt_pin(TDES, "123456", PAN, 0) == bytes.fromhex("7CE09CE60EE87A4F")


def test_format_names() -> None:
    assert PinFormat.from_name(0) is PinFormat.ISO0
    assert PinFormat.from_name("3") is PinFormat.ISO3
    assert PinFormat.from_name("ISO-4") is PinFormat.ISO4
    assert PinFormat.from_name("iso 1") is PinFormat.ISO1
    assert PinFormat.from_name("SM4") is PinFormat.SM4
    with pytest.raises(SecurityError, match="unknown PIN block format"):
        PinFormat.from_name("5")


def test_layouts() -> None:
    f1 = encode_pin_block("1234", None, 1).hex().upper()
    assert f1.startswith("141234") and len(f1) == 16
    assert encode_pin_block("1234", None, 2).hex().upper() == "241234FFFFFFFFFF"
    clear3 = (
        bytes(
            a ^ b
            for a, b in zip(
                encode_pin_block("1234", PAN, 3), bytes.fromhex("0000588013765432"), strict=True
            )
        )
        .hex()
        .upper()
    )
    assert clear3.startswith("341234") and set(clear3[6:]) <= set("ABCDEF")
    f4 = encode_pin_block("1234", PAN, 4).hex().upper()
    assert f4.startswith("441234AAAAAAAAAA") and len(f4) == 32
    sm4 = encode_pin_block("123456", PAN, "sm4").hex().upper()
    assert sm4 == "06123456FFFFFFFFFFFFA77FEC89ABCD"


def test_random_fill_differs() -> None:
    assert len({encode_pin_block("1234", PAN, 3) for _ in range(8)}) > 1
    assert len({encode_pin_block("1234", None, 1) for _ in range(8)}) > 1
    assert len({encode_pin_block("1234", PAN, 4) for _ in range(8)}) == 8


SECRET_PIN = "987654"
SECRET_PAN = "6225889876543210"


def _message(exc: pytest.ExceptionInfo[BaseException]) -> str:
    return str(exc.value) + repr(exc.value)


@pytest.mark.parametrize(
    ("pin", "pan", "fmt", "match"),
    [
        ("123", SECRET_PAN, 0, "4 to 12 digits, not 3"),
        ("1234567890123", SECRET_PAN, 0, "4 to 12 digits, not 13"),
        ("12a456", SECRET_PAN, 0, "decimal digits"),
        ("\uff11\uff12\uff13\uff14", SECRET_PAN, 0, "decimal digits"),  # full-width digits
        (SECRET_PIN, "622588987654", 0, "13 to 19 digits, not 12"),
        (SECRET_PIN, "62258898765432101234", 3, "13 to 19 digits, not 20"),
        (SECRET_PIN, "6225-8898-7654-3210", 4, "decimal digits"),
        (SECRET_PIN, None, "sm4", "needs the PAN"),
    ],
)
def test_encode_errors_hide_pin_and_pan(
    pin: str, pan: str | None, fmt: int | str, match: str
) -> None:
    with pytest.raises(PinBlockError, match=match) as info:
        encode_pin_block(pin, pan, fmt)
    assert info.value.response_code == "99"
    text = _message(info)
    assert SECRET_PIN not in text and "8898765432" not in text and pin not in text


def test_formats_1_and_2_need_no_pan() -> None:
    for fmt in (1, 2):
        assert decode_pin_block(encode_pin_block("1234", None, fmt), None, fmt) == "1234"


@pytest.mark.parametrize(
    ("block", "fmt", "match"),
    [
        ("141234FFFFFFFFFF", 0, "control field is not 0"),
        ("031234FFFFFFFFFF", 0, "PIN length of 3"),
        ("0D1234FFFFFFFFFF", 0, "PIN length of 13"),
        ("04123AFFFFFFFFFF", 0, "non-decimal"),
        ("041234FFFFFFFFFE", 0, "fill is not valid"),
        ("241234FFFFFFFF0F", 2, "fill is not valid"),
        ("3412349BCDEFABCD", 3, "fill is not valid"),
        ("041234FF", 0, "8 bytes, not 4"),
    ],
)
def test_decode_errors(block: str, fmt: int, match: str) -> None:
    raw = bytes.fromhex(block)
    if fmt in (0, 3):  # write the expected clear layout, then bind it to the PAN
        field = bytes.fromhex("0000588013765432")
        raw = bytes(a ^ b for a, b in zip(raw, field, strict=True)) if len(raw) == 8 else raw
    with pytest.raises(PinBlockError, match=match) as info:
        decode_pin_block(raw, PAN, fmt)
    assert PAN not in _message(info)


def test_iso4_decode_checks_fill_and_ignores_random_half() -> None:
    good = bytes.fromhex("441234AAAAAAAAAA" + "0123456789ABCDEF")
    assert decode_pin_block(good, None, 4) == "1234"
    with pytest.raises(PinBlockError, match="fill"):
        decode_pin_block(bytes.fromhex("441234AAAAAAAAAB" + "00" * 8), None, 4)


def test_wrong_key_or_pan_fails_to_decode() -> None:
    encrypted = encrypt_pin(TDES, "123456", PAN, 0)
    other = Key.from_hex("00112233445566778899AABBCCDDEEFF", KeyUsage.ZONE_PIN)
    with pytest.raises(PinBlockError):
        decode_pin_block(decrypt_pin_block(other, encrypted, 0), PAN, 0)
    clear = decrypt_pin_block(TDES, encrypted, 0)
    with pytest.raises(PinBlockError):
        decode_pin_block(clear, "6225880137650000", 0)


def test_key_algorithm_must_suit_format() -> None:
    block = encode_pin_block("1234", PAN, 0)
    with pytest.raises(SecurityError, match="cannot be enciphered under a sm4 key"):
        encrypt_pin_block(SM4, block, 0)
    with pytest.raises(SecurityError, match="under a 3des-2key key"):
        encrypt_pin(TDES, "1234", PAN, 4)
    with pytest.raises(SecurityError, match="under a aes-128 key"):
        decrypt_pin_block(AES, bytes(16), "sm4")
    with pytest.raises(PinBlockError, match="16 bytes"):
        encrypt_pin_block(AES, bytes(8), 4, PAN)
    with pytest.raises(PinBlockError, match="needs the PAN"):
        encrypt_pin_block(AES, bytes(16), 4)


@given(pin=pins, pan=pans, fmt=st.sampled_from(list(PinFormat)))
def test_clear_round_trip(pin: str, pan: str, fmt: PinFormat) -> None:
    block = encode_pin_block(pin, pan, fmt)
    assert len(block) == fmt.block_size
    assert decode_pin_block(block, pan, fmt) == pin


@given(pin=pins, pan=pans, fmt=st.sampled_from(list(PinFormat)))
def test_enciphered_round_trip(pin: str, pan: str, fmt: PinFormat) -> None:
    key = KEYS[fmt]
    encrypted = encrypt_pin(key, pin, pan, fmt)
    clear = decrypt_pin_block(key, encrypted, fmt, pan)
    assert decode_pin_block(clear, pan, fmt) == pin


@given(pin=pins, pan=pans, algorithm=st.sampled_from([Algorithm.DES, Algorithm.TDES_3KEY]))
def test_other_des_lengths(pin: str, pan: str, algorithm: Algorithm) -> None:
    key = Key.generate(algorithm, KeyUsage.TERMINAL_PIN)
    encrypted = encrypt_pin(key, pin, pan, 0)
    assert decode_pin_block(decrypt_pin_block(key, encrypted, 0), pan, 0) == pin
