"""Keys: redaction, equality, validation, check values, parity."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from sscard_gateway.crypto import (
    Algorithm,
    Key,
    KeyUsage,
    fix_odd_parity,
    has_odd_parity,
    key_check_value,
)
from sscard_gateway.errors import SecurityError

DOUBLE = "0123456789ABCDEFFEDCBA9876543210"


def test_repr_and_str_show_algorithm_usage_and_kcv_only() -> None:
    key = Key.from_hex(DOUBLE, KeyUsage.ZONE_PIN)
    for text in (repr(key), str(key), f"{key}", repr([key])):
        assert "08D7B4FB" in text
        assert "3des-2key" in text and "zone-pin" in text
        assert DOUBLE.lower() not in text.lower()
        assert "0123456789" not in text
        assert repr(key.value) not in text


def test_keys_compare_by_value_and_are_unhashable() -> None:
    a = Key.from_hex(DOUBLE, KeyUsage.ZONE_PIN)
    b = Key.from_hex(DOUBLE.lower(), KeyUsage.ZONE_PIN)
    assert a == b
    assert a != a.with_usage(KeyUsage.ZONE_MAC)
    assert a != Key.from_hex("0123456789ABCDEFFEDCBA9876543211", KeyUsage.ZONE_PIN)
    assert a != Key(Algorithm.SM4, KeyUsage.ZONE_PIN, a.value)
    assert a != "not a key"
    with pytest.raises(TypeError):
        hash(a)
    with pytest.raises(TypeError):
        {a}  # noqa: B018


def test_keys_are_frozen() -> None:
    key = Key.from_hex(DOUBLE, KeyUsage.ZONE_PIN)
    with pytest.raises(AttributeError):
        key.value = b"\x00" * 16  # type: ignore[misc]


@pytest.mark.parametrize(
    ("algorithm", "length"),
    [(Algorithm.DES, 16), (Algorithm.TDES_2KEY, 8), (Algorithm.AES_256, 16), (Algorithm.SM4, 24)],
)
def test_wrong_length_is_refused(algorithm: Algorithm, length: int) -> None:
    with pytest.raises(SecurityError, match=f"got {length}"):
        Key(algorithm, KeyUsage.ZONE_PIN, bytes(length))


def test_from_hex_infers_the_algorithm() -> None:
    assert Key.from_hex("11" * 8, KeyUsage.ZONE_MAC).algorithm is Algorithm.DES
    assert Key.from_hex("11" * 16, KeyUsage.ZONE_MAC).algorithm is Algorithm.TDES_2KEY
    assert Key.from_hex("11" * 24, KeyUsage.ZONE_MAC).algorithm is Algorithm.TDES_3KEY
    assert Key.from_hex("11" * 16, KeyUsage.ZONE_MAC, family="aes").algorithm is Algorithm.AES_128
    assert Key.from_hex("11" * 32, KeyUsage.ZONE_MAC, family="aes").algorithm is Algorithm.AES_256
    assert Key.from_hex("11" * 16, KeyUsage.ZONE_MAC, family="sm4").algorithm is Algorithm.SM4
    with pytest.raises(SecurityError, match="no des key is 12 bytes"):
        Key.from_hex("11" * 12, KeyUsage.ZONE_MAC)
    with pytest.raises(SecurityError, match="hex"):
        Key.from_hex("zz" * 8, KeyUsage.ZONE_MAC)


def test_value_must_be_bytes() -> None:
    with pytest.raises(TypeError):
        Key(Algorithm.DES, KeyUsage.ZONE_MAC, "0123456789ABCDEF")


def test_names_parse() -> None:
    assert Algorithm.from_name("3DES") is Algorithm.TDES_2KEY
    assert Algorithm.from_name("aes_256") is Algorithm.AES_256
    assert KeyUsage.from_name("ZPK") is KeyUsage.ZONE_PIN
    assert KeyUsage.from_name("terminal_mac") is KeyUsage.TERMINAL_MAC
    with pytest.raises(SecurityError, match="unknown key algorithm"):
        Algorithm.from_name("rc4")
    with pytest.raises(SecurityError, match="unknown key usage"):
        KeyUsage.from_name("signing")


def test_usage_response_codes() -> None:
    assert KeyUsage.ZONE_PIN.response_code == "A8"
    assert KeyUsage.TERMINAL_PIN.response_code == "A8"
    assert KeyUsage.ZONE_MAC.response_code == "A9"
    assert KeyUsage.TERMINAL_MAC.response_code == "A9"
    assert KeyUsage.ZONE_MASTER.response_code == "A7"
    assert KeyUsage.TRACK_DATA.response_code == "A7"


def test_kcv_lengths_and_default() -> None:
    key = Key.from_hex(DOUBLE, KeyUsage.ZONE_PIN)
    assert key.check_value() == bytes.fromhex("08D7B4FB")
    assert key.check_value(3) == bytes.fromhex("08D7B4")
    assert key_check_value(key, 8) == bytes.fromhex("08D7B4FB629D0885")
    with pytest.raises(SecurityError, match="3 to 8 bytes"):
        key.check_value(2)
    with pytest.raises(SecurityError, match="3 to 8 bytes"):
        key.check_value(9)


def test_single_des_kcv_equals_expanded_double_and_triple() -> None:
    single = Key.from_hex("0123456789ABCDEF", KeyUsage.ZONE_MAC)
    double = Key.from_hex("0123456789ABCDEF" * 2, KeyUsage.ZONE_MAC)
    triple = Key.from_hex("0123456789ABCDEF" * 3, KeyUsage.ZONE_MAC)
    assert single.check_value() == double.check_value() == triple.check_value()
    assert single.check_value() == bytes.fromhex("D5D44FF7")


def test_cmac_kcv_for_aes_only() -> None:
    aes = Key.from_hex("2B7E151628AED2A6ABF7158809CF4F3C", KeyUsage.ZONE_PIN, family="aes")
    # CMAC of one zero block differs from the encrypt-zeros value.
    assert aes.check_value(5, method="cmac") != aes.check_value(5)
    assert len(aes.check_value(5, method="cmac")) == 5
    with pytest.raises(SecurityError, match="AES keys only"):
        Key.from_hex(DOUBLE, KeyUsage.ZONE_PIN).check_value(method="cmac")
    with pytest.raises(SecurityError, match="unknown check value method"):
        aes.check_value(method="sha")  # type: ignore[arg-type]


def test_parity() -> None:
    assert has_odd_parity(bytes.fromhex("0123456789ABCDEF"))
    assert not has_odd_parity(bytes.fromhex("0023456789ABCDEF"))
    fixed = fix_odd_parity(bytes(range(256)))
    assert has_odd_parity(fixed)
    assert all((a ^ b) in (0, 1) for a, b in zip(fixed, range(256), strict=True))
    assert fix_odd_parity(bytes.fromhex("0123456789ABCDEF")) == bytes.fromhex("0123456789ABCDEF")


def test_generated_keys() -> None:
    for algorithm in Algorithm:
        key = Key.generate(algorithm, KeyUsage.ZONE_MASTER)
        assert len(key.value) == algorithm.key_length
        if algorithm.family == "des":
            assert has_odd_parity(key.value)
    assert Key.generate(Algorithm.SM4, KeyUsage.ZONE_PIN) != Key.generate(
        Algorithm.SM4, KeyUsage.ZONE_PIN
    )


def test_no_deprecation_warning_for_any_des_length() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for hex_value in ("11" * 8, "11" * 16, "11" * 24):
            key = Key.from_hex(hex_value, KeyUsage.ZONE_MAC)
            key.check_value()
            key.cipher().cbc_encrypt(bytes(16))
            key.single_des(0).encrypt(bytes(8))


def test_no_warning_under_python_w_error() -> None:
    code = (
        "from sscard_gateway.crypto import Key, KeyUsage, x9_19_mac, encrypt_pin\n"
        "k = Key.from_hex('0123456789ABCDEFFEDCBA9876543210', KeyUsage.ZONE_PIN)\n"
        "assert encrypt_pin(k, '123456', '6225880137654321', 0).hex() == '7ce09ce60ee87a4f'\n"
        "x9_19_mac(k, b'x' * 20)\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True, cwd=root, env=env)
