"""Reconciliation at scale: a million journal records against a million-line file.

Generates a settlement date (written straight into a journal-shaped SQLite
file and an ACOM file, not through the gateway) with about 0.1% of each
kind of discrepancy planted: long, short, amount mismatch, status mismatch
(both ways), and malformed lines. Then times, in the same run:

* ours: ``reconcile()`` (file scan, journal read, match, store, details),
  in a process of its own so that its peak RSS (``ru_maxrss``) is its own
  (the helper process it starts, which reads the journal and pairs partitions
  too, is reported beside it);
* coreutils: ``sort`` of both sides' key + amount lines (extracted before
  the clock starts) and ``join -a1 -a2`` of the sorted files, with
  ``LC_ALL=C`` (what a shell script doing the same job would run).

Checks that every planted discrepancy is found and classified, then prints
a table and one JSON line with ``ratio`` = ours / coreutils and the peak
RSS. Targets: ratio <= 3, peak RSS <= 400 MB.

Usage: ``python benchmarks/bench_clearing.py [--records N] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sscard_gateway.clearing import (
    ReconciliationStore,
    load_acom_layout,
    match_key,
    reconcile,
)
from sscard_gateway.store import SQLiteJournal

DATE = "20241126"
KEYS = {"pan_key": b"p" * 32, "data_key": b"d" * 32}
RATE = 0.001  # of each kind of discrepancy
TARGET_RATIO = 3.0
TARGET_RSS_MB = 400


def plan(records: int, seed: int = 7) -> dict[str, set[int]]:
    """Which record numbers carry which planted discrepancy."""
    rng = random.Random(seed)
    n = max(1, int(records * RATE))
    picked = rng.sample(range(records), 6 * n + records // 50)
    return {
        "short": set(picked[:n]),
        "amount": set(picked[n : 2 * n]),
        "status_journal": set(picked[2 * n : 2 * n + n // 2]),  # journal declined, file settles
        "status_file": set(picked[2 * n + n // 2 : 3 * n]),  # journal settles, file 51
        "declined": set(picked[3 * n : 3 * n + records // 100]),  # both non-settling: not listed
        "no_leg": set(picked[3 * n + records // 100 : 3 * n + records // 50]),
        "long": set(range(records, records + n)),
        "malformed": set(range(n)),  # extra garbage lines, inserted at random places
    }


def leg(i: int) -> tuple[str, str, str, str]:
    """(F7, STAN, RRN, acquirer) of record ``i``'s CUPS leg."""
    f7 = f"1126{(i // 1_000_000) % 24:02d}{(i // 10_000) % 60:02d}{(i // 100) % 60:02d}"
    return f7, f"{i % 1_000_000:06d}", f"{i:012d}", "48020000"


def amount(i: int) -> int:
    return 100 + (i * 7919) % 500_000


def write_journal(path: Path, records: int, kinds: dict[str, set[int]]) -> None:
    SQLiteJournal(path, **KEYS).close()  # the schema and the key ids
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    columns = [r[1] for r in db.execute("PRAGMA table_info(transactions)") if r[1] != "seq"]
    base = {
        "kind": "purchase",
        "mti": "0200",
        "source": "center-110000",
        "created_at": 1.7e9,
        "settlement_date": DATE,
        "updated_at": 1.7e9,
        "dialect": "center",
        "processing_code": "000000",
        "forwarder": "",
        "terminal": "SSC00001",
        "merchant": "SSCENTER0000001",
        "authorization_code": "A00001",
        "home_region": "110105",
        "treating_region": "110105",
        "insurance_kind": "310",
        "fund": 0,
        "personal_account": 0,
        "currency": "156",
        "pan_masked": "622588******4321",
        "pan_hash": "",
        "responded_at": 1.7e9,
        "original_key": None,
        "acquirer": "11010500",
    }
    order = list(range(records))
    random.Random(1).shuffle(order)

    def rows():
        for i in order:
            f7, stan, rrn, acquirer = leg(i)
            row = dict(base)
            status, code = "approved", "00"
            if i in kinds["status_journal"] or i in kinds["declined"]:
                status, code = "declined", "05"
            no_leg = i in kinds["no_leg"]
            row.update(
                transaction_key=f"center-110000:2024:{i}",
                stan=stan,
                rrn=rrn,
                transmission_time=f7,
                amount=amount(i),
                cash=amount(i),
                status=status,
                response_code=code,
                destination="center-310000" if no_leg else "cups",
                upstream_stan=stan,
                upstream_rrn=rrn,
                upstream_key=f"{f7}|{stan}|{acquirer}|48020000",
            )
            yield tuple(row[c] for c in columns)

    marks = ", ".join("?" * len(columns))
    db.execute("BEGIN")
    db.executemany(f"INSERT INTO transactions ({', '.join(columns)}) VALUES ({marks})", rows())
    db.execute("COMMIT")
    db.close()


