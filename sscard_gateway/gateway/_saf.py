"""Store-and-forward: deliver owed reversals and advices until acknowledged.

Owed items live in the journal (so they survive a restart); this loop reads
the due ones, sends each on its destination link — with the retransmission
MTI (``xxx1``: ``0421``, ``0221``) from the second attempt on — and records the
outcome: ``done`` when a reversal's answer is one of the dialect's done codes
(``00``, ``12``, ``25`` on CUPS) or an advice got any answer (its code is
kept: an advice acknowledges receipt), otherwise a retry after a capped
exponential backoff, ``abandoned`` after the maximum attempts, ``expired``
past the expiry. It sleeps until the next item is due or it is woken.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

import attrs
import trio

from ..errors import DecodeError, LinkError, RejectedByPeer, SscardError
from ..iso import Dialect
from ..link import StreamDriver
from ..store import BatchingJournal, OwedItem, OwedKind, OwedStatus, UpdateOwed
from ._config import SafPolicy

__all__ = ["StoreAndForward"]

log = logging.getLogger("sscard_gateway.gateway.saf")


@attrs.define
class _Counts:
    delivered: int = 0
    retried: int = 0
    abandoned: int = 0
    expired: int = 0


class StoreAndForward:
    """The delivery loop (see module docs).

    Args:
        journal: the group-commit journal holding owed items.
        links: the links by destination name (looked up at each attempt).
        dialects: the dialect of each destination.
        policy: backoff, attempts, expiry.
        wallclock: the time source of journal timestamps.
    """

    def __init__(
        self,
        journal: BatchingJournal,
        *,
        links: Callable[[str], StreamDriver | None],
        dialects: Mapping[str, Dialect],
        policy: SafPolicy,
        wallclock: Callable[[], datetime],
    ) -> None:
        self._journal = journal
        self._links = links
        self._dialects = dialects
        self._policy = policy
        self._clock = wallclock
        self._wake = trio.Event()
        self.counts = _Counts()

    def wake(self) -> None:
        """Look for due items now (a new item was owed, or a link came up)."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled."""
        policy = self._policy
        while True:
            now = self._clock().timestamp()
            due = await self._journal.due_owed(now, limit=policy.batch)
            async with trio.open_nursery() as nursery:
                for item in due:
                    nursery.start_soon(self._attempt, item, now)
            next_at = await self._journal.next_due_at()
            now = self._clock().timestamp()
            wait = policy.maximum if next_at is None else max(0.0, next_at - now)
            if due and wait == 0.0:
                await trio.sleep(0)  # give others a turn before a busy round
                continue
            with trio.move_on_after(min(wait, policy.maximum)):
                await self._wake.wait()
            self._wake = trio.Event()

    async def _attempt(self, item: OwedItem, now: float) -> None:
        policy = self._policy
        if item.expires_at is not None and item.expires_at <= now:
            self.counts.expired += 1
            log.warning("owed %s %s to %s expired", item.kind.value, item.id, item.destination)
            await self._update(item, now, status=OwedStatus.EXPIRED)
            return
        dialect = self._dialects.get(item.destination)
        link = self._links(item.destination)
        code: str | None = None
        if dialect is not None and link is not None:
            try:
                message = dialect.decode(item.payload)
                if item.attempts > 0:  # a resend: the retransmission MTI, xxx1 (0421, 0221)
                    message = message.evolve(mti=message.mti[:3] + "1")
                response = await link.request(message, timeout=policy.attempt_timeout)
                code = str(response.fields.get(39, ""))
            except (LinkError, RejectedByPeer, DecodeError) as exc:
                log.info("owed %s to %s not delivered: %s", item.id, item.destination, exc)
            except SscardError as exc:  # pragma: no cover - logged, retried
                log.error("owed %s to %s failed: %s", item.id, item.destination, exc)
        attempts = item.attempts + (1 if link is not None else 0)
        # an advice answered at all was delivered (its code is kept); a reversal
        # is finished only by the dialect's done codes (00, 12, 25)
        delivered = code is not None and (
            item.kind is OwedKind.ADVICE
            or (dialect is not None and code in dialect.spec.reversal_done)
        )
        if delivered:
            self.counts.delivered += 1
            await self._update(
                item, now, status=OwedStatus.DONE, attempts=attempts, last_response_code=code
            )
            return
        if attempts >= policy.max_attempts:
            self.counts.abandoned += 1
            log.error(
                "owed %s to %s abandoned after %d attempts", item.id, item.destination, attempts
            )
            await self._update(
                item, now, status=OwedStatus.ABANDONED, attempts=attempts, last_response_code=code
            )
            return
        self.counts.retried += 1
        await self._update(
            item,
            now,
            attempts=attempts,
            next_attempt_at=now + policy.delay(max(attempts, 1)),
            last_response_code=code,
        )

    async def _update(self, item: OwedItem, now: float, **changes: object) -> None:
        stamp = max(now, item.updated_at)
        await self._journal.apply(UpdateOwed(id=item.id, updated_at=stamp, **changes))  # type: ignore[arg-type]
