"""The ledger's file: one JSON line per state change, replayed at start.

Why: a fault-simulation run kills and restarts the simulators, and the
switch's record of the day must survive that as the real switch's does, or
a restarted switch would answer ``25`` to reversals of debits it still
holds. Appending one line per change and flushing it is enough for a
process that is killed (the operating system keeps what was flushed); a
line the process was killed in the middle of writing has no line end, and
is dropped when the file is read back, so the next line starts clean.

The file is the peer's own record and holds the clear PAN (the switch's
clearing file is written from it), so it is created mode 0600; nothing here
logs or raises with a line's content.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from ..errors import SpecError

__all__ = ["LedgerFile"]


class LedgerFile:
    """An append-only file of JSON objects, one a line.

    Args:
        path: the file (created, mode 0600, when missing).

    Raises:
        SpecError: a complete line of an existing file is not a JSON
            object (the error names the file and the line, never its text).
        OSError: the file cannot be opened.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._replayed = self._read()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._out: IO[str] = os.fdopen(fd, "a", encoding="utf-8", newline="\n")

    def _read(self) -> list[dict[str, Any]]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        if end < len(data):
            # the process died while writing the last line: drop its beginning
            with self.path.open("r+b") as stream:
                stream.truncate(end)
        events: list[dict[str, Any]] = []
        for number, line in enumerate(data[:end].splitlines(), start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except (ValueError, UnicodeDecodeError):
                event = None
            if not isinstance(event, dict):
                raise SpecError(str(self.path), f"line {number}", "is not a ledger event")
            events.append(event)
        return events

    def replayed(self) -> list[dict[str, Any]]:
        """The events read when the file was opened, in order."""
        return list(self._replayed)

    def append(self, event: dict[str, Any]) -> None:
        """Write one event as a line and flush it.

        Raises:
            OSError: the line cannot be written.
            ValueError: the file is closed.
        """
        self._out.write(json.dumps(event, separators=(",", ":")) + "\n")
        self._out.flush()

    def close(self) -> None:
        """Close the file (further appends raise ``ValueError``)."""
        self._out.close()