def write_acom(path: Path, records: int, kinds: dict[str, set[int]]) -> int:
    layout = load_acom_layout()
    f = layout.by_name
    template = layout.format_line(
        {
            "acquirer": "48020000",
            "forwarder": "48020000",
            "stan": "000000",
            "transmission_time": "0000000000",
            "pan": "6225880137654321",
            "amount": 0,
            "mti": "0200",
            "processing_code": "000000",
            "mcc": "5912",
            "terminal": "SSC00001",
            "merchant": "SSCENTER0000001",
            "rrn": "000000000000",
            "authorization": "A00001",
            "receiving": "00010000",
            "response_code": "00",
            "switching_fee": -35,
        }
    )
    order = sorted(
        ("stan", "transmission_time", "amount", "rrn", "response_code", "pan"),
        key=lambda name: f[name].offset,
    )
    pieces, pos = [], 0
    for name in order:
        pieces.append(template[pos : f[name].offset])
        pos = f[name].offset + f[name].width
    tail = template[pos:]
    pans = [f"62258801{n:07d}" for n in range(100)] + [f"622588{n:013d}" for n in range(100)]
    skip = kinds["short"] | kinds["declined"] | kinds["no_leg"]
    numbers = [i for i in range(records) if i not in skip] + sorted(kinds["long"])
    random.Random(2).shuffle(numbers)
    bad = sorted(random.Random(3).sample(range(len(numbers)), len(kinds["malformed"])))
    count = 0
    with path.open("w", encoding="ascii", newline="") as out:
        b = 0
        for position, i in enumerate(numbers):
            while b < len(bad) and bad[b] == position:
                out.write("this line is not a clearing record\n")
                b += 1
                count += 1
            f7, stan, rrn, _ = leg(i)
            value = amount(i) + (1 if i in kinds["amount"] else 0)
            code = "51" if i in kinds["status_file"] else "00"
            values = {
                "stan": stan,
                "transmission_time": f7,
                "amount": f"{value:012d}",
                "rrn": rrn,
                "response_code": code,
                "pan": pans[i % len(pans)].ljust(19),
            }
            out.write(
                "".join(p + values[name] for p, name in zip(pieces, order, strict=True)) + tail
            )
            count += 1
    return count


def extract_for_coreutils(folder: Path, journal: Path, acom: Path) -> tuple[Path, Path]:
    """Key + amount lines of each side (before the clock starts)."""
    layout = load_acom_layout()
    f = layout.by_name
    a, b = folder / "journal.keys", folder / "file.keys"
    db = sqlite3.connect(journal)
    with a.open("w") as out:
        for rrn, key, cash in db.execute(
            "SELECT upstream_rrn, upstream_key, cash FROM transactions"
            " WHERE settlement_date = ? AND destination = 'cups' AND status = 'approved'",
            (DATE,),
        ):
            f7, stan, acquirer, _ = key.split("|")
            out.write(f"{match_key(rrn, f7, stan, acquirer)} {cash}\n")
    db.close()

    def cut(line: str, name: str) -> str:
        return line[f[name].offset : f[name].offset + f[name].width]

    with acom.open() as lines, b.open("w") as out:
        for line in lines:
            if len(line) < layout.line_width:
                continue
            key = match_key(
                cut(line, "rrn"),
                cut(line, "transmission_time"),
                cut(line, "stan"),
                cut(line, "acquirer"),
            )
            out.write(f"{key} {int(cut(line, 'amount'))}\n")
    return a, b


