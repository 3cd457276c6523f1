"""The helper process of a reconciliation: it reads the journal, then pairs partitions.

Why a second process: Python runs one thread at a time, and a million
journal rows and a million file lines are two jobs for two cores. The
helper reads the journal (:func:`~._journal_side.read_sqlite`: the records
that are not ordinary settling ones, then blocks of the ordinary ones
claimed from the first up, :mod:`._blocks`) while this process reads
UnionPay's file; when this process says so (every partition is written),
it pairs the partitions it claims (:func:`~._matching.pair`) and writes
what it found to ``helper-pairs.bin`` in the work folder.

How it starts: forked (:func:`os.fork`) on Linux when this process runs
one thread only, so that it starts at once with everything already
imported; otherwise (a program with threads, where forking is unsafe, or
another system) as a new interpreter running this module (``python -m``),
which never re-imports the caller's main module. Either way it talks over two pipes, a JSON line
at a time: ``{"summary": ...}`` after reading (``null`` when the file is
not a journal of schema version 1), ``{"done": true}`` after pairing, or
``{"error": "..."}``; it is told ``pair`` or ``stop``.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import ClearingError
from ._blocks import Claims, RowBlocks
from ._journal_side import read_sqlite
from ._matching import Paired, pair
from ._partition import PARTITIONS, read_values, write_value
from ._rules import ClearingRules

__all__ = ["Helper", "rules_to_json"]

_RESULTS = "helper-pairs.bin"


def rules_to_json(rules: ClearingRules) -> str:
    """The rules as JSON, for the helper's command line."""
    return json.dumps(
        {
            "inquiry_kinds": sorted(rules.inquiry_kinds),
            "reversal_kinds": sorted(rules.reversal_kinds),
            "void_kinds": sorted(rules.void_kinds),
            "credit_kinds": sorted(rules.credit_kinds),
            "upstream": rules.upstream,
        }
    )


class Helper:
    """The helper process, seen from this one.

    Use :meth:`start`; then :meth:`summary` (waits for its reading),
    :meth:`pair` and :meth:`pairs` (waits for its pairing), or
    :meth:`kill` on any failure.
    """

    def __init__(
        self,
        folder: str,
        to_helper: IO[bytes],
        from_helper: IO[bytes],
        pid: int,
        process: subprocess.Popen[bytes] | None,
    ) -> None:
        self.folder = folder
        self._to, self._from = to_helper, from_helper
        self._pid, self._process = pid, process
        self._finished = False

    @classmethod
    def start(
        cls,
        journal_file: str,
        folder: str,
        settlement_date: str,
        rules: ClearingRules,
        *,
        blocks: RowBlocks,
        fork: bool | None = None,
    ) -> Helper:
        """Start the helper on a journal file.

        Args:
            journal_file: the journal's SQLite file.
            folder: the work folder.
            settlement_date: ``YYYYMMDD``.
            rules: the kinds and the upstream name.
            blocks: the date's ordinary rows, shared with this process.
            fork: fork (``True``) or start an interpreter (``False``);
                ``None``: fork when this process runs one thread only.
        """
        args = [journal_file, folder, settlement_date, rules_to_json(rules)]
        args += [str(blocks.first), str(blocks.last), str(blocks.count)]
        if fork is None:
            fork = _can_fork()
        if fork:
            down, up = os.pipe(), os.pipe()
            pid = os.fork()
            if pid == 0:  # the helper: never returns
                os.close(down[1])
                os.close(up[0])
                code = 1
                try:
                    with os.fdopen(down[0], "rb") as inp, os.fdopen(up[1], "wb") as out:
                        code = _serve(args, inp, out)
                finally:
                    os._exit(code)
            os.close(down[0])
            os.close(up[1])
            return cls(folder, os.fdopen(down[1], "wb"), os.fdopen(up[0], "rb"), pid, None)
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (root, env.get("PYTHONPATH"))))
        process = subprocess.Popen(  # noqa: S603 - this interpreter, this module, our arguments
            [sys.executable, "-m", __name__, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        assert process.stdin is not None and process.stdout is not None
        return cls(folder, process.stdin, process.stdout, process.pid, process)

    def _receive(self, what: str) -> Any:
        line = self._from.readline()
        try:
            message = json.loads(line)
        except ValueError:
            message = {"error": "it stopped" if not line else "it said something else"}
        if not isinstance(message, dict) or what not in message:
            error = message.get("error") if isinstance(message, dict) else None
            raise ClearingError(f"cannot read the journal file: {error or 'the helper failed'}")
        return message[what]

    def _send(self, what: bytes) -> None:
        try:
            self._to.write(what + b"\n")
            self._to.flush()
        except OSError:
            raise ClearingError("cannot read the journal file: the helper stopped") from None

    def summary(self) -> dict[str, Any] | None:
        """What the helper read (waits for it); ``None``: not a journal of schema version 1."""
        summary: dict[str, Any] | None = self._receive("summary")
        return summary

    def pair(self) -> None:
        """Tell it to pair partitions (every partition is written)."""
        self._send(b"pair")

    def pairs(self) -> Iterator[Paired]:
        """What it paired, a partition at a time (waits for it; then it is finished)."""
        self._receive("done")
        self.finish()
        return read_values(Path(self.folder) / _RESULTS)

    def finish(self) -> None:
        """Let it go and wait for it to exit (idempotent)."""
        if self._finished:
            return
        self._finished = True
        for stream in (self._to, self._from):
            with contextlib.suppress(OSError):
                stream.close()
        if self._process is not None:
            self._process.wait()
        else:
            os.waitpid(self._pid, 0)

    def kill(self) -> None:
        """Stop it now (on a failure here; nothing once it is finished)."""
        if self._finished:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGKILL)
        self.finish()


def _can_fork() -> bool:
    """Forking is safe: Linux (macOS's system libraries refuse a forked child), one thread."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


def _serve(args: list[str], inp: IO[bytes], out: IO[bytes]) -> int:
    """The helper's side of the conversation."""

    def say(message: dict[str, Any]) -> None:
        out.write(json.dumps(message).encode("utf-8") + b"\n")
        out.flush()

    gc.disable()  # its own process, allocating millions of tuples and no cycles
    try:
        journal_file, folder, date, rules_json, first, last, count = args
        rules = ClearingRules(**json.loads(rules_json))
        blocks = RowBlocks(folder, int(first), int(last), int(count))
        summary = read_sqlite(journal_file, folder, date, rules, blocks=blocks)
        say({"summary": summary})
        if summary is None or inp.readline().strip() != b"pair":
            return 0
        work = Path(folder)
        with (work / _RESULTS).open("wb") as results:
            for partition in Claims(folder, "pair", PARTITIONS).take():
                write_value(results, pair(work, partition))
        say({"done": True})
    except Exception as exc:
        say({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1:], sys.stdin.buffer, sys.stdout.buffer))
