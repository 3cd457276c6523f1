"""Helpers of the routing and mapping loaders over :class:`~sscard_gateway._toml.Table`."""

from __future__ import annotations

from .._toml import Table

__all__ = ["field_key"]


def field_key(table: Table, key: str) -> int:
    """A table key that names a field (``"61"``), as an int."""
    if not key.isdigit() or key != str(int(key)) or not 2 <= int(key) <= 128:
        raise table.fail(key, "must be a field number from 2 to 128")
    return int(key)
