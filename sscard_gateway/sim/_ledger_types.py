"""The values of a peer's ledger: entries, outcomes, statistics, effects per key.

Why apart from :mod:`._ledger`: a judge of a fault-simulation run reads
these (what the switch holds, what each request did) without caring how
the ledger decides; they are plain frozen values, and an :class:`Entry`
hides its clear PAN from ``repr``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from ..iso import Message

__all__ = ["Effect", "Entry", "EntryKind", "Key", "KeyEffects", "LedgerStatistics", "Outcome"]

Key = tuple[str, ...]


class EntryKind(enum.Enum):
    """What made an entry: a financial request or an advice."""

    FINANCIAL = "financial"
    ADVICE = "advice"


class Effect(enum.Enum):
    """What one request did to the ledger."""

    APPROVED = "approved"
    DECLINED = "declined"
    DUPLICATE = "duplicate"
    ADVICE_APPLIED = "advice_applied"
    ADVICE_REPEAT = "advice_repeat"
    ADVICE_REFUSED = "advice_refused"
    REVERSED = "reversed"
    REVERSAL_REPEAT = "reversal_repeat"
    REVERSAL_OF_DECLINED = "reversal_of_declined"
    REVERSAL_REFUSED = "reversal_refused"
    REVERSAL_UNKNOWN = "reversal_unknown"
    REVERSAL_NEXT_DAY = "reversal_next_day"
    NOT_RECORDED = "not_recorded"


@attrs.frozen(kw_only=True)
class Entry:
    """One transaction as the peer received and answered it (``repr`` hides the PAN)."""

    kind: EntryKind
    key: Key
    mti: str
    processing_code: str
    pan: str = attrs.field(repr=False)
    amount: int
    transmission_time: str
    stan: str
    acquirer: str
    forwarder: str
    rrn: str
    authorization: str
    response_code: str
    terminal: str
    merchant: str
    reversed: bool = False
    settlement_date: str = ""  # MMDD the answer carried ("" when not told)

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON-shaped data (the record file's form)."""
        data = attrs.asdict(self, recurse=False)
        data["kind"] = self.kind.value
        data["key"] = list(self.key)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Entry:
        """The entry from :meth:`to_json` data.

        Raises:
            KeyError, TypeError, ValueError: the data is not an entry.
        """
        values = dict(data)
        values["kind"] = EntryKind(values["kind"])
        values["key"] = tuple(values["key"])
        return cls(**values)


@attrs.frozen
class LedgerStatistics:
    """A snapshot of the ledger's counters since the day began (restarts included)."""

    requests: int = 0
    approved: int = 0
    declined: int = 0
    duplicates: int = 0
    advices_applied: int = 0
    advice_repeats: int = 0
    advices_refused: int = 0
    reversals_applied: int = 0
    reversal_repeats: int = 0
    reversals_refused: int = 0
    reversals_unknown: int = 0
    reversals_next_day: int = 0
    reversals_of_declined: int = 0
    not_recorded: int = 0


@attrs.frozen
class KeyEffects:
    """What requests did to one transaction key; ``applied`` and ``reversed`` never pass 1.

    Attributes:
        applied: times a request or advice took effect (approved, or applied).
        declined: times a request was recorded declined.
        reversed: times a reversal took effect.
        repeats: requests or advices with this key answered without effect.
        reversal_repeats: reversals of it answered without effect.
        reversals_refused: reversals of it refused (``30``).
        next_day: reversals of it refused ``C3``: they came after the
            original's settlement date was cut over; the original stays
            held (in that date's clearing file) and is claimed back.
    """

    applied: int = 0
    declined: int = 0
    reversed: int = 0
    repeats: int = 0
    reversal_repeats: int = 0
    reversals_refused: int = 0
    next_day: int = 0


@attrs.frozen(kw_only=True)
class Outcome:
    """The answer to one request and what it did.

    Attributes:
        response_code: field 39 of the answer.
        effect: what the request did.
        fields: fields to set on the response (an assigned F37, F38).
        entry: the entry made or touched (after the change), if any.
    """

    response_code: str
    effect: Effect
    fields: Mapping[int, str] = attrs.field(factory=dict)
    entry: Entry | None = None

    def response(self, message: Message, extra: Mapping[int, str] | None = None) -> Message:
        """The response to ``message`` carrying this outcome (and ``extra`` fields).

        Raises:
            EncodeError: ``message`` is a response or has no dialect.
        """
        return message.response_to(self.response_code, {**self.fields, **(extra or {})})


#: the statistic each effect counts in
STATISTIC = {
    Effect.APPROVED: "approved",
    Effect.DECLINED: "declined",
    Effect.DUPLICATE: "duplicates",
    Effect.ADVICE_APPLIED: "advices_applied",
    Effect.ADVICE_REPEAT: "advice_repeats",
    Effect.ADVICE_REFUSED: "advices_refused",
    Effect.REVERSED: "reversals_applied",
    Effect.REVERSAL_REPEAT: "reversal_repeats",
    Effect.REVERSAL_OF_DECLINED: "reversals_of_declined",
    Effect.REVERSAL_REFUSED: "reversals_refused",
    Effect.REVERSAL_UNKNOWN: "reversals_unknown",
    Effect.REVERSAL_NEXT_DAY: "reversals_next_day",
    Effect.NOT_RECORDED: "not_recorded",
}
#: the per-key counter each effect counts in
KEY_EFFECT = {
    Effect.APPROVED: "applied",
    Effect.ADVICE_APPLIED: "applied",
    Effect.DECLINED: "declined",
    Effect.REVERSED: "reversed",
    Effect.DUPLICATE: "repeats",
    Effect.ADVICE_REPEAT: "repeats",
    Effect.REVERSAL_REPEAT: "reversal_repeats",
    Effect.REVERSAL_OF_DECLINED: "reversal_repeats",
    Effect.REVERSAL_REFUSED: "reversals_refused",
    Effect.REVERSAL_NEXT_DAY: "next_day",
}
