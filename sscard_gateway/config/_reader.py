"""A TOML table reader that knows its key path, for checked loading.

``gateway.toml`` is edited by hand by the engineer who deploys a gateway,
so every mistake is reported as ``SpecError(file, where, problem)`` with
the full key path (``centers[1].port``) and a plain problem (``must be
1..65535``); unknown keys are errors, never silently ignored, because a
misspelt key falling back to its default is how a gateway ends up
listening on the wrong port or without its MAC key.

It shares the key-path rule (:func:`sscard_gateway._toml.join`) with the
spec files' :class:`sscard_gateway._toml.Table`, not its checks: here
strings must not be empty, numbers have bounds and paths are taken from
the configuration file's folder.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, overload

from .._toml import join
from ..errors import SpecError

__all__ = ["REQUIRED", "Section"]

REQUIRED: Final = object()
"""Default meaning "the key must be present"."""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Section:
    """One table of the document, remembering where it is and which keys were read.

    Args:
        file: the file name used in error messages.
        table: the parsed table.
        where: its key path (``""`` for the document).
        base: the folder relative paths are resolved against.
    """

    __slots__ = ("base", "file", "seen", "table", "where")

    def __init__(self, file: str, table: Mapping[str, Any], where: str, base: Path) -> None:
        self.file = file
        self.table = table
        self.where = where
        self.base = base
        self.seen: set[str] = set()

    def fail(self, key: str, problem: str) -> SpecError:
        """The error for ``key`` of this table (the table itself when ``key`` is empty)."""
        return SpecError(self.file, join(self.where, key) if key else self.where, problem)

    def has(self, key: str) -> bool:
        """Whether the table holds ``key``."""
        return key in self.table

    def _raw(self, key: str, required: bool) -> object:
        self.seen.add(key)
        if key in self.table:
            return self.table[key]
        if required:
            raise self.fail(key, "is required")
        return None

    @overload
    def text(self, key: str) -> str: ...
    @overload
    def text(self, key: str, default: str) -> str: ...
    @overload
    def text(self, key: str, default: None) -> str | None: ...

    def text(self, key: str, default: object = REQUIRED) -> str | None:
        """A non-empty string (``default`` when absent; required without one)."""
        value = self._raw(key, default is REQUIRED)
        if value is None:
            return default if isinstance(default, str) else None
        if not isinstance(value, str):
            raise self.fail(key, "must be a string")
        if not value.strip():
            raise self.fail(key, "must not be empty")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        """One of ``choices`` (compared in lower case)."""
        value = self.text(key, default).lower()
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}")
        return value

    def integer(self, key: str, default: int | None = None, *, low: int, high: int) -> int:
        """An integer from ``low`` to ``high`` (required when ``default`` is ``None``)."""
        value = self._raw(key, default is None)
        if value is None:
            assert default is not None
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(key, f"must be {low}..{high}")
        return value

    def number(
        self, key: str, default: float | None = None, *, minimum: float = 0.0, above: bool = True
    ) -> float:
        """A number above ``minimum`` (or at least it); required when ``default`` is ``None``."""
        value = self._raw(key, default is None)
        if value is None:
            assert default is not None
            return default
        bound = f"above {minimum:g}" if above else f"at least {minimum:g}"
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise self.fail(key, f"must be a number {bound}")
        if math.isinf(value) or (value <= minimum if above else value < minimum):
            raise self.fail(key, f"must be a number {bound}")
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        """``true`` or ``false``."""
        value = self._raw(key, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    @overload
    def path(self, key: str) -> Path: ...
    @overload
    def path(self, key: str, default: None) -> Path | None: ...

    def path(self, key: str, default: object = REQUIRED) -> Path | None:
        """A file path; a relative one is taken from the configuration file's folder."""
        value = self.text(key) if default is REQUIRED else self.text(key, None)
        if value is None:
            return None
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base / path

    @overload
    def env_name(self, key: str) -> str: ...
    @overload
    def env_name(self, key: str, default: None) -> str | None: ...

    def env_name(self, key: str, default: object = REQUIRED) -> str | None:
        """The name of an environment variable."""
        value = self.text(key) if default is REQUIRED else self.text(key, None)
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise self.fail(key, "must be an environment variable name (letters, digits, _)")
        return value

    def strings(self, key: str) -> list[str]:
        """A list of strings (empty when absent)."""
        value = self._raw(key, False)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, "must be a list of strings")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self.fail(f"{key}[{i}]", "must be a string")
        return value

    def sub(self, key: str, *, required: bool = False) -> Section | None:
        """The table ``key`` (``None`` when absent and not required)."""
        value = self._raw(key, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return Section(self.file, value, join(self.where, key), self.base)

    def subs(self, key: str) -> list[Section]:
        """An array of tables (``[[centers]]``), each with its indexed key path."""
        value = self._raw(key, False)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, "must be an array of tables ([[...]])")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.fail(f"{key}[{i}]", "must be a table")
            out.append(Section(self.file, item, join(join(self.where, key), f"[{i}]"), self.base))
        return out

    def raw_table(self, key: str) -> Mapping[str, Any] | None:
        """The table ``key`` unchecked (another reader checks it), or ``None``."""
        value = self._raw(key, False)
        if value is not None and not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return value

    def done(self) -> None:
        """Refuse the keys nobody read.

        Raises:
            SpecError: naming the first unknown key.
        """
        unknown = sorted(set(self.table) - self.seen)
        if unknown:
            raise self.fail(unknown[0], "is not a known key")
