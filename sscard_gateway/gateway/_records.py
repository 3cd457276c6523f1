"""Journal records from messages: what the gateway keeps of each transaction.

A record holds what clearing and reconciliation need (DOMAIN.md §1, §6):
identifiers, both region codes, the insurance kind, the amount split in
fen, the masked PAN and its keyed hash — never the clear PAN.

The transaction key is the dialect's ``[keys] transaction`` fields, prefixed
with the year (F7 carries none, so a key would otherwise come back a year
later as a false duplicate) and the source link's name (two centers may
use the same STAN at the same second).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..ids import AmountSplit
from ..iso import Dialect, Message
from ..iso.business import amount_split
from ..routing import card_pan
from ..store import PanHasher, TransactionRecord, TransactionStatus

__all__ = [
    "Draft",
    "declined",
    "kind_of",
    "leg_of",
    "new_record",
    "text_of",
    "transaction_key",
    "upstream_key",
    "with_original",
    "with_upstream",
]

Draft = dict[str, Any]
"""A record's fields, built up while a request is handled; the journal's
:class:`~sscard_gateway.store.TransactionRecord` (and its checks) is made
once, when the draft is inserted."""


def transaction_key(message: Message, source: str, year: int) -> str:
    """The duplicate-detection key of ``message`` from ``source``."""
    assert message.dialect is not None
    parts = [str(message.fields.get(n, "")) for n in message.dialect.spec.transaction_key]
    return f"{source}:{year:04d}:" + ":".join(parts)


def upstream_key(message: Message) -> str:
    """F7|F11|F32|F33 of an outbound leg, as journaled (DOMAIN.md §2)."""
    return "|".join(str(message.fields.get(n, "")) for n in (7, 11, 32, 33))


def kind_of(message: Message) -> str:
    """The transaction kind, by the dialect's processing code names.

    Reversals are ``reversal``; an unknown processing code is ``other``.
    """
    if message.mti[:3] == "042" or message.mti[:3] == "040":
        return "reversal"
    assert message.dialect is not None
    code = message.fields.get(3)
    names = [n for n, c in message.dialect.spec.processing_codes.items() if c == code]
    if message.mti.startswith("022") and "refund" in names:
        return "refund"
    if len(names) > 1 and "refund" in names:
        names.remove("refund")
    return names[0] if names else "other"


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
    home_region: str = "",
    treating_region: str = "",
    settlement_date: str | None = None,
    split: AmountSplit | None = None,
) -> Draft:
    """The record of a request as received, as a draft.

    Raises:
        ValidationError: the amount split does not add up (``13``).
    """
    protected = hasher.protect(card_pan(message))
    if split is None:
        split = _split(message)
    text = message.fields
    insurance = text.get(60) if message.dialect and message.dialect.name == "center" else ""
    currency = str(text.get(49, "156"))
    return dict(
        transaction_key=key,
        kind=kind,
        mti=message.mti,
        source=source,
        created_at=now.timestamp(),
        settlement_date=settlement_date or now.strftime("%Y%m%d"),
        dialect=message.dialect.name if message.dialect else "",
        processing_code=str(text.get(3, "")),
        stan=str(text.get(11, "")),
        rrn=str(text.get(37, "")),
        transmission_time=str(text.get(7, "")),
        acquirer=str(text.get(32, "")),
        forwarder=str(text.get(33, "")),
        terminal=str(text.get(41, "")),
        merchant=str(text.get(42, "")),
        home_region=home_region or str(text.get(58, "")),
        treating_region=treating_region or str(text.get(59, "")),
        insurance_kind=str(insurance or ""),
        amount=split,
        currency=currency if currency.isdigit() else "156",
        pan_masked=protected.masked,
        pan_hash=protected.hash,
    )


def text_of(message: Message, number: int) -> str | None:
    """Field ``number`` of ``message`` when it is text, else ``None``."""
    value = message.fields.get(number)
    return value if isinstance(value, str) else None


def declined(record: Draft, code: str) -> Draft:
    """The draft answered with ``code`` without forwarding."""
    return {
        **record,
        "status": TransactionStatus.DECLINED,
        "response_code": code,
        "responded_at": record["created_at"],
    }


def with_original(record: Draft, original_key: str) -> Draft:
    """The draft of a reversal, pointing at the transaction it reverses."""
    return {**record, "original_key": original_key}


def with_upstream(record: Draft, outbound: Message, destination: str) -> Draft:
    """The draft with the outbound leg's identifiers (STAN, RRN, F7|F11|F32|F33)."""
    return {
        **record,
        "destination": destination,
        "upstream_stan": text_of(outbound, 11),
        "upstream_rrn": text_of(outbound, 37),
        "upstream_key": upstream_key(outbound),
    }


def leg_of(dialect: Dialect, record: TransactionRecord, *, pan: str | None) -> Message:
    """The identifying fields of an outbound leg, rebuilt from its journal record.

    The journal keeps no clear PAN; the reversing center's message carries it.
    """
    f7_, stan, acquirer, forwarder = (record.upstream_key or "|||").split("|")
    fields: dict[int, str | bytes] = {
        7: f7_,
        11: stan,
        32: acquirer,
        33: forwarder,
        3: record.processing_code or "000000",
        4: f"{record.amount.cash:012d}",
    }
    if record.upstream_rrn:
        fields[37] = record.upstream_rrn
    if pan:
        fields[2] = pan
    message: Message = dialect.message("0200", fields, header=dialect.default_header())
    return message
