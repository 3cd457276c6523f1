"""Shared helpers of the service tests (a unique module name: every test
directory has its own conftest, so importing names "from conftest" is ambiguous)."""

from __future__ import annotations

import re
import socket
import sys
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
