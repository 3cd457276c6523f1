"""The key store file: sealing, refusal of tampering and wrong keys, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sscard_gateway.crypto import (
    MASTER_KEY_ENV,
    Algorithm,
    KeyUsage,
    KeyVersion,
    MasterKey,
    SoftwareSecurityModule,
    _keytable,
)
from sscard_gateway.errors import KeyStoreError

ZMK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
MASTER = MasterKey(bytes(range(32)))


def _store(tmp_path: Path) -> Path:
    path = tmp_path / "keys.store"
    m = SoftwareSecurityModule.create(path, MASTER)
    m.import_components("zmk", Algorithm.TDES_2KEY, KeyUsage.ZONE_MASTER, [ZMK])
    m.generate_key("zak", Algorithm.TDES_2KEY, KeyUsage.ZONE_MAC)
    m.rotate("zak")
    return path


def test_round_trip_through_the_file(tmp_path: Path) -> None:
    path = _store(tmp_path)
    first = SoftwareSecurityModule.open(path, MASTER)
    assert first.path == path
    again = SoftwareSecurityModule.open(path, MASTER)
    assert again.list_keys() == first.list_keys()
    assert [(i.name, i.version) for i in again.list_keys()] == [
        ("zak", KeyVersion.CURRENT),
        ("zak", KeyVersion.PENDING),
        ("zmk", KeyVersion.CURRENT),
    ]
    assert again.check_value("zmk") == bytes.fromhex("08D7B4FB")
    data = b"0200 abc"
    assert again.generate_mac("zak", "x9.19", data, "raw8") == first.generate_mac(
        "zak", "x9.19", data, "raw8"
    )


def test_file_holds_no_clear_key_and_is_private(tmp_path: Path) -> None:
    path = _store(tmp_path)
    blob = path.read_bytes()
    assert blob[:8] == b"SSCARDKS"
    assert ZMK not in blob and ZMK.hex().encode() not in blob
    assert b"zone-master" not in blob and b"zmk" not in blob
    if os.name == "posix":
        assert path.stat().st_mode & 0o077 == 0


def test_each_write_is_atomic_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = _store(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.store"]
    before = path.read_bytes()
    m = SoftwareSecurityModule.open(path, MASTER)
    m.confirm_key("zak")
    assert path.read_bytes() != before  # new nonce and contents
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.store"]


def test_a_failed_write_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _store(tmp_path)
    m = SoftwareSecurityModule.open(path, MASTER)
    before_file = path.read_bytes()
    before_keys = m.list_keys()

    def fail(*args: object) -> None:
        raise KeyStoreError("disk full")

    monkeypatch.setattr(_keytable, "write_store_file", fail)
    with pytest.raises(KeyStoreError, match="disk full"):
        m.generate_key("new", Algorithm.SM4, KeyUsage.ZONE_PIN)
    with pytest.raises(KeyStoreError, match="disk full"):
        m.confirm_key("zak")
    assert m.list_keys() == before_keys
    assert path.read_bytes() == before_file


@pytest.mark.parametrize("offset", [10, 17, 18, 29, 30, 60, -1])
def test_tampering_is_refused(tmp_path: Path, offset: int) -> None:
    path = _store(tmp_path)
    blob = bytearray(path.read_bytes())
    blob[offset] ^= 0x01
    path.write_bytes(bytes(blob))
    expected = "another master key" if 10 <= offset < 18 else "tampered with or is corrupt"
    with pytest.raises(KeyStoreError, match=expected):
        SoftwareSecurityModule.open(path, MASTER)


def test_other_refusals(tmp_path: Path) -> None:
    path = _store(tmp_path)
    with pytest.raises(KeyStoreError, match=r"another master key \(store key id"):
        SoftwareSecurityModule.open(path, MasterKey.generate())
    with pytest.raises(KeyStoreError, match="already exists"):
        SoftwareSecurityModule.create(path, MASTER)
    with pytest.raises(KeyStoreError, match="does not exist"):
        SoftwareSecurityModule.open(tmp_path / "missing", MASTER)
    blob = path.read_bytes()
    (tmp_path / "short").write_bytes(blob[:40])
    with pytest.raises(KeyStoreError, match="not an sscard_gateway key store"):
        SoftwareSecurityModule.open(tmp_path / "short", MASTER)
    (tmp_path / "v2").write_bytes(blob[:8] + b"\x00\x02" + blob[10:])
    with pytest.raises(KeyStoreError, match="unsupported key store version 2"):
        SoftwareSecurityModule.open(tmp_path / "v2", MASTER)
    (tmp_path / "truncated").write_bytes(blob[:-1])
    with pytest.raises(KeyStoreError, match="tampered"):
        SoftwareSecurityModule.open(tmp_path / "truncated", MASTER)


def test_well_sealed_but_malformed_payload_is_refused(tmp_path: Path) -> None:
    from sscard_gateway.crypto._keystore import seal

    for payload in (b"not json", b'{"keys": []}', b'{"keys": {"a": {"pending": null}}}'):
        path = tmp_path / "bad"
        path.write_bytes(seal(MASTER, payload))
        with pytest.raises(KeyStoreError, match="malformed"):
            SoftwareSecurityModule.open(path, MASTER)
    bad_key = (
        b'{"keys": {"a": {"current": {"algorithm": "des", "usage": "zone-mac", "value": "00"}}}}'
    )
    path.write_bytes(seal(MASTER, bad_key))
    with pytest.raises(KeyStoreError, match=r"entry a\.current is malformed"):
        SoftwareSecurityModule.open(path, MASTER)


# --- master key sources ------------------------------------------------------------


def test_master_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MASTER_KEY_ENV, MASTER.value.hex().upper())
    assert MasterKey.from_env().key_id == MASTER.key_id
    assert MasterKey.from_env(environ={"K": MASTER.value.hex()}, name="K").key_id == MASTER.key_id
    monkeypatch.delenv(MASTER_KEY_ENV)
    with pytest.raises(KeyStoreError, match="SSCARD_MASTER_KEY is not set"):
        MasterKey.from_env()
    with pytest.raises(KeyStoreError, match="64 hex digits"):
        MasterKey.from_env(environ={MASTER_KEY_ENV: "00" * 16})
    with pytest.raises(KeyStoreError, match="64 hex digits"):
        MasterKey.from_hex("zz" * 32)


def test_master_key_file(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    key = MasterKey.generate()
    key.write_file(path)
    assert MasterKey.from_file(path).key_id == key.key_id
    with pytest.raises(KeyStoreError, match="cannot create"):
        key.write_file(path)
    with pytest.raises(KeyStoreError, match="cannot read"):
        MasterKey.from_file(tmp_path / "nope")
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o600
        path.chmod(0o644)
        with pytest.raises(KeyStoreError, match="chmod 600"):
            MasterKey.from_file(path)
        assert MasterKey.from_file(path, require_private=False).key_id == key.key_id


def test_master_key_repr_hides_the_value() -> None:
    text = repr(MASTER) + str(MASTER)
    assert MASTER.value.hex() not in text.lower()
    assert MASTER.key_id.hex().upper() in text
    with pytest.raises(KeyStoreError, match="32 bytes"):
        MasterKey(bytes(16))


def test_in_memory_needs_no_file(tmp_path: Path) -> None:
    m = SoftwareSecurityModule.in_memory()
    m.generate_key("k", Algorithm.AES_128, KeyUsage.ZONE_MAC)
    m.save()  # no-op
    assert m.path is None
    assert list(tmp_path.iterdir()) == []
