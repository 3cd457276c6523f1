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
from collections import Counter
from collections.abc import Callable
from datetime import datetime

import attrs
import trio

from ..crypto import SecurityModule
from ..iso import load_dialect
from ..link import Link, LinkConfig, ServedLink, StreamDriver, open_link, serve_links, tcp_connector
from ..routing import LegCounters, RouteTable, load_mapping
from ..store import (
    BatchingJournal,
    Journal,
    open_batching_journal,
)
from ._config import GatewayConfig
from ._from_cups import CupsFlows
from ._saf import StoreAndForward

__all__ = ["Gateway", "GatewayStatistics"]

log = logging.getLogger("sscard_gateway.gateway")


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
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        security: SecurityModule,
        journal: Journal,
        wallclock: Callable[[], datetime] = datetime.now,
        last_stan: int = 0,
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
        self.centers: dict[str, ServedLink] = {}
        self.upstream: Link | None = None
        self.ports: dict[str, int] = {}
        self._answers: Counter[tuple[str, str]] = Counter()
        self._bj: BatchingJournal | None = None
        self._saf: StoreAndForward | None = None

    # -- running ---------------------------------------------------------------

    async def run(
        self, *, task_status: trio.TaskStatus[dict[str, int]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen for centers, link to CUPS, deliver what is owed; until cancelled."""
        cfg = self.config
        up = cfg.upstream
        async with open_batching_journal(self.journal, max_batch=cfg.journal_batch) as bj:
            self._bj = bj
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
                tcp_connector(up.host, up.port),
                config=link_config,
                handler=self._from_cups,
                security=self.security,
                keys=up.link_keys(),
                backoff=up.backoff,
                name=up.name,
            ) as link:
                self.upstream = link
                async with trio.open_nursery() as nursery:
                    for center in cfg.centers:
                        listeners = await nursery.start(
                            functools.partial(
                                serve_links,
                                self.center_dialect,
                                handler=functools.partial(self._from_center, center),
                                host=center.host,
                                port=center.port,
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

    def _center_up(self, name: str, link: ServedLink) -> None:
        self.centers[name] = link
        if self._saf is not None:
            self._saf.wake()

    def _center_down(self, name: str, link: ServedLink) -> None:
        if self.centers.get(name) is link:
            del self.centers[name]

    def _link_named(self, name: str) -> StreamDriver | None:
        if name == self.config.upstream.name:
            return self.upstream
        return self.centers.get(name)

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
