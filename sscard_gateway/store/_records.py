"""What the journal stores: transaction records, owed items, statistics, queries.

The journal is the gateway's memory (docs/architecture.md principle 4): every
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
from collections.abc import Iterable

import attrs

from ..ids import AmountSplit
from ._checks import (
    _amount,
    _count,
    _count_fen,
    _digits,
    _enum,
    _new_id,
    _optional_text,
    _optional_time,
    _pan_hash,
    _pan_masked,
    _payload_repr,
    _required,
    _response_code,
    _same_as_created,
    _text,
    _time,
    _to_optional_time,
    _to_time,
)
from ._states import LegKind, LegState, OwedStatus, TransactionStatus

__all__ = [
    "JournalStatistics",
    "LegRecord",
    "OwedItem",
    "OwedKind",
    "OwedStatus",
    "TransactionQuery",
    "TransactionRecord",
    "TransactionStatus",
]

_ZERO = AmountSplit(0, 0, 0, 0)


class OwedKind(enum.Enum):
    """What an owed item delivers."""

    REVERSAL = "reversal"
    ADVICE = "advice"


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
        attempts: attempts made so far, counted only while the destination
            link was signed on.
        status: :class:`OwedStatus`.
        last_response_code: field 39 of the last answer, if any.
        leg_id: the leg it compensates (a reversal) or delivers (an advice).
        stan: the STAN the payload carries when the gateway gave it one
            (a reversal's own F11), so a restart continues the sequence.
        repeat: send it with the retransmission MTI (``xxx1``) even on the
            next attempt: a restart found it owed, and its first attempt may
            have reached the peer.
        reason: why it is in the exception queue (``None`` otherwise).
        resolution: who resolved it and why (operator; ``None`` otherwise).

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
    leg_id: str | None = attrs.field(default=None, validator=_optional_text)
    stan: str = attrs.field(default="", validator=_digits(0, 6))
    repeat: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    reason: str | None = attrs.field(default=None, validator=_optional_text)
    resolution: str | None = attrs.field(default=None, validator=_optional_text)


@attrs.frozen(kw_only=True)
class LegRecord:
    """One outbound leg of a transaction, journaled as it is sent.

    A leg is written before its first byte leaves, with the exact message
    (PIN block and track data stripped) sealed as its payload: every
    compensation — a reversal, an advice repeat — is built from it, never
    from the inbound request, so the peer can match it to what it received.

    Attributes:
        leg_id: ``<transaction key>#<step>``; unique.
        transaction_key: the transaction it belongs to.
        step: its place in the transaction's plan (1, 2...); compensation
            runs in reverse order of steps.
        kind: :class:`LegKind` (a request or an advice).
        destination: the link it was sent on.
        mti: its message type as sent.
        stan: its F11 (the gateway's own sequence).
        leg_key: ``F7|F11|F32|F33`` as sent: the peer's transaction identity.
        amount: its F4 in fen (``0`` when it carries none).
        payload: the encoded message as sent, PIN and track data stripped;
            sealed by the journal, shown by ``repr`` only as its length.
        created_at: when it was journaled (epoch seconds).
        updated_at: the last change (defaults to ``created_at``).
        state: :class:`LegState`.
        response_code: field 39 of its answer, ``None`` until answered.

    Raises:
        ValidationError: response code ``96``, naming the field.
    """

    leg_id: str = attrs.field(validator=_required)
    transaction_key: str = attrs.field(validator=_required)
    step: int = attrs.field(validator=_count)
    kind: LegKind = attrs.field(validator=_enum(LegKind))
    destination: str = attrs.field(validator=_required)
    mti: str = attrs.field(validator=_digits(4))
    stan: str = attrs.field(validator=_digits(0, 6))
    leg_key: str = attrs.field(validator=_text)
    amount: int = attrs.field(validator=_count_fen)
    payload: bytes = attrs.field(repr=_payload_repr, validator=attrs.validators.instance_of(bytes))
    created_at: float = attrs.field(converter=_to_time, validator=_time)
    updated_at: float = attrs.field(
        default=attrs.Factory(_same_as_created, takes_self=True),
        converter=_to_time,
        validator=_time,
    )
    state: LegState = attrs.field(default=LegState.SENT, validator=_enum(LegState))
    response_code: str | None = attrs.field(default=None, validator=_response_code)


@attrs.frozen(kw_only=True)
class JournalStatistics:
    """A snapshot of the journal for metrics and tests.

    Attributes:
        transactions: transactions journaled.
        pending: of which still pending (no final answer).
        owed: owed items still to deliver.
        due: of which due at ``now`` (``next_attempt_at <= now``).
        oldest_owed_age: seconds since the oldest owed item became owed,
            ``0.0`` when nothing is owed.
        done: owed items delivered and acknowledged.
        exceptions: owed items in the exception queue (an operator must act).
        resolved: owed items an operator resolved.
        legs: legs journaled, by state (every state present, ``0`` when none).
    """

    transactions: int
    pending: int
    owed: int
    due: int
    oldest_owed_age: float
    done: int
    exceptions: int
    resolved: int
    legs: dict[LegState, int] = attrs.field(factory=dict)


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
