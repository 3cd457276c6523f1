"""Payment cryptography on ``cryptography`` (sans-I/O).

Keys and check values (:class:`Key`), MACs by name (:data:`MAC_ALGORITHMS`,
:func:`cups_mab`, :func:`generate_mac`), PIN blocks (ISO 9564 formats 0-4
and SM4), and the security module that holds keys by name
(:class:`SecurityModule`, :class:`SoftwareSecurityModule`). See
``docs/crypto.md`` and ``docs/security-module.md``.
"""

from __future__ import annotations

from ._hsm import KeyInfo as KeyInfo
from ._hsm import KeyVersion as KeyVersion
from ._hsm import SecurityModule as SecurityModule
from ._keys import Algorithm as Algorithm
from ._keys import Key as Key
from ._keys import KeyUsage as KeyUsage
from ._keys import fix_odd_parity as fix_odd_parity
from ._keys import has_odd_parity as has_odd_parity
from ._keys import key_check_value as key_check_value
from ._keystore import MASTER_KEY_ENV as MASTER_KEY_ENV
from ._keystore import MasterKey as MasterKey
from ._mac import MAC_ALGORITHMS as MAC_ALGORITHMS
from ._mac import MAC_FIELD_FORMS as MAC_FIELD_FORMS
from ._mac import MacAlgorithm as MacAlgorithm
from ._mac import aes_cmac as aes_cmac
from ._mac import cups_mab as cups_mab
from ._mac import generate_mac as generate_mac
from ._mac import get_mac_algorithm as get_mac_algorithm
from ._mac import iso9797_1_alg1 as iso9797_1_alg1
from ._mac import iso9797_1_alg3 as iso9797_1_alg3
from ._mac import mac_field_value as mac_field_value
from ._mac import pos_ecb_mac as pos_ecb_mac
from ._mac import sm4_cbc_mac as sm4_cbc_mac
from ._mac import verify_mac as verify_mac
from ._mac import x9_9_mac as x9_9_mac
from ._mac import x9_19_mac as x9_19_mac
from ._pinblock import PinFormat as PinFormat
from ._pinblock import decode_pin_block as decode_pin_block
from ._pinblock import decrypt_pin_block as decrypt_pin_block
from ._pinblock import encode_pin_block as encode_pin_block
from ._pinblock import encrypt_pin as encrypt_pin
from ._pinblock import encrypt_pin_block as encrypt_pin_block
from ._software import SoftwareSecurityModule as SoftwareSecurityModule

__all__ = [
    "MAC_ALGORITHMS",
    "MAC_FIELD_FORMS",
    "MASTER_KEY_ENV",
    "Algorithm",
    "Key",
    "KeyInfo",
    "KeyUsage",
    "KeyVersion",
    "MacAlgorithm",
    "MasterKey",
    "PinFormat",
    "SecurityModule",
    "SoftwareSecurityModule",
    "aes_cmac",
    "cups_mab",
    "decode_pin_block",
    "decrypt_pin_block",
    "encode_pin_block",
    "encrypt_pin",
    "encrypt_pin_block",
    "fix_odd_parity",
    "generate_mac",
    "get_mac_algorithm",
    "has_odd_parity",
    "iso9797_1_alg1",
    "iso9797_1_alg3",
    "key_check_value",
    "mac_field_value",
    "pos_ecb_mac",
    "sm4_cbc_mac",
    "verify_mac",
    "x9_19_mac",
    "x9_9_mac",
]
