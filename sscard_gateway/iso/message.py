"""Message: an MTI, its fields and its header, as an immutable value.

A :class:`Message` is what the codec produces and consumes. Field values are
``str`` for text fields and ``bytes`` for binary ones (PIN block, field 55,
MACs, keys); amounts stay integer fen written as digit strings (DOMAIN.md
§1), never floating point.

Messages decoded from the wire remember the bytes they came from (``body``
and the per-field ``wire`` parts) so that a MAC is verified over what the
peer sent, not over a re-encoding (STYLE.md 6). Those bytes take no part in
equality and are dropped by :meth:`Message.evolve`.

``repr`` and ``str`` never show card data: they show :meth:`Message.masked`,
with the PAN cut to first 6 / last 4, tracks, PIN blocks, keys, MACs and chip
cryptograms wiped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import EncodeError
from .framing import CupsHeader, Header

if TYPE_CHECKING:
    from .dialect import Dialect

__all__ = ["FieldValue", "Message"]

_set = object.__setattr__

FieldValue = str | bytes

# Used when a message has no dialect to say which fields are secret.
_DEFAULT_SECRETS = {
    2: "pan",
    14: "track",
    35: "track",
    36: "track",
    45: "track",
    52: "pin",
    55: "cryptogram",
    64: "mac",
    96: "key",
    102: "pan",
    103: "pan",
    128: "mac",
}


@attrs.frozen(slots=True, repr=False, eq=True)
class Message:
    """One ISO 8583 message.

    Attributes:
        mti: the four-digit message type indicator.
        fields: field number to value; treat as read-only (use
            :meth:`evolve` or :meth:`with_fields`).
        header: the CUPS or POS header, or ``None``.
        dialect: the dialect that decoded or built it (not compared).
        wire: per-field encoded parts as received (not compared).
        body: the received ISO body, MTI to last field (not compared).
    """

    mti: str
    fields: Mapping[int, FieldValue] = attrs.field(factory=dict)
    header: Header | None = None
    dialect: Dialect | None = attrs.field(default=None, eq=False)
    wire: Mapping[str, Mapping[str, bytes]] | None = attrs.field(default=None, eq=False)
    body: bytes | None = attrs.field(default=None, eq=False)

    @classmethod
    def trusted(
        cls,
        mti: str,
        fields: Mapping[int, FieldValue],
        header: Header | None,
        dialect: Dialect | None,
        wire: Mapping[str, Mapping[str, bytes]] | None,
        body: bytes | None,
    ) -> Message:
        """Build from values the codec has already checked (the decoder's fast path)."""
        self = object.__new__(cls)
        _set(self, "mti", mti)
        _set(self, "fields", fields)
        _set(self, "header", header)
        _set(self, "dialect", dialect)
        _set(self, "wire", wire)
        _set(self, "body", body)
        return self

    # -- access ------------------------------------------------------------

    def __getitem__(self, number: int) -> FieldValue:
        return self.fields[number]

    def __contains__(self, number: object) -> bool:
        return number in self.fields

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self.fields))

    def get(self, number: int, default: FieldValue | None = None) -> FieldValue | None:
        """The value of field ``number``, or ``default``."""
        return self.fields.get(number, default)

    def text(self, number: int, default: str = "") -> str:
        """The value of a text field, or ``default`` when absent.

        Raises:
            TypeError: the field is binary.
        """
        value = self.fields.get(number, default)
        if not isinstance(value, str):
            raise TypeError(f"field {number} is binary")
        return value

    @property
    def is_response(self) -> bool:
        """True for responses (third MTI digit odd: 0210, 0430, 0830...)."""
        return int(self.mti[2]) % 2 == 1

    @property
    def mti_class(self) -> str:
        """The dialect's message class (``financial``, ``network``...)."""
        if self.dialect is None:
            return "network" if self.mti.startswith("08") else "financial"
        return self.dialect.mti_class(self.mti)

    # -- new messages from this one -----------------------------------------

    def evolve(self, **changes: Any) -> Message:
        """A copy with ``changes`` applied; the received bytes are dropped."""
        changes.setdefault("wire", None)
        changes.setdefault("body", None)
        return attrs.evolve(self, **changes)

    def with_fields(
        self, fields: Mapping[int, FieldValue] | None = None, /, **named: FieldValue
    ) -> Message:
        """A copy with fields set (``with_fields({39: "00"})``)."""
        merged = dict(self.fields)
        if fields:
            merged.update(fields)
        for key, value in named.items():
            merged[int(key.lstrip("f"))] = value
        return self.evolve(fields=merged)

    def without(self, *numbers: int) -> Message:
        """A copy without the given fields."""
        return self.evolve(fields={k: v for k, v in self.fields.items() if k not in numbers})

    def _need_dialect(self, what: str) -> Dialect:
        if self.dialect is None:
            raise EncodeError("mti", f"{what} needs a message built by a dialect")
        return self.dialect

    def response_to(
        self,
        response_code: str | None = None,
        fields: Mapping[int, FieldValue] | None = None,
    ) -> Message:
        """The response to this request: MTI + 10, echoed fields, reply header.

        Args:
            response_code: field 39, when given.
            fields: further fields to set on the response.

        Raises:
            EncodeError: this is already a response, or has no dialect.
        """
        dialect = self._need_dialect("response_to()")
        if self.is_response:
            raise EncodeError("mti", f"{self.mti} is already a response")
        echo = dialect.spec.response_echo
        out = {n: self.fields[n] for n in echo if n in self.fields}
        if response_code is not None:
            out[39] = response_code
        if fields:
            out.update(fields)
        header = self.header.reply() if self.header is not None else None
        mti = self.mti[:2] + str(int(self.mti[2]) + 1) + self.mti[3]
        return Message(mti, out, header=header, dialect=dialect)

    def reversal_of(self, fields: Mapping[int, FieldValue] | None = None) -> Message:
        """The dialect's reversal of this request, with original data elements.

        The reversal echoes the dialect's reversal fields and carries the
        original MTI, STAN, transmission time and institution codes in the
        original-data field (90 on CUPS). Give new F7/F11 in ``fields`` when
        the reversal is a new transmission.

        Raises:
            EncodeError: no dialect, or a field needed for field 90 is missing.
        """
        from .composite import OriginalData

        dialect = self._need_dialect("reversal_of()")
        spec = dialect.spec
        out = {n: self.fields[n] for n in spec.reversal_echo if n in self.fields}
        if spec.original_data_field is not None:
            try:
                original = OriginalData.from_original(
                    mti=self.mti,
                    stan=self.text(11),
                    f7=self.text(7),
                    f32=self.text(32),
                    f33=self.text(33) or None,
                )
            except TypeError as exc:
                raise EncodeError(str(spec.original_data_field), str(exc)) from None
            out[spec.original_data_field] = original.format()
        if fields:
            out.update(fields)
        header = self.header
        if isinstance(header, CupsHeader):
            header = attrs.evolve(header, reject_code="00000")
        return Message(spec.reversal_mti, out, header=header, dialect=dialect)

    # -- display ----------------------------------------------------------

    def masked(self) -> dict[int, str]:
        """Field number to a display string with every secret masked."""
        from .display import mask_fields

        return mask_fields(self)

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}: {v!r}" for n, v in sorted(self.masked().items()))
        return f"Message({self.mti!r}, {{{shown}}})"

    __str__ = __repr__


def default_secret(number: int) -> str | None:
    """The sensitivity of a field when no dialect says (see module docs)."""
    return _DEFAULT_SECRETS.get(number)
