"""A TOML-shaped table reader that knows its key path, for checked loading.

Route tables and mapping files are configuration a center's engineer edits
by hand, so every mistake is reported as ``SpecError(file, where, problem)``
with the full key path (``routing.routes[2].bins[0]``,
``request.rename.54.to``), and unknown keys are errors rather than silently
ignored (a typo must never fall back to a default).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from ..errors import SpecError

T = TypeVar("T")

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
    """One table of a TOML document, remembering where it is."""

    __slots__ = ("file", "seen", "table", "where")

    def __init__(self, file: str, table: Mapping[str, Any], where: str) -> None:
        self.file = file
        self.table = table
        self.where = where
        self.seen: set[str] = set()

    def fail(self, key: str, problem: str) -> SpecError:
        return SpecError(self.file, join(self.where, key) if key else self.where, problem)

    def has(self, key: str) -> bool:
        return key in self.table

    def get(self, key: str, kind: type[T]) -> T:
        self.seen.add(key)
        if key not in self.table:
            raise self.fail(key, "is required")
        value = self.table[key]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            raise self.fail(key, f"must be {_KINDS.get(kind, kind.__name__)}")
        return value

    def opt(self, key: str, kind: type[T]) -> T | None:
        self.seen.add(key)
        if key not in self.table:
            return None
        return self.get(key, kind)

    def sub(self, key: str) -> Table | None:
        value = self.opt(key, dict)
        return None if value is None else Table(self.file, value, join(self.where, key))

    def subs(self, key: str) -> list[Table]:
        """An array of tables (``[[routes]]``), each with its indexed key path."""
        items = self.opt(key, list) or []
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.fail(f"{key}[{i}]", "must be a table")
            out.append(Table(self.file, item, join(join(self.where, key), f"[{i}]")))
        return out

    def strings(self, key: str) -> list[str]:
        items = self.opt(key, list) or []
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise self.fail(f"{key}[{i}]", "must be a string")
        return items

    def numbers(self, key: str) -> list[int]:
        items = self.opt(key, list) or []
        seen: set[int] = set()
        for i, item in enumerate(items):
            if not isinstance(item, int) or isinstance(item, bool):
                raise self.fail(f"{key}[{i}]", "must be a field number")
            if item in seen:
                raise self.fail(f"{key}[{i}]", f"names field {item} twice")
            seen.add(item)
        return items

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.seen)
        if unknown:
            raise self.fail(unknown[0], "is not a known key")


def field_key(table: Table, key: str) -> int:
    """A table key that names a field (``"61"``), as an int."""
    if not key.isdigit() or key != str(int(key)) or not 2 <= int(key) <= 128:
        raise table.fail(key, "must be a field number from 2 to 128")
    return int(key)
