"""The per-message flows of the gateway (see :mod:`._gateway` for the whole picture).

Each flow journals before it forwards and answers only after the outcome
is journaled; a leg whose outcome is unknown owes its reversal
(:func:`._legs.run_leg`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime

from ..clearing import Cutover
from ..crypto import SecurityModule
from ..errors import DecodeError, SecurityError, SscardError, ValidationError
from ..ids import AmountSplit
from ..iso import Dialect, FieldValue, Message
from ..iso.business import validate
from ..iso.composite import OriginalData
from ..link import Link, ServedLink, StreamDriver
from ..link import transmission_time as f7
from ..routing import LegCounters, NoRoute, RouteTable, Translator
from ..store import (
    AddOwed,
    BatchingJournal,
    Duplicate,
    InsertTransaction,
    Journal,
    OwedKind,
    TransactionRecord,
    TransactionStatus,
    UpdateTransaction,
)
from ._config import CenterLink, GatewayConfig
from ._legs import LegOutcome, PinRoute, owe, run_leg, translate_pin
from ._records import (
    Draft,
    declined,
    kind_of,
    leg_of,
    new_record,
    text_of,
    transaction_key,
    with_original,
    with_upstream,
)
from ._saf import StoreAndForward

__all__ = ["CUTOVER_SETTING", "Flows"]

CUTOVER_SETTING = "cutover.moved"
"""The journal setting that keeps the cutover boundaries the switch moved."""

log = logging.getLogger("sscard_gateway.gateway")


class Flows:
    """Request flows; :class:`~sscard_gateway.gateway.Gateway` supplies the state."""

    config: GatewayConfig
    security: SecurityModule
    journal: Journal
    routes: RouteTable
    center_dialect: Dialect
    cups_dialect: Dialect
    to_cups: Translator
    from_cups: Translator
    counters: LegCounters
    cutover: Cutover
    centers: dict[str, ServedLink]
    upstream: Link | None
    _clock: Callable[[], datetime]
    _answers: Counter[tuple[str, str]]
    _bj: BatchingJournal | None
    _saf: StoreAndForward | None

    # -- helpers -----------------------------------------------------------------

    @property
    def _journal(self) -> BatchingJournal:
        assert self._bj is not None, "the gateway is not running"
        return self._bj

    def _answer(
        self, kind: str, request: Message, code: str, extra: Mapping[int, FieldValue] | None = None
    ) -> Message:
        self._answers[(kind, code)] += 1
        return request.response_to(code, extra)

    async def _finish(self, key: str, code: str, *, authorization: str | None = None) -> None:
        status = TransactionStatus.APPROVED if code == "00" else TransactionStatus.DECLINED
        stamp = self._clock().timestamp()
        await self._journal.apply(
            UpdateTransaction(
                transaction_key=key,
                updated_at=stamp,
                status=status,
                response_code=code,
                responded_at=stamp,
                authorization_code=authorization,
            )
        )

    async def _insert(self, record: Draft) -> bool:
        """Journal a new transaction; False when its key was seen before."""
        result = await self._journal.apply(InsertTransaction(TransactionRecord(**record)))
        return not isinstance(result, Duplicate)

    def _link_named(self, name: str) -> StreamDriver | None:
        if name == self.config.upstream.name:
            return self.upstream
        return self.centers.get(name)

    def _owe(
        self,
        *,
        key: str,
        destination: str,
        dialect: Dialect,
        message: Message,
        kind: OwedKind = OwedKind.REVERSAL,
    ) -> AddOwed:
        return owe(
            key=key,
            destination=destination,
            payload=dialect.encode(message),
            stamp=self._clock().timestamp(),
            policy=self.config.saf,
            kind=kind,
        )

    def _wake_saf(self) -> None:
        if self._saf is not None:
            self._saf.wake()

    async def _leg(
        self,
        link: StreamDriver | None,
        outbound: Message,
        *,
        key: str,
        destination: str,
        reversal: Callable[[], Message],
        dialect: Dialect,
        timeout_code: str,
        now: datetime,
    ) -> LegOutcome:
        """One outbound leg (:func:`._legs.run_leg`); wakes store-and-forward if it owes."""
        outcome = await run_leg(
            link,
            outbound,
            journal=self._journal,
            key=key,
            destination=destination,
            reversal=reversal,
            dialect=dialect,
            timeout=self.config.request_timeout,
            timeout_code=timeout_code,
            policy=self.config.saf,
            now=now,
        )
        if outcome.reversal_owed:
            self._wake_saf()
        return outcome

    async def _relay(
        self,
        translator: Translator,
        kind: str,
        request: Message,
        key: str,
        outcome: LegOutcome,
        *,
        keep_authorization: bool = False,
    ) -> Message:
        """The requester's answer to a leg's outcome, journaled before it is given."""
        if outcome.response is None:
            return self._answer(kind, request, outcome.code)
        reply = translator.response(request, outcome.response)
        code = str(reply.fields.get(39, "96"))
        authorization = text_of(outcome.response, 38) if keep_authorization else None
        await self._finish(key, code, authorization=authorization)
        self._answers[(kind, code)] += 1
        return reply

    def _translate_pin(
        self, inbound: Message, outbound: Message, source: str, destination: str
    ) -> Message:
        """``outbound`` with the PIN block of ``inbound`` re-enciphered from the
        ``source`` link's PIN key to the ``destination``'s (:func:`._legs.translate_pin`)."""
        up = self.config.upstream

        def keys(name: str) -> tuple[str | None, str]:
            link = up if name == up.name else self.config.center(name)
            return link.pin_key, link.pin_format

        from_key, from_format = keys(source)
        to_key, to_format = keys(destination)
        route = PinRoute(
            from_key=from_key, from_format=from_format, to_key=to_key, to_format=to_format
        )
        dialect = self.cups_dialect if destination == up.name else self.center_dialect
        return translate_pin(self.security, inbound, outbound, route, dialect)

    # -- requests from a center ---------------------------------------------------

    async def _from_center(self, center: CenterLink, message: Message) -> Message | None:
        """Answer one request from ``center`` (the link layer calls this)."""
        if message.mti[:3] in ("040", "042"):
            return await self._center_reversal(center, message)
        kind = kind_of(message)
        now = self._clock()
        try:
            split = validate(message)
            record = self._draft(message, center.name, kind, now, split)
        except (ValidationError, DecodeError) as exc:
            return self._answer(kind, message, exc.response_code or "30")
        route = self.routes.route(message, source=center.name)
        if isinstance(route, NoRoute):
            if not await self._insert(declined(record, route.response_code)):
                return self._answer(kind, message, "94")
            return self._answer(kind, message, route.response_code)
        home = route.destination
        if (
            home != self.config.upstream.name
            and self.config.forward_to_home_center
            and home in self.centers
        ):
            return await self._cross_region(center, message, record, home, kind, split)
        # a route to CUPS, or to a home center that is away: the bank leg only
        if message.mti[:3] == "022":
            return await self._center_advice(center, message, record, kind)
        return await self._bank_leg(center, message, record, kind, inserted=False)

    async def _center_advice(
        self, center: CenterLink, message: Message, record: Draft, kind: str
    ) -> Message:
        """An advice (0220): accepted at once, delivered upstream by store-and-forward."""
        now = self._clock()
        up = self.config.upstream.name
        try:
            outbound = self.to_cups.request(
                message, counters=self.counters, now_f7=f7(now), institution=self.config.institution
            ).without(52)
        except SscardError as exc:
            return self._answer(kind, message, exc.response_code or "30")
        accepted = {
            **with_upstream(record, outbound, up),
            "status": TransactionStatus.APPROVED,
            "response_code": "00",
            "responded_at": now.timestamp(),
        }
        if not await self._insert(accepted):
            return self._answer(kind, message, "94")
        await self._journal.apply(
            self._owe(
                key=record["transaction_key"],
                destination=up,
                dialect=self.cups_dialect,
                message=outbound,
                kind=OwedKind.ADVICE,
            )
        )
        self._wake_saf()
        return self._answer(kind, message, "00")

    async def _bank_leg(
        self,
        center: CenterLink,
        message: Message,
        record: Draft,
        kind: str,
        *,
        inserted: bool,
    ) -> Message:
        """The CUPS leg of a center request (cash part of a settlement)."""
        key = record["transaction_key"]
        now = self._clock()
        try:
            amount = self.to_cups.outbound_amount(message)
        except ValidationError as exc:
            return self._answer(kind, message, exc.response_code or "13")
        up = self.config.upstream.name
        if amount == 0:  # nothing for the bank: the fund and personal account parts stand
            if not inserted and not await self._insert(record):
                return self._answer(kind, message, "94")
            await self._finish(key, "00")
            return self._answer(kind, message, "00")
        try:
            outbound = self.to_cups.request(
                message, counters=self.counters, now_f7=f7(now), institution=self.config.institution
            )
            outbound = self._translate_pin(message, outbound, center.name, up)
        except (SecurityError, ValidationError) as exc:
            code = exc.response_code or "96"
            if not inserted and not await self._insert(declined(record, code)):
                return self._answer(kind, message, "94")
            return self._answer(kind, message, code)
        except SscardError as exc:
            log.error("%s: cannot translate a %s: %s", center.name, kind, exc)
            return self._answer(kind, message, "30")
        leg = with_upstream(record, outbound, up)
        if inserted:
            await self._journal.apply(
                UpdateTransaction(
                    transaction_key=key,
                    updated_at=now.timestamp(),
                    destination=up,
                    upstream_stan=leg["upstream_stan"],
                    upstream_rrn=leg["upstream_rrn"],
                    upstream_key=leg["upstream_key"],
                )
            )
        elif not await self._insert(leg):
            return self._answer(kind, message, "94")
        outcome = await self._leg(
            self.upstream,
            outbound,
            key=key,
            destination=up,
            reversal=lambda: self.to_cups.reversal(
                outbound, counters=self.counters, now_f7=f7(self._clock())
            ),
            dialect=self.cups_dialect,
            timeout_code=self.center_dialect.spec.timeout_response,
            now=now,
        )
        return await self._relay(self.to_cups, kind, message, key, outcome, keep_authorization=True)

    async def _cross_region(
        self,
        center: CenterLink,
        message: Message,
        record: Draft,
        home: str,
        kind: str,
        split: AmountSplit | None,
    ) -> Message:
        """A treating center's settlement for a card of another, connected center."""
        now = self._clock()
        key = record["transaction_key"]
        try:
            outbound = message.with_fields(
                {
                    7: f7(now),
                    11: self.counters.next_stan(),
                    32: self.config.institution.acquirer,
                    33: center.institution,
                }
            )
            outbound = self._translate_pin(message, outbound, center.name, home)
        except (SecurityError, ValidationError) as exc:
            return self._answer(kind, message, exc.response_code or "96")
        leg = with_upstream(record, outbound, home)
        if not await self._insert(leg):
            return self._answer(kind, message, "94")
        home_reversal = outbound.reversal_of({7: f7(now), 11: self.counters.next_stan()})
        outcome = await self._leg(
            self.centers.get(home),
            outbound,
            key=key,
            destination=home,
            reversal=lambda: home_reversal,
            dialect=self.center_dialect,
            timeout_code=self.center_dialect.spec.timeout_response,
            now=now,
        )
        if outcome.response is None or outcome.code != "00":
            if outcome.response is not None:
                await self._finish(key, outcome.code)
            return self._answer(kind, message, outcome.code)
        if split is None or split.cash == 0:
            authorization = text_of(outcome.response, 38)
            await self._finish(key, "00", authorization=authorization)
            return self._answer(kind, message, "00", {38: authorization or "000000"})
        reply = await self._bank_leg(center, message, leg, kind, inserted=True)
        if reply.fields.get(39) != "00":  # the bank refused the cash: undo the home leg
            await self._journal.apply(
                self._owe(
                    key=key, destination=home, dialect=self.center_dialect, message=home_reversal
                )
            )
            self._wake_saf()
        return reply

    async def _center_reversal(self, center: CenterLink, message: Message) -> Message:
        """A center reverses one of its transactions: answer now, owe upstream."""
        kind = "reversal"
        now = self._clock()
        try:
            original_data = OriginalData.parse(message.text(90))
        except (DecodeError, KeyError, TypeError):
            return self._answer(kind, message, "30")
        original_key = (
            f"{center.name}:{now.year:04d}:{original_data.transmission_time}:"
            f"{original_data.stan}:{center.institution}"
        )
        record = self._draft(message, center.name, kind, now)
        original = await self._journal.get_transaction(original_key)
        if original is None:
            if not await self._insert(declined(record, "25")):
                return self._answer(kind, message, "00")
            return self._answer(kind, message, "25")
        if not await self._insert(with_original(record, original_key)):
            return self._answer(kind, message, "00")  # a repeated reversal: already accepted
        ops: list[AddOwed | UpdateTransaction] = [
            UpdateTransaction(
                transaction_key=original_key,
                updated_at=now.timestamp(),
                status=TransactionStatus.REVERSED,
            ),
            UpdateTransaction(
                transaction_key=record["transaction_key"],
                updated_at=now.timestamp(),
                status=TransactionStatus.APPROVED,
                response_code="00",
                responded_at=now.timestamp(),
            ),
        ]
        up = self.config.upstream.name
        if (
            original.upstream_key
            and original.destination == up
            and (original.status is TransactionStatus.APPROVED)
        ):
            leg = leg_of(self.cups_dialect, original, pan=text_of(message, 2))
            reversal = self.to_cups.reversal(leg, counters=self.counters, now_f7=f7(now))
            ops.append(
                self._owe(
                    key=record["transaction_key"],
                    destination=up,
                    dialect=self.cups_dialect,
                    message=reversal,
                )
            )
        await self._journal.apply_many(ops)
        self._wake_saf()
        return self._answer(kind, message, "00")

    def _draft(
        self,
        message: Message,
        source: str,
        kind: str,
        now: datetime,
        split: AmountSplit | None = None,
    ) -> Draft:
        """The journal record of a request from ``source`` as received.

        Raises:
            ValidationError: the amount split does not add up (``13``).
        """
        return new_record(
            message,
            key=transaction_key(message, source, now.year),
            source=source,
            kind=kind,
            now=now,
            hasher=self.journal.pan_hasher,
            settlement_date=self.cutover.settlement_date(now),
            split=split,
        )
