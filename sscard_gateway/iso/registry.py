"""Where dialect files live and how they are loaded by name."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from ..errors import SpecError
from .dialect import Dialect
from .loader import load_spec

__all__ = ["available_dialects", "load_dialect", "specs_dir"]


def specs_dir() -> Path:
    """The folder holding ``dialects/``, ``vectors/`` and the other data.

    ``SSCARD_SPECS`` overrides it; an installed wheel carries the files in
    ``sscard_gateway/_specs``; a source checkout uses ``specs/`` at its top.
    """
    env = os.environ.get("SSCARD_SPECS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent.parent
    bundled = here / "_specs"
    if bundled.is_dir():
        return bundled
    return here.parent / "specs"


def available_dialects() -> list[str]:
    """Names of the dialect files shipped in :func:`specs_dir`."""
    return sorted(p.stem for p in (specs_dir() / "dialects").glob("*.toml"))


@functools.cache
def _load_named(name: str) -> Dialect:
    return Dialect(load_spec(specs_dir() / "dialects" / f"{name}.toml"))


def load_dialect(name_or_path: str | os.PathLike[str]) -> Dialect:
    """Load a dialect by name (``"cups"``) or from a TOML file path.

    Named dialects are loaded once and shared; a path is read every call.

    Raises:
        SpecError: the file is missing or invalid.
    """
    text = os.fspath(name_or_path)
    if os.sep in text or text.endswith(".toml"):
        return Dialect(load_spec(text))
    if not (specs_dir() / "dialects" / f"{text}.toml").is_file():
        known = ", ".join(available_dialects())
        raise SpecError(f"{text}.toml", "", f"no such dialect (known: {known})")
    return _load_named(text)
