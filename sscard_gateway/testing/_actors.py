"""The requesters of a simulation: centers and the switch as acquirer, each keeping its record.

Why actors of their own: the judge compares the peers' records, so the
requesters must behave as real ones do and write down what they were told.
A center sends its requests over its own link (and answers the home-center
legs the gateway sends it, from its ledger); when a request gets no answer
in time it reverses it at once, and resends the reversal until it is
acknowledged; an advice it resends until it is answered. The switch, as
acquirer, does the same for the purchases it sends the gateway for cards
of the centers. Every card number is unique to one transaction of the
workload, which is how the judge links a ledger's entry to its request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import trio

from ..errors import SscardError
from ..ids import AmountSplit
from ..iso import Message, load_dialect
from ..link import StanCounter, StreamDriver, transmission_time
from ..sim import CardHolder, CenterIdentity, CenterSimulator, Kind, RequesterRecord
from ..sim.lab import acquirer_purchase
from ..sim.load import unique_card
from ._schedule import Request

__all__ = ["Acquirer", "CenterActor", "card_of"]

_DONE = frozenset({"00", "12", "25"})  # a reversal acknowledged (CUPS adds C3)
_RETRY = 2.0  # seconds between resends of an unacknowledged reversal or advice
_KINDS = {kind.value: kind for kind in Kind}

Send = Callable[[Message, float], Awaitable[Message | None]]


def card_of(home: str, ref: int) -> CardHolder:
    """The card of request ``ref``, issued by ``home`` (a center, or ``bank``): unique to it."""
    return unique_card(home, ref)


async def _request(link: StreamDriver | None, message: Message, timeout: float) -> Message | None:
    if link is None:
        return None
    try:
        return await link.request(message, timeout=timeout)
    except SscardError:
        return None


class CenterActor:
    """One regional center of the simulation: its requests, its record, its reversals.

    Args:
        name: the center's link name.
        identity: its institution and region.
        security: its security module (PIN blocks under its PIN key).
        clock: the simulation's wall clock.
        timeout: seconds it waits for an answer.
    """

    def __init__(
        self,
        name: str,
        identity: CenterIdentity,
        *,
        security: object,
        clock: Callable[[], datetime],
        timeout: float,
    ) -> None:
        self.name = name
        self.dialect = load_dialect("center")
        self.sim = CenterSimulator(
            identity,
            security=security,  # type: ignore[arg-type]
            pin_key=f"{name}.zpk",
            stan=StanCounter(),
            wallclock=clock,
        )
        self.record = RequesterRecord(self.dialect.spec.transaction_key)
        self.link: StreamDriver | None = None
        self.timeout = timeout
        self._sent: dict[int, Message] = {}

    def sent(self, ref: int) -> Message | None:
        """The message of request ``ref``, once sent."""
        return self._sent.get(ref)

    def expects(self, request: Request) -> frozenset[str]:
        """The ledgers that hold the request if it ends approved (the plan a gateway follows)."""
        other = request.card if request.card not in (self.name, "bank") else None
        if request.kind == "refund":
            return frozenset({"cups"})
        if request.kind == "medical_settlement":
            bank = {"cups"} if request.cash else set()
            return frozenset(bank | ({other} if other else set()))
        return frozenset({other} if other else {"cups"})

    def build(self, request: Request) -> Message:
        """The center's message for ``request``."""
        card = card_of(request.card, request.ref)
        kind = _KINDS[request.kind]
        if kind is Kind.MEDICAL_SETTLEMENT:
            split = AmountSplit.from_parts(
                fund=request.amount - request.cash, personal_account=0, cash=request.cash
            )
            return self.sim.build(kind, card, split=split)
        if kind is Kind.REFUND and request.refund_of is not None:
            original = self._sent.get(request.refund_of)
            refunded = card_of(request.card, request.refund_of) if original else card
            return self.sim.build(kind, refunded, amount=request.amount, original=original)
        return self.sim.build(kind, card, amount=request.amount)

    async def transact(self, request: Request) -> Message:
        """Send ``request``; reverse it at once when no answer comes. Returns the message sent."""
        message = self.build(request)
        self._sent[request.ref] = message
        advice = request.kind == "refund"
        self.record.sent(message, kind=request.kind, expects=self.expects(request), advice=advice)
        response = await _request(self.link, message, self.timeout)
        self.record.told(message, response)
        if response is None and not advice:
            await self.reverse(message, rounds=3)
        return message

    async def repeat(self, ref: int) -> None:
        """Send request ``ref`` again, as sent, if no final answer came yet (a retransmission)."""
        message = self._sent.get(ref)
        told = self.record.get(self.record.key_of(message)) if message is not None else None
        if message is None or told is None or told.answer is not None:
            return
        self.record.sent(message, kind=told.kind, expects=())
        repeat = message.evolve(mti=message.mti[:3] + "1")  # ISO 8583: xxx1, a repeat
        self.record.told(message, await _request(self.link, repeat, self.timeout))

    async def reverse(self, original: Message, *, rounds: int) -> bool:
        """Reverse ``original`` until acknowledged (at most ``rounds`` sends); whether it was."""
        reversal = self.sim.reversal(original)
        self.record.reversal(original, None)  # written down before it leaves
        for attempt in range(rounds):
            if attempt:
                reversal = reversal.evolve(mti=self.dialect.spec.retransmission_mti or "0421")
                await trio.sleep(_RETRY)
            response = await _request(self.link, reversal, self.timeout)
            self.record.reversal(original, response)
            if response is not None and response.fields.get(39) in _DONE:
                return True
        return False

    async def settle(self) -> int:
        """Reverse what the center never learned, resend unanswered advices; returns how many
        are still open."""
        for told in self.record.unknown():
            message = next(m for m in self._sent.values() if self.record.key_of(m) == told.key)
            await self.reverse(message, rounds=1)
        advice_mti = (
            self.dialect.spec.advice.retransmission_mti if self.dialect.spec.advice else None
        )
        for told in self.record.unanswered_advices():
            message = next(m for m in self._sent.values() if self.record.key_of(m) == told.key)
            resend = message.evolve(mti=advice_mti) if advice_mti else message
            self.record.told(message, await _request(self.link, resend, self.timeout))
        return len(self.record.unknown()) + len(self.record.unanswered_advices())


