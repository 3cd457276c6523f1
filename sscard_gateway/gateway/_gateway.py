"""The gateway: routes social security card transactions and loses nothing.

Theory of operation
-------------------
The gateway listens for each regional center (one listener per center,
with that center's MAC and PIN keys) and keeps one link up to the UnionPay
switch. The link layer verifies the MAC of every inbound message (a bad
one is answered ``A0`` and never reaches the gateway) and MACs every
outbound one. Every request, reversal and advice a link hands over becomes
a saga of the transaction engine (:mod:`sscard_gateway.engine`), which
decides, and the :class:`~._executor.Executor` carries out: journal, send
the legs, answer. The sagas run in the gateway's own nursery, so a center
whose line drops does not cancel the legs of its requests.

A center connection becomes routable only once it has signed on; several
signed-on connections of one center share its traffic, and one that ends
removes only itself. Store-and-forward (:class:`~._saf.StoreAndForward`)
delivers owed reversals and advices to the links that are signed on.

At start the gateway continues its STAN sequence after the journal's last
one and applies the recovery table (:mod:`sscard_gateway.engine._recovery`)
to every transaction left ``pending`` and every leg left ``sent``: what a
crash cut short is reversed, before any new request is taken.
"""

from __future__ import annotations

import functools
import logging
import random as _random
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

import attrs
import trio

from ..clearing import Cutover
from ..crypto import SecurityModule
from ..engine import Engine, Saga, kind_of, recover, resume
from ..iso import Dialect, Message
from ..link import (
    Connector,
    Link,
    LinkConfig,
    LinkState,
    ServedLink,
    StreamDriver,
    open_link,
    serve_links,
    tcp_connector,
)
from ..store import (
    BatchingJournal,
    Journal,
    LegState,
    OwedStatus,
    SetSetting,
    TransactionQuery,
    TransactionStatus,
    open_batching_journal,
)
from ._build import engine_for, link_dialects, route_table
from ._config import CenterLink, GatewayConfig
from ._executor import Executor, Ticket
from ._saf import StoreAndForward

__all__ = ["CUTOVER_SETTING", "AnswerHook", "Gateway", "GatewayStatistics", "ListenerFactory"]

log = logging.getLogger("sscard_gateway.gateway")

CUTOVER_SETTING = "cutover.moved"
"""The journal setting that keeps the cutover boundaries the switch moved."""

AnswerHook = Callable[[str, Message, Message | None, float], None]
"""Told of every inbound request once handled: (link name, request, response
or ``None``, seconds on Trio's clock). Metrics use it; it must not block."""

ListenerFactory = Callable[[CenterLink], Awaitable[list[trio.abc.Listener[trio.abc.Stream]]]]
"""Opens the listeners of one center (TCP on its host and port by default; the fault
simulation gives in-memory ones)."""


@attrs.frozen
class GatewayStatistics:
    """A snapshot: answers by (kind, response code), links, store-and-forward, the engine."""

    answers: dict[tuple[str, str], int]
    centers_connected: tuple[str, ...]
    upstream_ready: bool
    reversals_delivered: int
    saf_retries: int
    exceptions: int = 0
    refused: int = 0
    undeliverable: int = 0
    recovered: int = 0


