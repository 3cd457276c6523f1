"""Prometheus metrics of a running gateway, served on a loopback HTTP port.

Why read snapshots rather than count inside the gateway: the gateway and
the journal already keep the numbers an operator watches (answers by kind
and response code, links up, store-and-forward counts — STYLE.md 10,
statistics as records), so the metrics are those snapshots, read when
Prometheus scrapes (the gateway's, cheap and in memory) or every
``interval`` seconds by a Trio task (the journal's, a query in a worker
thread). Only latency needs an observation per request; it comes from the
gateway's ``on_answered`` hook.

Each :class:`GatewayMetrics` has a registry of its own (never the
process-global one), so two services in one process — tests — do not
collide. :func:`serve_metrics` is a small Trio HTTP/1.1 responder (GET or
HEAD ``/metrics``; the connection closes after each answer) on 127.0.0.1:
the endpoint has no authentication.

Metrics:

=====================================  =======  ==============================================
``sscard_transactions_total``          counter  answers given, by ``kind`` and response ``code``
``sscard_request_duration_seconds``    histo.   time to answer an inbound request, by ``link``
``sscard_requests_in_flight``          gauge    inbound requests being handled
``sscard_link_up``                     gauge    1 when signed on (centers: connected), by ``link``
``sscard_reversals_delivered_total``   counter  owed reversals delivered by store-and-forward
``sscard_saf_retries_total``           counter  store-and-forward retries
``sscard_saf_depth``                   gauge    reversals and advices owed (store-and-forward depth)
``sscard_saf_owed``                    gauge    owed items by ``kind`` (reversal, advice)
``sscard_saf_due``                     gauge    owed items due now
``sscard_saf_oldest_owed_seconds``     gauge    age of the oldest owed item
``sscard_saf_finished``                gauge    owed items ended, by ``status``
``sscard_saf_exceptions``              gauge    owed items in the exception queue (operator)
``sscard_journal_legs``                gauge    outbound legs, by ``state``
``sscard_engine_events_total``         counter  ``refused`` transitions, ``undeliverable``
                                                approvals reversed, ``recovered`` at start
``sscard_journal_transactions``        gauge    transactions journaled
``sscard_journal_pending``             gauge    of which without a final answer
=====================================  =======  ==============================================
"""

from __future__ import annotations

import functools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Final

import trio
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..gateway import Gateway
from ..iso import Message
from ..store import Journal, JournalStatistics, OwedStatus

__all__ = ["GatewayMetrics", "serve_metrics"]

log = logging.getLogger("sscard_gateway.service.metrics")

OWED_SAMPLE: Final = 10_000
"""Owed items read to count them by kind; beyond it the per-kind counts are lower bounds."""

_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_MAX_REQUEST: Final = 8192


