"""Conformance cases as data: ``specs/conformance/*.toml`` loaded into frozen values.

Why data: what a conforming peer must answer (a duplicate gets ``94``, a
bad MAC ``A0``, a malformed frame ``30``...) is the part of the kit an
integrator reads, corrects and extends, so it lives in TOML beside the
dialects (docs/architecture.md principle 2), and the code only interprets a
small, declarative step language (docs/conformance.md):

* a case has an ``id``, a ``title``, a ``kind`` (``offline`` or ``live``),
  the ``roles`` and ``dialects`` it applies to, and either an offline
  ``check`` over a ``source`` of vectors or live ``step`` tables;
* a live step sends a message built from a named template (its fields may
  hold placeholders such as ``{stan}`` or ``{pan}``), or re-sends an
  earlier step (``repeat_of``), with options for the MAC, a frame
  mutation, a key exchange and a silent upstream, and says what the
  response must be (``expect``).

The loader (:mod:`._loader`) refuses every mistake in a file with a
``SpecError`` naming the file, the case and key, and the problem.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from pathlib import Path

import attrs

__all__ = [
    "DYNAMIC_VARIABLES",
    "PLACEHOLDER",
    "Case",
    "CaseFile",
    "Expect",
    "FieldExpectation",
    "KeyExchange",
    "KitKeys",
    "Kind",
    "Mutation",
    "Role",
    "Step",
    "Template",
]

DYNAMIC_VARIABLES = frozenset({"stan", "f7", "time", "date", "rrn"})
"""Placeholders the runner fills afresh for every step sent."""

PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]*)\}")
"""A placeholder in a template or step value (``{stan}``): checked on load, filled on send."""


class Kind(enum.Enum):
    """Whether a case needs a live peer."""

    OFFLINE = "offline"
    LIVE = "live"


class Role(enum.Enum):
    """What the peer is; the kit plays the other side (docs/conformance.md)."""

    SWITCH = "switch"
    GATEWAY = "gateway"
    CENTER = "center"


@attrs.frozen
class FieldExpectation:
    """What one response field must (``allowed``) or must not (``refused``) hold."""

    field: int
    allowed: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()

    def problem(self, value: object) -> str | None:
        """Why ``value`` does not meet this expectation, or ``None`` when it does."""
        shown = "absent" if value is None else repr(value)
        if self.allowed and value not in self.allowed:
            return f"field {self.field}: expected one of {list(self.allowed)}, got {shown}"
        if self.refused and value in self.refused:
            return f"field {self.field}: expected none of {list(self.refused)}, got {shown}"
        return None


@attrs.frozen
class Expect:
    """What the response to a step must be."""

    mti: str | None = None
    fields: tuple[FieldExpectation, ...] = ()


@attrs.frozen
class Template:
    """A message shape: MTI, header keys and fields, values with placeholders."""

    name: str
    mti: str
    fields: Mapping[str, str]
    header: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Mutation:
    """A change made to the encoded frame (``malformed:field3-letter``)."""

    field: int


@attrs.frozen
class KeyExchange:
    """Fill the template with a key exported under the KEK (``pin`` or ``mac``)."""

    key: str
    check_value: str  # "valid" or "bad"


@attrs.frozen(kw_only=True)
class Step:
    """One message sent and the answer it must get."""

    id: str
    send: str | None = None
    fields: Mapping[str, str] = attrs.field(factory=dict)
    repeat_of: str | None = None
    mac: str = "valid"
    frame: Mutation | None = None
    key_exchange: KeyExchange | None = None
    upstream: str | None = None
    wait_for_reversal: bool = False
    timeout: float | None = None
    expect: Expect | None = None


@attrs.frozen(kw_only=True)
class KitKeys:
    """The kit's key names in its security module (its side of the link).

    Attributes:
        mac_key: the MAC key shared with the peer (``None``: no MACs).
        pin_key: the PIN key shared with the peer.
        kek: the key-encrypting key (ZMK) shared with the peer; key exchange
            cases are not applicable without it.
        mac_classes: message classes the kit MACs (and expects MACed).
    """

    mac_key: str | None = None
    pin_key: str | None = None
    kek: str | None = None
    mac_classes: tuple[str, ...] = ("financial",)

    def merged(self, override: KitKeys | None) -> KitKeys:
        """These defaults with every name ``override`` sets replacing them."""
        if override is None:
            return self
        return KitKeys(
            mac_key=override.mac_key or self.mac_key,
            pin_key=override.pin_key or self.pin_key,
            kek=override.kek or self.kek,
            mac_classes=override.mac_classes or self.mac_classes,
        )


@attrs.frozen(kw_only=True)
class CaseFile:
    """What a file's cases share: templates, variables, keys, session templates."""

    path: Path
    description: str = ""
    templates: Mapping[str, Template] = attrs.field(factory=dict)
    variables: Mapping[str, str] = attrs.field(factory=dict)
    keys: KitKeys = attrs.field(factory=KitKeys)
    sign_on: str | None = None
    sign_off: str | None = None


@attrs.frozen(kw_only=True)
class Case:
    """One conformance case (see the module docstring)."""

    id: str
    title: str
    kind: Kind
    roles: tuple[Role, ...]
    dialects: tuple[str, ...]
    file: CaseFile
    check: str | None = None
    source: str | None = None
    steps: tuple[Step, ...] = ()
    requires: frozenset[str] = frozenset()
    sign_on: bool = True

    def applies_to(self, role: Role, dialect: str) -> bool:
        """Whether this case is run against a peer of ``role`` speaking ``dialect``."""
        if self.kind is Kind.OFFLINE:
            return True
        return role in self.roles and dialect in self.dialects
