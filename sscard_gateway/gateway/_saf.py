"""Store-and-forward: deliver owed reversals and advices until their destination accepts them.

Owed items live in the journal (so they survive a restart); this loop
reads the due ones *for the destinations signed on now* — an item owed to
a link that is down waits without an attempt counted, and the loop is
woken when a link signs on — sends each with the retransmission MTI
(``0421``, ``0221``) from its second attempt on (or at once for an item
owed before this process started: its first attempt may have reached the
peer), and records the outcome as the engine decides it
(:func:`sscard_gateway.engine.delivery`): done on the dialect's acceptance
codes, the exception queue on a code retrying cannot help, otherwise a
retry after the policy's backoff. Past its expiry an item goes to the
exception queue (:func:`sscard_gateway.engine.expire`), whether its link is
up or not. It sleeps until
the next item is due or it is woken.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

import attrs
import trio

from ..clearing import resolve_mmdd
from ..engine import SafPolicy, delivery, expire
from ..errors import DecodeError, JournalError, LinkError, LinkUnavailable, RejectedByPeer
from ..iso import Dialect, Message
from ..link import StreamDriver
from ..store import BatchingJournal, Op, OwedItem, OwedKind, UpdateOwed

__all__ = ["StoreAndForward"]

log = logging.getLogger("sscard_gateway.gateway.saf")


@attrs.define
class _Counts:
    delivered: int = 0
    retried: int = 0
    exceptions: int = 0


class StoreAndForward:
    """The delivery loop (see module docs).

    Args:
        journal: the group-commit journal holding owed items.
        links: the signed-on link to a destination, or ``None``.
        ready: the destinations signed on now.
        dialects: the dialect of each destination.
        policy: backoff, expiry, attempt timeout, batch.
        wallclock: the time source of journal timestamps.
    """

    def __init__(
        self,
        journal: BatchingJournal,
        *,
        links: Callable[[str], StreamDriver | None],
        ready: Callable[[], frozenset[str]],
        dialects: Mapping[str, Dialect],
        policy: SafPolicy,
        wallclock: Callable[[], datetime],
    ) -> None:
        self._journal = journal
        self._links = links
        self._ready = ready
        self._dialects = dialects
        self._policy = policy
        self._clock = wallclock
        self._wake = trio.Event()
        self._started = wallclock().timestamp()
        self._stalled = False  # an outcome could not be journaled this round
        self.counts = _Counts()

    def wake(self) -> None:
        """Look for due items now (a new item was owed, or a link came up)."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled."""
        policy = self._policy
        stall = policy.initial
        while True:
            self._stalled = False
            ready = self._ready()
            now = self._clock().timestamp()
            try:
                due = await self._journal.due_owed(now, policy.batch, destinations=ready)
                async with trio.open_nursery() as nursery:
                    for item in due:
                        nursery.start_soon(self._attempt, item)
                await self._expire_unreachable(ready, now)
                next_at = await self._journal.next_due_at(destinations=self._ready())
            except JournalError as exc:
                log.error("store-and-forward: the journal failed: %s", exc)
                due, next_at = [], self._clock().timestamp() + policy.initial
            now = self._clock().timestamp()
            wait = policy.maximum if next_at is None else max(0.0, next_at - now)
            if self._stalled:  # the journal refuses writes: do not resend in a busy loop
                wait, stall = max(wait, stall), min(policy.maximum, stall * 2)
            else:
                stall = policy.initial
            if due and wait == 0.0:
                await trio.sleep(0)  # give others a turn before a busy round
                continue
            with trio.move_on_after(min(wait, policy.maximum)):
                await self._wake.wait()
            self._wake = trio.Event()

    def _message(self, item: OwedItem, dialect: Dialect) -> Message:
        message = dialect.decode(item.payload)
        if not (item.attempts or item.repeat or item.created_at < self._started):
            return message
        spec = dialect.spec
        if item.kind is OwedKind.REVERSAL:
            repeat = spec.retransmission_mti
        else:
            repeat = spec.advice.retransmission_mti if spec.advice is not None else None
        return message.evolve(mti=repeat) if repeat else message

    async def _expire_unreachable(self, ready: frozenset[str], now: float) -> None:
        """Items owed to a link that is down get no attempt, but still expire."""
        down = frozenset(self._dialects) - ready
        if not down:
            return
        for item in await self._journal.due_owed(now, self._policy.batch, destinations=down):
            if item.expires_at is not None and item.expires_at <= now:
                await self._expire(item)

    async def _expire(self, item: OwedItem) -> None:
        self.counts.exceptions += 1
        log.error(
            "owed %s %s to %s expired: to the exception queue",
            item.kind.value,
            item.id,
            item.destination,
        )
        await self._record(item, expire(item, self._clock()))

    async def _attempt(self, item: OwedItem) -> None:
        now = self._clock()
        if item.expires_at is not None and item.expires_at <= now.timestamp():
            await self._expire(item)
            return
        dialect = self._dialects.get(item.destination)
        link = self._links(item.destination)
        if dialect is None or link is None:
            return  # not signed on: no attempt, none counted; woken when it is
        code: str | None = None
        date: str | None = None
        try:
            response = await link.request(
                self._message(item, dialect), timeout=self._policy.attempt_timeout
            )
            code = str(response.fields.get(39, ""))
            date = _settlement_date(response, dialect, self._clock())
        except LinkUnavailable:
            return  # it went down before the attempt: nothing was sent
        except (LinkError, RejectedByPeer, DecodeError) as exc:
            log.info("owed %s to %s not delivered: %s", item.id, item.destination, exc)
        verdict, ops = delivery(
            item,
            code,
            dialect=dialect,
            now=self._clock(),
            policy=self._policy,
            settlement_date=date,
        )
        if verdict == "done":
            self.counts.delivered += 1
        elif verdict == "exception":
            self.counts.exceptions += 1
            log.error("owed %s to %s answered %s: to the exception queue", item.id,
                      item.destination, code)  # fmt: skip
        else:
            self.counts.retried += 1
        await self._record(item, ops)

    async def _record(self, item: OwedItem, ops: list[Op]) -> None:
        try:
            result = await self._journal.write(ops)
        except JournalError as exc:
            log.error("owed %s: its outcome could not be journaled: %s", item.id, exc)
            self._stalled = True
            return
        if result.applied:
            return
        log.error("owed %s: its leg moved under it (%r); the item alone", item.id, result.stopper)
        first = ops[0]
        if isinstance(first, UpdateOwed):
            await self._journal.write([first])


def _settlement_date(response: Message, dialect: Dialect, now: datetime) -> str | None:
    """``YYYYMMDD`` of the settlement date an answer carries (the dialect's field), if any."""
    number = dialect.spec.settlement_date_field
    mmdd = str(response.fields.get(number, "")) if number is not None else ""
    try:
        return resolve_mmdd(mmdd, now.date()) if mmdd else None
    except ValueError:
        return None