class Acquirer:
    """The switch as acquirer: purchases for cards of the centers, sent to the gateway.

    Args:
        link: returns the switch's link to the gateway (``None`` when there is none).
        clock: the simulation's wall clock.
        timeout: seconds it waits for an answer.
    """

    def __init__(
        self,
        link: Callable[[], StreamDriver | None],
        *,
        clock: Callable[[], datetime],
        timeout: float,
    ) -> None:
        self.dialect = load_dialect("cups")
        self.record = RequesterRecord(self.dialect.spec.transaction_key)
        self._link = link
        self._clock = clock
        self._stan = StanCounter()
        self.timeout = timeout
        self._sent: dict[int, Message] = {}

    def sent(self, ref: int) -> Message | None:
        """The message of purchase ``ref``, once sent."""
        return self._sent.get(ref)

    def build(self, request: Request) -> Message:
        """The purchase of ``request`` for a card of ``request.card``."""
        card = card_of(request.card, request.ref)
        now = transmission_time(self._clock())
        stan = self._stan()
        return acquirer_purchase(card.pan, request.amount, stan=stan, now=now)

    async def transact(self, request: Request) -> None:
        """Send the purchase; reverse it at once when no answer comes."""
        message = self.build(request)
        self._sent[request.ref] = message
        self.record.sent(message, kind="purchase", expects={request.card})
        response = await _request(self._link(), message, self.timeout)
        self.record.told(message, response)
        if response is None:
            await self.reverse(message, rounds=3)

    async def repeat(self, ref: int) -> None:
        """Send purchase ``ref`` again if no final answer came yet (a retransmission)."""
        message = self._sent.get(ref)
        told = self.record.get(self.record.key_of(message)) if message is not None else None
        if message is None or told is None or told.answer is not None:
            return
        self.record.sent(message, kind="purchase", expects=())
        repeat = message.evolve(mti="0201")
        self.record.told(message, await _request(self._link(), repeat, self.timeout))

    async def reverse(self, original: Message, *, rounds: int) -> bool:
        """Reverse a purchase until acknowledged (at most ``rounds`` sends)."""
        now = transmission_time(self._clock())
        reversal = original.reversal_of({7: now, 11: self._stan()})
        self.record.reversal(original, None)  # written down before it leaves
        for attempt in range(rounds):
            if attempt:
                reversal = reversal.evolve(mti="0421")
                await trio.sleep(_RETRY)
            response = await _request(self._link(), reversal, self.timeout)
            self.record.reversal(original, response)
            if response is not None and response.fields.get(39) in _DONE | {"C3"}:
                return True
        return False

    async def settle(self) -> int:
        """Reverse what it never learned; returns how many are still open."""
        for told in self.record.unknown():
            message = next(m for m in self._sent.values() if self.record.key_of(m) == told.key)
            await self.reverse(message, rounds=1)
        return len(self.record.unknown())
