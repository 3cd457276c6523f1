"""The typed form of a mapping file: what :mod:`._mapping` builds and the translator runs.

Mapping files are data (docs/architecture.md principle 2); these frozen values are
their checked form, so the translator never re-reads TOML or re-checks a
rule per message.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from ..iso.dialect import Dialect

__all__ = [
    "AmountRule",
    "FieldRules",
    "Generator",
    "MappingSpec",
    "ProcessingRule",
    "Rebuild",
    "Rename",
    "SubfieldRule",
]


class Generator(enum.Enum):
    """A value the gateway assigns for the outbound leg."""

    STAN = "stan"
    RRN = "rrn"
    TRANSMISSION_TIME = "transmission_time"
    LOCAL_TIME = "local_time"
    LOCAL_DATE = "local_date"
    ACQUIRER = "acquirer"
    FORWARDER = "forwarder"


@attrs.frozen(slots=True)
class Rename:
    """Field ``source`` carried as field ``target``; with ``usage``, a usage tag is
    added (target is a usage field) or required and removed (source is one)."""

    source: int
    target: int
    usage: str | None = None
    strip: bool = False


@attrs.frozen(slots=True)
class SubfieldRule:
    """One subfield of a rebuilt field: a literal, or a source subfield with a default."""

    name: str
    literal: str | None = None
    source: str | None = None
    default: str | None = None


@attrs.frozen(slots=True)
class Rebuild:
    """Target field ``target`` formatted by its layout from ``subfields``.

    ``source`` is the field whose layout the ``from`` subfields are read
    from, or ``None`` when every subfield is a literal.
    """

    target: int
    source: int | None
    subfields: tuple[SubfieldRule, ...]


@attrs.frozen(slots=True)
class FieldRules:
    """How the fields of one direction are produced, in application order."""

    copy: tuple[int, ...] = ()
    fill: tuple[int, ...] = ()
    renames: tuple[Rename, ...] = ()
    drop: tuple[int, ...] = ()
    rebuilds: tuple[Rebuild, ...] = ()
    set: Mapping[int, str] = attrs.field(factory=dict)
    default: Mapping[int, str] = attrs.field(factory=dict)
    assign: Mapping[int, Generator] = attrs.field(factory=dict)
    assign_default: Mapping[int, Generator] = attrs.field(factory=dict)
    guarded: frozenset[int] = frozenset()


@attrs.frozen(slots=True)
class ProcessingRule:
    """The target processing code of one source code, fields it sets, fields it needs."""

    code: str
    set: Mapping[int, str] = attrs.field(factory=dict)
    require: tuple[int, ...] = ()


@attrs.frozen(slots=True)
class AmountRule:
    """Field ``field`` of the outbound leg is the ``part`` of the source's split."""

    field: int
    part: str


@attrs.frozen(slots=True)
class MappingSpec:
    """A whole mapping file, checked against its two dialects."""

    file: str
    name: str
    title: str
    source: Dialect
    target: Dialect
    mti: Mapping[str, str]
    request: FieldRules
    header_set: Mapping[str, str]
    header_assign: Mapping[str, Generator]
    amount: AmountRule | None
    processing_codes: Mapping[str, ProcessingRule] | None
    response: FieldRules
    response_codes: Mapping[str, str]
    fallback: str
