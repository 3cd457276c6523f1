"""MACs: padding, registry, field forms, CUPS MAB, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sscard_gateway.crypto import (
    MAC_ALGORITHMS,
    Algorithm,
    Key,
    KeyUsage,
    MacAlgorithm,
    cups_mab,
    generate_mac,
    get_mac_algorithm,
    iso9797_1_alg1,
    iso9797_1_alg3,
    mac_field_value,
    pos_ecb_mac,
    verify_mac,
    x9_9_mac,
    x9_19_mac,
)
from sscard_gateway.errors import MacError, SecurityError

DOUBLE = Key.from_hex("0123456789ABCDEFFEDCBA9876543210", KeyUsage.ZONE_MAC)
POS_KEY = Key.from_hex("2222222222222222", KeyUsage.TERMINAL_MAC)
POS_MAB = bytes.fromhex("1234567890ABCDEFABCDEF1234567890")


def _key_for(algorithm: MacAlgorithm, seed: int) -> Key:
    """A deterministic key of the first (sorted) algorithm the MAC accepts."""
    chosen = sorted(algorithm.algorithms, key=lambda a: a.value)[seed % len(algorithm.algorithms)]
    value = bytes((seed + i * 37) % 256 for i in range(chosen.key_length))
    return Key(chosen, KeyUsage.ZONE_MAC, value)


def test_registry_has_the_required_names() -> None:
    required = {"x9.9", "x9.19", "pos-ecb", "sm4-pos-ecb", "aes-cmac", "sm4-cbc-mac"}
    assert required <= set(MAC_ALGORITHMS)
    for name, algorithm in MAC_ALGORITHMS.items():
        assert algorithm.name == name
        assert algorithm.description
    with pytest.raises(TypeError):
        MAC_ALGORITHMS["x"] = MAC_ALGORITHMS["x9.9"]  # type: ignore[index]


def test_lookup_by_name() -> None:
    assert get_mac_algorithm("X9.19") is MAC_ALGORITHMS["x9.19"]
    assert get_mac_algorithm(MAC_ALGORITHMS["pos-ecb"]) is MAC_ALGORITHMS["pos-ecb"]
    with pytest.raises(SecurityError, match=r"unknown MAC algorithm 'x9\.99'"):
        get_mac_algorithm("x9.99")


def test_pos_ecb_published_vector_and_field() -> None:
    assert pos_ecb_mac(POS_KEY, POS_MAB) == bytes.fromhex("E267B6E21913D339")
    assert generate_mac("pos-ecb", POS_KEY, POS_MAB, "hex4") == b"E267B6E2"
    verify_mac("pos-ecb", POS_KEY, POS_MAB, b"E267B6E2", "hex4")
    with pytest.raises(MacError) as info:
        verify_mac("pos-ecb", POS_KEY, POS_MAB, b"e267b6e2", "hex4")
    assert info.value.response_code == "A0"


def test_field_forms() -> None:
    mac = bytes.fromhex("E267B6E21913D339")
    assert mac_field_value(mac, "hex4") == b"E267B6E2"
    assert mac_field_value(mac, "raw8") == mac
    assert mac_field_value(mac + bytes(8), "raw8") == mac
    with pytest.raises(SecurityError, match="unknown MAC field form"):
        mac_field_value(mac, "hex8")
    with pytest.raises(SecurityError, match="too short"):
        mac_field_value(mac[:4], "raw8")


def test_padding_methods() -> None:
    # Method 1 adds nothing to whole blocks; method 2 always adds a block part.
    data = b"ABCDEFGH"
    assert iso9797_1_alg1(DOUBLE, data) == DOUBLE.cipher().encrypt(data)
    assert iso9797_1_alg1(DOUBLE, data, padding=2) != iso9797_1_alg1(DOUBLE, data)
    two = DOUBLE.cipher().cbc_encrypt(data + b"\x80" + bytes(7))[-8:]
    assert iso9797_1_alg1(DOUBLE, data, padding=2) == two
    # Empty data under method 1 is one zero block.
    assert x9_9_mac(DOUBLE, b"") == DOUBLE.cipher().encrypt(bytes(8))
    # Method 1 is ambiguous on trailing zeros (a known property, hence pad 2).
    assert x9_9_mac(DOUBLE, b"A") == x9_9_mac(DOUBLE, b"A\x00")
    with pytest.raises(SecurityError, match="padding method"):
        iso9797_1_alg1(DOUBLE, data, padding=3)


def test_retail_mac_with_single_key_is_x9_9() -> None:
    single = Key.from_hex("0123456789ABCDEF", KeyUsage.ZONE_MAC)
    data = b"Now is the time for all "
    assert x9_19_mac(single, data) == x9_9_mac(single, data)
    assert x9_19_mac(DOUBLE, b"12345678") == DOUBLE.cipher().encrypt(b"12345678")


def test_algorithms_refuse_unsuitable_keys() -> None:
    aes = Key.from_hex("00" * 16, KeyUsage.ZONE_MAC, family="aes")
    sm4 = Key.from_hex("00" * 16, KeyUsage.ZONE_MAC, family="sm4")
    triple = Key.from_hex("00" * 24, KeyUsage.ZONE_MAC)
    with pytest.raises(SecurityError, match="not aes-128"):
        MAC_ALGORITHMS["x9.9"](aes, b"x")
    with pytest.raises(SecurityError, match="not 3des-2key"):
        MAC_ALGORITHMS["aes-cmac"](DOUBLE, b"x")
    with pytest.raises(SecurityError, match="not sm4"):
        MAC_ALGORITHMS["pos-ecb"](sm4, b"x")
    with pytest.raises(SecurityError, match="not 3des-3key"):
        MAC_ALGORITHMS["x9.19"](triple, b"x")
    with pytest.raises(SecurityError, match="single or double-length"):
        iso9797_1_alg3(triple, b"x")


def test_verify_accepts_truncation_to_four_bytes_only() -> None:
    algorithm = MAC_ALGORITHMS["x9.19"]
    full = algorithm(DOUBLE, b"data")
    assert algorithm.verify(DOUBLE, b"data", full)
    assert algorithm.verify(DOUBLE, b"data", full[:4])
    assert not algorithm.verify(DOUBLE, b"data", full[:3])
    assert not algorithm.verify(DOUBLE, b"data", full + b"\x00")
    assert not algorithm.verify(DOUBLE, b"data", b"")


def test_sm4_pos_ecb_uses_16_byte_blocks() -> None:
    sm4 = Key.from_hex("0123456789ABCDEFFEDCBA9876543210", KeyUsage.TERMINAL_MAC, family="sm4")
    mac = MAC_ALGORITHMS["sm4-pos-ecb"](sm4, POS_MAB)
    assert len(mac) == 16
    field = mac_field_value(mac, "hex4")
    assert field == mac.hex().upper()[:8].encode()


# --- CUPS MAB ---------------------------------------------------------------------


def test_cups_mab_rules() -> None:
    assert cups_mab([b"0200", b"  a  b  ", b"x-y", b"p.q,r"]) == b"0200 A B XY P.Q,R"
    assert cups_mab([b"0820"]) == b"0820"
    assert cups_mab([]) == b""
    # Non-ASCII bytes (GBK merchant names) are deleted like any other character.
    assert cups_mab([b"0200", "中国 bank".encode("gbk")]) == b"0200 BANK"
    # Parts may be any bytes-like object and are not modified.
    part = bytearray(b" ab ")
    assert cups_mab([b"0200", part]) == b"0200 AB"
    parts: list[bytes | bytearray | memoryview] = [b"0200", memoryview(b" ab ")]
    assert cups_mab(iter(parts)) == b"0200 AB"
    assert part == bytearray(b" ab ")


@given(st.lists(st.binary(max_size=40), max_size=8))
def test_cups_mab_output_alphabet(parts: list[bytes]) -> None:
    mab = cups_mab(parts)
    assert set(mab) <= set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.")
    assert len(mab) <= sum(len(p) for p in parts) + max(len(parts) - 1, 0)


_CLEAN = st.from_regex(r"[A-Z0-9,.]{1,6}( [A-Z0-9,.]{1,6}){0,3}", fullmatch=True)


@given(st.lists(_CLEAN, min_size=1, max_size=6))
def test_cups_mab_keeps_clean_parts(parts: list[str]) -> None:
    raw = [p.encode("ascii") for p in parts]
    assert cups_mab(raw) == b" ".join(raw)
    # Lower case, padding spaces and punctuation around them change nothing else.
    noisy = [b"  " + p.lower().replace(b" ", b"   ") + b"- " for p in raw]
    assert cups_mab(noisy) == b" ".join(raw)


# --- properties for every algorithm -----------------------------------------------

NAMES = sorted(MAC_ALGORITHMS)


@settings(max_examples=40)
@given(
    name=st.sampled_from(NAMES),
    seed=st.integers(0, 255),
    data=st.binary(min_size=1, max_size=64),
    bit=st.integers(min_value=0),
)
def test_verify_generate_and_bit_flips(name: str, seed: int, data: bytes, bit: int) -> None:
    algorithm = MAC_ALGORITHMS[name]
    key = _key_for(algorithm, seed)
    mac = algorithm(key, data)
    assert algorithm.verify(key, data, mac)
    flipped_data = bytearray(data)
    index = bit % (len(data) * 8)
    flipped_data[index // 8] ^= 1 << (index % 8)
    assert not algorithm.verify(key, bytes(flipped_data), mac)
    flipped_mac = bytearray(mac)
    index = bit % (len(mac) * 8)
    flipped_mac[index // 8] ^= 1 << (index % 8)
    assert not algorithm.verify(key, data, bytes(flipped_mac))


@settings(max_examples=40)
@given(
    name=st.sampled_from(NAMES),
    form=st.sampled_from(["hex4", "raw8"]),
    seed=st.integers(0, 255),
    data=st.binary(min_size=1, max_size=64),
    bit=st.integers(min_value=0),
)
def test_field_forms_verify_and_reject_bit_flips(
    name: str, form: str, seed: int, data: bytes, bit: int
) -> None:
    key = _key_for(MAC_ALGORITHMS[name], seed)
    field = generate_mac(name, key, data, form)
    assert len(field) == 8
    verify_mac(name, key, data, field, form)
    flipped = bytearray(field)
    index = bit % 64
    flipped[index // 8] ^= 1 << (index % 8)
    with pytest.raises(MacError):
        verify_mac(name, key, data, bytes(flipped), form)
    flipped_data = bytearray(data)
    index = bit % (len(data) * 8)
    flipped_data[index // 8] ^= 1 << (index % 8)
    with pytest.raises(MacError):
        verify_mac(name, key, bytes(flipped_data), field, form)


def test_every_registered_algorithm_accepts_its_keys() -> None:
    for algorithm in MAC_ALGORITHMS.values():
        for key_algorithm in algorithm.algorithms:
            key = Key(key_algorithm, KeyUsage.ZONE_MAC, bytes(key_algorithm.key_length))
            assert len(algorithm(key, b"abc")) == key_algorithm.block_size
    assert MAC_ALGORITHMS["x9.19"].algorithms == {Algorithm.DES, Algorithm.TDES_2KEY}


def _mab_reference(parts):
    """DOMAIN.md §2 field by field: delete, trim, fold, raise; join with one space."""
    import re

    keep = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ,.")
    out = []
    for part in parts:
        kept = bytes(b for b in part if b in keep).strip(b" ")
        out.append(re.sub(rb" {2,}", b" ", kept).upper())
    return b" ".join(out)


@given(
    st.lists(
        st.binary(max_size=30) | st.text(" aZ9.,-\x01", max_size=20).map(str.encode), max_size=8
    )
)
def test_cups_mab_whole_block_path_matches_field_by_field(parts):
    from sscard_gateway.crypto import cups_mab

    assert cups_mab(parts) == _mab_reference(parts)
