"""The ``Journal`` interface: operations applied in one transaction, and queries.

Why operations rather than methods that write: the gateway journals under
load, and a database commit (an fsync) costs far more than the rows it
writes. Writes are therefore values (:data:`Op`) that a group-commit writer
(:class:`~sscard_gateway.store.BatchingJournal`) collects from many tasks
and hands to :meth:`Journal.apply` as one batch, committed in one
transaction: all of it is durable when ``apply`` returns, or none of it.

Operations come in **groups** (:meth:`Journal.apply_groups`): a group is
applied whole or not at all, and several groups share one commit. A group
is what the transaction engine decides at one step — a record, its status
change and every item it owes — so a crash or a refusal can never leave
half a decision in the journal. :meth:`Journal.apply` applies each
operation as a group of its own.

Outcomes a caller must act on are results, not exceptions, so one caller's
refusal never aborts another caller's group in the same batch:

* :class:`InsertTransaction` returns the stored record, or
  :class:`Duplicate` holding the record already journaled under that
  transaction key (in an earlier batch, across restarts, or earlier in the
  same batch). The check and the insert are one atomic step: this is the
  gateway's duplicate detection.
* :class:`UpdateTransaction`, :class:`UpdateLeg` and :class:`UpdateOwed`
  are compare-and-set: one that changes a state names the states it
  expects (``expect``), and the move must be in the transition table of
  :mod:`._states`. They return the record after the change,
  :class:`Refused` with the record as it stands when its state is not an
  expected one, or :class:`NotFound`.
* :class:`InsertLeg` and :class:`AddOwed` return the stored value, or
  :class:`Duplicate` when its id exists.
* :class:`SetSetting` returns the :class:`Setting` kept (state that is not
  a transaction, such as the cutover boundaries the switch moved).

A ``Duplicate``, ``Refused`` or ``NotFound`` stops its group: nothing of
the group is stored, and the :class:`GroupResult` names the operation
that stopped it.

``apply_groups`` raises only for the store's own failures
(:class:`~sscard_gateway.errors.JournalError`): every operation's values are
checked when the operation is built, so a bad value fails in the caller.

The interface is synchronous and blocking: implementations are called from
a worker thread (``trio.to_thread``). Nothing in it is SQLite-specific; a
PostgreSQL journal implements the same methods.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from ._ops import GroupResult, Op, OpResult
from ._records import JournalStatistics, LegRecord, OwedItem, TransactionQuery, TransactionRecord
from ._sealing import PanHasher
from ._states import LegState, OwedStatus

__all__ = ["Journal"]


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

    def apply_groups(self, groups: Sequence[Sequence[Op]]) -> list[GroupResult]:
        """Apply groups of operations in one transaction and commit durably.

        Each group is applied whole, in order, or not at all: the first
        operation that returns ``Duplicate``, ``Refused`` or ``NotFound``
        stops its group and undoes what the group had done; the other
        groups are not affected.

        Args:
            groups: the groups; empty ones do nothing.

        Returns:
            One :class:`GroupResult` per group, in order.

        Raises:
            JournalError: the store failed; nothing of any group was stored.
            JournalClosed: the journal is closed.
            TypeError: an element is not an operation.
        """
        ...

    def apply(self, ops: Sequence[Op]) -> list[OpResult]:
        """Apply each operation as a group of its own, all in one commit.

        Args:
            ops: the operations; an empty sequence does nothing.

        Returns:
            One result per operation, in order (see each op's results).

        Raises:
            JournalError: the store failed; nothing of ``ops`` was stored.
            JournalClosed: the journal is closed.
        """
        ...

    def legs(self, transaction_key: str) -> list[LegRecord]:
        """The legs of a transaction in the order of their steps, payloads unsealed.

        Raises:
            JournalError: the store failed.
            JournalKeyError: a payload does not open under the data key.
        """
        ...

    def legs_in(self, states: Iterable[LegState], *, limit: int = 10_000) -> list[LegRecord]:
        """Legs in any of ``states``, in the order they were journaled (recovery).

        Raises:
            JournalError: the store failed.
            JournalKeyError: a payload does not open under the data key.
        """
        ...

    def last_stan(self) -> int:
        """The STAN of the latest leg or reversal the gateway journaled (0 when none).

        A restarted gateway continues its STAN sequence after it, so that no
        two legs ever share F7 + F11 + F32 + F33.

        Raises:
            JournalError: the store failed.
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

    def due_owed(
        self, now: float, limit: int = 100, *, destinations: Iterable[str] | None = None
    ) -> list[OwedItem]:
        """Owed items due at ``now``, most overdue first.

        Items with status ``OWED`` and ``next_attempt_at <= now``, ordered by
        ``next_attempt_at`` then by the order they were journaled; expired
        ones included (the gateway marks them ``EXPIRED``).

        Args:
            now: the current time (epoch seconds).
            limit: at most this many items.
            destinations: only items owed to these links (those signed on
                now); ``None`` for every destination.

        Returns:
            The items, payloads unsealed.

        Raises:
            JournalError: the store failed.
            JournalKeyError: a payload does not open under the data key.
        """
        ...

    def next_due_at(self, *, destinations: Iterable[str] | None = None) -> float | None:
        """The earliest ``next_attempt_at`` of any owed item, or ``None``.

        Args:
            destinations: only items owed to these links; ``None`` for all.

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
