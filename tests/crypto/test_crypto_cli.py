"""The kcv, ecb, mac, pinblock and keys commands, run through cli.main."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from sscard_gateway.cli import main

DOUBLE = "0123456789ABCDEFFEDCBA9876543210"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _lines(out: str) -> dict[str, str]:
    return dict(line.split(None, 1) for line in out.splitlines())


def test_kcv(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "kcv", DOUBLE) == (0, "08D7B4FB\n", "")
    assert _run(capsys, "kcv", DOUBLE, "--length", "3") == (0, "08D7B4\n", "")
    sm4 = Cipher(algorithms.SM4(bytes.fromhex(DOUBLE)), modes.ECB()).encryptor()
    expected = sm4.update(bytes(16))[:4].hex().upper()
    assert _run(capsys, "kcv", DOUBLE, "--algorithm", "sm4") == (0, expected + "\n", "")
    assert _run(
        capsys, "kcv", "2B7E151628AED2A6ABF7158809CF4F3C", "--algorithm", "aes", "--length", "8"
    ) == (0, "7DF76B0C1AB899B3\n", "")


def test_ecb_sm4_standard_vector(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "ecb", "--algorithm", "sm4", "--key", DOUBLE, DOUBLE)
    assert (status, out) == (0, "681EDF34D206965E86B3E94F536E4246\n")
    status, out, _ = _run(capsys, "ecb", "--decrypt", "--key", DOUBLE, "7CE09CE60EE87A4F")
    assert out == "06126CD6EC89ABCD\n"
    status, _, err = _run(capsys, "ecb", "--key", DOUBLE, "0102")
    assert status == 2 and "whole 8-byte blocks" in err


def test_mac(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(
        capsys,
        "mac",
        "--algorithm",
        "pos-ecb",
        "--key",
        "2222222222222222",
        "1234567890ABCDEFABCDEF1234567890",
    )
    assert status == 0
    assert _lines(out) == {
        "mac": "E267B6E21913D339",
        "hex4": "E267B6E2",
        "raw8": "E267B6E21913D339",
    }
    status, out, _ = _run(
        capsys, "mac", "--algorithm", "x9.19", "--key", DOUBLE, "--text", "Now is the time for all "
    )
    assert _lines(out)["mac"] == "A1C72E74EA3FA9B6"
    status, out, _ = _run(
        capsys,
        "mac",
        "--algorithm",
        "aes-cmac",
        "--key",
        "2B7E151628AED2A6ABF7158809CF4F3C",
        "6BC1BEE22E409F96E93D7E117393172A",
    )
    assert _lines(out)["mac"] == "070A16B46B4D4144F79BDD9DD04A287C"
    status, _, err = _run(capsys, "mac", "--algorithm", "x9.9", "--key", DOUBLE, "nothex")
    assert status == 2 and "hex" in err


def test_pinblock(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(
        capsys, "pinblock", "--format", "0", "--pan", "6225880137654321", "--pin", "123456"
    )
    assert (status, _lines(out)) == (0, {"clear": "06126CD6EC89ABCD"})
    status, out, _ = _run(
        capsys,
        "pinblock",
        "--format",
        "0",
        "--pan",
        "6225880137654321",
        "--pin",
        "123456",
        "--key",
        DOUBLE,
    )
    assert _lines(out) == {"clear": "06126CD6EC89ABCD", "encrypted": "7CE09CE60EE87A4F"}
    status, out, _ = _run(
        capsys,
        "pinblock",
        "--format",
        "sm4",
        "--pan",
        "6225880137654321",
        "--pin",
        "123456",
        "--key",
        DOUBLE,
    )
    assert _lines(out)["encrypted"] == "B295BB5BF2F28BE3EDDD4CCB5E96D0B2"
    status, _, err = _run(
        capsys, "pinblock", "--format", "0", "--pan", "6225880137654321", "--pin", "12"
    )
    assert status == 2 and "4 to 12 digits" in err and "6225880137654321" not in err


def test_keys_workflow(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = str(tmp_path / "keys.store")
    master = str(tmp_path / "master.key")
    base = ("keys", "--store", store, "--master-key-file", master)
    status, out, _ = _run(capsys, *base, "init", "--new-master-key")
    assert status == 0 and "created key store" in out
    status, out, _ = _run(
        capsys,
        *base,
        "components",
        "zmk",
        "--algorithm",
        "3des-2key",
        "--usage",
        "zmk",
        "--component",
        DOUBLE,
        "--kcv",
        "08D7B4FB",
    )
    assert "kcv=08D7B4FB" in out
    # A key under the ZMK, as a peer would send it: E(ZMK, K) and KCV(K).
    value = "89ABCDEF0123456776543210FEDCBA98"
    _, cryptogram, _ = _run(capsys, "ecb", "--key", DOUBLE, value)
    _, kcv, _ = _run(capsys, "kcv", value)
    status, out, _ = _run(
        capsys,
        *base,
        "import",
        "zpk",
        "--usage",
        "zone-pin",
        "--kek",
        "zmk",
        "--cryptogram",
        cryptogram.strip(),
        "--kcv",
        kcv.strip(),
    )
    assert status == 0 and f"kcv={kcv.strip()}" in out
    status, _, err = _run(
        capsys,
        *base,
        "import",
        "zak",
        "--usage",
        "zak",
        "--kek",
        "zmk",
        "--cryptogram",
        cryptogram.strip(),
        "--kcv",
        "00000000",
    )
    assert status == 2 and "does not match" in err
    assert _run(capsys, *base, "add", "zak", "--algorithm", "des", "--usage", "zak")[0] == 0
    status, _, err = _run(capsys, *base, "add", "zak", "--algorithm", "des", "--usage", "zak")
    assert status == 2 and "--replace" in err
    status, out, _ = _run(capsys, *base, "export", "zpk", "--kek", "zmk")
    assert _lines(out) == {"cryptogram": cryptogram.strip(), "kcv": kcv.strip()}
    status, out, _ = _run(capsys, *base, "rotate", "zak")
    assert "zak pending des zone-mac" in out
    status, out, _ = _run(capsys, *base, "list")
    rows = [line.split() for line in out.splitlines()]
    assert [r[:2] for r in rows] == [
        ["zak", "current"],
        ["zak", "pending"],
        ["zmk", "current"],
        ["zpk", "current"],
    ]
    assert ["zpk", "current", "3des-2key", "zone-pin", kcv.strip()] in rows
    assert value not in out and DOUBLE not in out
    assert _run(capsys, *base, "confirm", "zak")[0] == 0
    assert _run(capsys, *base, "retire", "zak")[0] == 0
    _, out, _ = _run(capsys, *base, "list")
    assert [line.split()[1] for line in out.splitlines() if line.startswith("zak")] == ["current"]

    # The environment supplies the master key and the store path too.
    monkeypatch.setenv("SSCARD_MASTER_KEY", Path(master).read_text().strip())
    monkeypatch.setenv("SSCARD_KEY_STORE", store)
    status, out, _ = _run(capsys, "keys", "list")
    assert status == 0 and "zpk" in out


def test_keys_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSCARD_MASTER_KEY", raising=False)
    monkeypatch.delenv("SSCARD_KEY_STORE", raising=False)
    status, _, err = _run(capsys, "keys", "list")
    assert status == 2 and "--store" in err
    store = str(tmp_path / "s")
    status, _, err = _run(capsys, "keys", "--store", store, "init")
    assert status == 2 and "SSCARD_MASTER_KEY is not set" in err
    status, _, err = _run(capsys, "keys", "--store", store, "init", "--new-master-key")
    assert status == 2 and "needs --master-key-file" in err
    monkeypatch.setenv("SSCARD_MASTER_KEY", "11" * 32)
    assert _run(capsys, "keys", "--store", store, "init")[0] == 0
    monkeypatch.setenv("SSCARD_MASTER_KEY", "22" * 32)
    status, _, err = _run(capsys, "keys", "--store", store, "list")
    assert status == 2 and "another master key" in err


def test_demo_tour(capsys: pytest.CaptureFixture[str]) -> None:
    from sscard_gateway.cli._crypto import demo

    demo()
    out = capsys.readouterr().out
    assert "7CE09CE60EE87A4F" in out and "E267B6E2" in out and "kcv=08D7B4FB" in out
    assert "6225880137654321" not in out and "622588******4321" in out
    assert "123456" not in out.replace("0123456789", "")
