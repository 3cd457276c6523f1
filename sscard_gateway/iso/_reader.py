"""A TOML table reader that remembers where it is, for error messages."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeVar

from ..errors import SpecError

T = TypeVar("T")


class Reader:
    """Walks one TOML table, remembering the path for error messages."""

    def __init__(self, file: str, table: Mapping[str, Any], where: str) -> None:
        self.file = file
        self.table = table
        self.where = where
        self.seen: set[str] = set()

    def fail(self, key: str, problem: str) -> SpecError:
        place = f"{self.where}.{key}" if self.where and key else (self.where or key)
        return SpecError(self.file, place, problem)

    def get(
        self, key: str, kind: type[T], default: T | None = None, *, required: bool = False
    ) -> T:
        self.seen.add(key)
        if key not in self.table:
            if required or default is None:
                raise self.fail(key, "is required")
            return default
        value = self.table[key]
        if kind is int and isinstance(value, bool):
            raise self.fail(key, "must be an integer")
        if not isinstance(value, kind):
            raise self.fail(key, f"must be {_kind_name(kind)}, not {type(value).__name__}")
        return value

    def opt(self, key: str, kind: type[T]) -> T | None:
        self.seen.add(key)
        if key not in self.table:
            return None
        return self.get(key, kind)

    def sub(self, key: str, *, required: bool = False) -> Reader | None:
        self.seen.add(key)
        if key not in self.table:
            if required:
                raise self.fail(key, "section is required")
            return None
        value = self.table[key]
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return Reader(self.file, value, f"{self.where}.{key}" if self.where else key)

    def enum(self, key: str, kind: type[enum.Enum], default: str | None = None) -> Any:
        text = self.get(key, str, default)
        try:
            return kind(text)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in kind)
            raise self.fail(key, f"must be one of {allowed}, not {text!r}") from None

    def ints(self, key: str, default: tuple[int, ...] | None = None) -> tuple[int, ...]:
        value = self.get(key, list, list(default) if default is not None else None)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise self.fail(key, "must be a list of field numbers")
        return tuple(value)

    def strs(self, key: str, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        value = self.get(key, list, list(default) if default is not None else None)
        if not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        return tuple(value)

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.seen)
        if unknown:
            raise self.fail(unknown[0], "is not a known key")


def _kind_name(kind: type[Any]) -> str:
    return {str: "a string", int: "an integer", bool: "true or false", list: "a list"}.get(
        kind, kind.__name__
    )
