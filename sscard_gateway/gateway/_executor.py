"""Carrying out the engine's decisions with Trio: the journal, the links, the requester.

Why the executor is thin: every choice is the engine's (sans-I/O,
:mod:`sscard_gateway.engine`); this module only does what a decision says
and reports what happened, so the fault simulation and production run the
same code. Three rules are its own:

* **Legs belong to the gateway.** A saga runs in the gateway's nursery, not
  in the task of the connection its request came in on: a requester whose
  line drops does not cancel its legs. The requester waits on a
  :class:`Ticket`; if it goes away, the saga learns at its answer that the
  answer went nowhere (and the engine reverses an approval).
* **What must land, lands.** A write that records the outcome of a leg
  already sent (``Write.must_land``) is retried, with a capped backoff,
  until the journal takes it — a full disk delays the answer, it does not
  make the gateway forget what a peer holds.
* **A send's failure is classified by whether the bytes may have left**:
  refused before sending (no link, not signed on, a duplicate key, an
  encoding or MAC failure) is :class:`~sscard_gateway.engine.NotSent`;
  anything after — a deadline, a lost connection, an unexpected error — is
  :class:`~sscard_gateway.engine.Unknown`, and the leg is reversed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime

import trio

from ..engine import (
    Answered,
    Decision,
    Delivered,
    Found,
    NotSent,
    Outcome,
    Read,
    Reply,
    Saga,
    Send,
    Unknown,
    Wake,
    Woken,
    Write,
    WriteFailed,
    Written,
)
from ..errors import (
    DuplicateRequest,
    EncodeError,
    JournalError,
    LinkUnavailable,
    ProtocolError,
    RejectedByPeer,
    SecurityError,
    SscardError,
)
from ..iso import Message
from ..link import StreamDriver
from ..store import BatchingJournal, GroupResult, Op

__all__ = ["Executor", "Ticket"]

log = logging.getLogger("sscard_gateway.gateway")

_BACKOFF_FIRST = 0.05
_BACKOFF_MAX = 5.0


class Ticket:
    """Where a requester waits for its answer, and how the saga learns it was delivered."""

    def __init__(self) -> None:
        self._answer: Message | None = None
        self._answered = trio.Event()
        self._settled = trio.Event()
        self._delivered = False
        self.gone = False
        """The requester stopped waiting (its connection ended)."""

    # -- the requester's side --------------------------------------------------

    async def wait(self) -> Message:
        """Wait for the answer (the link handler's side)."""
        await self._answered.wait()
        assert self._answer is not None
        return self._answer

    def sent(self, delivered: bool) -> None:
        """The link handed the answer to its connection, or could not."""
        self._delivered = delivered
        self._settled.set()

    def abandon(self) -> None:
        """The requester went away: its answer will go nowhere."""
        self.gone = True
        self._settled.set()

    # -- the saga's side ---------------------------------------------------------

    async def give(self, answer: Message) -> bool:
        """Hand over the answer; return whether it went out to the requester."""
        if self.gone:
            return False
        self._answer = answer
        self._answered.set()
        await self._settled.wait()
        return self._delivered and not self.gone


class Executor:
    """Drives sagas: one call of :meth:`drive` per inbound message.

    Args:
        journal: the group-commit journal.
        links: the link to a destination, or ``None`` when none is up.
        wake: tells store-and-forward that items are owed to destinations.
        clock: the wall clock (every outcome carries its time).
        on_reply: told of each answer given (kind, response code).
    """

    def __init__(
        self,
        journal: BatchingJournal,
        *,
        links: Callable[[str], StreamDriver | None],
        wake: Callable[[frozenset[str]], None],
        clock: Callable[[], datetime],
        on_reply: Callable[[str, str], None],
    ) -> None:
        self._journal = journal
        self._links = links
        self._wake = wake
        self._clock = clock
        self._on_reply = on_reply
        self.counts: Counter[str] = Counter()
        """``write_retries``, ``saga_failures``."""

    async def drive(self, saga: Saga, ticket: Ticket) -> None:
        """Run ``saga`` to its end, carrying out each decision.

        A saga that fails (a bug) is logged; its requester, if still
        unanswered, gets nothing, and what its legs hold is found by the
        journal's recovery at the next start (the journal already holds
        every leg as sent).
        """
        try:
            decision: Decision = next(saga)
            while True:
                outcome = await self._carry_out(decision, ticket)
                decision = saga.send(outcome)
        except StopIteration:
            return
        except trio.Cancelled:
            raise
        except Exception:
            self.counts["saga_failures"] += 1
            log.exception("a transaction's saga failed")
            ticket.abandon()

    async def _carry_out(self, decision: Decision, ticket: Ticket) -> Outcome:
        if isinstance(decision, Write):
            return await self._write(decision)
        if isinstance(decision, Read):
            return await self._read(decision.transaction_key)
        if isinstance(decision, Send):
            return await self._send(decision)
        if isinstance(decision, Reply):
            self._on_reply(decision.kind, str(decision.message.fields.get(39, "")))
            delivered = await ticket.give(decision.message)
            return Delivered(delivered, self._clock())
        assert isinstance(decision, Wake)
        self._wake(decision.destinations)
        return Woken(self._clock())

    async def _write(self, decision: Write) -> Written | WriteFailed:
        if decision.must_land:
            return Written(await self.land(decision.ops), self._clock())
        try:
            result = await self._journal.write(decision.ops)
        except JournalError as exc:
            log.error("journal write failed: %s", exc)
            return WriteFailed(str(exc), self._clock())
        return Written(result, self._clock())

    async def land(self, ops: Sequence[Op]) -> GroupResult:
        """Write one group, retrying with a capped backoff until the journal takes it
        (a full disk clears): for writes that must not be given up."""
        delay = _BACKOFF_FIRST
        while True:
            try:
                return await self._journal.write(ops)
            except JournalError as exc:
                self.counts["write_retries"] += 1
                log.error("journal write failed (retrying in %.2f s): %s", delay, exc)
                await trio.sleep(delay)
                delay = min(_BACKOFF_MAX, delay * 2)

    async def _read(self, key: str) -> Found:
        delay = _BACKOFF_FIRST
        while True:
            try:
                record = await self._journal.get_transaction(key)
                legs = await self._journal.legs(key)
            except JournalError as exc:
                log.error("journal read failed (retrying in %.2f s): %s", delay, exc)
                await trio.sleep(delay)
                delay = min(_BACKOFF_MAX, delay * 2)
                continue
            return Found(record, tuple(legs), self._clock())

    async def _send(self, decision: Send) -> Answered | Unknown | NotSent:
        destination = decision.leg.destination
        link = self._links(destination)
        if link is None:
            return NotSent("91", f"{destination} is not connected", self._clock())
        try:
            response = await link.request(decision.message, timeout=decision.timeout)
        except LinkUnavailable as exc:
            return NotSent("91", str(exc), self._clock())
        except RejectedByPeer as exc:
            return NotSent("96", f"refused unread: {exc}", self._clock())
        except (DuplicateRequest, ProtocolError, EncodeError, SecurityError) as exc:
            return NotSent(exc.response_code or "96", str(exc), self._clock())
        except SscardError as exc:  # a deadline, a lost line: it may be at the peer
            return Unknown(f"{type(exc).__name__}: {exc}", self._clock())
        except Exception as exc:  # a fault of ours after the send may have begun
            log.exception("leg %s: the send failed", decision.leg.leg_id)
            return Unknown(f"{type(exc).__name__}: {exc}", self._clock())
        return Answered(response, self._clock())
