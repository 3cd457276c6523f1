"""The ``Journal`` interface: operations applied in one transaction, and queries.

Why operations rather than methods that write: the gateway journals under
load, and a database commit (an fsync) costs far more than the rows it
writes. Writes are therefore values (:data:`Op`) that a group-commit writer
(:class:`~sscard_gateway.store.BatchingJournal`) collects from many tasks
and hands to :meth:`Journal.apply` as one batch, committed in one
transaction: all of it is durable when ``apply`` returns, or none of it.

Outcomes a caller must act on are results, not exceptions, so one caller's
duplicate never aborts another caller's write in the same batch:

* :class:`InsertTransaction` returns the stored record, or
  :class:`Duplicate` holding the record already journaled under that
  transaction key (in an earlier batch, across restarts, or earlier in the
  same batch). The check and the insert are one atomic step: this is the
  gateway's duplicate detection (answer ``94``, or repeat the first answer).
* :class:`UpdateTransaction` / :class:`UpdateOwed` return the record after
  the change, or :class:`NotFound`.
* :class:`AddOwed` returns the stored item, or :class:`Duplicate` when an
  item with that id exists.
* :class:`SetSetting` returns the :class:`Setting` kept (state that is not
  a transaction, such as the cutover boundaries the switch moved).

``apply`` raises only for the store's own failures
(:class:`~sscard_gateway.errors.JournalError`): every operation's values are
checked when the operation is built, so a bad value fails in the caller.

The interface is synchronous and blocking: implementations are called from
a worker thread (``trio.to_thread``). Nothing in it is SQLite-specific; a
PostgreSQL journal implements the same methods.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Generic, Protocol, TypeAlias, TypeVar

import attrs

from ._records import (
    JournalStatistics,
    OwedItem,
    OwedStatus,
    TransactionQuery,
    TransactionRecord,
    TransactionStatus,
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
from ._sealing import PanHasher

__all__ = [
    "AddOwed",
    "Duplicate",
    "InsertTransaction",
    "Journal",
    "NotFound",
    "Op",
    "OpResult",
    "SetSetting",
    "Setting",
    "UpdateOwed",
    "UpdateTransaction",
]

T = TypeVar("T", TransactionRecord, OwedItem)

_optional_status = attrs.validators.optional(_enum(TransactionStatus))
_optional_owed_status = attrs.validators.optional(_enum(OwedStatus))
_optional_count = attrs.validators.optional(_count)


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

    Results: the :class:`TransactionRecord` after the change, or
    :class:`NotFound`.

    Attributes:
        transaction_key: which transaction.
        updated_at: the time of the change (epoch seconds).
        status, response_code, responded_at: the answer.
        destination: the link it was routed to.
        settlement_date: the settlement date, when the switch assigns it
            (CUPS returns it in field 15).
        rrn, authorization_code: fields 37 and 38 of the answer.
        upstream_stan, upstream_rrn, upstream_key: the outbound leg's ids.
    """

    transaction_key: str = attrs.field(validator=_required)
    updated_at: float = attrs.field(converter=_to_time, validator=_time)
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

    Results: the :class:`OwedItem` after the change, or :class:`NotFound`.

    Attributes:
        id: which item.
        updated_at: the time of the change.
        attempts: the attempts made so far (absolute, not an increment).
        next_attempt_at: when it is next due.
        status: the new status (``DONE`` when acknowledged...).
        last_response_code: field 39 of the last answer.
    """

    id: str = attrs.field(validator=_required)
    updated_at: float = attrs.field(converter=_to_time, validator=_time)
    attempts: int | None = attrs.field(default=None, validator=_optional_count)
    next_attempt_at: float | None = attrs.field(
        default=None, converter=_to_optional_time, validator=_optional_time
    )
    status: OwedStatus | None = attrs.field(default=None, validator=_optional_owed_status)
    last_response_code: str | None = attrs.field(default=None, validator=_response_code)


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
class NotFound:
    """The result of an update whose key (or id) is not in the journal.

    Attributes:
        key: the transaction key or owed item id that was looked for.
    """

    key: str


Op: TypeAlias = InsertTransaction | UpdateTransaction | AddOwed | UpdateOwed | SetSetting
"""One write: what :meth:`Journal.apply` takes a sequence of."""

OpResult: TypeAlias = (
    TransactionRecord
    | OwedItem
    | Duplicate[TransactionRecord]
    | Duplicate[OwedItem]
    | NotFound
    | Setting
)
"""The outcome of one :data:`Op`, in the same position as the op."""


class Journal(Protocol):
    """Where the gateway journals transactions and owed items.

    Calls block (disk or network): call them from a worker thread, or
    through :class:`~sscard_gateway.store.BatchingJournal`, which does.
    Implementations are safe to call from several threads.
    """

    @property
    def pan_hasher(self) -> PanHasher:
        """The keyed hash and masking for PANs stored in this journal."""
        ...

    def apply(self, ops: Sequence[Op]) -> list[OpResult]:
        """Apply operations in order, in one transaction, and commit durably.

        Args:
            ops: the operations; an empty sequence does nothing.

        Returns:
            One result per operation, in order (see each op's results).

        Raises:
            JournalError: the store failed; nothing of ``ops`` was stored.
            JournalClosed: the journal is closed.
        """
        ...

    def get_transaction(self, transaction_key: str) -> TransactionRecord | None:
        """The transaction journaled under ``transaction_key``, or ``None``.

        Raises:
            JournalError: the store failed.
        """
        ...

    def transactions(
        self, query: TransactionQuery | None = None, *, page_size: int = 500
    ) -> Iterator[TransactionRecord]:
        """Stream matching transactions in the order they were journaled.

        Memory stays bounded by ``page_size``: rows are read a page at a
        time, and no lock, cursor or transaction is held between pages, so
        writers go on while a million rows are read. Rows committed during
        the iteration may or may not appear (they do once their settlement
        date is closed, which is when clearing reads it).

        Args:
            query: the conditions; ``None`` streams everything.
            page_size: rows read per round trip (at least 1).

        Returns:
            An iterator of records.

        Raises:
            JournalError: the store failed (raised while iterating).
            ValueError: ``page_size`` is below 1.
        """
        ...

    def get_owed(self, id: str) -> OwedItem | None:
        """The owed item with ``id`` (payload unsealed), or ``None``.

        Raises:
            JournalError: the store failed.
            JournalKeyError: its payload does not open under the data key.
        """
        ...

    def due_owed(self, now: float, limit: int = 100) -> list[OwedItem]:
        """Owed items due at ``now``, most overdue first.

        Items with status ``OWED`` and ``next_attempt_at <= now``, ordered by
        ``next_attempt_at`` then by the order they were journaled; expired
        ones included (the gateway marks them ``EXPIRED``).

        Args:
            now: the current time (epoch seconds).
            limit: at most this many items.

        Returns:
            The items, payloads unsealed.

        Raises:
            JournalError: the store failed.
            JournalKeyError: a payload does not open under the data key.
        """
        ...

    def next_due_at(self) -> float | None:
        """The earliest ``next_attempt_at`` of any owed item, or ``None``.

        The store-and-forward task sleeps until then.

        Raises:
            JournalError: the store failed.
        """
        ...

    def owed_items(
        self,
        *,
        status: OwedStatus | None = OwedStatus.OWED,
        transaction_key: str | None = None,
        limit: int = 1000,
    ) -> list[OwedItem]:
        """Owed items in the order they were journaled.

        Args:
            status: only items with this status; ``None`` for all.
            transaction_key: only items belonging to this transaction.
            limit: at most this many items.

        Returns:
            The items, payloads unsealed.

        Raises:
            JournalError: the store failed.
            JournalKeyError: a payload does not open under the data key.
        """
        ...

    def setting(self, name: str) -> str | None:
        """The value last kept under ``name`` (:class:`SetSetting`), or ``None``.

        Raises:
            JournalError: the store failed.
        """
        ...

    def statistics(self, now: float) -> JournalStatistics:
        """A snapshot of counts, with ages measured at ``now``.

        Raises:
            JournalError: the store failed.
        """
        ...

    def close(self) -> None:
        """Release the store; later calls raise ``JournalClosed``. Idempotent."""
        ...
