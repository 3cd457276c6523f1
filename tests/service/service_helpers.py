"""Shared helpers of the service tests (a unique module name: every test
directory has its own conftest, so importing names "from conftest" is ambiguous)."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "gateway.toml"

# The real command line, as the console script runs it (sscard_gateway.cli:main).
CLI = [sys.executable, "-c", "import sys; from sscard_gateway.cli import main; sys.exit(main())"]


def free_port() -> int:
    """A port free on 127.0.0.1 a moment ago (bound to 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def example_config(
    folder: Path,
    *,
    keys: Path,
    switch: int,
    centers: tuple[int, int],
    metrics: int,
    extra: dict[str, str] | None = None,
) -> Path:
    """``examples/gateway.toml`` with other ports, the key set in ``keys``, and edits.

    Args:
        folder: where to write ``gateway.toml``.
        keys: the lab key set's folder (the example's ``run/``).
        switch, centers, metrics: the ports.
        extra: ``{"key = old": "key = new"}`` replacements, each found exactly once.
    """
    text = EXAMPLE.read_text(encoding="utf-8")
    edits = {
        "port = 7000": f"port = {switch}",
        "port = 7101": f"port = {centers[0]}",
        "port = 7131": f"port = {centers[1]}",
        "port = 9108": f"port = {metrics}",
        '"run/': f'"{keys.as_posix()}/',
        **(extra or {}),
    }
    for old, new in edits.items():
        count = len(re.findall(re.escape(old), text))
        assert count >= 1, old
        if old != '"run/':
            assert count == 1, old
        text = text.replace(old, new)
    path = folder / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- real processes (the crash tests) ------------------------------------------------------


def cli(*args: str | Path) -> list[str]:
    """The command line of ``sscard-gateway ARGS...``."""
    return [*CLI, *map(str, args)]


def spawn(*args: str | Path, out: Path, err: Path | None = None) -> subprocess.Popen[bytes]:
    """Start ``sscard-gateway ARGS...`` with its output appended to files (never a pipe:
    a process nobody reads must not block on a full pipe)."""
    with out.open("ab") as stdout, (err or out).open("ab") as stderr:
        return subprocess.Popen(cli(*args), stdout=stdout, stderr=stderr)


def stop(proc: subprocess.Popen[bytes], *, timeout: float = 30.0) -> int:
    """SIGTERM ``proc`` and wait for it (killed when it does not stop in time); its status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            raise
    return int(proc.returncode)


def poll(
    holds: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    alive: Sequence[subprocess.Popen[bytes]] = (),
    every: float = 0.02,
) -> None:
    """Ask ``holds`` every ``every`` s until true; fail after ``timeout`` s or when one of
    ``alive`` exits (a bounded polling wait: the processes give no event to wait on)."""
    deadline = time.monotonic() + timeout
    while not holds():
        for proc in alive:
            assert proc.poll() is None, f"{proc.args[-1]!r}... exited before: {what}"
        assert time.monotonic() < deadline, f"not in {timeout:g} s: {what}"
        time.sleep(every)


def metrics(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The gateway's metrics, by name and labels (``{}`` while it does not listen)."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode("utf-8")
    except OSError:
        return {}
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
