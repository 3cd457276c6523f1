"""A TOML-shaped table reader that knows its key path, for checked loading.

Dialect files, route tables and mapping files are data a center's engineer
edits by hand, so every mistake is reported as ``SpecError(file, where,
problem)`` with the full key path (``fields.55.max``,
``routing.routes[2].bins[0]``), and unknown keys are errors rather than
silently ignored (a typo must never fall back to a default).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from .errors import SpecError

__all__ = ["Table", "join"]

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)

_KINDS = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}


def join(where: str, key: str) -> str:
    """The key path of ``key`` inside ``where`` (``a.b`` or ``a[0]``)."""
    if not where:
        return key
    return f"{where}{key}" if key.startswith("[") else f"{where}.{key}"


class Table:
    """One table of a TOML document, remembering where it is and what was read."""

    __slots__ = ("file", "seen", "table", "where")

    def __init__(self, file: str, table: Mapping[str, Any], where: str) -> None:
        self.file = file
        self.table = table
        self.where = where
        self.seen: set[str] = set()

    def fail(self, key: str, problem: str) -> SpecError:
        """The error for ``key`` of this table."""
        return SpecError(self.file, join(self.where, key) if key else self.where, problem)

    def has(self, key: str) -> bool:
        """Whether ``key`` is present."""
        return key in self.table

    def get(self, key: str, kind: type[T], default: T | None = None) -> T:
        """The value of ``key``, of type ``kind``; required unless a default is given."""
        self.seen.add(key)
        if key not in self.table:
            if default is None:
                raise self.fail(key, "is required")
            return default
        value = self.table[key]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            raise self.fail(key, f"must be {_KINDS.get(kind, kind.__name__)}")
        return value

    def opt(self, key: str, kind: type[T]) -> T | None:
        """The value of ``key``, or ``None`` when absent."""
        self.seen.add(key)
        if key not in self.table:
            return None
        return self.get(key, kind)

    def sub(self, key: str, *, required: bool = False) -> Table | None:
        """The sub-table ``key`` (``None`` when absent and not required)."""
        value = self.opt(key, dict)
        if value is None:
            if required:
                raise self.fail(key, "section is required")
            return None
        return Table(self.file, value, join(self.where, key))

    def subs(self, key: str) -> list[Table]:
        """An array of tables (``[[routes]]``), each with its indexed key path."""
        items = self.opt(key, list) or []
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.fail(f"{key}[{i}]", "must be a table")
            out.append(Table(self.file, item, join(join(self.where, key), f"[{i}]")))
        return out

    def enum(self, key: str, kind: type[E], default: str | None = None) -> E:
        """The member of ``kind`` whose value ``key`` holds."""
        text = self.get(key, str, default)
        try:
            return kind(text)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in kind)
            raise self.fail(key, f"must be one of {allowed}, not {text!r}") from None

    def strings(self, key: str, default: Sequence[str] = ()) -> list[str]:
        """A list of strings (``default`` when absent)."""
        items = self.opt(key, list)
        if items is None:
            return list(default)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise self.fail(f"{key}[{i}]", "must be a string")
        return items

    def numbers(self, key: str, *, required: bool = False) -> list[int]:
        """A list of distinct field numbers (empty when absent and not required)."""
        items = self.get(key, list) if required else (self.opt(key, list) or [])
        seen: set[int] = set()
        for i, item in enumerate(items):
            if not isinstance(item, int) or isinstance(item, bool):
                raise self.fail(f"{key}[{i}]", "must be a field number")
            if item in seen:
                raise self.fail(f"{key}[{i}]", f"names field {item} twice")
            seen.add(item)
        return items

    def done(self) -> None:
        """Refuse any key that was not read."""
        unknown = sorted(set(self.table) - self.seen)
        if unknown:
            raise self.fail(unknown[0], "is not a known key")