class Gateway:
    """Run with ``ports = await nursery.start(gateway.run)``; stop by cancelling.

    Args:
        config: links, keys, routes, policies.
        security: the security module holding every key named in ``config``.
        journal: the journal (e.g. :class:`~sscard_gateway.store.SQLiteJournal`).
        wallclock: local time, for F7, settlement dates and journal stamps.
        last_stan: the last STAN the gateway used, when known outside the
            journal (the journal's own last one is used when larger).
        upstream_connector: opens the stream to the switch (TLS, or a memory
            stream in tests); plain TCP to ``config.upstream`` by default.
        center_ssl: TLS server contexts by center name; a center without one
            listens in plain TCP.
        on_answered: told of every inbound request once handled (metrics).
        listeners: opens each center's listeners (TCP by default).
        random: the random source of reconnection jitter.
        journal_threads: call the journal from worker threads (``False``
            for deterministic simulation).
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
        listeners: ListenerFactory | None = None,
        random: Callable[[], float] | None = None,
        journal_threads: bool = True,
    ) -> None:
        self.config = config
        self.security = security
        self.journal = journal
        self._clock = wallclock
        self.routes = route_table(config)
        self.dialects: dict[str, Dialect] = link_dialects(config)
        self.cutover = Cutover(config.cutover_at)
        self.centers: dict[str, list[ServedLink]] = {}
        self.upstream: Link | None = None
        self.ports: dict[str, int] = {}
        self.engine: Engine | None = None
        self._last_stan = last_stan
        self._answers: Counter[tuple[str, str]] = Counter()
        self._bj: BatchingJournal | None = None
        self._saf: StoreAndForward | None = None
        self._executor: Executor | None = None
        self._connector = upstream_connector
        self._center_ssl = dict(center_ssl or {})
        self._on_answered = on_answered
        self._listeners = listeners
        self._random = random or _random.random
        self._threads = journal_threads
        self._tickets: dict[int, Ticket] = {}
        self._in_flight = 0
        self._recovered = 0
        self._draining = False
        self._idle: trio.Event | None = None
        self._serving: trio.Nursery | None = None

    # -- links -------------------------------------------------------------------

    def _link(self, name: str) -> StreamDriver | None:
        """The link a leg to ``name`` goes on (a center: one of its signed-on connections)."""
        if name == self.config.upstream.name:
            return self.upstream
        connections = self.centers.get(name)
        return connections[0] if connections else None

    def _signed_on(self, name: str) -> StreamDriver | None:
        link = self._link(name)
        return link if link is not None and link.state is LinkState.SIGNED_ON else None

    def _ready(self) -> frozenset[str]:
        names = [self.config.upstream.name, *self.centers]
        return frozenset(n for n in names if self._signed_on(n) is not None)

    def _center_state(self, name: str, link: ServedLink, state: LinkState) -> None:
        connections = self.centers.setdefault(name, [])
        if state is LinkState.SIGNED_ON:
            if link not in connections:
                connections.append(link)
            self._wake()
        elif link in connections:
            connections.remove(link)
        if not connections:
            self.centers.pop(name, None)

    def _center_down(self, name: str, link: ServedLink) -> None:
        self._center_state(name, link, LinkState.CLOSED)

    def _upstream_state(self, state: LinkState) -> None:
        if state is LinkState.SIGNED_ON:
            self._wake()

    def _wake(self, destinations: frozenset[str] = frozenset()) -> None:
        if self._saf is not None:
            self._saf.wake()

    # -- running -------------------------------------------------------------------

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

    async def _recover(self, journal: BatchingJournal, engine: Engine, executor: Executor) -> None:
        """Apply the recovery table to what a previous run left open (module docs)."""
        # owed before this start (read first: what recovery owes below was never sent)
        owed = await journal.owed_items(status=OwedStatus.OWED, limit=1_000_000)
        keys: dict[str, None] = {}
        async for record in journal.transactions(TransactionQuery(statuses={_PENDING})):
            keys[record.transaction_key] = None
        for leg in await journal.legs_in(frozenset({LegState.SENT}), limit=1_000_000):
            keys[leg.transaction_key] = None
        for key in keys:
            found = await journal.get_transaction(key)
            if found is None:
                continue
            record = found
            peer = engine.peers.get(record.source)
            timeout = peer.dialect.spec.timeout_response if peer is not None else "96"
            legs = await journal.legs(key)
            ops = recover(
                record, legs, self._clock(), compensator=engine.compensator, timeout_code=timeout
            )
            if not ops:
                continue
            result = await executor.land(ops)
            if result.applied:
                self._recovered += 1
            else:
                log.error("recovery of %s refused: %r", key, result.stopper)
        resumed = [op for item in owed for op in resume(item, self._clock())]
        if resumed:  # their first attempt may have reached the peer: repeats from now on
            await executor.land(resumed)  # the gateway serves only once this is journaled
        if self._recovered:
            log.warning("recovered %d transactions a previous run left open", self._recovered)

    async def run(
        self, *, task_status: trio.TaskStatus[dict[str, int]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Recover, listen for centers, link to CUPS, deliver what is owed; until cancelled."""
        cfg = self.config
        up = cfg.upstream
        async with open_batching_journal(
            self.journal, max_batch=cfg.journal_batch, threads=self._threads
        ) as bj:
            self._bj = bj
            await self._restore_cutover(bj)
            engine = engine_for(
                cfg,
                security=self.security,
                hasher=self.journal.pan_hasher,
                cutover=self.cutover,
                dialects=self.dialects,
                routes=self.routes,
                last_stan=max(self._last_stan, await bj.last_stan()),
            )
            self.engine = engine
            self._executor = Executor(
                bj, links=self._link, wake=self._wake, clock=self._clock, on_reply=self._counted
            )
            await self._recover(bj, engine, self._executor)
            self._saf = StoreAndForward(
                bj,
                links=self._signed_on,
                ready=self._ready,
                dialects=self.dialects,
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
                self.dialects[up.name],
                self._connector or tcp_connector(up.host, up.port),
                config=link_config,
                handler=functools.partial(self._serve, up.name),
                security=self.security,
                keys=up.link_keys(),
                backoff=up.backoff,
                random=self._random,
                wallclock=self._clock,
                name=up.name,
                on_sent=self._sent,
                on_state=self._upstream_state,
            ) as link:
                self.upstream = link
                async with trio.open_nursery() as nursery:
                    self._serving = nursery
                    for center in cfg.centers:
                        await self._listen(nursery, center)
                    nursery.start_soon(self._saf.run)
                    task_status.started(dict(self.ports))

    async def _listen(self, nursery: trio.Nursery, center: CenterLink) -> None:
        listeners = None
        if self._listeners is not None:
            listeners = await self._listeners(center)
        bound = await nursery.start(
            functools.partial(
                serve_links,
                self.dialects[center.name],
                handler=functools.partial(self._serve, center.name),
                host=center.host,
                port=center.port,
                listeners=listeners,
                ssl_context=self._center_ssl.get(center.name),
                config=LinkConfig(sign_on=True, echo_interval=None),
                security=self.security,
                keys=center.link_keys(),
                on_disconnect=functools.partial(self._center_down, center.name),
                on_state=functools.partial(self._center_state, center.name),
                on_sent=self._sent,
                wallclock=self._clock,
                name=center.name,
            )
        )
        socket = getattr(bound[0], "socket", None)
        if socket is not None:
            self.ports[center.name] = socket.getsockname()[1]

    async def drain(self, timeout: float) -> bool:
        """Refuse new requests and wait for those in flight, for a graceful stop.

        A stop that cancels the gateway mid-request leaves the requester
        unanswered and the transaction pending (the next start's recovery
        reverses what it holds); draining first lets every request already
        taken finish (journaled, answered, its reversal owed if its leg
        timed out). From this call on, new requests are answered ``91`` and
        nothing of them is journaled or forwarded. Then :meth:`stop` it (or
        cancel its scope: no sign-off).

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

        The centers' listeners and connections, store-and-forward and any
        saga still running stop at once (what is owed stays owed); then, as
        :meth:`run` returns, the switch link signs off (0820 F70 ``002``,
        bounded by its drain and sign-off timeouts) and the journal commits
        what is queued. Cancelling :meth:`run`'s scope instead skips the
        sign-off.
        """
        self._draining = True
        if self._serving is not None:
            self._serving.cancel_scope.cancel()

    @property
    def in_flight(self) -> int:
        """Inbound messages being handled now (their sagas running)."""
        return self._in_flight

    # -- one inbound message ---------------------------------------------------------

    def _counted(self, kind: str, code: str) -> None:
        self._answers[(kind, code)] += 1

    def _sent(self, request: Message, response: Message, delivered: bool) -> None:
        ticket = self._tickets.pop(id(request), None)
        if ticket is not None:
            ticket.sent(delivered)

    async def _serve(self, source: str, message: Message) -> Message | None:
        """Answer one inbound message (the link layer calls this on the connection's task)."""
        start = trio.current_time()
        response: Message | None = None
        try:
            response = await self._answer(source, message)
            return response
        finally:
            if self._on_answered is not None:
                self._on_answered(source, message, response, trio.current_time() - start)

    async def _answer(self, source: str, message: Message) -> Message | None:
        if source == self.config.upstream.name:
            cutover = await self._cutover(message)
            if cutover is not None:
                return cutover
        if self._draining or self._serving is None or self.engine is None:
            self._counted(kind_of(message), "91")
            return message.response_to("91")
        assert self._executor is not None
        saga = self.engine.inbound(source, message, self._clock())
        ticket = Ticket()
        self._tickets[id(message)] = ticket
        self._in_flight += 1
        self._serving.start_soon(self._drive, saga, ticket)
        try:
            return await ticket.wait()
        except BaseException:
            self._tickets.pop(id(message), None)
            ticket.abandon()  # the requester went away: its legs go on without it
            raise

    async def _drive(self, saga: Saga, ticket: Ticket) -> None:
        assert self._executor is not None
        try:
            await self._executor.drive(saga, ticket)
        finally:
            self._in_flight -= 1
            if not self._in_flight and self._idle is not None:
                self._idle.set()

    async def _cutover(self, message: Message) -> Message | None:
        """0820 F70 201/202 from the switch: its cutover (docs/clearing.md); else ``None``."""
        now = self._clock()
        event = self.cutover.on_message(message, now)
        if event is None:
            return None
        if not event.accepted:
            log.warning("cutover %s at %s outside the configured time: ignored",
                        event.signal, now.strftime("%H:%M"))  # fmt: skip
        if event.changed and self._bj is not None:  # kept before it is acknowledged
            await self._bj.apply(SetSetting(CUTOVER_SETTING, self.cutover.saved()))
        return message.response_to("00")

    def statistics(self) -> GatewayStatistics:
        """Answers by kind and code, connected links, store-and-forward and engine counts."""
        saf = self._saf.counts if self._saf is not None else None
        engine = self.engine.counts if self.engine is not None else Counter()
        return GatewayStatistics(
            answers=dict(self._answers),
            centers_connected=tuple(sorted(self.centers)),
            upstream_ready=self.upstream is not None and self.upstream.state is LinkState.SIGNED_ON,
            reversals_delivered=saf.delivered if saf else 0,
            saf_retries=saf.retried if saf else 0,
            exceptions=saf.exceptions if saf else 0,
            refused=engine["refused"],
            undeliverable=engine["undeliverable"],
            recovered=self._recovered,
        )


_PENDING = TransactionStatus.PENDING
