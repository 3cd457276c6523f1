"""Dialect files: the TOML schema, loaded into frozen typed objects.

Dialects are data (docs/architecture.md principle 2): everything a regional
variant changes lives in a TOML file under ``specs/dialects/``.
:mod:`.loader` reads such a file into the frozen types below and checks it
completely before anything uses it.

The schema is documented for authors in ``docs/dialects.md``; these types
and :mod:`.loader` are its single source of truth.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from .framing import LengthPrefix

__all__ = [
    "BitmapEncoding",
    "DataEncoding",
    "DialectSpec",
    "FieldClass",
    "FieldSpec",
    "LengthKind",
    "MacSpec",
    "MatchRule",
    "NetworkSpec",
    "PinSpec",
    "Sensitivity",
]


class FieldClass(enum.Enum):
    """ISO 8583 content class of a field."""

    N = "n"
    AN = "an"
    ANS = "ans"
    NS = "ns"
    Z = "z"
    XN = "x+n"
    B = "b"


class LengthKind(enum.Enum):
    """Fixed or variable length, by the number of length digits."""

    FIXED = "fixed"
    LL = "LL"
    LLL = "LLL"
    LLLL = "LLLL"

    @property
    def digits(self) -> int:
        return {"fixed": 0, "LL": 2, "LLL": 3, "LLLL": 4}[self.value]


class DataEncoding(enum.Enum):
    """How a field's value is written: text, packed BCD, raw bytes, or hex text."""

    ASCII = "ascii"
    BCD = "bcd"
    BINARY = "binary"
    HEX = "hex"


class BitmapEncoding(enum.Enum):
    BINARY = "binary"
    HEX = "hex"


class Sensitivity(enum.Enum):
    """What kind of secret a field holds, which decides how it is masked."""

    NONE = "none"
    PAN = "pan"
    TRACK = "track"
    PIN = "pin"
    KEY = "key"
    MAC = "mac"
    CRYPTOGRAM = "cryptogram"
    SSN = "ssn"


@attrs.frozen(slots=True)
class FieldSpec:
    """One data element of a dialect."""

    number: int
    name: str
    cls: FieldClass
    length: LengthKind
    max: int
    data: DataEncoding
    prefix: DataEncoding
    encoding: str
    pad: str
    sensitive: Sensitivity
    composite: str | None
    layout: str | None
    values: Mapping[str, str]
    check: str | None

    @property
    def binary(self) -> bool:
        """True when the value is ``bytes`` in a :class:`Message`."""
        return self.cls is FieldClass.B


@attrs.frozen(slots=True)
class MatchRule:
    """A response-matching key for some message classes or processing codes."""

    classes: tuple[str, ...]
    processing_codes: tuple[str, ...]
    fields: tuple[int, ...]


@attrs.frozen(slots=True)
class MacSpec:
    field: int
    mab: str
    algorithm: str
    form: str
    truncate: Mapping[int, int]
    selection: Mapping[str, tuple[int | str, ...]]


@attrs.frozen(slots=True)
class PinSpec:
    field: int
    format: str
    control_field: int | None
    control: str | None
    sm4_field: int | None
    sm4_usage: str | None
    sm4_control: str | None
    sm4_format: str | None


@attrs.frozen(slots=True)
class KeyExchangeSpec:
    mti: str
    code: str
    control_field: int | None
    pin_key_field: int | None
    pin_key_usage: str | None
    mac_key_field: int | None


@attrs.frozen(slots=True)
class NetworkSpec:
    """Network management: which MTI and field carry the codes, and the codes."""

    request_mti: str
    code_field: str
    codes: Mapping[str, str]
    key_exchange: KeyExchangeSpec | None


@attrs.frozen(slots=True)
class AdviceSpec:
    """Advices: messages the receiver must take, delivered until acknowledged, never reversed.

    Attributes:
        mti: the advice's message type (``0220``).
        retransmission_mti: its repeat (``0221``), sent from the second attempt on.
        done: answers that acknowledge it.
        exception: answers retrying cannot change (the item goes to the
            exception queue); any other answer is retried.
    """

    mti: str
    retransmission_mti: str | None
    done: tuple[str, ...]
    exception: tuple[str, ...]


@attrs.frozen(slots=True)
class DialectSpec:
    """A whole dialect file, checked."""

    file: str
    name: str
    title: str
    prefix: LengthPrefix
    prefix_includes_itself: bool
    max_length: int
    header: str
    header_options: Mapping[str, Any]
    mti_encoding: DataEncoding
    bitmap: BitmapEncoding
    secondary_always: bool
    classes: Mapping[str, str]
    fields: Mapping[int, FieldSpec]
    layouts: Mapping[str, tuple[tuple[str, int, bool], ...]]
    transaction_key: tuple[int, ...]
    match_key: tuple[int, ...]
    match_rules: tuple[MatchRule, ...]
    response_echo: tuple[int, ...]
    approved: tuple[str, ...]
    reversal_mti: str
    reversal_echo: tuple[int, ...]
    original_data_field: int | None
    reversal_done: tuple[str, ...]
    retransmission_mti: str | None
    mac: MacSpec | None
    pin: PinSpec | None
    network: NetworkSpec | None
    processing_codes: Mapping[str, str]
    response_codes: Mapping[str, str]
    timeout_response: str
    amount_total: int | None = None
    amount_split: int | None = None
    advice: AdviceSpec | None = None
    reversal_exception: tuple[str, ...] = ()
    original_key: Mapping[int, str] = attrs.field(factory=dict)
    settlement_date_field: int | None = None
    unknown_outcome: tuple[str, ...] = ()
    home_region_field: int | None = None
    treating_region_field: int | None = None
    insurance_kind_field: int | None = None
