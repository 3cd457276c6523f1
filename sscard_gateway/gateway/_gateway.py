"""The gateway: routes social security card transactions and loses nothing.

Theory of operation
-------------------
The gateway listens for each regional center (one listener per center,
with that center's MAC and PIN keys) and keeps one link up to the UnionPay
switch. The link layer verifies the MAC of every inbound message (a bad
one is answered ``A0`` and never reaches this module) and MACs every
outbound one. For each request from a center (:meth:`Gateway._from_center`):

1. business checks the dialect declares (PAN ``14``, social security
   number ``30``, amount split ``13``);
2. routing by card BIN, home region and institution (no route: ``15`` or
   ``92``, nothing forwarded);
3. translation to the destination's dialect, with the PIN block
   re-enciphered from the center's PIN key to the destination's;
4. the journal: the request is inserted — durable — before anything is
   forwarded; a transaction key seen before answers ``94`` (this holds
   across restarts, the journal being on disk);
5. the leg; its response is journaled before the center is answered; on
   silence the center gets its dialect's timeout code (``68``) and the
   leg's reversal is journaled as owed, for store-and-forward.

A medical settlement whose cash part is ``0`` has no bank leg and is
approved here; its fund and personal-account parts are journaled for
cross-region clearing. A cross-region settlement goes first to the card's
home center when it is connected, then, for the cash part, to CUPS; if
CUPS declines, the home-center leg is reversed. A center's reversal
(``0420``) of an earlier transaction is answered at once and the upstream
reversal owed. CUPS-originated requests for cards in a center's BIN ranges
go to that home center and are answered back (:meth:`Gateway._from_cups`).
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

import attrs
import trio

from ..clearing import Cutover
from ..crypto import SecurityModule
from ..iso import Message, load_dialect
from ..link import (
    Connector,
    Link,
    LinkConfig,
    ServedLink,
    open_link,
    serve_links,
    tcp_connector,
)
from ..routing import LegCounters, RouteTable, load_mapping
from ..store import (
    BatchingJournal,
    Journal,
    open_batching_journal,
)
from ._config import GatewayConfig
from ._flows import CUTOVER_SETTING
from ._from_cups import CupsFlows
from ._records import kind_of
from ._saf import StoreAndForward

__all__ = ["Gateway", "GatewayStatistics"]

log = logging.getLogger("sscard_gateway.gateway")

AnswerHook = Callable[[str, Message, Message | None, float], None]
"""Told of every inbound request once handled: (link name, request, response
or ``None``, seconds on Trio's clock). Metrics use it; it must not block."""


@attrs.frozen
class GatewayStatistics:
    """A snapshot: answers by (kind, response code), links, store-and-forward."""

    answers: dict[tuple[str, str], int]
    centers_connected: tuple[str, ...]
    upstream_ready: bool
    reversals_delivered: int
    saf_retries: int


class Gateway(CupsFlows):
    """Run with ``ports = await nursery.start(gateway.run)``; stop by cancelling.

    Args:
        config: links, keys, routes, policies.
        security: the security module holding every key named in ``config``.
        journal: the journal (e.g. :class:`~sscard_gateway.store.SQLiteJournal`).
        wallclock: local time, for F7, settlement dates and journal stamps.
        last_stan: the last STAN the gateway used, to continue after a restart.
        upstream_connector: opens the stream to the switch (TLS, or a memory
            stream in tests); plain TCP to ``config.upstream`` by default.
        center_ssl: TLS server contexts by center name; a center without one
            listens in plain TCP.
        on_answered: told of every inbound request once handled (metrics).
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        security: SecurityModule,
        journal: Journal,
        wallclock: Callable[[], datetime] = datetime.now,
        last_stan: int = 0,
        upstream_connector: Connector | None = None,
        center_ssl: Mapping[str, ssl.SSLContext] | None = None,
        on_answered: AnswerHook | None = None,
    ) -> None:
        self.config = config
        self.security = security
        self.journal = journal
        self._clock = wallclock
        up = config.upstream.name
        names = {c.name for c in config.centers} | {up}
        self.routes = RouteTable.from_config(
            config.routes, file="<gateway config>", where="routing", destinations=names
        )
        self.center_dialect = load_dialect("center")
        self.cups_dialect = load_dialect("cups")
        self.to_cups = load_mapping("center_to_cups")
        self.from_cups = load_mapping("cups_to_center")
        self.counters = LegCounters(last_stan=last_stan)
        self.cutover = Cutover(config.cutover_at)
        self.centers: dict[str, ServedLink] = {}
        self.upstream: Link | None = None
        self.ports: dict[str, int] = {}
        self._answers: Counter[tuple[str, str]] = Counter()
        self._bj: BatchingJournal | None = None
        self._saf: StoreAndForward | None = None
        self._connector = upstream_connector
        self._center_ssl = dict(center_ssl or {})
        self._on_answered = on_answered
        self._in_flight = 0
        self._draining = False
        self._idle: trio.Event | None = None
        self._serving: trio.Nursery | None = None

    # -- running ---------------------------------------------------------------

    async def _restore_cutover(self, journal: BatchingJournal) -> None:
        """Take back the cutover boundaries the switch moved before a restart."""
        saved = await journal.setting(CUTOVER_SETTING)
        if saved is None:
            return
        try:
            self.cutover.restore(saved)
        except ValueError as exc:
            log.warning(
                "the kept cutover state is unreadable (%s): the configured time applies", exc
            )

    async def run(
        self, *, task_status: trio.TaskStatus[dict[str, int]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen for centers, link to CUPS, deliver what is owed; until cancelled."""
        cfg = self.config
        up = cfg.upstream
        async with open_batching_journal(self.journal, max_batch=cfg.journal_batch) as bj:
            self._bj = bj
            await self._restore_cutover(bj)
            self._saf = StoreAndForward(
                bj,
                links=self._link_named,
                dialects={up.name: self.cups_dialect}
                | {c.name: self.center_dialect for c in cfg.centers},
                policy=cfg.saf,
                wallclock=self._clock,
            )
            link_config = LinkConfig(
                sign_on=up.sign_on,
                echo_interval=up.echo_interval,
                request_timeout=cfg.request_timeout,
                network_fields={33: cfg.institution.forwarder},
            )
            async with open_link(
                self.cups_dialect,
                self._connector or tcp_connector(up.host, up.port),
                config=link_config,
                handler=functools.partial(self._serve, up.name, self._from_cups),
                security=self.security,
                keys=up.link_keys(),
                backoff=up.backoff,
                name=up.name,
            ) as link:
                self.upstream = link
                async with trio.open_nursery() as nursery:
                    self._serving = nursery
                    for center in cfg.centers:
                        listeners = await nursery.start(
                            functools.partial(
                                serve_links,
                                self.center_dialect,
                                handler=functools.partial(
                                    self._serve,
                                    center.name,
                                    functools.partial(self._from_center, center),
                                ),
                                host=center.host,
                                port=center.port,
                                ssl_context=self._center_ssl.get(center.name),
                                config=LinkConfig(sign_on=True, echo_interval=None),
                                security=self.security,
                                keys=center.link_keys(),
                                on_connect=functools.partial(self._center_up, center.name),
                                on_disconnect=functools.partial(self._center_down, center.name),
                                name=center.name,
                            )
                        )
                        self.ports[center.name] = listeners[0].socket.getsockname()[1]
                    nursery.start_soon(self._saf.run)
                    task_status.started(dict(self.ports))

    async def drain(self, timeout: float) -> bool:
        """Refuse new requests and wait for those in flight, for a graceful stop.

        A stop that cancels the gateway mid-request leaves the requester
        unanswered and the transaction pending; draining first lets every
        request already taken finish (journaled, answered, its reversal
        owed if its leg timed out). From this call on, new requests are
        answered ``91`` and nothing of them is journaled or forwarded.
        Then :meth:`stop` it (or cancel its scope: no sign-off).

        Args:
            timeout: the most seconds to wait.

        Returns:
            Whether nothing was left in flight.
        """
        self._draining = True
        with trio.move_on_after(timeout):
            while self._in_flight:
                self._idle = trio.Event()
                await self._idle.wait()
        return self._in_flight == 0

    def stop(self) -> None:
        """Make :meth:`run` return gracefully (after :meth:`drain`, usually).

        The centers' listeners and connections and store-and-forward stop
        at once (what is owed stays owed); then, as :meth:`run` returns, the
        switch link signs off (0820 F70 ``002``, bounded by its drain and
        sign-off timeouts) and the journal commits what is queued. Cancelling
        :meth:`run`'s scope instead skips the sign-off.
        """
        self._draining = True
        if self._serving is not None:
            self._serving.cancel_scope.cancel()

    @property
    def in_flight(self) -> int:
        """Inbound requests being handled now."""
        return self._in_flight

    async def _serve(
        self,
        source: str,
        handler: Callable[[Message], Awaitable[Message | None]],
        message: Message,
    ) -> Message | None:
        if self._draining:
            return self._answer(kind_of(message), message, "91")
        self._in_flight += 1
        start = trio.current_time()
        response: Message | None = None
        try:
            response = await handler(message)
            return response
        finally:
            self._in_flight -= 1
            if not self._in_flight and self._idle is not None:
                self._idle.set()
            if self._on_answered is not None:
                self._on_answered(source, message, response, trio.current_time() - start)

    def _center_up(self, name: str, link: ServedLink) -> None:
        self.centers[name] = link
        if self._saf is not None:
            self._saf.wake()

    def _center_down(self, name: str, link: ServedLink) -> None:
        if self.centers.get(name) is link:
            del self.centers[name]

    def statistics(self) -> GatewayStatistics:
        """Answers by kind and code, connected links, store-and-forward counts."""
        saf = self._saf.counts if self._saf is not None else None
        return GatewayStatistics(
            answers=dict(self._answers),
            centers_connected=tuple(sorted(self.centers)),
            upstream_ready=self.upstream is not None and self.upstream.state.name == "SIGNED_ON",
            reversals_delivered=saf.delivered if saf else 0,
            saf_retries=saf.retried if saf else 0,
        )
