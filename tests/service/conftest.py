"""Helpers for the service tests: lab keys, free ports, an examples-like configuration."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from service_helpers import example_config, free_port  # noqa: F401

from sscard_gateway.cli._sim import write_lab_keys


@pytest.fixture
def lab_keys(tmp_path: Path) -> Path:
    """A lab key set (key store, master key, journal keys) in ``tmp_path/run``."""
    folder = tmp_path / "run"
    write_lab_keys(folder)
    return folder


@pytest.fixture(autouse=True)
def _restore_logging():
    """The commands configure the root logger; leave it as it was for other tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
