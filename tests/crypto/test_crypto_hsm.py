"""SoftwareSecurityModule: operations by name, key exchange, PIN translation."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sscard_gateway.crypto import (
    Algorithm,
    Key,
    KeyInfo,
    KeyUsage,
    KeyVersion,
    PinFormat,
    SecurityModule,
    SoftwareSecurityModule,
    decode_pin_block,
    decrypt_pin_block,
    encrypt_pin,
    generate_mac,
)
from sscard_gateway.errors import (
    KeyCheckError,
    KeyStoreError,
    MacError,
    PinBlockError,
    SecurityError,
)

ZMK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
PAN = "6225880137654321"


def _module() -> SoftwareSecurityModule:
    m = SoftwareSecurityModule.in_memory()
    m.import_components("zmk", Algorithm.TDES_2KEY, KeyUsage.ZONE_MASTER, [ZMK])
    m.import_components("zpk.in", Algorithm.TDES_2KEY, KeyUsage.ZONE_PIN, [ZMK])
    m.generate_key("zpk.out", Algorithm.TDES_2KEY, KeyUsage.ZONE_PIN)
    m.generate_key("zpk.sm4", Algorithm.SM4, KeyUsage.ZONE_PIN)
    m.generate_key("zpk.aes", Algorithm.AES_256, KeyUsage.ZONE_PIN)
    m.generate_key("zmk.sm4", Algorithm.SM4, KeyUsage.ZONE_MASTER)
    m.generate_key("zak", Algorithm.DES, KeyUsage.ZONE_MAC)
    m.generate_key("zak2", Algorithm.TDES_2KEY, KeyUsage.ZONE_MAC)
    return m


MODULE = _module()


def test_is_a_security_module() -> None:
    assert isinstance(MODULE, SecurityModule)
    typed: SecurityModule = MODULE  # mypy checks the signatures match the protocol
    assert typed.check_value("zmk") == bytes.fromhex("08D7B4FB")


def test_list_keys_shows_no_values() -> None:
    infos = MODULE.list_keys()
    assert [i.name for i in infos] == sorted(i.name for i in infos)
    zmk = next(i for i in infos if i.name == "zmk")
    assert zmk == KeyInfo(
        "zmk",
        KeyVersion.CURRENT,
        Algorithm.TDES_2KEY,
        KeyUsage.ZONE_MASTER,
        bytes.fromhex("08D7B4FB"),
    )
    text = " ".join(repr(i) + str(i) for i in infos)
    assert "0123456789abcdef" not in text.lower()
    assert MODULE.check_value("zmk") == bytes.fromhex("08D7B4FB")
    assert MODULE.check_value("zmk", length=3) == bytes.fromhex("08D7B4")
    assert "zmk" in MODULE and "nothing" not in MODULE


def test_components_combine_by_xor() -> None:
    m = SoftwareSecurityModule.in_memory()
    a = bytes(range(16))
    b = bytes(x ^ y for x, y in zip(a, ZMK, strict=True))
    info = m.import_components(
        "zmk", Algorithm.TDES_2KEY, KeyUsage.ZONE_MASTER, [a, b], expected_kcv=b"\x08\xd7\xb4\xfb"
    )
    assert info.check_value == bytes.fromhex("08D7B4FB")
    with pytest.raises(KeyCheckError):
        m.import_components("x", Algorithm.TDES_2KEY, KeyUsage.ZONE_PIN, [a], expected_kcv=bytes(4))
    with pytest.raises(SecurityError, match="at least one"):
        m.import_components("x", Algorithm.DES, KeyUsage.ZONE_PIN, [])
    with pytest.raises(SecurityError, match="component is 8 bytes"):
        m.import_components("x", Algorithm.DES, KeyUsage.ZONE_PIN, [a])


def test_names_are_validated() -> None:
    m = SoftwareSecurityModule.in_memory()
    for bad in ("", "a b", "../x", "x" * 65, "-x"):
        with pytest.raises(KeyStoreError, match="invalid key name"):
            m.generate_key(bad, Algorithm.DES, KeyUsage.ZONE_MAC)
    with pytest.raises(KeyStoreError, match="no key named 'nope'"):
        m.check_value("nope")


# --- PIN ------------------------------------------------------------------------------


def test_translate_domain_vector() -> None:
    block = bytes.fromhex("7CE09CE60EE87A4F")
    out = MODULE.translate_pin(block, PAN, "zpk.in", "iso0", "zpk.out", "iso0")
    back = MODULE.translate_pin(out, PAN, "zpk.out", "iso0", "zpk.in", "iso0")
    assert back == block
    assert MODULE.encrypt_pin("123456", PAN, "zpk.in", PinFormat.ISO0) == block


def test_translate_errors() -> None:
    block = bytes.fromhex("7CE09CE60EE87A4F")
    with pytest.raises(SecurityError, match="not a pin key"):
        MODULE.translate_pin(block, PAN, "zak2", "iso0", "zpk.out", "iso0")
    with pytest.raises(SecurityError, match="not a pin key"):
        MODULE.translate_pin(block, PAN, "zpk.in", "iso0", "zmk", "iso0")
    with pytest.raises(KeyStoreError, match="no key named"):
        MODULE.translate_pin(block, PAN, "zpk.in", "iso0", "missing", "iso0")
    with pytest.raises(PinBlockError) as info:
        MODULE.translate_pin(block, PAN, "zpk.out", "iso0", "zpk.in", "iso0")
    assert info.value.response_code == "99"
    with pytest.raises(PinBlockError):  # wrong PAN
        MODULE.translate_pin(block, "6225880137650000", "zpk.in", "iso0", "zpk.out", "iso0")
    with pytest.raises(SecurityError, match="sm4"):
        MODULE.translate_pin(block, PAN, "zpk.in", "iso0", "zpk.out", "sm4")
    with pytest.raises(KeyStoreError, match="no pending version"):
        MODULE.translate_pin(
            block, PAN, "zpk.in", "iso0", "zpk.out", "iso0", from_version=KeyVersion.PENDING
        )


_PAIRS = [
    ("zpk.in", PinFormat.ISO0, "zpk.out", PinFormat.ISO0),
    ("zpk.in", PinFormat.ISO0, "zpk.out", PinFormat.ISO3),
    ("zpk.in", PinFormat.ISO1, "zpk.out", PinFormat.ISO0),
    ("zpk.in", PinFormat.ISO2, "zpk.out", PinFormat.ISO3),
    ("zpk.in", PinFormat.ISO0, "zpk.sm4", PinFormat.SM4),
    ("zpk.in", PinFormat.ISO3, "zpk.sm4", PinFormat.SM4),
    ("zpk.in", PinFormat.ISO0, "zpk.aes", PinFormat.ISO4),
    ("zpk.in", PinFormat.ISO1, "zpk.aes", PinFormat.ISO4),
]


@given(
    pin=st.text("0123456789", min_size=4, max_size=12),
    pan=st.text("0123456789", min_size=13, max_size=19),
    pair=st.sampled_from(_PAIRS),
)
def test_translate_there_and_back_is_identity(
    pin: str, pan: str, pair: tuple[str, PinFormat, str, PinFormat]
) -> None:
    a, fmt_a, b, fmt_b = pair
    original = MODULE.encrypt_pin(pin, pan, a, fmt_a)
    there = MODULE.translate_pin(original, pan, a, fmt_a, b, fmt_b)
    back = MODULE.translate_pin(there, pan, b, fmt_b, a, fmt_a)
    if fmt_a in (PinFormat.ISO0, PinFormat.ISO2):  # deterministic: same bytes
        assert back == original
    # Always the same PIN (random-fill formats re-randomise the fill).
    key = Key(Algorithm.TDES_2KEY, KeyUsage.ZONE_PIN, ZMK)
    assert decode_pin_block(decrypt_pin_block(key, back, fmt_a), pan, fmt_a) == pin


# --- MAC --------------------------------------------------------------------------------


def test_mac_by_name() -> None:
    data = b"0200 166225880137654321 000000"
    field = MODULE.generate_mac("zak", "x9.9", data, "hex4")
    assert len(field) == 8 and field == field.upper()
    assert MODULE.verify_mac("zak", "x9.9", data, field, "hex4") is KeyVersion.CURRENT
    with pytest.raises(MacError) as info:
        MODULE.verify_mac("zak", "x9.9", data + b"0", field, "hex4")
    assert info.value.response_code == "A0"
    with pytest.raises(SecurityError, match="not a mac key"):
        MODULE.generate_mac("zpk.in", "x9.9", data, "hex4")
    with pytest.raises(SecurityError, match="not a mac key"):
        MODULE.verify_mac("zpk.in", "x9.9", data, field, "hex4")
    with pytest.raises(SecurityError, match="not des"):
        MODULE.generate_mac("zak", "aes-cmac", data, "hex4")


def test_mac_matches_the_pure_function() -> None:
    m = SoftwareSecurityModule.in_memory()
    key = Key.from_hex("2222222222222222", KeyUsage.TERMINAL_MAC)
    m.import_components("tak", key.algorithm, key.usage, [key.value])
    mab = bytes.fromhex("1234567890ABCDEFABCDEF1234567890")
    assert m.generate_mac("tak", "pos-ecb", mab, "hex4") == b"E267B6E2"
    assert generate_mac("pos-ecb", key, mab, "hex4") == b"E267B6E2"


# --- import, export, key exchange ----------------------------------------------------------


def test_import_checks_the_check_value_with_the_usage_code() -> None:
    m = _module()
    cryptogram, kcv = m.export_key("zpk.out", "zmk")
    assert cryptogram != kcv and len(cryptogram) == 16
    info = m.import_key("zpk.copy", KeyUsage.ZONE_PIN, cryptogram, "zmk", kcv)
    assert info.check_value == kcv and info.algorithm is Algorithm.TDES_2KEY
    for usage, code in (
        (KeyUsage.ZONE_PIN, "A8"),
        (KeyUsage.TERMINAL_MAC, "A9"),
        (KeyUsage.TRACK_DATA, "A7"),
    ):
        with pytest.raises(KeyCheckError, match="does not match") as exc:
            m.import_key("bad", usage, cryptogram, "zmk", bytes(4))
        assert exc.value.response_code == code
    assert "bad" not in m


def test_import_rules() -> None:
    m = _module()
    cryptogram, kcv = m.export_key("zak", "zmk")
    assert len(cryptogram) == 8
    assert m.import_key("zak.copy", KeyUsage.ZONE_MAC, cryptogram, "zmk", kcv).algorithm is (
        Algorithm.DES
    )
    with pytest.raises(SecurityError, match="not a kek key"):
        m.import_key("x", KeyUsage.ZONE_MAC, cryptogram, "zpk.in", kcv)
    with pytest.raises(SecurityError, match="multiple of 8"):
        m.import_key("x", KeyUsage.ZONE_MAC, cryptogram[:5], "zmk", kcv)
    with pytest.raises(SecurityError, match="3des-2key key cryptogram is 16"):
        m.import_key("x", KeyUsage.ZONE_MAC, cryptogram, "zmk", kcv, algorithm=Algorithm.TDES_2KEY)
    with pytest.raises(SecurityError, match="3 to 8 bytes"):
        m.import_key("x", KeyUsage.ZONE_MAC, cryptogram, "zmk", kcv[:2])
    with pytest.raises(KeyStoreError, match="cannot replace it with a zone-pin"):
        m.import_key("zak.copy", KeyUsage.ZONE_PIN, cryptogram, "zmk", kcv)


def test_export_rules() -> None:
    with pytest.raises(SecurityError, match="under itself"):
        MODULE.export_key("zmk", "zmk")
    with pytest.raises(SecurityError, match="weaker"):
        MODULE.export_key("zpk.sm4", "zmk")
    with pytest.raises(SecurityError, match="not a kek key"):
        MODULE.export_key("zpk.in", "zak2")
    cryptogram, kcv = MODULE.export_key("zpk.in", "zmk.sm4")
    assert len(cryptogram) == 16 and kcv == bytes.fromhex("08D7B4FB")


_EXPORTABLE = [
    (Algorithm.TDES_3KEY, Algorithm.DES),
    (Algorithm.TDES_3KEY, Algorithm.TDES_2KEY),
    (Algorithm.TDES_3KEY, Algorithm.TDES_3KEY),
    (Algorithm.SM4, Algorithm.TDES_2KEY),
    (Algorithm.SM4, Algorithm.SM4),
    (Algorithm.AES_256, Algorithm.AES_128),
    (Algorithm.AES_256, Algorithm.AES_256),
    (Algorithm.AES_256, Algorithm.SM4),
]


@settings(max_examples=25)
@given(pair=st.sampled_from(_EXPORTABLE), usage=st.sampled_from(list(KeyUsage)))
def test_export_import_round_trip(pair: tuple[Algorithm, Algorithm], usage: KeyUsage) -> None:
    kek_algorithm, algorithm = pair
    m = SoftwareSecurityModule.in_memory()
    m.generate_key("kek", kek_algorithm, KeyUsage.TERMINAL_MASTER)
    m.generate_key("k", algorithm, usage)
    cryptogram, kcv = m.export_key("k", "kek")
    info = m.import_key("k2", usage, cryptogram, "kek", kcv, algorithm=algorithm)
    assert info.check_value == kcv == m.check_value("k")
    assert info.algorithm is algorithm and info.usage is usage


def test_key_exchange_life_cycle() -> None:
    m = _module()
    data = b"0820 1126101530 000001 101"
    old_field = m.generate_mac("zak2", "x9.19", data, "hex4")
    new_key = Key.generate(Algorithm.TDES_2KEY, KeyUsage.ZONE_MAC)
    m2 = SoftwareSecurityModule.in_memory()  # the peer, sharing our ZMK
    m2.import_components("zmk", Algorithm.TDES_2KEY, KeyUsage.ZONE_MASTER, [ZMK])
    m2.import_components("zak", new_key.algorithm, new_key.usage, [new_key.value])
    cryptogram, kcv = m2.export_key("zak", "zmk")

    info = m.import_key("zak2", KeyUsage.ZONE_MAC, cryptogram, "zmk", kcv, stage=True)
    assert info.version is KeyVersion.PENDING
    assert m.generate_mac("zak2", "x9.19", data, "hex4") == old_field  # still current
    new_field = m2.generate_mac("zak", "x9.19", data, "hex4")
    assert m.verify_mac("zak2", "x9.19", data, new_field, "hex4") is KeyVersion.PENDING
    with pytest.raises(MacError):
        m.verify_mac("zak2", "x9.19", data, new_field, "hex4", versions=(KeyVersion.CURRENT,))
    assert m.generate_mac("zak2", "x9.19", data, "hex4", version=KeyVersion.PENDING) == new_field

    confirmed = m.confirm_key("zak2")
    assert confirmed.version is KeyVersion.CURRENT and confirmed.check_value == kcv
    assert m.generate_mac("zak2", "x9.19", data, "hex4") == new_field
    assert m.verify_mac("zak2", "x9.19", data, old_field, "hex4") is KeyVersion.PREVIOUS
    assert [i.version for i in m.list_keys() if i.name == "zak2"] == [
        KeyVersion.CURRENT,
        KeyVersion.PREVIOUS,
    ]
    m.retire_previous("zak2")
    with pytest.raises(MacError):
        m.verify_mac("zak2", "x9.19", data, old_field, "hex4")
    with pytest.raises(KeyStoreError, match="no pending version"):
        m.confirm_key("zak2")


def test_rotate_discard_and_delete() -> None:
    m = _module()
    before = m.check_value("zpk.out")
    staged = m.rotate("zpk.out")
    assert staged.version is KeyVersion.PENDING and staged.usage is KeyUsage.ZONE_PIN
    assert m.check_value("zpk.out") == before
    assert m.check_value("zpk.out", version=KeyVersion.PENDING) == staged.check_value
    m.discard_pending("zpk.out")
    with pytest.raises(KeyStoreError, match="no pending version"):
        m.check_value("zpk.out", version=KeyVersion.PENDING)
    m.discard_pending("zpk.out")  # nothing pending: no error
    m.rotate("zpk.out")
    assert m.confirm_key("zpk.out").check_value != before
    assert m.check_value("zpk.out", version=KeyVersion.PREVIOUS) == before
    with pytest.raises(KeyStoreError, match="to stage a new value for"):
        m.generate_key("fresh", Algorithm.DES, KeyUsage.ZONE_MAC, stage=True)
    with pytest.raises(KeyStoreError, match="no key named"):
        m.rotate("fresh")
    m.delete_key("zpk.out")
    assert "zpk.out" not in m


def test_replacing_a_key_keeps_the_old_one_as_previous() -> None:
    m = _module()
    before = m.check_value("zak")
    m.generate_key("zak", Algorithm.DES, KeyUsage.ZONE_MAC)
    assert m.check_value("zak", version=KeyVersion.PREVIOUS) == before


def test_concurrent_use_from_threads() -> None:
    m = _module()
    data = [bytes([i]) * 50 for i in range(64)]
    expected = [m.generate_mac("zak2", "x9.19", d, "raw8") for d in data]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda d: m.generate_mac("zak2", "x9.19", d, "raw8"), data * 4))
    assert got == expected * 4


def test_encrypt_pin_for_simulators() -> None:
    block = MODULE.encrypt_pin("1234", PAN, "zpk.sm4", "sm4")
    assert len(block) == 16
    with pytest.raises(SecurityError, match="not a pin key"):
        MODULE.encrypt_pin("1234", PAN, "zak", "iso0")
    key = Key(Algorithm.TDES_2KEY, KeyUsage.ZONE_PIN, ZMK)
    assert MODULE.encrypt_pin("123456", PAN, "zpk.in", "0") == encrypt_pin(key, "123456", PAN, 0)
