"""A journal that fails on command: disk full, and a crash at a chosen commit.

Why: the gateway's promise is tested where it is hardest — a process that
dies between two commits, or just after a commit whose result it never
saw, and a disk that refuses writes for a while. :class:`FaultyJournal`
wraps a real journal (the SQLite file the next incarnation opens again)
and, on the commit a simulation chose, either stops before it (nothing
stored) or after it (stored, the caller never told), calling the
simulation's crash callback; while a "disk full" window is open, every
commit fails with :class:`~sscard_gateway.errors.JournalError`. Once
crashed it refuses everything, so code of the dead incarnation that keeps
running (a shielded flush) cannot write after its own death.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from ..errors import JournalError
from ..store import (
    GroupResult,
    Journal,
    JournalStatistics,
    LegRecord,
    LegState,
    Op,
    OpResult,
    OwedItem,
    OwedStatus,
    PanHasher,
    TransactionQuery,
    TransactionRecord,
)
from ..store._ops import flatten

__all__ = ["FaultyJournal", "JournalCrashed"]


class JournalCrashed(JournalError):
    """The simulated process died at this commit (or is dead)."""


class FaultyJournal:
    """A :class:`~sscard_gateway.store.Journal` that fails on command (see module docs).

    Args:
        inner: the real journal.
        disk_full: tells whether the disk refuses writes now.
        trace: told of each commit: the operations' kinds and keys (no card data).
    """

    def __init__(
        self,
        inner: Journal,
        *,
        disk_full: Callable[[], bool] | None = None,
        trace: Callable[[str], None] | None = None,
    ) -> None:
        self.inner = inner
        self.commits = 0
        self.crashed = False
        self._crash_at: int | None = None
        self._after = False
        self._on_crash: Callable[[], None] | None = None
        self._disk_full = disk_full or (lambda: False)
        self._trace = trace

    @property
    def armed(self) -> bool:
        """Whether a crash at a commit is still to come."""
        return self._crash_at is not None and not self.crashed

    def arm(self, commits: int, *, after: bool, on_crash: Callable[[], None]) -> None:
        """Die at the ``commits``-th commit from now, before it or after it is stored.

        Args:
            commits: how many commits from now (1: the next one).
            after: die once that commit is stored (the caller never told).
            on_crash: called when it happens (kill the node, cancel its code).
        """
        self._crash_at = self.commits + max(1, commits)
        self._after = after
        self._on_crash = on_crash

    def _die(self) -> None:
        self.crashed = True
        if self._on_crash is not None:
            self._on_crash()

    @property
    def pan_hasher(self) -> PanHasher:
        """The inner journal's PAN hash."""
        return self.inner.pan_hasher

    def apply_groups(self, groups: Sequence[Sequence[Op]]) -> list[GroupResult]:
        """:meth:`Journal.apply_groups`, unless the disk is full or the process dies here."""
        if self.crashed:
            raise JournalCrashed("the process is dead")
        if self._disk_full():
            raise JournalError("journal write failed: database or disk is full")
        self.commits += 1
        if self.commits == self._crash_at and not self._after:
            self._die()
            raise JournalCrashed(f"died before commit {self.commits}")
        results = self.inner.apply_groups(groups)
        if self._trace is not None:
            self._trace(f"commit {self.commits}: {_describe(groups, results)}")
        if self.commits == self._crash_at:
            self._die()
            raise JournalCrashed(f"died after commit {self.commits}")
        return results

    def apply(self, ops: Sequence[Op]) -> list[OpResult]:
        """Each operation as a group of its own (:meth:`apply_groups`)."""
        return flatten(self.apply_groups([[op] for op in ops]))

    def _alive(self) -> None:
        if self.crashed:
            raise JournalCrashed("the process is dead")

    def get_transaction(self, transaction_key: str) -> TransactionRecord | None:
        """:meth:`Journal.get_transaction`."""
        self._alive()
        return self.inner.get_transaction(transaction_key)

    def transactions(
        self, query: TransactionQuery | None = None, *, page_size: int = 500
    ) -> Iterator[TransactionRecord]:
        """:meth:`Journal.transactions`."""
        self._alive()
        return self.inner.transactions(query, page_size=page_size)

    def legs(self, transaction_key: str) -> list[LegRecord]:
        """:meth:`Journal.legs`."""
        self._alive()
        return self.inner.legs(transaction_key)

    def legs_in(self, states: Iterable[LegState], *, limit: int = 10_000) -> list[LegRecord]:
        """:meth:`Journal.legs_in`."""
        self._alive()
        return self.inner.legs_in(states, limit=limit)

    def last_stan(self) -> int:
        """:meth:`Journal.last_stan`."""
        self._alive()
        return self.inner.last_stan()

    def get_owed(self, id: str) -> OwedItem | None:
        """:meth:`Journal.get_owed`."""
        self._alive()
        return self.inner.get_owed(id)

    def due_owed(
        self, now: float, limit: int = 100, *, destinations: Iterable[str] | None = None
    ) -> list[OwedItem]:
        """:meth:`Journal.due_owed`."""
        self._alive()
        return self.inner.due_owed(now, limit, destinations=destinations)

    def next_due_at(self, *, destinations: Iterable[str] | None = None) -> float | None:
        """:meth:`Journal.next_due_at`."""
        self._alive()
        return self.inner.next_due_at(destinations=destinations)

    def owed_items(
        self,
        *,
        status: OwedStatus | None = OwedStatus.OWED,
        transaction_key: str | None = None,
        limit: int = 1000,
    ) -> list[OwedItem]:
        """:meth:`Journal.owed_items`."""
        self._alive()
        return self.inner.owed_items(status=status, transaction_key=transaction_key, limit=limit)

    def setting(self, name: str) -> str | None:
        """:meth:`Journal.setting`."""
        self._alive()
        return self.inner.setting(name)

    def statistics(self, now: float) -> JournalStatistics:
        """:meth:`Journal.statistics`."""
        self._alive()
        return self.inner.statistics(now)

    def close(self) -> None:
        """Close the inner journal."""
        self.inner.close()


def _describe(groups: Sequence[Sequence[Op]], results: Sequence[GroupResult]) -> str:
    parts = []
    for group, result in zip(groups, results, strict=True):
        ops = " ".join(_op(op) for op in group)
        parts.append(f"[{ops}]" if result.applied else f"[{ops} stopped at {result.stopped_at}]")
    return " ".join(parts)


def _op(op: Op) -> str:
    name = type(op).__name__
    key = getattr(op, "transaction_key", None) or getattr(op, "leg_id", None)
    key = key or getattr(op, "id", None) or getattr(op, "name", None)
    for holder in ("record", "leg", "item"):
        value = getattr(op, holder, None)
        if value is not None:
            key = getattr(value, "leg_id", None) or getattr(value, "id", None)
            key = key or getattr(value, "transaction_key", None)
    state = getattr(op, "status", None) or getattr(op, "state", None)
    return f"{name}({key}{'->' + state.value if state is not None else ''})"
