"""Every vector in specs/vectors/*.toml, checked against our implementation.

Vectors whose ``source`` says "computed independently" are also recomputed
here with a second, deliberately naive implementation built block by block
from ``cryptography`` primitives, so a recorded value cannot simply echo a
bug in the code under test.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from sscard_gateway.crypto import (
    Algorithm,
    Key,
    KeyUsage,
    SoftwareSecurityModule,
    cups_mab,
    decode_pin_block,
    decrypt_pin_block,
    encode_pin_block,
    encrypt_pin_block,
    get_mac_algorithm,
    mac_field_value,
)

VECTORS = Path(__file__).resolve().parents[2] / "specs" / "vectors"


def _load(name: str) -> dict[str, Any]:
    with (VECTORS / name).open("rb") as f:
        return tomllib.load(f)


def _cases(name: str, table: str) -> list[Any]:
    entries = _load(name)[table]
    return [pytest.param(e, id=f"{table}-{i}") for i, e in enumerate(entries)]


def _key(algorithm: str, hex_value: str, usage: KeyUsage = KeyUsage.ZONE_MAC) -> Key:
    return Key(Algorithm(algorithm), usage, bytes.fromhex(hex_value))


# --- the independent reference: one block at a time ------------------------------


def _ref_ecb(algorithm: str, key: bytes, block: bytes, *, decrypt: bool = False) -> bytes:
    if algorithm == "des":
        alg: Any = TripleDES(key * 3)
    elif algorithm.startswith("3des"):
        alg = TripleDES(key + key[:8] if len(key) == 16 else key)
    elif algorithm == "sm4":
        alg = algorithms.SM4(key)
    else:
        alg = algorithms.AES(key)
    cipher = Cipher(alg, modes.ECB())
    ctx = cipher.decryptor() if decrypt else cipher.encryptor()
    return ctx.update(block) + ctx.finalize()


def _ref_xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _ref_pad(data: bytes, size: int, method: int) -> bytes:
    if method == 2:
        data += b"\x80"
    elif not data:
        return bytes(size)
    return data + bytes(-len(data) % size)


def _ref_cbc_mac(algorithm: str, key: bytes, data: bytes, size: int) -> bytes:
    h = bytes(size)
    for i in range(0, len(data), size):
        h = _ref_ecb(algorithm, key, _ref_xor(h, data[i : i + size]))
    return h


def _ref_retail(key: bytes, data: bytes) -> bytes:
    h = bytes(8)
    for i in range(0, len(data), 8):
        h = _ref_ecb("des", key[:8], _ref_xor(h, data[i : i + 8]))
    h = _ref_ecb("des", key[8:], h, decrypt=True)
    return _ref_ecb("des", key[:8], h)


def _ref_pos(algorithm: str, key: bytes, data: bytes, size: int) -> tuple[bytes, bytes, bytes]:
    data += bytes(-len(data) % size)
    r = bytes(size)
    for i in range(0, len(data), size):
        r = _ref_xor(r, data[i : i + size])
    text = r.hex().upper().encode()
    e1 = _ref_ecb(algorithm, key, text[:size])
    return r, e1, _ref_ecb(algorithm, key, _ref_xor(e1, text[size:]))


def _reference_mac(case: dict[str, Any], data: bytes) -> bytes:
    key = bytes.fromhex(case["key"])
    alg = case["key_algorithm"]
    name = case["algorithm"]
    if name in ("pos-ecb", "sm4-pos-ecb"):
        return _ref_pos(alg, key, data, 16 if alg == "sm4" else 8)[2]
    if name == "x9.19":
        return _ref_retail(key, _ref_pad(data, 8, 1))
    if name == "iso9797-1-alg3-pad2":
        return _ref_retail(key, _ref_pad(data, 8, 2))
    if name == "iso9797-1-alg1-pad2":
        return _ref_cbc_mac(alg, key, _ref_pad(data, 8, 2), 8)
    size = 16 if alg == "sm4" else 8
    return _ref_cbc_mac(alg, key, _ref_pad(data, size, 1), size)


# --- tests ---------------------------------------------------------------------------


def test_every_vector_names_its_source() -> None:
    files = sorted(VECTORS.glob("*.toml"))
    assert {f.name for f in files} >= {"kcv.toml", "cipher.toml", "mac.toml", "pinblock.toml"}
    for file in files:
        for table, entries in _load(file.name).items():
            if isinstance(entries, list):
                for entry in entries:
                    assert entry.get("source"), f"{file.name} [{table}] entry lacks a source"


@pytest.mark.parametrize("case", _cases("kcv.toml", "kcv"))
def test_kcv_vectors(case: dict[str, Any]) -> None:
    key = _key(case["algorithm"], case["key"], KeyUsage.ZONE_MASTER)
    expected = bytes.fromhex(case["kcv"])
    assert key.check_value(len(expected)) == expected
    size = 8 if case["algorithm"] in ("des", "3des-2key", "3des-3key") else 16
    ref = _ref_ecb(case["algorithm"], key.value, bytes(size))
    assert ref[: len(expected)] == expected


@pytest.mark.parametrize("case", _cases("cipher.toml", "ecb"))
def test_ecb_vectors(case: dict[str, Any]) -> None:
    key = _key(case["algorithm"], case["key"], KeyUsage.ZONE_MASTER)
    plain = bytes.fromhex(case["plaintext"])
    cipher = bytes.fromhex(case["ciphertext"])
    assert key.cipher().encrypt(plain) == cipher
    assert key.cipher().decrypt(cipher) == plain


@pytest.mark.parametrize("case", _cases("cipher.toml", "key_import"))
def test_key_import_vectors(case: dict[str, Any]) -> None:
    module = SoftwareSecurityModule.in_memory()
    kek = bytes.fromhex(case["kek"])
    algorithm = Algorithm(case["kek_algorithm"])
    module.import_components("kek", algorithm, KeyUsage.TERMINAL_MASTER, [kek])
    kcv = bytes.fromhex(case["kcv"])
    info = module.import_key(
        "imported", KeyUsage(case["usage"]), bytes.fromhex(case["cryptogram"]), "kek", kcv
    )
    assert info.check_value == kcv[:4]
    assert module.check_value("imported", length=len(kcv)) == kcv


@pytest.mark.parametrize("case", _cases("mac.toml", "mac"))
def test_mac_vectors(case: dict[str, Any]) -> None:
    key = _key(case["key_algorithm"], case["key"])
    data = case["text"].encode("ascii") if "text" in case else bytes.fromhex(case["data"])
    expected = bytes.fromhex(case["mac"])
    algorithm = get_mac_algorithm(case["algorithm"])
    assert algorithm(key, data) == expected
    assert algorithm.verify(key, data, expected)
    if "field" in case:
        assert mac_field_value(expected, "hex4") == case["field"].encode("ascii")
    if "r" in case:
        size = key.algorithm.block_size
        r, e1, e2 = _ref_pos(case["key_algorithm"], key.value, data, size)
        assert (r.hex().upper(), e1.hex().upper(), e2) == (case["r"], case["e1"], expected)
    if "computed independently" in case["source"]:
        assert _reference_mac(case, data) == expected


@pytest.mark.parametrize("case", _cases("mac.toml", "cups_mab"))
def test_cups_mab_vectors(case: dict[str, Any]) -> None:
    parts = [p.encode("utf-8") for p in case["parts"]]
    assert cups_mab(parts) == case["mab"].encode("ascii")


@pytest.mark.parametrize("case", _cases("pinblock.toml", "encode"))
def test_pin_encode_vectors(case: dict[str, Any]) -> None:
    clear = bytes.fromhex(case["clear"])
    pan = case.get("pan")
    assert encode_pin_block(case["pin"], pan, case["format"]) == clear
    assert decode_pin_block(clear, pan, case["format"]) == case["pin"]
    if "encrypted" in case:
        key = _key(case["key_algorithm"], case["key"], KeyUsage.ZONE_PIN)
        encrypted = bytes.fromhex(case["encrypted"])
        assert encrypt_pin_block(key, clear, case["format"], pan) == encrypted
        assert decrypt_pin_block(key, encrypted, case["format"], pan) == clear
        assert _ref_ecb(case["key_algorithm"], key.value, clear) == encrypted


@pytest.mark.parametrize("case", _cases("pinblock.toml", "decode"))
def test_pin_decode_vectors(case: dict[str, Any]) -> None:
    clear = bytes.fromhex(case["clear"])
    pan = case.get("pan")
    assert decode_pin_block(clear, pan, case["format"]) == case["pin"]
    if "encrypted" in case:
        key = _key(case["key_algorithm"], case["key"], KeyUsage.ZONE_PIN)
        encrypted = bytes.fromhex(case["encrypted"])
        assert decrypt_pin_block(key, encrypted, case["format"], pan) == clear
        assert encrypt_pin_block(key, clear, case["format"], pan) == encrypted
        # Two-step ISO 9564-1:2017 encipherment, done by hand.
        assert pan is not None
        pan_field = bytes.fromhex(f"{len(pan) - 12:X}{pan}".ljust(32, "0"))
        step_a = _ref_ecb("aes", key.value, clear)
        assert _ref_ecb("aes", key.value, _ref_xor(step_a, pan_field)) == encrypted


@pytest.mark.parametrize("case", _cases("pinblock.toml", "iso4_field"))
def test_iso4_field_vectors(case: dict[str, Any]) -> None:
    from sscard_gateway.crypto._pinblock import PinFormat, _pan_field

    block = encode_pin_block(case["pin"], case["pan"], "iso4")
    assert block.hex().upper().startswith(case["pin_field_prefix"])
    assert _pan_field(case["pan"], PinFormat.ISO4) == bytes.fromhex(case["pan_field"])


@pytest.mark.parametrize("case", _cases("pinblock.toml", "translate"))
def test_translate_vectors(case: dict[str, Any]) -> None:
    module = SoftwareSecurityModule.in_memory()
    for side in ("from", "to"):
        module.import_components(
            side,
            Algorithm(case[f"{side}_key_algorithm"]),
            KeyUsage.ZONE_PIN,
            [bytes.fromhex(case[f"{side}_key"])],
        )
    out = module.translate_pin(
        bytes.fromhex(case["encrypted"]),
        case["pan"],
        "from",
        case["from_format"],
        "to",
        case["to_format"],
    )
    assert out == bytes.fromhex(case["translated"])
