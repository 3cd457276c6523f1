"""What the journal stores: transaction records, owed items, statistics, queries.

The journal is the gateway's memory (ARCHITECTURE.md principle 4): every
request, its response, and every reversal or advice owed to a peer, so a
restart resumes where the crash left off and clearing (DOMAIN.md §6) can
total and reconcile a settlement date from it. These are its value types:
frozen, slotted, keyword-only ``attrs`` classes, checked when built by the
gateway so that a batch of writes can only fail for the store's own reasons,
never because one caller passed a bad value.

Card data (principle 5): a record holds the PAN only masked
(``622588******4321``) and as a keyed hash for matching
(:class:`~sscard_gateway.store.PanHasher`); building a record with a
``pan_masked`` that looks like a clear PAN is refused. An owed item's
payload (the encoded message, which carries the PAN) is sealed before it is
stored and never shown by ``repr``.

Times are ``float`` epoch seconds passed in by the caller; nothing here reads
a clock. Money is :class:`~sscard_gateway.ids.AmountSplit` in integer fen.
"""

from __future__ import annotations

import enum
import math
import uuid
from collections.abc import Iterable
from typing import Any

import attrs

from ..errors import ValidationError
from ..ids import AmountSplit

__all__ = [
    "JournalStatistics",
    "OwedItem",
    "OwedKind",
    "OwedStatus",
    "TransactionQuery",
    "TransactionRecord",
    "TransactionStatus",
]

# A record that fails these checks is a programming error in the caller
# (the gateway validates messages before it journals them): it answers 96.
_CODE = "96"
_ZERO = AmountSplit(0, 0, 0, 0)
_HEX = frozenset("0123456789abcdef")


class TransactionStatus(enum.Enum):
    """Where a journaled transaction stands."""

    PENDING = "pending"
    """Journaled, forwarded or about to be; no final answer yet."""
    APPROVED = "approved"
    """Answered with an approval (``00`` or the dialect's equivalent)."""
    DECLINED = "declined"
    """Answered with a refusal."""
    TIMED_OUT = "timed_out"
    """No answer before the deadline; a reversal is owed."""
    REVERSED = "reversed"
    """Reversed (the reversal was acknowledged)."""
    FAILED = "failed"
    """Never reached the peer (no route, link down, rejected by the switch)."""


class OwedKind(enum.Enum):
    """What an owed item delivers."""

    REVERSAL = "reversal"
    ADVICE = "advice"


class OwedStatus(enum.Enum):
    """Where an owed item stands in the store-and-forward queue."""

    OWED = "owed"
    """Still to be delivered; returned by ``due_owed`` once its time comes."""
    DONE = "done"
    """Acknowledged by the peer."""
    EXPIRED = "expired"
    """Its expiry passed before an acknowledgement."""
    ABANDONED = "abandoned"
    """Given up (maximum attempts, or a response code that forbids retrying)."""


def _fail(instance: object, attribute: attrs.Attribute[Any], problem: str) -> ValidationError:
    return ValidationError(f"{type(instance).__name__}.{attribute.name}", problem, _CODE)