class GatewayMetrics:
    """The metrics of one gateway, in a registry of their own.

    Args:
        upstream: the upstream link's name.
        centers: the center links' names (each gets a ``sscard_link_up`` series).
    """

    def __init__(self, *, upstream: str, centers: Sequence[str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._upstream = upstream
        self._centers = tuple(centers)
        self._gateway: Gateway | None = None
        self._journal: JournalStatistics | None = None
        self._owed_kinds: Counter[str] = Counter()
        self.latency = Histogram(
            "sscard_request_duration_seconds",
            "Seconds from an inbound request to its answer, by the link it came on.",
            ["link"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(self)  # collect() gives the snapshot metrics at each scrape

    def bind(self, gateway: Gateway) -> None:
        """Read this gateway's statistics at each scrape."""
        self._gateway = gateway

    def observe(
        self, source: str, request: Message, response: Message | None, seconds: float
    ) -> None:
        """The gateway's ``on_answered`` hook: record one request's latency.

        Args:
            source: the link the request came on.
            request: the request (unused: kinds and codes come from the snapshots).
            response: the answer, or ``None``.
            seconds: how long answering took.
        """
        self.latency.labels(link=source).observe(seconds)

    def update_journal(self, statistics: JournalStatistics, owed_kinds: Counter[str]) -> None:
        """Keep the journal's latest snapshot (and owed items counted by kind)."""
        self._journal = statistics
        self._owed_kinds = owed_kinds

    async def read_journal(self, journal: Journal) -> None:
        """Read the journal's statistics once, in a worker thread.

        Raises:
            JournalError: the journal failed.
        """

        def read() -> tuple[JournalStatistics, Counter[str]]:
            stats = journal.statistics(time.time())
            kinds: Counter[str] = Counter()
            if stats.owed:
                items = journal.owed_items(status=OwedStatus.OWED, limit=OWED_SAMPLE)
                kinds.update(item.kind.value for item in items)
            return stats, kinds

        self.update_journal(*await trio.to_thread.run_sync(read))

    async def poll_journal(self, journal: Journal, interval: float) -> None:
        """Read the journal every ``interval`` seconds until cancelled (errors are logged)."""
        while True:
            try:
                await self.read_journal(journal)
            except Exception:
                log.exception("cannot read the journal's statistics")
            await trio.sleep(interval)

    def render(self) -> bytes:
        """The metrics in the Prometheus text format."""
        return generate_latest(self.registry)

    def collect(self) -> Iterable[Metric]:
        """The snapshot metrics (the registry calls this at each scrape)."""
        gateway = self._gateway
        answers = CounterMetricFamily(
            "sscard_transactions",
            "Answers given to requests, by transaction kind and response code.",
            labels=["kind", "code"],
        )
        up = GaugeMetricFamily(
            "sscard_link_up", "1 when the link is signed on (centers: connected).", labels=["link"]
        )
        in_flight = GaugeMetricFamily(
            "sscard_requests_in_flight", "Inbound requests being handled."
        )
        delivered = CounterMetricFamily(
            "sscard_reversals_delivered", "Owed reversals delivered by store-and-forward."
        )
        retries = CounterMetricFamily("sscard_saf_retries", "Store-and-forward retries.")
        engine = CounterMetricFamily(
            "sscard_engine_events",
            "Transaction engine events: refused transitions, undeliverable approvals"
            " (reversed), transactions recovered at start.",
            labels=["event"],
        )
        if gateway is not None:
            stats = gateway.statistics()
            for (kind, code), count in sorted(stats.answers.items()):
                answers.add_metric([kind, code], count)
            up.add_metric([self._upstream], 1.0 if stats.upstream_ready else 0.0)
            for name in self._centers:
                up.add_metric([name], 1.0 if name in stats.centers_connected else 0.0)
            in_flight.add_metric([], gateway.in_flight)
            delivered.add_metric([], stats.reversals_delivered)
            retries.add_metric([], stats.saf_retries)
            for event in ("refused", "undeliverable", "recovered"):
                engine.add_metric([event], getattr(stats, event))
        yield from (answers, up, in_flight, delivered, retries, engine)
        yield from self._journal_metrics()

    def _journal_metrics(self) -> Iterable[Metric]:
        j = self._journal
        if j is None:
            return
        yield _gauge("sscard_saf_depth", "Reversals and advices owed.", j.owed)
        owed = GaugeMetricFamily(
            "sscard_saf_owed", "Owed items by kind (a lower bound past 10000).", labels=["kind"]
        )
        for kind in ("reversal", "advice"):
            owed.add_metric([kind], self._owed_kinds.get(kind, 0))
        yield owed
        yield _gauge("sscard_saf_due", "Owed items due now.", j.due)
        yield _gauge(
            "sscard_saf_oldest_owed_seconds", "Age of the oldest owed item.", j.oldest_owed_age
        )
        finished = GaugeMetricFamily(
            "sscard_saf_finished", "Owed items ended, by status.", labels=["status"]
        )
        finished.add_metric(["done"], j.done)
        finished.add_metric(["resolved"], j.resolved)
        yield finished
        yield _gauge(
            "sscard_saf_exceptions",
            "Owed items in the exception queue (an operator must act: sscard-gateway owed).",
            j.exceptions,
        )
        legs = GaugeMetricFamily("sscard_journal_legs", "Outbound legs by state.", labels=["state"])
        for state, count in sorted(j.legs.items(), key=lambda item: item[0].value):
            legs.add_metric([state.value], count)
        yield legs
        yield _gauge("sscard_journal_transactions", "Transactions journaled.", j.transactions)
        yield _gauge("sscard_journal_pending", "Transactions without a final answer.", j.pending)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


async def serve_metrics(
    render: Callable[[], bytes],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Answer ``GET /metrics`` with ``render()`` until cancelled.

    Args:
        render: produces the body (:meth:`GatewayMetrics.render`).
        host: the address to listen on (keep it loopback: no authentication).
        port: the port (0: any free port).
        task_status: receives the port once listening.

    Raises:
        OSError: the port cannot be bound.
    """
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()[1]
    log.info("metrics on http://%s:%d/metrics", host, bound)
    task_status.started(bound)
    await trio.serve_listeners(functools.partial(_answer, render), listeners)


async def _answer(render: Callable[[], bytes], stream: trio.SocketStream) -> None:
    try:
        async with stream:
            with trio.move_on_after(10.0):
                await _exchange(render, stream)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass  # the scraper went away


async def _exchange(render: Callable[[], bytes], stream: trio.SocketStream) -> None:
    data = b""
    while b"\r\n\r\n" not in data and b"\n\n" not in data:
        chunk = await stream.receive_some(4096)
        if not chunk:
            return
        data += chunk
        if len(data) > _MAX_REQUEST:
            await _send(stream, "431 Request Header Fields Too Large", b"", head=False)
            return
    parts = data.split(b"\n", 1)[0].decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        await _send(stream, "400 Bad Request", b"bad request\n", head=False)
        return
    method, target = parts[0], parts[1].split("?", 1)[0]
    if method not in ("GET", "HEAD"):
        await _send(stream, "405 Method Not Allowed", b"GET or HEAD\n", head=False)
    elif target not in ("/metrics", "/"):
        await _send(stream, "404 Not Found", b"try /metrics\n", head=method == "HEAD")
    else:
        body = render()
        await _send(stream, "200 OK", body, head=method == "HEAD", content_type=CONTENT_TYPE_LATEST)


async def _send(
    stream: trio.SocketStream,
    status: str,
    body: bytes,
    *,
    head: bool,
    content_type: str = "text/plain; charset=utf-8",
) -> None:
    header = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode("latin-1")
    await stream.send_all(header if head else header + body)
