"""Replay, shrink or sweep simulated days from the command line.

Why a command: a failing seed from ``make test`` or ``make soak`` must
replay exactly, from one line, with what happened printed (events,
faults, journal commits, log lines; card numbers masked)::

    python -m sscard_gateway.testing.simulate --seed 1234
    python -m sscard_gateway.testing.simulate --seed 1234 --shrink
    python -m sscard_gateway.testing.simulate --seeds 0:100000 --jobs 2

Python's string hashing is randomised per process, and set iteration
order can change which task Trio runs first; the command therefore runs
itself again with ``PYTHONHASHSEED=0`` when that is not already so (the
test suite's worker processes do the same), so a seed replays the same
run everywhere.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator, Sequence

from ._schedule import make_schedule
from ._shrink import regression_test, shrink
from ._simulation import Result, run_schedule

__all__ = ["main", "run_seed", "sweep"]

DEFAULT_TRANSACTIONS = 24


def run_seed(seed: int, transactions: int = DEFAULT_TRANSACTIONS) -> Result:
    """Run the day of ``seed`` (the schedule :func:`make_schedule` draws)."""
    return run_schedule(make_schedule(seed, transactions=transactions))


def _summary(seed: int, transactions: int) -> tuple[int, tuple[str, ...], dict[str, int]]:
    try:
        result = run_seed(seed, transactions)
    except Exception as exc:  # an escaped error fails the seed, not the sweep
        return seed, (f"escaped: {type(exc).__name__}: {exc}",), {}
    return seed, tuple(str(v) for v in result.violations), result.counts


def sweep(
    seeds: range, *, transactions: int = DEFAULT_TRANSACTIONS, jobs: int = 1
) -> Iterator[tuple[int, tuple[str, ...], dict[str, int]]]:
    """Run many seeds, ``jobs`` processes at once; yields ``(seed, violations, counts)``.

    Worker processes are spawned with ``PYTHONHASHSEED=0`` so that a seed
    fails the same way when replayed with ``--seed``.
    """
    if jobs <= 1:
        for seed in seeds:
            yield _summary(seed, transactions)
        return
    os.environ["PYTHONHASHSEED"] = "0"  # inherited by the spawned workers
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
        yield from pool.map(_summary, seeds, [transactions] * len(seeds), chunksize=64)


def _seeds(text: str) -> range:
    first, _, last = text.partition(":")
    return range(int(first), int(last))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sscard_gateway.testing.simulate", description=__doc__.splitlines()[0]
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--seed", type=int, help="replay one seed and print its trace")
    which.add_argument("--seeds", type=_seeds, metavar="A:B", help="run seeds A..B-1")
    parser.add_argument("--transactions", type=int, default=DEFAULT_TRANSACTIONS)
    parser.add_argument("--shrink", action="store_true", help="shrink a failing seed")
    parser.add_argument("--verbose", action="store_true", help="log lines down to debug")
    parser.add_argument("--jobs", type=int, default=1, help="processes for --seeds")
    return parser


def _replay(args: argparse.Namespace) -> int:
    schedule = make_schedule(args.seed, transactions=args.transactions)
    result = run_schedule(schedule, verbose=args.verbose)
    print(schedule.to_python())
    print("\n".join(result.trace))
    print(f"counts: {result.counts}")
    for violation in result.violations:
        print(f"VIOLATION {violation}")
    if result.ok:
        print(f"seed {args.seed}: every invariant holds")
        return 0
    if args.shrink:
        small, failed = shrink(schedule, progress=lambda line: print(f"shrink: {line}"))
        print(
            f"# seed {args.seed} shrunk from {len(schedule.events)} to {len(small.events)} events"
        )
        print(regression_test(small, failed))
    return 1


def _sweep(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    failed: list[int] = []
    done = 0
    for seed, violations, _ in sweep(args.seeds, transactions=args.transactions, jobs=args.jobs):
        done += 1
        if violations:
            failed.append(seed)
            print(f"seed {seed}: {'; '.join(violations[:3])}", flush=True)
        if done % 1000 == 0:
            rate = done / (time.perf_counter() - start)
            print(f"{done} seeds, {len(failed)} failing, {rate:.1f} seeds/s", flush=True)
    seconds = time.perf_counter() - start
    print(f"{done} seeds in {seconds:.1f} s: {done / seconds:.1f} seeds/s, {len(failed)} failing")
    if failed:
        print(
            "replay: python -m sscard_gateway.testing.simulate"
            f" --seed {failed[0]} --transactions {args.transactions} --shrink"
        )
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """The command (module docs); returns the exit status."""
    args = _parser().parse_args(argv)
    if os.environ.get("PYTHONHASHSEED") != "0" and argv is None:
        os.environ["PYTHONHASHSEED"] = "0"
        command = [sys.executable, "-m", __spec__.name, *sys.argv[1:]]
        os.execv(sys.executable, command)  # noqa: S606 - this very command, hash seed fixed
    return _replay(args) if args.seed is not None else _sweep(args)


if __name__ == "__main__":
    sys.exit(main())
