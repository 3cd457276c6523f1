"""Journal records from messages: what the engine keeps of each transaction and leg.

A transaction record holds what clearing and reconciliation need:
identifiers, both region codes, the insurance kind and the amount split in
fen (the fields the dialect's ``[validation]`` section names), the masked
PAN and its keyed hash — never the clear PAN. A leg record holds the
message exactly as it was sent, minus what no compensation needs and no
journal should keep (:func:`stored_form`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..errors import DecodeError
from ..ids import AmountSplit
from ..iso import Dialect, Message
from ..iso.business import amount_split
from ..iso.spec import Sensitivity
from ..iso.tlv import encode_tlv, parse_tlv
from ..routing import card_pan
from ..store import LegKind, LegRecord, LegState, PanHasher, TransactionStatus

__all__ = [
    "REVERSAL_TAGS",
    "Draft",
    "declined",
    "decode_leg",
    "is_advice",
    "is_reversal",
    "kind_of",
    "leg_key",
    "leg_record",
    "new_record",
    "stored_form",
    "text_of",
]

Draft = dict[str, Any]
"""A record's fields, built up while a request is handled; the journal's
:class:`~sscard_gateway.store.TransactionRecord` (and its checks) is made
once, when the draft is inserted."""

#: Field 55 tags a reversal carries (the rest of the chip data is not kept).
REVERSAL_TAGS = frozenset({0x95, 0x9F1E, 0x9F10, 0x9F36, 0xDF31})

_STRIPPED = frozenset({Sensitivity.PIN, Sensitivity.TRACK, Sensitivity.KEY, Sensitivity.MAC})


def is_reversal(message: Message) -> bool:
    """Whether ``message`` is a reversal or its repeat, by its dialect's MTIs."""
    assert message.dialect is not None
    spec = message.dialect.spec
    return message.mti in (spec.reversal_mti, spec.retransmission_mti)


def is_advice(message: Message) -> bool:
    """Whether ``message`` is an advice or its repeat, by its dialect's ``[advice]`` MTIs."""
    assert message.dialect is not None
    advice = message.dialect.spec.advice
    return advice is not None and message.mti in (advice.mti, advice.retransmission_mti)


def kind_of(message: Message) -> str:
    """The transaction kind, by the dialect's processing code names.

    Reversals are ``reversal``; an advice whose processing code is named
    ``refund`` is a refund; an unknown processing code is ``other``.
    """
    if is_reversal(message):
        return "reversal"
    assert message.dialect is not None
    code = message.fields.get(3)
    names = [n for n, c in message.dialect.spec.processing_codes.items() if c == code]
    if is_advice(message) and "refund" in names:
        return "refund"
    if len(names) > 1 and "refund" in names:
        names.remove("refund")
    return names[0] if names else "other"


def text_of(message: Message, number: int | None) -> str:
    """Field ``number`` of ``message`` when it is text, else ``""``."""
    if number is None:
        return ""
    value = message.fields.get(number)
    return value if isinstance(value, str) else ""


def _split(message: Message) -> AmountSplit:
    split = amount_split(message)
    if split is not None:
        return split
    value = message.fields.get(4)
    total = int(value) if isinstance(value, str) and value.isdigit() else 0
    return AmountSplit(total, 0, 0, total)


def new_record(
    message: Message,
    *,
    key: str,
    source: str,
    kind: str,
    now: datetime,
    hasher: PanHasher,
    settlement_date: str,
    split: AmountSplit | None = None,
) -> Draft:
    """The record of a request as received, as a draft.

    Raises:
        ValidationError: the amount split does not add up (``13``).
    """
    assert message.dialect is not None
    spec = message.dialect.spec
    protected = hasher.protect(card_pan(message))
    if split is None:
        split = _split(message)
    currency = text_of(message, 49) or "156"
    return dict(
        transaction_key=key,
        kind=kind,
        mti=message.mti,
        source=source,
        created_at=now.timestamp(),
        settlement_date=settlement_date,
        dialect=message.dialect.name,
        processing_code=text_of(message, 3),
        stan=text_of(message, 11),
        rrn=text_of(message, 37),
        transmission_time=text_of(message, 7),
        acquirer=text_of(message, 32),
        forwarder=text_of(message, 33),
        terminal=text_of(message, 41),
        merchant=text_of(message, 42),
        home_region=text_of(message, spec.home_region_field),
        treating_region=text_of(message, spec.treating_region_field),
        insurance_kind=text_of(message, spec.insurance_kind_field),
        amount=split,
        currency=currency if currency.isdigit() else "156",
        pan_masked=protected.masked,
        pan_hash=protected.hash,
    )


def declined(record: Draft, code: str, *, status: TransactionStatus | None = None) -> Draft:
    """The draft answered with ``code`` without forwarding (``DECLINED`` by default)."""
    return {
        **record,
        "status": status or TransactionStatus.DECLINED,
        "response_code": code,
        "responded_at": record["created_at"],
    }


def stored_form(message: Message) -> Message:
    """``message`` as the journal keeps it: no PIN block, track data, keys or MAC.

    Fields the dialect marks ``pin``, ``track``, ``key`` or ``mac`` go; a
    PIN block carried in the SM4 field (F63 usage ``SM``) goes; field 55
    keeps only the tags a reversal carries (:data:`REVERSAL_TAGS`).
    """
    dialect = message.dialect
    assert dialect is not None
    spec = dialect.spec
    drop = [n for n in message.fields if n in spec.fields and spec.fields[n].sensitive in _STRIPPED]
    pin = spec.pin
    if pin is not None and pin.sm4_field is not None:
        value = message.fields.get(pin.sm4_field)
        if isinstance(value, str) and value.startswith(pin.sm4_usage or "SM"):
            drop.append(pin.sm4_field)
    out = message.without(*drop) if drop else message
    chip = out.fields.get(55)
    if isinstance(chip, bytes) and chip:
        try:
            kept = [t for t in parse_tlv(chip) if t.tag in REVERSAL_TAGS]
        except DecodeError:
            kept = []
        out = out.with_fields({55: encode_tlv(kept)}) if kept else out.without(55)
    return out


def leg_record(
    message: Message,
    *,
    transaction_key: str,
    step: int,
    destination: str,
    kind: LegKind,
    state: LegState,
    now: datetime,
) -> LegRecord:
    """The journal record of an outbound leg as it is sent (its payload in :func:`stored_form`).

    Args:
        message: the leg, in the destination's dialect, as it will be sent.
        transaction_key: the transaction it belongs to.
        step: its place in the plan.
        destination: the link it goes to.
        kind: request or advice.
        state: ``SENT`` (a request) or ``ADVICE_OWED`` (an advice).
        now: the time it is journaled.
    """
    dialect = message.dialect
    assert dialect is not None
    amount = text_of(message, 4)
    return LegRecord(
        leg_id=f"{transaction_key}#{step}",
        transaction_key=transaction_key,
        step=step,
        kind=kind,
        destination=destination,
        mti=message.mti,
        stan=text_of(message, 11),
        leg_key=leg_key(message),
        amount=int(amount) if amount.isdigit() else 0,
        payload=dialect.encode(stored_form(message)),
        created_at=now.timestamp(),
        state=state,
    )


def leg_key(message: Message) -> str:
    """The peer's identity of a leg: its dialect's key fields as sent, joined by ``|``."""
    assert message.dialect is not None
    return "|".join(text_of(message, n) for n in message.dialect.spec.transaction_key)


def decode_leg(dialect: Dialect, leg: LegRecord) -> Message:
    """The message of a journaled leg (its stored form)."""
    return dialect.decode(leg.payload)
