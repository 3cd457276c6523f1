"""The public surface: exported once, documented, and the docs' examples run."""

from __future__ import annotations

import inspect
from pathlib import Path

import sscard_gateway.crypto as crypto

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_public_name_is_exported_once() -> None:
    assert len(crypto.__all__) == len(set(crypto.__all__))
    defined = {
        name
        for name, value in vars(crypto).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert defined == set(crypto.__all__)


def test_every_public_name_is_documented() -> None:
    text = (DOCS / "crypto.md").read_text() + (DOCS / "security-module.md").read_text()
    for name in crypto.__all__:
        value = getattr(crypto, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name} has no docstring"
        assert name in text, f"{name} is not mentioned in docs/"


def test_public_methods_have_docstrings() -> None:
    for name in crypto.__all__:
        value = getattr(crypto, name)
        if not inspect.isclass(value):
            continue
        for attr, member in vars(value).items():
            if attr.startswith("_") or not callable(member):
                continue
            assert inspect.getdoc(member), f"{name}.{attr} has no docstring"


def test_modules_open_with_a_docstring() -> None:
    package = Path(crypto.__file__).parent
    for path in package.glob("*.py"):
        assert path.read_text().startswith('"""'), path.name
        assert len(path.read_text().splitlines()) < 450, path.name
