"""Offline cases: this installation's codec and cryptography against the vectors.

Why: before a peer is ever contacted, an integrator needs to know that the
library they installed, with the spec files it reads, computes what the
published vectors say — a wrong ``cryptography`` build, an edited dialect
file or a damaged wheel shows up here rather than as ``A0`` on the wire.
Each check runs the library's own public functions over every entry of a
vector file (``specs/vectors/*.toml``, each entry naming its source) or
over every sample message (``specs/samples/*.json``: encode, decode to the
same message, re-encode byte for byte).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..crypto import (
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
from ..errors import SscardError
from ..iso import load_dialect, specs_dir
from ..iso.jsonio import message_from_dict
from ._cases import Case

__all__ = ["run_offline"]

Entry = Mapping[str, Any]


def _source_path(case: Case) -> Path:
    assert case.source is not None
    path = Path(case.source)
    if path.is_absolute():
        return path
    beside = case.file.path.parent.parent / path
    return beside if beside.exists() else specs_dir() / path


def _key(algorithm: str, value: str, usage: KeyUsage) -> Key:
    return Key(Algorithm(algorithm), usage, bytes.fromhex(value))


def _hex(data: bytes) -> str:
    return data.hex().upper()


def _kcv(entry: Entry) -> str | None:
    key = _key(entry["algorithm"], entry["key"], KeyUsage.ZONE_MASTER)
    expected = bytes.fromhex(entry["kcv"])
    got = key.check_value(len(expected))
    return None if got == expected else f"check value {_hex(got)}, expected {entry['kcv']}"


def _ecb(entry: Entry) -> str | None:
    key = _key(entry["algorithm"], entry["key"], KeyUsage.ZONE_MASTER)
    plain, cipher = bytes.fromhex(entry["plaintext"]), bytes.fromhex(entry["ciphertext"])
    got = key.cipher().encrypt(plain)
    if got != cipher:
        return f"enciphered {_hex(got)}, expected {entry['ciphertext']}"
    if key.cipher().decrypt(cipher) != plain:
        return "deciphering the ciphertext does not give the plaintext back"
    return None


def _key_import(entry: Entry) -> str | None:
    module = SoftwareSecurityModule.in_memory()
    kek = bytes.fromhex(entry["kek"])
    module.import_components(
        "kek", Algorithm(entry["kek_algorithm"]), KeyUsage.TERMINAL_MASTER, [kek]
    )
    kcv = bytes.fromhex(entry["kcv"])
    module.import_key(
        "imported", KeyUsage(entry["usage"]), bytes.fromhex(entry["cryptogram"]), "kek", kcv
    )
    got = module.check_value("imported", length=len(kcv))
    return None if got == kcv else f"imported key has check value {_hex(got)}"


def _mac(entry: Entry) -> str | None:
    key = _key(entry["key_algorithm"], entry["key"], KeyUsage.ZONE_MAC)
    data = entry["text"].encode("ascii") if "text" in entry else bytes.fromhex(entry["data"])
    expected = bytes.fromhex(entry["mac"])
    algorithm = get_mac_algorithm(entry["algorithm"])
    got = algorithm(key, data)
    if got != expected:
        return f"{entry['algorithm']} MAC {_hex(got)}, expected {entry['mac']}"
    if not algorithm.verify(key, data, expected):
        return f"{entry['algorithm']} does not verify its own MAC"
    if "field" in entry and mac_field_value(expected, "hex4") != entry["field"].encode("ascii"):
        return f"hex4 field form differs from {entry['field']}"
    return None


def _mab(entry: Entry) -> str | None:
    got = cups_mab([part.encode("utf-8") for part in entry["parts"]])
    expected = entry["mab"].encode("ascii")
    return None if got == expected else f"MAB {got!r}, expected {expected!r}"


def _pin_encode(entry: Entry) -> str | None:
    clear, pan, fmt = bytes.fromhex(entry["clear"]), entry.get("pan"), entry["format"]
    if encode_pin_block(entry["pin"], pan, fmt) != clear:
        return f"{fmt} clear block differs from the vector"
    if decode_pin_block(clear, pan, fmt) != entry["pin"]:
        return f"{fmt} clear block does not decode to the vector's PIN"
    return _pin_cipher(entry, clear, pan, fmt)


def _pin_decode(entry: Entry) -> str | None:
    clear, pan, fmt = bytes.fromhex(entry["clear"]), entry.get("pan"), entry["format"]
    if decode_pin_block(clear, pan, fmt) != entry["pin"]:
        return f"{fmt} block does not decode to the vector's PIN"
    return _pin_cipher(entry, clear, pan, fmt)


def _pin_cipher(entry: Entry, clear: bytes, pan: str | None, fmt: str) -> str | None:
    if "encrypted" not in entry:
        return None
    key = _key(entry["key_algorithm"], entry["key"], KeyUsage.ZONE_PIN)
    encrypted = bytes.fromhex(entry["encrypted"])
    if encrypt_pin_block(key, clear, fmt, pan) != encrypted:
        return f"{fmt} enciphered block differs from {entry['encrypted']}"
    if decrypt_pin_block(key, encrypted, fmt, pan) != clear:
        return f"{fmt} enciphered block does not decipher to the clear block"
    return None


def _pin_translate(entry: Entry) -> str | None:
    module = SoftwareSecurityModule.in_memory()
    for side in ("from", "to"):
        algorithm = Algorithm(entry[f"{side}_key_algorithm"])
        value = bytes.fromhex(entry[f"{side}_key"])
        module.import_components(side, algorithm, KeyUsage.ZONE_PIN, [value])
    got = module.translate_pin(
        bytes.fromhex(entry["encrypted"]),
        entry["pan"],
        "from",
        entry["from_format"],
        "to",
        entry["to_format"],
    )
    return None if got == bytes.fromhex(entry["translated"]) else "translated block differs"


_Check = Callable[[Entry], str | None]
_TABLES: dict[str, tuple[tuple[str, _Check], ...]] = {
    "kcv": (("kcv", _kcv),),
    "cipher": (("ecb", _ecb), ("key_import", _key_import)),
    "mac": (("mac", _mac),),
    "cups-mab": (("cups_mab", _mab),),
    "pinblock": (("encode", _pin_encode), ("decode", _pin_decode), ("translate", _pin_translate)),
}


def _vectors(case: Case, path: Path) -> tuple[int, list[str]]:
    assert case.check is not None
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    checked, problems = 0, []
    for table, check in _TABLES[case.check]:
        for i, entry in enumerate(data.get(table, [])):
            checked += 1
            where = f"{path.name} [{table}] #{i}"
            try:
                problem = check(entry)
            except (SscardError, KeyError, ValueError, TypeError) as exc:
                problem = f"raised {type(exc).__name__}: {exc}"
            if problem is not None:
                problems.append(f"{where} ({entry.get('source', 'no source')}): {problem}")
    if checked == 0:
        problems.append(f"{path.name} holds no {case.check} vectors")
    return checked, problems


def _samples(folder: Path) -> tuple[int, list[str]]:
    files = sorted(folder.glob("*.json"))
    problems: list[str] = []
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            dialect = load_dialect(data["dialect"])
            message = message_from_dict(dialect, data)
            frame = dialect.encode(message)
            decoded = dialect.decode(frame)
            if decoded != message:
                problems.append(f"{file.name}: decodes to a different message")
            elif dialect.encode(decoded) != frame:
                problems.append(f"{file.name}: re-encodes to different bytes")
        except (SscardError, KeyError, ValueError, TypeError) as exc:
            problems.append(f"{file.name}: raised {type(exc).__name__}: {exc}")
    if not files:
        problems.append(f"no sample messages in {folder}")
    return len(files), problems


def run_offline(case: Case) -> tuple[int, list[str]]:
    """Run one offline case.

    Args:
        case: an offline case (its ``check`` and ``source``).

    Returns:
        How many vectors or samples were checked, and one line per problem
        (empty when the case passes).

    Raises:
        OSError: the source cannot be read.
        tomllib.TOMLDecodeError: a vector file is not TOML.
    """
    path = _source_path(case)
    if case.check == "codec-samples":
        return _samples(path)
    return _vectors(case, path)
