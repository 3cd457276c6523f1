"""Operator commands for payment cryptography: kcv, ecb, mac, pinblock, keys.

``kcv``, ``ecb``, ``mac`` and ``pinblock`` work on clear test keys given on
the command line: they are tools for checking vectors and peers' values,
not for production keys. ``keys`` manages a key store file: production keys
never appear in clear in its output (names, usage and check values only).
See docs/crypto.md for examples.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ..crypto import (
    MAC_ALGORITHMS,
    MAC_FIELD_FORMS,
    Algorithm,
    Key,
    KeyUsage,
    MasterKey,
    PinFormat,
    SoftwareSecurityModule,
    encode_pin_block,
    encrypt_pin_block,
    get_mac_algorithm,
    mac_field_value,
)
from ..errors import KeyStoreError, SecurityError
from ..ids import mask_pan

__all__ = ["demo", "register"]

KEY_STORE_ENV = "SSCARD_KEY_STORE"
_FAMILIES = ("des", "aes", "sm4")
_ALGORITHM_CHOICES = tuple(dict.fromkeys((*_FAMILIES, *(a.value for a in Algorithm))))
_USAGE_CHOICES = (*(u.value for u in KeyUsage), "zmk", "zpk", "zak", "tmk", "tpk", "tak", "tdk")
_FORMAT_CHOICES = ("0", "1", "2", "3", "4", *(f.value for f in PinFormat))


def register(sub: Any) -> None:
    """Add the cryptography subcommands to ``sub``."""
    p = sub.add_parser("kcv", help="print the key check value of a clear key")
    p.add_argument("key", metavar="KEYHEX")
    p.add_argument("--length", type=int, choices=(3, 4, 5, 8), default=4)
    p.add_argument(
        "--algorithm",
        choices=_ALGORITHM_CHOICES,
        default="des",
        help="key family or exact algorithm (default des: 8/16/24 bytes)",
    )
    p.add_argument("--method", choices=("zeros", "cmac"), default="zeros")
    p.set_defaults(run=_kcv)

    p = sub.add_parser("ecb", help="encipher (or decipher) whole blocks under a clear key, ECB")
    p.add_argument("data", metavar="DATAHEX")
    p.add_argument("--key", required=True, metavar="KEYHEX")
    p.add_argument("--algorithm", choices=_ALGORITHM_CHOICES, default="des")
    p.add_argument("--decrypt", action="store_true")
    p.set_defaults(run=_ecb)

    p = sub.add_parser("mac", help="compute a MAC and its field forms")
    p.add_argument("data", metavar="DATA", help="the MAB in hex (or text with --text)")
    p.add_argument("--algorithm", required=True, choices=tuple(MAC_ALGORITHMS))
    p.add_argument("--key", required=True, metavar="KEYHEX")
    p.add_argument("--text", action="store_true", help="DATA is ASCII text, not hex")
    p.set_defaults(run=_mac)

    p = sub.add_parser("pinblock", help="build a PIN block (and encipher it with --key)")
    p.add_argument("--format", required=True, choices=_FORMAT_CHOICES)
    p.add_argument("--pin", required=True)
    p.add_argument("--pan")
    p.add_argument("--key", metavar="KEYHEX")
    p.set_defaults(run=_pinblock)

    _register_keys(sub)


def _register_keys(sub: Any) -> None:
    keys = sub.add_parser("keys", help="manage a key store file")
    keys.add_argument(
        "--store",
        type=Path,
        default=os.environ.get(KEY_STORE_ENV),
        help=f"key store file (default ${KEY_STORE_ENV})",
    )
    keys.add_argument(
        "--master-key-file",
        type=Path,
        help="master key file (64 hex digits, mode 0600); default $SSCARD_MASTER_KEY",
    )
    ksub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")

    p = ksub.add_parser("init", help="create an empty key store")
    p.add_argument(
        "--new-master-key", action="store_true", help="also create --master-key-file (mode 0600)"
    )
    p.set_defaults(run=_keys_init)

    p = ksub.add_parser("add", aliases=["generate"], help="generate a random key")
    p.add_argument("name")
    p.add_argument("--algorithm", required=True, choices=tuple(a.value for a in Algorithm))
    p.add_argument("--usage", required=True, choices=_USAGE_CHOICES)
    p.add_argument(
        "--replace", action="store_true", help="replace an existing key (kept as previous)"
    )
    p.set_defaults(run=_keys_add)

    p = ksub.add_parser("import", help="import a key enciphered under a stored master key")
    p.add_argument("name")
    p.add_argument("--usage", required=True, choices=_USAGE_CHOICES)
    p.add_argument("--kek", required=True, help="name of the key-encrypting key")
    p.add_argument("--cryptogram", required=True, metavar="HEX")
    p.add_argument("--kcv", required=True, metavar="HEX", help="expected check value")
    p.add_argument("--algorithm", choices=tuple(a.value for a in Algorithm))
    p.add_argument("--stage", action="store_true", help="keep as pending until `keys confirm`")
    p.set_defaults(run=_keys_import)

    p = ksub.add_parser("components", help="load a key from clear components (key ceremony)")
    p.add_argument("name")
    p.add_argument("--algorithm", required=True, choices=tuple(a.value for a in Algorithm))
    p.add_argument("--usage", required=True, choices=_USAGE_CHOICES)
    p.add_argument("--component", required=True, action="append", metavar="HEX")
    p.add_argument("--kcv", metavar="HEX", help="expected check value of the combined key")
    p.set_defaults(run=_keys_components)

    p = ksub.add_parser("export", help="print a key enciphered under a stored master key")
    p.add_argument("name")
    p.add_argument("--kek", required=True)
    p.set_defaults(run=_keys_export)

    p = ksub.add_parser("list", help="list names, versions, usage and check values")
    p.set_defaults(run=_keys_list)

    for action, help_text in (
        ("rotate", "stage a new random value (current stays in use until confirm)"),
        ("confirm", "make the pending value current; the old one becomes previous"),
        ("discard", "drop the pending value"),
        ("retire", "drop the previous value"),
    ):
        p = ksub.add_parser(action, help=help_text)
        p.add_argument("name")
        p.set_defaults(run=_keys_version_change, action=action)


def demo() -> None:
    """Print a short tour of the security module (used by ``sscard-gateway demo``).

    Uses the public vectors of DOMAIN.md; the PAN is printed masked and the
    PIN only goes into the module.
    """
    value = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    pan = "6225880137654321"
    module = SoftwareSecurityModule.in_memory()
    module.import_components("center.zpk", Algorithm.TDES_2KEY, KeyUsage.ZONE_PIN, [value])
    module.import_components("cups.zpk", Algorithm.SM4, KeyUsage.ZONE_PIN, [value])
    module.import_components("pos.tak", Algorithm.DES, KeyUsage.TERMINAL_MAC, [bytes([0x22]) * 8])
    print("== payment cryptography (sscard_gateway.crypto) ==")
    for info in module.list_keys():
        print(f"key {info}")
    block = module.encrypt_pin("123456", pan, "center.zpk", "iso0")
    print(f"PIN block iso0 under center.zpk, PAN {mask_pan(pan)}: {block.hex().upper()}")
    sm4 = module.translate_pin(block, pan, "center.zpk", "iso0", "cups.zpk", "sm4")
    print(f"translated to cups.zpk, sm4 format:       {sm4.hex().upper()}")
    mab = bytes.fromhex("1234567890ABCDEFABCDEF1234567890")
    field = module.generate_mac("pos.tak", "pos-ecb", mab, "hex4")
    print(f"POS MAC (pos-ecb) of the published MAB:     {field.decode('ascii')}")


# --- helpers -------------------------------------------------------------------


def _hex(text: str, what: str) -> bytes:
    try:
        return bytes.fromhex("".join(text.split()))
    except ValueError:
        raise SecurityError(f"{what} must be hex digits") from None


def _family(algorithms: frozenset[Algorithm]) -> str:
    """The key family of ``algorithms``: ``des`` when it is among them."""
    families = {a.family for a in algorithms}
    return "des" if "des" in families else families.pop()


def _key(text: str, algorithm: str, usage: KeyUsage) -> Key:
    value = _hex(text, "the key")
    if algorithm in _FAMILIES:
        return Key(Algorithm.for_length(algorithm, len(value)), usage, value)
    return Key(Algorithm.from_name(algorithm), usage, value)


def _out(label: str, value: bytes) -> None:
    print(f"{label:<10} {value.hex().upper()}")


# --- clear-key tools -------------------------------------------------------------


def _kcv(args: argparse.Namespace) -> int:
    key = _key(args.key, args.algorithm, KeyUsage.ZONE_MASTER)
    print(key.check_value(args.length, method=args.method).hex().upper())
    return 0


def _ecb(args: argparse.Namespace) -> int:
    key = _key(args.key, args.algorithm, KeyUsage.ZONE_MASTER)
    data = _hex(args.data, "DATA")
    cipher = key.cipher()
    if not data or len(data) % cipher.block_size:
        raise SecurityError(f"DATA must be whole {cipher.block_size}-byte blocks")
    result = cipher.decrypt(data) if args.decrypt else cipher.encrypt(data)
    print(result.hex().upper())
    return 0


def _mac(args: argparse.Namespace) -> int:
    algorithm = get_mac_algorithm(args.algorithm)
    key = _key(args.key, _family(algorithm.algorithms), KeyUsage.ZONE_MAC)
    data = args.data.encode("ascii") if args.text else _hex(args.data, "DATA")
    mac = algorithm.generate(key, data)
    _out("mac", mac)
    for form in MAC_FIELD_FORMS:
        field = mac_field_value(mac, form)
        shown = field.decode("ascii") if form.startswith("hex") else field.hex().upper()
        print(f"{form:<10} {shown}")
    return 0


def _pinblock(args: argparse.Namespace) -> int:
    fmt = PinFormat.from_name(args.format)
    block = encode_pin_block(args.pin, args.pan, fmt)
    _out("clear", block)
    if args.key is not None:
        key = _key(args.key, _family(fmt.key_algorithms), KeyUsage.ZONE_PIN)
        _out("encrypted", encrypt_pin_block(key, block, fmt, args.pan))
    return 0


# --- key store -----------------------------------------------------------------------


def _store_path(args: argparse.Namespace) -> Path:
    if args.store is None:
        raise KeyStoreError(f"no key store: pass --store or set {KEY_STORE_ENV}")
    return Path(args.store)


def load_master_key(path: Path | None) -> MasterKey:
    """The master key from the key file ``path``, or else from ``$SSCARD_MASTER_KEY``."""
    return MasterKey.from_env() if path is None else MasterKey.from_file(path)


def _open(args: argparse.Namespace) -> SoftwareSecurityModule:
    return SoftwareSecurityModule.open(_store_path(args), load_master_key(args.master_key_file))


def _keys_init(args: argparse.Namespace) -> int:
    path = _store_path(args)
    if args.new_master_key:
        if args.master_key_file is None:
            raise KeyStoreError("--new-master-key needs --master-key-file")
        MasterKey.generate().write_file(args.master_key_file)
    master = load_master_key(args.master_key_file)
    SoftwareSecurityModule.create(path, master)
    print(f"created key store {path} ({master})")
    return 0


def _keys_add(args: argparse.Namespace) -> int:
    module = _open(args)
    if args.name in module and not args.replace:
        raise KeyStoreError(f"key {args.name!r} exists; pass --replace to replace it")
    info = module.generate_key(args.name, Algorithm(args.algorithm), KeyUsage.from_name(args.usage))
    print(info)
    return 0


def _keys_import(args: argparse.Namespace) -> int:
    module = _open(args)
    info = module.import_key(
        args.name,
        KeyUsage.from_name(args.usage),
        _hex(args.cryptogram, "the cryptogram"),
        args.kek,
        _hex(args.kcv, "the check value"),
        algorithm=None if args.algorithm is None else Algorithm(args.algorithm),
        stage=args.stage,
    )
    print(info)
    return 0


def _keys_components(args: argparse.Namespace) -> int:
    module = _open(args)
    info = module.import_components(
        args.name,
        Algorithm(args.algorithm),
        KeyUsage.from_name(args.usage),
        [_hex(c, "a component") for c in args.component],
        expected_kcv=None if args.kcv is None else _hex(args.kcv, "the check value"),
    )
    print(info)
    return 0


def _keys_export(args: argparse.Namespace) -> int:
    cryptogram, kcv = _open(args).export_key(args.name, args.kek)
    _out("cryptogram", cryptogram)
    _out("kcv", kcv)
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    infos = _open(args).list_keys()
    if not infos:
        print("(no keys)")
    for info in infos:
        print(
            f"{info.name:<24} {info.version.value:<8} {info.algorithm.value:<9}"
            f" {info.usage.value:<15} {info.check_value.hex().upper()}"
        )
    return 0


def _keys_version_change(args: argparse.Namespace) -> int:
    module = _open(args)
    if args.action == "rotate":
        print(module.rotate(args.name))
    elif args.action == "confirm":
        print(module.confirm_key(args.name))
    elif args.action == "discard":
        module.discard_pending(args.name)
    else:
        module.retire_previous(args.name)
    return 0
