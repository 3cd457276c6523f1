"""Codec overhead: our Dialect against raw pyiso8583 on the same compiled spec.

Both sides turn the same CUPS 0200 purchase (about 20 fields, 46-byte
header, 4-digit length prefix) into the same frame bytes and back:

* ours: ``Dialect.encode(Message)`` and ``Dialect.decode(frame)``, which add
  typed values, class checks, header parsing and the always-present
  secondary bitmap;
* raw: ``iso8583.encode`` / ``iso8583.decode`` on the spec our dialect
  compiles to, with the header carried as pyiso8583's fixed ``h`` field and
  the length prefix added by hand — the least a caller must do.

Prints a table, then one JSON line with ``ratio`` = ours / raw (per
encode+decode pair). Target: ratio <= 1.15.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import iso8583

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sscard_gateway.iso import load_dialect, specs_dir
from sscard_gateway.iso.jsonio import message_from_dict

ROUNDS = 9
LOOPS = 2000


def best_us(*fns) -> list[tuple[float, float]]:
    """Best and median µs per call of each function, rounds interleaved.

    Interleaving (a, b, c, d, a, b, ...) spreads any load from elsewhere on
    the machine over every side alike instead of over whichever ran then.
    """
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(ROUNDS):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            for _ in range(LOOPS):
                fn()
            times[i].append((time.perf_counter() - start) / LOOPS * 1e6)
    return [(min(t), statistics.median(t)) for t in times]


def main() -> None:
    cups = load_dialect("cups")
    data = json.loads((specs_dir() / "samples" / "cups_0200_purchase.json").read_text())
    message = message_from_dict(cups, data)
    frame = cups.encode(message)
    assert cups.decode(frame) == message

    raw_spec = {k: dict(v) for k, v in cups.compiled.items()}
    raw_spec["h"] = {"data_enc": "latin-1", "len_enc": "ascii", "len_type": 0, "max_len": 46}
    header = frame[4:50].decode("latin-1")
    raw_doc = {"h": header, "t": message.mti}
    for number, value in message.fields.items():
        raw_doc[str(number)] = value.hex().upper() if isinstance(value, bytes) else value

    def raw_encode() -> bytes:
        body, _ = iso8583.encode(dict(raw_doc), raw_spec)
        return b"%04d" % len(body) + body

    def raw_decode() -> dict:
        doc, _ = iso8583.decode(frame[4:], raw_spec)
        return doc

    assert raw_encode() == frame, "baseline must produce the same bytes"

    ours_enc, ours_dec, raw_enc, raw_dec = best_us(
        lambda: cups.encode(message), lambda: cups.decode(frame), raw_encode, raw_decode
    )
    ours = ours_enc[0] + ours_dec[0]
    raw = raw_enc[0] + raw_dec[0]
    ratio = ours / raw

    print(f"CUPS 0200, {len(message.fields)} fields, frame {len(frame)} bytes")
    print(f"{'':22}{'encode µs':>12}{'decode µs':>12}{'pair µs':>12}{'pair/s':>12}")
    for name, enc, dec in (
        ("sscard_gateway", ours_enc, ours_dec),
        ("raw pyiso8583", raw_enc, raw_dec),
    ):
        pair = enc[0] + dec[0]
        print(f"{name:22}{enc[0]:12.2f}{dec[0]:12.2f}{pair:12.2f}{1e6 / pair:12.0f}")
    print(f"ratio ours/raw = {ratio:.3f} (target <= 1.15; best of {ROUNDS} x {LOOPS})")
    print(
        json.dumps(
            {
                "benchmark": "codec",
                "fields": len(message.fields),
                "frame_bytes": len(frame),
                "ours_encode_us": round(ours_enc[0], 2),
                "ours_decode_us": round(ours_dec[0], 2),
                "raw_encode_us": round(raw_enc[0], 2),
                "raw_decode_us": round(raw_dec[0], 2),
                "ratio": round(ratio, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
