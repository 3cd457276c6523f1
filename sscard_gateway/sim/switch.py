"""A UnionPay switch (CUPS) simulator for tests, demos and conformance runs.

It listens like CUPS does, in the CUPS dialect: members sign on (the link
layer answers 0820 sign-on, echo and sign-off), a transaction seen before
(same F7 + F11 + F32 + F33) is answered ``94``, and financial requests are
answered by :class:`~sscard_gateway.sim._rules.SwitchRules` — approve,
decline by amount or card, answer late, stay silent, or drop the connection.
Reversals (0420/0421) are acknowledged with ``00`` when the original is in
the day's record and ``25`` when it is not, and mark the original reversed.

The simulator keeps its own record of the day (:class:`SwitchRecord`), from
which the clearing file of a later issue is written; it holds what CUPS
holds, the clear PAN included, in memory only.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

import attrs
import trio

from ..crypto import SecurityModule
from ..iso import Dialect, Message, load_dialect
from ..link import LinkConfig, LinkKeys, ServedLink
from ._rules import Action, SwitchRules
from ._serve import Listener

__all__ = ["SwitchRecord", "SwitchSimulator", "SwitchStatistics"]


@attrs.frozen(kw_only=True)
class SwitchRecord:
    """One financial request as the switch saw and answered it."""

    mti: str
    processing_code: str
    pan: str = attrs.field(repr=False)
    amount: int
    stan: str
    transmission_time: str
    acquirer: str
    forwarder: str
    rrn: str
    authorization: str
    response_code: str
    terminal: str
    merchant: str
    reversed: bool = False

    @property
    def key(self) -> tuple[str, str, str, str]:
        """F7 + F11 + F32 + F33, the CUPS transaction identity (DOMAIN.md §2)."""
        return (self.transmission_time, self.stan, self.acquirer, self.forwarder)


@attrs.frozen
class SwitchStatistics:
    """A snapshot of what the simulator did."""

    requests: int
    approved: int
    declined: int
    silent: int
    dropped: int
    reversals: int
    connections: int


class SwitchSimulator(Listener):
    """The switch: ``await nursery.start(sim.serve)`` and point a link at its port.

    Args:
        rules: how to answer (approve everything by default); may be
            replaced at any time through :attr:`rules`.
        dialect: the CUPS dialect (the shipped one by default).
        security, keys: the switch's security module and key names, to
            verify and generate MACs as CUPS would.
        settlement_date: MMDD written into field 15 of responses.
        config: link settings of each member connection.
    """

    name = "switch-sim"

    def __init__(
        self,
        *,
        rules: SwitchRules | None = None,
        dialect: Dialect | None = None,
        security: SecurityModule | None = None,
        keys: LinkKeys | None = None,
        settlement_date: Callable[[], str] | None = None,
        config: LinkConfig | None = None,
    ) -> None:
        self.rules = rules or SwitchRules()
        self.dialect = dialect or load_dialect("cups")
        self.security = security
        self.keys = keys
        self.config = config or LinkConfig(sign_on=False, echo_interval=None)
        self.records: dict[tuple[str, str, str, str], SwitchRecord] = {}
        self.recent: collections.deque[Message] = collections.deque(maxlen=256)
        self.links: list[ServedLink] = []
        self._settlement_date = settlement_date or (lambda: "1126")
        self._sequence = 0
        self._counts = dict.fromkeys(
            ("requests", "approved", "declined", "silent", "dropped", "reversals", "connections"), 0
        )
        self.port: int | None = None

    # -- serving -------------------------------------------------------------

    def callbacks(self) -> dict[str, Any]:
        """Keep the connected members, so a rule can drop them."""
        return {"on_connect": self._connected, "on_disconnect": self._disconnected}

    def _connected(self, link: ServedLink) -> None:
        self.links.append(link)
        self._counts["connections"] += 1

    def _disconnected(self, link: ServedLink) -> None:
        if link in self.links:
            self.links.remove(link)

    def statistics(self) -> SwitchStatistics:
        """Counters since the simulator started."""
        return SwitchStatistics(**self._counts)

    def approved_records(self) -> list[SwitchRecord]:
        """The day's approved, unreversed financial records (for clearing)."""
        return [r for r in self.records.values() if r.response_code == "00" and not r.reversed]

    # -- answering --------------------------------------------------------------

    async def handle(self, message: Message) -> Message | None:
        """Answer one inbound request (the link layer calls this)."""
        self._counts["requests"] += 1
        self.recent.append(message)
        if message.mti[:2] in ("01", "02") and message.mti[3] in "02":
            # a transaction is F7 + F11 + F32 + F33 (DOMAIN.md §2): seen before, 94
            key = (message.text(7), message.text(11), message.text(32), message.text(33))
            if key in self.records:
                return message.response_to("94", {15: self._settlement_date()})
        decision = self.rules.decide(message)
        if decision.delay:
            await trio.sleep(decision.delay)
        if decision.action is Action.SILENT:
            self._counts["silent"] += 1
            return None
        if decision.action is Action.DROP:
            self._counts["dropped"] += 1
            for link in list(self.links):
                link.drop()
            return None
        if message.mti[:3] == "042":
            return self._reversal(message)
        code = decision.response_code
        self._counts["approved" if code == "00" else "declined"] += 1
        return self._respond(message, code)

    def _next(self) -> str:
        self._sequence += 1
        return f"{self._sequence % 1_000_000:06d}"

    def _respond(self, message: Message, code: str) -> Message:
        extra: dict[int, str | bytes] = {15: self._settlement_date()}
        if 37 not in message.fields:
            extra[37] = "SW" + self._next().rjust(10, "0")
        authorization = ""
        if code == "00" and message.mti[:2] in ("01", "02"):
            authorization = self._next()
            extra[38] = authorization
        response = message.response_to(code, extra)
        if message.mti[:2] in ("01", "02"):
            record = SwitchRecord(
                mti=message.mti,
                processing_code=message.text(3),
                pan=message.text(2),
                amount=int(message.text(4, "0") or "0"),
                stan=message.text(11),
                transmission_time=message.text(7),
                acquirer=message.text(32),
                forwarder=message.text(33),
                rrn=response.text(37),
                authorization=authorization,
                response_code=code,
                terminal=message.text(41),
                merchant=message.text(42),
            )
            self.records[record.key] = record
        return response

    def _reversal(self, message: Message) -> Message:
        self._counts["reversals"] += 1
        original = message.text(90)
        wanted = (original[10:20], original[4:10], original[20:31], original[31:42])
        found = None
        for record_key in self.records:
            f7, stan, acquirer, forwarder = record_key
            if (f7, stan, acquirer.zfill(11), forwarder.zfill(11)) == wanted:
                found = record_key
                break
        if found is None:
            return message.response_to("25", {15: self._settlement_date()})
        self.records[found] = attrs.evolve(self.records[found], reversed=True)
        return message.response_to("00", {15: self._settlement_date()})
