"""The public surface: exported once, documented, small modules, and the docs' examples run."""

from __future__ import annotations

import inspect
from pathlib import Path

import sscard_gateway.errors as errors
import sscard_gateway.store as store

DOC = Path(__file__).resolve().parents[2] / "docs" / "journal.md"


def test_every_public_name_is_exported_once() -> None:
    assert len(store.__all__) == len(set(store.__all__))
    defined = {
        name
        for name, value in vars(store).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert defined == set(store.__all__)


def test_every_public_name_is_documented() -> None:
    text = DOC.read_text()
    for name in store.__all__:
        value = getattr(store, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name} has no docstring"
        assert name in text, f"{name} is not mentioned in docs/journal.md"


def test_public_methods_have_docstrings() -> None:
    for name in store.__all__:
        value = getattr(store, name)
        if not inspect.isclass(value):
            continue
        for attr, member in vars(value).items():
            if attr.startswith("_") or not (callable(member) or isinstance(member, property)):
                continue
            assert inspect.getdoc(member), f"{name}.{attr} has no docstring"


def test_modules_open_with_a_docstring_and_stay_small() -> None:
    package = Path(store.__file__).parent
    for path in package.glob("*.py"):
        text = path.read_text()
        assert text.startswith('"""'), path.name
        assert len(text.splitlines()) < 450, path.name


def test_journal_errors_answer_96() -> None:
    for name in ("JournalError", "JournalKeyError", "JournalClosed"):
        assert name in errors.__all__
        error = getattr(errors, name)
        assert issubclass(error, errors.SscardError)
        assert error("x").response_code == "96"
    assert issubclass(errors.JournalKeyError, errors.JournalError)
    assert issubclass(errors.JournalClosed, errors.JournalError)
