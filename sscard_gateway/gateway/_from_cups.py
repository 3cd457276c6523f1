"""Requests CUPS originates for cards of our centers (see :mod:`._gateway`).

A CUPS request for a card in a center's BIN ranges is routed to that home
center, translated into the center dialect with its PIN block re-enciphered,
journaled, forwarded, and the center's answer translated back to CUPS; on
the center's silence CUPS gets ``98`` and the center a reversal, owed.
"""

from __future__ import annotations

import logging

from ..errors import DecodeError, SscardError, ValidationError
from ..iso import Message
from ..link import transmission_time as f7
from ..routing import NoRoute
from ..store import SetSetting
from ._flows import CUTOVER_SETTING, Flows
from ._records import kind_of, with_upstream

__all__ = ["CupsFlows"]

log = logging.getLogger("sscard_gateway.gateway")


class CupsFlows(Flows):
    """The CUPS-originated flow, on top of the center flows."""

    async def _from_cups(self, message: Message) -> Message | None:
        """A CUPS-originated request for a card of one of our centers."""
        up = self.config.upstream.name
        now = self._clock()
        event = self.cutover.on_message(message, now)
        if event is not None:  # 0820 F70 201/202: the switch's cutover (docs/clearing.md)
            if not event.accepted:
                log.warning("cutover %s at %s outside the configured time: ignored",
                            event.signal, now.strftime("%H:%M"))  # fmt: skip
            if event.changed:  # kept before it is acknowledged: a restart keeps the date
                await self._journal.apply(SetSetting(CUTOVER_SETTING, self.cutover.saved()))
            return message.response_to("00")
        kind = kind_of(message)
        if message.mti[:3] in ("040", "042"):
            return self._answer(kind, message, "00")  # nothing of ours to undo upstream
        try:
            record = self._draft(message, up, kind, now)
        except (ValidationError, DecodeError) as exc:
            return self._answer(kind, message, exc.response_code or "30")
        route = self.routes.route(message, source=up)
        if isinstance(route, NoRoute):
            return self._answer(kind, message, route.response_code)
        home = route.destination
        link = self.centers.get(home)
        if link is None:
            return self._answer(kind, message, "91")
        try:
            outbound = self.from_cups.request(
                message, counters=self.counters, now_f7=f7(now), institution=self.config.institution
            )
            outbound = self._translate_pin(message, outbound, up, home)
        except SscardError as exc:
            return self._answer(kind, message, exc.response_code or "30")
        if not await self._insert(with_upstream(record, outbound, home)):
            return self._answer(kind, message, "94")
        outcome = await self._leg(
            link,
            outbound,
            key=record["transaction_key"],
            destination=home,
            reversal=lambda: outbound.reversal_of(
                {7: f7(self._clock()), 11: self.counters.next_stan()}
            ),
            dialect=self.center_dialect,
            timeout_code=self.cups_dialect.spec.timeout_response,
            now=now,
        )
        return await self._relay(self.from_cups, kind, message, record["transaction_key"], outcome)
