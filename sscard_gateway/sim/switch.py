"""A UnionPay switch (CUPS) simulator for tests, demos, conformance and fault runs.

Why it is strict: a gateway is judged by the switch's record of the day —
every debit the switch holds must be known to the requester or reversed —
so the simulator checks what it is sent as CUPS does and keeps that record
in a :class:`~sscard_gateway.sim.Ledger` (CUPS dialect): a transaction seen
before (same F7 + F11 + F32 + F33) is answered ``94``; advices are applied
once; a reversal must match its original as received (F3, F4, F32, F33,
PAN: else ``30``), names an unknown original ``25``, and reverses an
approved original once, however often it is resent.

It listens like CUPS does, in the CUPS dialect: members sign on (the link
layer answers sign-on, echo and sign-off), and financial requests are
answered by :class:`~sscard_gateway.sim._rules.SwitchRules` — approve,
decline by amount or card, answer late, stay silent, or drop the
connection. A request the switch stays silent on or drops never reaches
its record; one it answers late is recorded when it arrives. Reversals are
judged by the ledger alone: a rule's ``silent``, ``drop`` or response code
applies to a reversal only when the rule names the reversal's MTI
(``mti = ["04"]``); any matching rule's delay applies. Advices are always
accepted (a rule's response code does not apply to them).

The record of the day holds what CUPS holds, the clear PAN included, in
memory — and in the record file when one is given (``record=``), so a
restarted switch keeps its day. The clearing file of a later issue is
written from it (:meth:`SwitchSimulator.write_acom`).
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs
import trio

from ..clearing import write_acom
from ..crypto import SecurityModule
from ..iso import Dialect, Message, load_dialect
from ..link import LinkConfig, LinkKeys, ServedLink
from ._ledger import Effect, Entry, Ledger
from ._rules import Action, Decision, SwitchRules
from ._serve import Listener

__all__ = ["SwitchRecord", "SwitchSimulator", "SwitchStatistics"]


@attrs.frozen(kw_only=True)
class SwitchRecord:
    """One financial request or advice as the switch saw and answered it."""

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
    settlement_date: str = ""  # MMDD of the answer's F15

    @property
    def key(self) -> tuple[str, str, str, str]:
        """F7 + F11 + F32 + F33, the CUPS transaction identity (DOMAIN.md §2)."""
        return (self.transmission_time, self.stan, self.acquirer, self.forwarder)

    @classmethod
    def from_entry(cls, entry: Entry) -> SwitchRecord:
        """The record of a ledger entry."""
        values = attrs.asdict(entry, recurse=False)
        del values["kind"], values["key"]
        return cls(**values)


@attrs.frozen
class SwitchStatistics:
    """A snapshot of what the simulator did (the ledger has finer counters)."""

    requests: int
    approved: int
    declined: int
    silent: int
    dropped: int
    reversals: int
    connections: int


_APPROVED = (Effect.APPROVED, Effect.ADVICE_APPLIED)
_DECLINED = (Effect.DECLINED, Effect.ADVICE_REFUSED)


class SwitchSimulator(Listener):
    """The switch: ``await nursery.start(sim.serve)`` and point a link at its port.

    Args:
        rules: how to answer (approve everything by default); may be
            replaced at any time through :attr:`rules`.
        dialect: the CUPS dialect (the shipped one by default).
        security, keys: the switch's security module and key names, to
            verify and generate MACs as CUPS would.
        settlement_date: MMDD written into field 15 of responses (today's
            date by the local clock when not given).
        config: link settings of each member connection.
        record: the ledger's record file: replayed now, appended to on
            every change (``None``: the day is kept in memory only).

    Raises:
        SpecError: the record file has a bad line.
        OSError: the record file cannot be opened.
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
        record: str | os.PathLike[str] | None = None,
    ) -> None:
        self.rules = rules or SwitchRules()
        self.dialect = dialect or load_dialect("cups")
        self.security = security
        self.keys = keys
        self.config = config or LinkConfig(sign_on=False, echo_interval=None)
        self.ledger = Ledger(self.dialect, record, rrn_prefix="SW")
        self.recent: collections.deque[Message] = collections.deque(maxlen=256)
        self.links: list[ServedLink] = []
        self._settlement_date = settlement_date or (lambda: datetime.now().strftime("%m%d"))
        self._counts = dict.fromkeys(
            ("requests", "approved", "declined", "silent", "dropped", "reversals", "connections"), 0
        )
        self._reversal_mtis = {self.dialect.spec.reversal_mti, self.dialect.spec.retransmission_mti}
        self._records: Mapping[tuple[str, str, str, str], SwitchRecord] = MappingProxyType({})
        self._records_version = -1
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

    # -- the record of the day ---------------------------------------------------

    @property
    def records(self) -> Mapping[tuple[str, str, str, str], SwitchRecord]:
        """The day's records by F7 + F11 + F32 + F33, as received (a read-only view).

        Requests and advices, approved or declined, reversed or not, in the
        order received; give ``records.values()`` to
        :func:`~sscard_gateway.clearing.write_acom`.
        """
        if self._records_version != self.ledger.version:
            self._records = MappingProxyType(
                {r.key: r for r in map(SwitchRecord.from_entry, self.ledger.entries())}
            )
            self._records_version = self.ledger.version
        return self._records

    def approved_records(self) -> list[SwitchRecord]:
        """The day's approved, unreversed records: what the switch holds (for clearing)."""
        return [SwitchRecord.from_entry(e) for e in self.ledger.held()]

    def statistics(self) -> SwitchStatistics:
        """Counters since the simulator started."""
        return SwitchStatistics(**self._counts)

    def write_acom(self, folder: str | os.PathLike[str], settlement_date: str) -> Path:
        """Write the day's clearing file (``IND<YYMMDD>01ACOM``) from the ledger.

        Args:
            folder: an existing folder, or the file's path.
            settlement_date: ``YYYYMMDD``.

        Returns:
            The path written: the held entries that settle, one line each.

        Raises:
            AcomFormatError: an entry's value does not fit its field.
            ClearingError: the file cannot be written.
        """
        return write_acom(self.ledger.held(), folder, settlement_date=settlement_date)

    def close(self) -> None:
        """Close the record file (the day can still be read)."""
        self.ledger.close()

    # -- answering --------------------------------------------------------------

    def _decide(self, message: Message) -> Decision:
        """The rules' decision; for a reversal, only rules naming its MTI decide."""
        if message.mti not in self._reversal_mtis:
            return self.rules.decide(message)
        for rule in self.rules.rules:
            if rule.mti and rule.matches(message):
                return rule.decision
        return Decision(delay=self.rules.decide(message).delay)

    async def handle(self, message: Message) -> Message | None:
        """Answer one inbound request (the link layer calls this)."""
        self._counts["requests"] += 1
        self.recent.append(message)
        decision = self._decide(message)
        if decision.action is not Action.RESPOND:
            if decision.delay:
                await trio.sleep(decision.delay)
            if decision.action is Action.SILENT:
                self._counts["silent"] += 1
                return None
            self._counts["dropped"] += 1
            for link in list(self.links):
                link.drop()
            return None
        extra = {15: self._settlement_date()}
        if message.mti in self._reversal_mtis:
            self._counts["reversals"] += 1
            if decision.response_code not in self.dialect.spec.approved:
                # a rule naming reversals refuses them: answered, nothing applied
                response = message.response_to(decision.response_code, extra)
            else:
                response = self.ledger.apply(message, settlement_date=extra[15]).response(
                    message, extra
                )
        else:
            outcome = self.ledger.apply(message, decision.response_code, settlement_date=extra[15])
            if outcome.entry is not None and outcome.entry.settlement_date:
                extra = {15: outcome.entry.settlement_date}  # a repeat: the date it was applied
            if outcome.effect in _APPROVED or (
                outcome.effect is Effect.NOT_RECORDED
                and outcome.response_code in self.dialect.spec.approved
            ):
                self._counts["approved"] += 1
            elif outcome.effect in _DECLINED or outcome.effect is Effect.NOT_RECORDED:
                self._counts["declined"] += 1
            response = outcome.response(message, extra)
        if decision.delay:
            # recorded on arrival, answered late: the answer a timed-out requester misses
            await trio.sleep(decision.delay)
        return response
