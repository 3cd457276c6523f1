"""The journal's operations and their results: writes as values.

See :mod:`._journal` for why writes are values applied in groups, and
:mod:`._states` for the transition tables the compare-and-set updates
follow. Every operation checks its values when it is built, so a bad
value fails in the caller, never in somebody else's batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeAlias, TypeVar

import attrs

from ..errors import ValidationError
from ._checks import (
    _count,
    _digits,
    _enum,
    _optional_text,
    _optional_time,
    _required,
    _response_code,
    _time,
    _to_optional_time,
    _to_time,
)
from ._records import LegRecord, OwedItem, TransactionRecord
from ._states import (
    LEG_TRANSITIONS,
    OWED_TRANSITIONS,
    TRANSACTION_TRANSITIONS,
    LegState,
    OwedStatus,
    TransactionStatus,
)

__all__ = [
    "OP_TYPES",
    "STOPPERS",
    "AddOwed",
    "Duplicate",
    "GroupResult",
    "InsertLeg",
    "InsertTransaction",
    "NotFound",
    "Op",
    "OpResult",
    "Refused",
    "SetSetting",
    "Setting",
    "UpdateLeg",
    "UpdateOwed",
    "UpdateTransaction",
    "check_ops",
    "flatten",
]

T = TypeVar("T", TransactionRecord, OwedItem, LegRecord)
S = TypeVar("S", TransactionStatus, LegState, OwedStatus)

_optional_status = attrs.validators.optional(_enum(TransactionStatus))
_optional_leg_state = attrs.validators.optional(_enum(LegState))
_optional_owed_status = attrs.validators.optional(_enum(OwedStatus))
_optional_count = attrs.validators.optional(_count)


def _to_states(
    value: Iterable[Any] | TransactionStatus | LegState | OwedStatus | None,
) -> frozenset[Any] | None:
    if value is None:
        return None
    if isinstance(value, TransactionStatus | LegState | OwedStatus):
        return frozenset([value])
    return frozenset(value)


def _check_move(
    op: object, table: Any, expect: frozenset[S] | None, new: S | None, what: str
) -> None:
    """Refuse, when it is built, an update whose state change the table does not allow."""
    name = type(op).__name__
    if expect is not None and not expect:
        raise ValidationError(f"{name}.expect", "must name at least one state", "96")
    if new is None:
        return
    if expect is None:
        raise ValidationError(
            f"{name}.expect", f"a change of {what} must name the states it expects", "96"
        )
    for old in expect:
        if new not in table[old]:
            raise ValidationError(
                f"{name}.{what}",
                f"{old.value} -> {new.value} is not in the transition table",
                "96",
            )


@attrs.frozen
class InsertTransaction:
    """Journal a new transaction, unless its key is already journaled.

    Results: the stored :class:`TransactionRecord`, or
    ``Duplicate[TransactionRecord]`` with the existing one (unchanged).
    """

    record: TransactionRecord = attrs.field(
        validator=attrs.validators.instance_of(TransactionRecord)
    )


@attrs.frozen(kw_only=True)
class UpdateTransaction:
    """Change a journaled transaction; ``None`` leaves a field as it is.

    Results: the :class:`TransactionRecord` after the change,
    ``Refused[TransactionRecord]`` when its status is not in ``expect``, or
    :class:`NotFound`.

    Attributes:
        transaction_key: which transaction.
        updated_at: the time of the change (epoch seconds).
        expect: the statuses it must have for the change to apply (required
            when ``status`` changes; without a status change it is a guard:
            the group stops unless the transaction is in one of them).
        status, response_code, responded_at: the answer.
        destination: the link of its bank leg (or of its only leg).
        settlement_date: the settlement date, when the switch assigns it
            (CUPS returns it in field 15).
        rrn, authorization_code: fields 37 and 38 of the answer.
        upstream_stan, upstream_rrn, upstream_key: the bank leg's ids.

    Raises:
        ValidationError: a value is malformed, or the status change is not
            in the transition table from every expected status (``96``).
    """

    transaction_key: str = attrs.field(validator=_required)
    updated_at: float = attrs.field(converter=_to_time, validator=_time)
    expect: frozenset[TransactionStatus] | None = attrs.field(default=None, converter=_to_states)
    status: TransactionStatus | None = attrs.field(default=None, validator=_optional_status)
    response_code: str | None = attrs.field(default=None, validator=_response_code)
    responded_at: float | None = attrs.field(
        default=None, converter=_to_optional_time, validator=_optional_time
    )
    destination: str | None = attrs.field(default=None, validator=_optional_text)
    settlement_date: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(_digits(8))
    )
    rrn: str | None = attrs.field(default=None, validator=_optional_text)
    authorization_code: str | None = attrs.field(default=None, validator=_optional_text)
    upstream_stan: str | None = attrs.field(default=None, validator=_optional_text)
    upstream_rrn: str | None = attrs.field(default=None, validator=_optional_text)
    upstream_key: str | None = attrs.field(default=None, validator=_optional_text)

    def __attrs_post_init__(self) -> None:
        _check_move(self, TRANSACTION_TRANSITIONS, self.expect, self.status, "status")


@attrs.frozen
class InsertLeg:
    """Journal an outbound leg as it is about to be sent (or owed, for an advice).

    Results: the stored :class:`LegRecord`, or ``Duplicate[LegRecord]``
    when its id exists.
    """

    leg: LegRecord = attrs.field(validator=attrs.validators.instance_of(LegRecord))


@attrs.frozen(kw_only=True)
class UpdateLeg:
    """Move a leg to another state, compare-and-set.

    Results: the :class:`LegRecord` after the change, ``Refused[LegRecord]``
    when its state is not in ``expect``, or :class:`NotFound`.

    Attributes:
        leg_id: which leg.
        updated_at: the time of the change.
        expect: the states it must be in.
        state: the new state (``None``: only the response code changes).
        response_code: field 39 of its answer.

    Raises:
        ValidationError: a move the transition table does not allow (``96``).
    """

    leg_id: str = attrs.field(validator=_required)
    updated_at: float = attrs.field(converter=_to_time, validator=_time)
    expect: frozenset[LegState] = attrs.field(converter=_to_states)
    state: LegState | None = attrs.field(default=None, validator=_optional_leg_state)
    response_code: str | None = attrs.field(default=None, validator=_response_code)

    def __attrs_post_init__(self) -> None:
        _check_move(self, LEG_TRANSITIONS, self.expect, self.state, "state")


@attrs.frozen
class AddOwed:
    """Journal a reversal or advice as owed (before its first attempt).

    Results: the stored :class:`OwedItem`, or ``Duplicate[OwedItem]`` when
    its id exists.
    """

    item: OwedItem = attrs.field(validator=attrs.validators.instance_of(OwedItem))


@attrs.frozen(kw_only=True)
class UpdateOwed:
    """Record an attempt or the end of an owed item; ``None`` leaves a field.

    Results: the :class:`OwedItem` after the change, ``Refused[OwedItem]``
    when its status is not in ``expect``, or :class:`NotFound`.

    Attributes:
        id: which item.
        updated_at: the time of the change.
        expect: the statuses it must have (required when ``status`` changes).
        attempts: the attempts made so far (absolute, not an increment).
        next_attempt_at: when it is next due.
        status: the new status.
        last_response_code: field 39 of the last answer.
        repeat: send it with the retransmission MTI from now on.
        reason: why it went to the exception queue.
        resolution: who resolved it and why.
        expires_at: a new expiry (an operator's retry of an expired item).

    Raises:
        ValidationError: a move the transition table does not allow (``96``).
    """

    id: str = attrs.field(validator=_required)
    updated_at: float = attrs.field(converter=_to_time, validator=_time)
    expect: frozenset[OwedStatus] | None = attrs.field(default=None, converter=_to_states)
    attempts: int | None = attrs.field(default=None, validator=_optional_count)
    next_attempt_at: float | None = attrs.field(
        default=None, converter=_to_optional_time, validator=_optional_time
    )
    status: OwedStatus | None = attrs.field(default=None, validator=_optional_owed_status)
    last_response_code: str | None = attrs.field(default=None, validator=_response_code)
    repeat: bool | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(bool))
    )
    reason: str | None = attrs.field(default=None, validator=_optional_text)
    resolution: str | None = attrs.field(default=None, validator=_optional_text)
    expires_at: float | None = attrs.field(
        default=None, converter=_to_optional_time, validator=_optional_time
    )

    def __attrs_post_init__(self) -> None:
        _check_move(self, OWED_TRANSITIONS, self.expect, self.status, "status")


_SETTING_NAME = attrs.validators.matches_re(r"[a-z][a-z0-9_.-]{0,63}")


@attrs.frozen
class SetSetting:
    """Keep a small named value the gateway needs after a restart.

    For state that is not a transaction: the cutover boundaries the switch
    moved (``cutover.moved``). The value replaces the name's last one.

    Results: the :class:`Setting` stored.

    Attributes:
        name: lower-case letters, digits, ``_ . -`` (at most 64).
        value: any text (JSON, by convention).
    """

    name: str = attrs.field(validator=_SETTING_NAME)
    value: str = attrs.field(validator=attrs.validators.instance_of(str))


@attrs.frozen
class Setting:
    """A named value kept by :class:`SetSetting`.

    Attributes:
        name: its name.
        value: its value.
    """

    name: str
    value: str


@attrs.frozen
class Duplicate(Generic[T]):
    """The result of an insert whose key (or id) was already journaled.

    Attributes:
        existing: what the journal already holds under that key, unchanged.
    """

    existing: T


@attrs.frozen
class Refused(Generic[T]):
    """The result of a compare-and-set update whose expected state was not the stored one.

    Nothing was changed: the transition it asked for would have followed a
    state it did not expect (a late approval after a reversal, say).

    Attributes:
        current: the record as the journal holds it.
    """

    current: T


@attrs.frozen
class NotFound:
    """The result of an update whose key (or id) is not in the journal.

    Attributes:
        key: the transaction key, leg id or owed item id that was looked for.
    """

    key: str


Op: TypeAlias = (
    InsertTransaction
    | UpdateTransaction
    | InsertLeg
    | UpdateLeg
    | AddOwed
    | UpdateOwed
    | SetSetting
)
"""One write: a group of them is what :meth:`Journal.apply_groups` applies whole."""

OP_TYPES = (
    InsertTransaction,
    UpdateTransaction,
    InsertLeg,
    UpdateLeg,
    AddOwed,
    UpdateOwed,
    SetSetting,
)

OpResult: TypeAlias = (
    TransactionRecord
    | LegRecord
    | OwedItem
    | Setting
    | Duplicate[TransactionRecord]
    | Duplicate[LegRecord]
    | Duplicate[OwedItem]
    | Refused[TransactionRecord]
    | Refused[LegRecord]
    | Refused[OwedItem]
    | NotFound
)
"""The outcome of one :data:`Op`."""

STOPPERS = (Duplicate, Refused, NotFound)
"""The results that stop a group (nothing of it is stored)."""


@attrs.frozen
class GroupResult:
    """The outcome of one group of operations.

    Attributes:
        results: one result per operation when the group was applied;
            empty when it was not.
        stopped_at: the index of the operation that stopped the group
            (``None`` when it was applied).
        stopper: that operation's result (``Duplicate``, ``Refused`` or
            ``NotFound``), ``None`` when applied.
    """

    results: tuple[OpResult, ...] = ()
    stopped_at: int | None = None
    stopper: Duplicate[Any] | Refused[Any] | NotFound | None = None

    @property
    def applied(self) -> bool:
        """Whether every operation of the group was stored."""
        return self.stopped_at is None


def check_ops(groups: Sequence[Sequence[Op]]) -> list[list[Op]]:
    """The groups as lists, every element checked to be an operation.

    Raises:
        TypeError: an element is not an operation.
    """
    out = []
    for group in groups:
        ops = list(group)
        for op in ops:
            if not isinstance(op, OP_TYPES):
                raise TypeError(f"not a journal operation: {type(op).__name__}")
        out.append(ops)
    return out


def flatten(results: Sequence[GroupResult]) -> list[OpResult]:
    """The results of one-operation groups as one list (what :meth:`Journal.apply` returns)."""
    return [r.results[0] if r.applied else r.stopper for r in results]  # type: ignore[misc]