def coreutils(folder: Path, a: Path, b: Path) -> float:
    env = {**os.environ, "LC_ALL": "C"}
    start = time.perf_counter()
    subprocess.run(["sort", "-o", str(a) + ".sorted", str(a)], check=True, env=env)
    subprocess.run(["sort", "-o", str(b) + ".sorted", str(b)], check=True, env=env)
    with (folder / "joined").open("w") as out:
        subprocess.run(
            ["join", "-a1", "-a2", str(a) + ".sorted", str(b) + ".sorted"],
            check=True,
            env=env,
            stdout=out,
        )
    return time.perf_counter() - start


def ours(folder: Path) -> None:
    """Run in a process of its own: reconcile, then print one JSON line."""
    journal_path, acom = folder / "journal.db", folder / "IND24112601ACOM"
    with SQLiteJournal(journal_path, **KEYS) as journal, ReconciliationStore(journal_path) as store:
        start = time.perf_counter()
        report = reconcile(
            journal,
            acom,
            DATE,
            store=store,
            now=1.7e9,
            journal_file=journal_path,
            workdir=folder,
        )
        elapsed = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the helper process
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "rss_mb": rss,
                "child_rss_mb": child,
                "matched": report.matched,
                "amount": report.amount_mismatches,
                "status": report.status_mismatches,
                "long": report.long,
                "short": report.short,
                "malformed": report.malformed_lines,
                "journal": report.journal_records,
                "lines": report.file_lines,
                "not_settling": report.not_settling,
                "balanced": report.balanced,
                "changes": report.changes.total,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="generate into (and keep) this folder")
    parser.add_argument("--ours", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ours:
        ours(args.ours)
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-clearing-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        run(folder, args.records)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def run(folder: Path, records: int) -> None:
    kinds = plan(records)
    start = time.perf_counter()
    write_journal(folder / "journal.db", records, kinds)
    lines = write_acom(folder / "IND24112601ACOM", records, kinds)
    a, b = extract_for_coreutils(folder, folder / "journal.db", folder / "IND24112601ACOM")
    generated = time.perf_counter() - start
    runs = []
    for _ in range(2):  # best of two, each on a fresh store
        with sqlite3.connect(folder / "journal.db") as db:
            for table in ("runs", "discrepancies", "adjustments", "problems"):
                db.execute(f"DROP TABLE IF EXISTS reconciliation_{table}")
            db.execute("DROP TABLE IF EXISTS reconciliation_schema_version")
        out = subprocess.run(
            [sys.executable, __file__, "--ours", str(folder)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    mine = min(runs, key=lambda r: r["seconds"])
    theirs = min(coreutils(folder, a, b) for _ in range(2))
    n = len(kinds["short"])
    expected = {
        "amount": n,
        "status": len(kinds["status_journal"]) + len(kinds["status_file"]),
        "long": n,
        "short": n,
        "malformed": len(kinds["malformed"]),
        "journal": records,
        "lines": lines,
    }
    found_all = all(mine[k] == v for k, v in expected.items()) and mine["balanced"]
    ratio = mine["seconds"] / theirs
    print(f"{records} journal records, {lines} file lines; generated in {generated:.1f} s")
    print(f"{'side':34}{'seconds':>10}")
    print(f"{'ours: reconcile() (own process)':34}{mine['seconds']:>10.2f}")
    print(f"{'coreutils: sort + sort + join':34}{theirs:>10.2f}")
    print(f"{'outcome':20}{'planted':>10}{'found':>10}")
    for key, value in expected.items():
        print(f"{key:20}{value:>10}{mine[key]:>10}")
    print(f"matched {mine['matched']}, not settling {mine['not_settling']}")
    print(
        f"peak RSS of ours: {mine['rss_mb']:.0f} MB"
        f" (its helper process: {mine['child_rss_mb']:.0f} MB)"
    )
    print(
        json.dumps(
            {
                "bench": "clearing",
                "records": records,
                "lines": lines,
                "ours_s": round(mine["seconds"], 3),
                "coreutils_s": round(theirs, 3),
                "ratio": round(ratio, 3),
                "peak_rss_mb": round(mine["rss_mb"], 1),
                "child_peak_rss_mb": round(mine["child_rss_mb"], 1),
                "all_found": found_all,
                "targets": {"ratio": TARGET_RATIO, "peak_rss_mb": TARGET_RSS_MB},
                "ok": found_all
                and ratio <= TARGET_RATIO
                and max(mine["rss_mb"], mine["child_rss_mb"]) <= TARGET_RSS_MB,
            }
        )
    )


if __name__ == "__main__":
    main()
