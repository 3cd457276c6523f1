"""Payment cryptography costs: MACs and PIN translation, against raw 3DES-CBC.

Measures microseconds per operation:

- X9.19 retail MAC over a 200-byte MAB (``sscard_gateway.crypto.x9_19_mac``);
- the POS ECB MAC over the same 200 bytes, 3DES;
- PIN translation 3DES (iso0) -> 3DES (iso0) and 3DES (iso0) -> SM4 (sm4)
  through ``SoftwareSecurityModule`` in memory (lookup by name, key usage
  checks, decipher, decode, encode, encipher);
- the baseline: one raw 3DES-CBC pass over the same 200 bytes (padded to
  208) with ``cryptography``, building the ``Cipher`` object and its
  encryptor on every call, which is what code without a per-key cache
  does. Our implementation keeps per-key cipher objects (see
  ``crypto/_cipher.py``) and still builds one CBC encryptor per MAC; the
  comparison is fair in that both sides encipher the same 26 blocks once
  with one C call, and ours adds its Python work on top.

``ratio`` in the JSON line is X9.19 time / raw pass time (target <= 2.0).
Run: ``.venv/bin/python benchmarks/bench_crypto.py``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from sscard_gateway.crypto import (
    Algorithm,
    Key,
    KeyUsage,
    SoftwareSecurityModule,
    pos_ecb_mac,
    x9_19_mac,
)

KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
MAB = bytes(range(200))
PAN = "6225880137654321"


def _per_call_us(fn: Callable[[], object], *, seconds: float = 0.3, repeats: int = 5) -> float:
    """Best of ``repeats`` timed runs, each about ``seconds`` long."""
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        if time.perf_counter() - start > 0.05:
            break
        calls *= 2
    per_run = max(1, int(calls * seconds / 0.05))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(per_run):
            fn()
        best = min(best, (time.perf_counter() - start) / per_run)
    return best * 1e6


def main() -> None:
    key24 = KEY + KEY[:8]
    padded = MAB + bytes(-len(MAB) % 8)
    iv = bytes(8)

    def raw_3des_cbc() -> bytes:
        ctx = Cipher(TripleDES(key24), modes.CBC(iv)).encryptor()
        return ctx.update(padded) + ctx.finalize()

    mac_key = Key(Algorithm.TDES_2KEY, KeyUsage.ZONE_MAC, KEY)
    module = SoftwareSecurityModule.in_memory()
    module.import_components("zpk.a", Algorithm.TDES_2KEY, KeyUsage.ZONE_PIN, [KEY])
    module.generate_key("zpk.b", Algorithm.TDES_2KEY, KeyUsage.ZONE_PIN)
    module.generate_key("zpk.sm4", Algorithm.SM4, KeyUsage.ZONE_PIN)
    block = module.encrypt_pin("123456", PAN, "zpk.a", "iso0")
    assert block.hex().upper() == "7CE09CE60EE87A4F"

    rows = {
        "raw_3des_cbc_200b": raw_3des_cbc,
        "x9_19_mac_200b": lambda: x9_19_mac(mac_key, MAB),
        "pos_ecb_mac_200b": lambda: pos_ecb_mac(mac_key, MAB),
        "translate_3des_3des": lambda: module.translate_pin(
            block, PAN, "zpk.a", "iso0", "zpk.b", "iso0"
        ),
        "translate_3des_sm4": lambda: module.translate_pin(
            block, PAN, "zpk.a", "iso0", "zpk.sm4", "sm4"
        ),
    }
    figures = {name: round(_per_call_us(fn), 2) for name, fn in rows.items()}
    base = figures["raw_3des_cbc_200b"]

    print(f"{'operation':<34} {'us/op':>9} {'x raw':>7}")
    print("-" * 52)
    for name, value in figures.items():
        print(f"{name:<34} {value:>9.2f} {value / base:>7.2f}")
    print()
    print("raw pass: Cipher(TripleDES) + CBC encryptor built per call, 26 blocks, one update.")
    ratio = round(figures["x9_19_mac_200b"] / base, 3)
    print(json.dumps({"benchmark": "crypto", "unit": "us", **figures, "ratio": ratio}))


if __name__ == "__main__":
    main()