def _text(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    # ASCII only: every stored field comes from an ISO 8583 field or a config
    # name; anything else is a caller's bug, refused here rather than in the
    # middle of somebody else's batch.
    if not isinstance(value, str) or not value.isascii():
        raise _fail(instance, attribute, "must be an ASCII str")


def _required(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _text(instance, attribute, value)
    if not value:
        raise _fail(instance, attribute, "must not be empty")


def _optional_text(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _text(instance, attribute, value)


def _digits(*widths: int) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not (
            isinstance(value, str)
            and len(value) in widths
            and (not value or (value.isascii() and value.isdigit()))
        ):
            shown = " or ".join("empty" if w == 0 else f"{w} digits" for w in widths)
            raise _fail(instance, attribute, f"must be {shown}")

    return check


def _response_code(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not (
        isinstance(value, str) and len(value) == 2 and value.isascii() and value.isalnum()
    ):
        raise _fail(instance, attribute, "must be None or two ASCII letters or digits")


def _to_time(value: object) -> object:
    # int seconds are accepted and stored as float; other types are refused
    # by the validator below (bool is not a time).
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _to_optional_time(value: object) -> object:
    return None if value is None else _to_time(value)


def _time(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, float) or not math.isfinite(value) or value < 0:
        raise _fail(instance, attribute, "must be finite, non-negative epoch seconds")


def _optional_time(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _time(instance, attribute, value)


def _amount(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, AmountSplit):
        raise _fail(instance, attribute, "must be an AmountSplit")
    if value.total >= 10**15:
        raise _fail(instance, attribute, "is beyond 10^15 fen")


def _pan_masked(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _text(instance, attribute, value)
    assert isinstance(value, str)
    digits = sum(ch.isdigit() for ch in value)
    # A masked PAN keeps at most first 8 + last 4 digits and hides the rest.
    if digits > 12 or (value and digits == len(value)):
        raise _fail(instance, attribute, "looks like a clear PAN; use PanHasher.protect()")


def _pan_hash(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not (value == "" or (len(value) == 64 and set(value) <= _HEX)):
        raise _fail(instance, attribute, "must be empty or 64 lower-case hex digits")


def _count(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
        raise _fail(instance, attribute, "must be an int from 0 to 2^31 - 1")


def _enum(kind: type[enum.Enum]) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kind):
            raise _fail(instance, attribute, f"must be a {kind.__name__}")

    return check


def _payload_repr(value: bytes) -> str:
    return f"<{len(value)} bytes>"


def _same_as_created(instance: Any) -> float:
    return float(instance.created_at)


def _new_id() -> str:
    return uuid.uuid4().hex


@attrs.frozen(kw_only=True)
class TransactionRecord:
    """One transaction as journaled: the request's identity, money, outcome.

    Built by the gateway from the inbound request (before it is forwarded)
    and completed by :class:`~sscard_gateway.store.UpdateTransaction` when
    the outbound leg is sent and when the response arrives. Text fields
    absent from the message are ``""``; fields filled in later are ``None``
    until then.

    Attributes:
        transaction_key: the dialect's transaction key values joined
            (CUPS: F7 + F11 + F32 + F33, DOMAIN.md §2); unique in the
            journal, so it is the record's identity and duplicate check.
        kind: the business kind (``"medical_settlement"``,
            ``"benefit_payout"``, ``"purchase"``, ``"reversal"``...).
        mti: the request's message type.
        source: the link the request came from.
        created_at: when it was journaled (epoch seconds).
        settlement_date: ``YYYYMMDD``, the settlement date it belongs to.
        updated_at: the last change (defaults to ``created_at``).
        destination: the link it was routed to (``""`` until routed).
        dialect: the source dialect's name.
        processing_code: field 3.
        stan: field 11; ``rrn``: field 37; ``transmission_time``: field 7.
        acquirer: field 32; ``forwarder``: field 33.
        terminal: field 41; ``merchant``: field 42.
        authorization_code: field 38 of the response.
        home_region: the card's home region (6 digits or ``""``).
        treating_region: the region where the card was used.
        insurance_kind: the insurance kind code (medical, work injury...).
        amount: the total and its split into fund, personal account and cash.
        currency: ISO 4217 numeric code (``"156"``).
        pan_masked: the PAN masked for display; never the clear PAN.
        pan_hash: the keyed hash of the PAN (64 hex digits) for matching.
        status: a :class:`TransactionStatus`.
        response_code: field 39 of the answer, ``None`` until answered.
        responded_at: when the answer arrived.
        upstream_stan, upstream_rrn, upstream_key: the outbound leg's STAN,
            RRN and transaction key (they differ from the inbound leg's).
        original_key: for reversals, voids and refunds, the original's key.

    Raises:
        ValidationError: response code ``96``, naming the field, when a
            value has the wrong type or shape (a caller's bug).
    """

    transaction_key: str = attrs.field(validator=_required)
    kind: str = attrs.field(validator=_required)
    mti: str = attrs.field(validator=_digits(4))
    source: str = attrs.field(validator=_text)
    created_at: float = attrs.field(converter=_to_time, validator=_time)
    settlement_date: str = attrs.field(validator=_digits(8))
    updated_at: float = attrs.field(
        default=attrs.Factory(_same_as_created, takes_self=True),
        converter=_to_time,
        validator=_time,
    )
    destination: str = attrs.field(default="", validator=_text)
    dialect: str = attrs.field(default="", validator=_text)
    processing_code: str = attrs.field(default="", validator=_digits(0, 6))
    stan: str = attrs.field(default="", validator=_text)
    rrn: str = attrs.field(default="", validator=_text)
    transmission_time: str = attrs.field(default="", validator=_digits(0, 10))
    acquirer: str = attrs.field(default="", validator=_text)
    forwarder: str = attrs.field(default="", validator=_text)
    terminal: str = attrs.field(default="", validator=_text)
    merchant: str = attrs.field(default="", validator=_text)
    authorization_code: str = attrs.field(default="", validator=_text)
    home_region: str = attrs.field(default="", validator=_digits(0, 6))
    treating_region: str = attrs.field(default="", validator=_digits(0, 6))
    insurance_kind: str = attrs.field(default="", validator=_text)
    amount: AmountSplit = attrs.field(default=_ZERO, validator=_amount)
    currency: str = attrs.field(default="156", validator=_digits(3))
    pan_masked: str = attrs.field(default="", validator=_pan_masked)
    pan_hash: str = attrs.field(default="", validator=_pan_hash)
    status: TransactionStatus = attrs.field(
        default=TransactionStatus.PENDING, validator=_enum(TransactionStatus)
    )
    response_code: str | None = attrs.field(default=None, validator=_response_code)
    responded_at: float | None = attrs.field(
        default=None, converter=_to_optional_time, validator=_optional_time
    )
    upstream_stan: str | None = attrs.field(default=None, validator=_optional_text)
    upstream_rrn: str | None = attrs.field(default=None, validator=_optional_text)
    upstream_key: str | None = attrs.field(default=None, validator=_optional_text)
    original_key: str | None = attrs.field(default=None, validator=_optional_text)


@attrs.frozen(kw_only=True)
class OwedItem:
    """A reversal or advice owed to a peer: the store-and-forward queue's item.

    Journaled as owed before the first attempt and kept (never deleted) when
    it ends, with its final status. The journal stores the item and returns
    the due ones in order; the policy (backoff, maximum attempts, expiry,
    which response codes mean done) is the gateway's.

    Attributes:
        id: unique id; a random UUID (32 hex digits) unless given, so an
            item is known to its caller before it is committed.
        kind: :class:`OwedKind` (reversal or advice).
        destination: the link it must be delivered on.
        transaction_key: the key of the transaction it belongs to.
        payload: the encoded message to send. It carries the clear PAN, so
            the journal seals it (AES-256-GCM) before storing it; ``repr``
            shows only its length.
        created_at: when it became owed (epoch seconds).
        updated_at: the last change (defaults to ``created_at``).
        next_attempt_at: when it is next due (defaults to ``created_at``:
            due at once).
        expires_at: after this it should not be sent; ``None`` for never.
        attempts: attempts made so far.
        status: :class:`OwedStatus`.
        last_response_code: field 39 of the last answer, if any.

    Raises:
        ValidationError: response code ``96``, naming the field.
    """

    kind: OwedKind = attrs.field(validator=_enum(OwedKind))
    destination: str = attrs.field(validator=_required)
    transaction_key: str = attrs.field(validator=_required)
    payload: bytes = attrs.field(repr=_payload_repr, validator=attrs.validators.instance_of(bytes))
    created_at: float = attrs.field(converter=_to_time, validator=_time)
    id: str = attrs.field(factory=_new_id, validator=_required)
    updated_at: float = attrs.field(
        default=attrs.Factory(_same_as_created, takes_self=True),
        converter=_to_time,
        validator=_time,
    )
    next_attempt_at: float = attrs.field(
        default=attrs.Factory(_same_as_created, takes_self=True),
        converter=_to_time,
        validator=_time,
    )
    expires_at: float | None = attrs.field(
        default=None, converter=_to_optional_time, validator=_optional_time
    )
    attempts: int = attrs.field(default=0, validator=_count)
    status: OwedStatus = attrs.field(default=OwedStatus.OWED, validator=_enum(OwedStatus))
    last_response_code: str | None = attrs.field(default=None, validator=_response_code)


@attrs.frozen(kw_only=True)
class JournalStatistics:
    """A snapshot of the journal for metrics and tests (STYLE.md 10).

    Attributes:
        transactions: transactions journaled.
        pending: of which still pending (no final answer).
        owed: owed items still to deliver.
        due: of which due at ``now`` (``next_attempt_at <= now``).
        oldest_owed_age: seconds since the oldest owed item became owed,
            ``0.0`` when nothing is owed.
        done: owed items delivered and acknowledged.
        expired: owed items that expired undelivered.
        abandoned: owed items given up.
    """

    transactions: int
    pending: int
    owed: int
    due: int
    oldest_owed_age: float
    done: int
    expired: int
    abandoned: int


def _to_statuses(value: Iterable[TransactionStatus] | None) -> frozenset[TransactionStatus] | None:
    return None if value is None else frozenset(value)


def _to_texts(value: Iterable[str] | None) -> frozenset[str] | None:
    if value is None or isinstance(value, str):  # a bare str is one kind, not its letters
        return None if value is None else frozenset([value])
    return frozenset(value)


@attrs.frozen(kw_only=True)
class TransactionQuery:
    """Which transactions :meth:`Journal.transactions` streams; ``None`` matches all.

    Every condition given must hold. Clearing reads one settlement date
    (``TransactionQuery(settlement_date="20241126")``); a restarted gateway
    reads what was left pending
    (``TransactionQuery(statuses={TransactionStatus.PENDING})``).

    Attributes:
        settlement_date: ``YYYYMMDD``.
        statuses: any of these statuses.
        kinds: any of these kinds.
        home_region, treating_region: region codes.
        source, destination: link names.
        created_from: created at or after (epoch seconds).
        created_before: created strictly before.
    """

    settlement_date: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(_digits(8))
    )
    statuses: frozenset[TransactionStatus] | None = attrs.field(
        default=None, converter=_to_statuses
    )
    kinds: frozenset[str] | None = attrs.field(default=None, converter=_to_texts)
    home_region: str | None = attrs.field(default=None, validator=_optional_text)
    treating_region: str | None = attrs.field(default=None, validator=_optional_text)
    source: str | None = attrs.field(default=None, validator=_optional_text)
    destination: str | None = attrs.field(default=None, validator=_optional_text)
    created_from: float | None = attrs.field(
        default=None, converter=_to_optional_time, validator=_optional_time
    )
    created_before: float | None = attrs.field(
        default=None, converter=_to_optional_time, validator=_optional_time
    )

    def matches(self, record: TransactionRecord) -> bool:
        """Tell whether ``record`` meets every condition (for in-memory journals).

        Args:
            record: the record to test.

        Returns:
            ``True`` when it matches.
        """
        return (
            (self.settlement_date is None or record.settlement_date == self.settlement_date)
            and (self.statuses is None or record.status in self.statuses)
            and (self.kinds is None or record.kind in self.kinds)
            and (self.home_region is None or record.home_region == self.home_region)
            and (self.treating_region is None or record.treating_region == self.treating_region)
            and (self.source is None or record.source == self.source)
            and (self.destination is None or record.destination == self.destination)
            and (self.created_from is None or record.created_at >= self.created_from)
            and (self.created_before is None or record.created_at < self.created_before)
        )
