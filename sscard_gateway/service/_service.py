"""The gateway as a process: start from a configuration, serve, stop without losing anything.

Theory of operation
-------------------
:meth:`Service.run` opens the key store (checking every key name the
configuration uses), the journal and the TLS contexts, starts the metrics
endpoint and the :class:`~sscard_gateway.gateway.Gateway`, and serves
until :meth:`Service.stop` is called — by SIGTERM or SIGINT when it
handles signals (``trio.open_signal_receiver``).

A stop is graceful (docs/architecture.md principle 4, nothing lost):

1. the gateway stops taking requests: new ones are answered ``91``, with
   nothing journaled or forwarded (:meth:`Gateway.drain`);
2. the requests in flight finish, up to ``drain_timeout`` seconds: each is
   journaled with its final status and answered, its reversal journaled as
   owed if its leg timed out;
3. the gateway stops (:meth:`Gateway.stop`): the centers' listeners and
   store-and-forward stop (what is owed stays owed in the journal), the
   switch link signs off (0820 F70 ``002``, bounded) and the journal's
   group-commit writer commits what is queued before it exits;
4. the journal file is closed; the process exits 0.

A second signal cuts the drain short, and the sign-off too (the gateway's
scope is cancelled); requests still in flight then stay *pending* in the
journal, which a restarted gateway finds
(``TransactionQuery(statuses={PENDING})``). The journal's queued writes
are committed in any case.
"""

from __future__ import annotations

import functools
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

import trio

from ..config import ServiceConfig
from ..gateway import Gateway
from ..store import SQLiteJournal
from ._metrics import GatewayMetrics, serve_metrics
from ._open import check_keys, last_stan, open_journal, open_security, tls_settings

__all__ = ["Service"]

log = logging.getLogger("sscard_gateway.service")

# The switch link's own close is bounded by its drain (5 s) and sign-off
# (5 s) timeouts; past this the gateway's scope is cancelled.
_SIGN_OFF_BOUND = 15.0


class Service:
    """One gateway process (see the module docs for the stop sequence).

    Args:
        config: the checked configuration (:func:`~sscard_gateway.config.load_config`).
        environ: where ``*_env`` secrets are read (``os.environ`` by default).
        wallclock: local time for the gateway (F7, settlement dates, journal stamps).

    Attributes:
        gateway: the running gateway (``None`` before it starts).
        metrics: the metrics (``None`` when they are off).
        metrics_port: the metrics endpoint's port once it listens.
    """

    def __init__(
        self,
        config: ServiceConfig,
        *,
        environ: Mapping[str, str] | None = None,
        wallclock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.config = config
        self._environ = dict(environ) if environ is not None else None
        self._clock = wallclock
        self.gateway: Gateway | None = None
        self.metrics: GatewayMetrics | None = None
        self.metrics_port: int | None = None
        self._stopping = False
        self._stop: trio.Event | None = None
        self._hurry: trio.Event | None = None

    @property
    def stopping(self) -> bool:
        """Whether a stop was asked for."""
        return self._stopping or (self._stop is not None and self._stop.is_set())

    def stop(self) -> None:
        """Ask for a graceful stop; asked again, stop without waiting for the drain."""
        if self._stop is None or self._hurry is None:
            self._stopping = True  # before run: it stops as soon as it has started
            return
        if self._stop.is_set():
            self._hurry.set()
        self._stop.set()

    async def run(
        self,
        *,
        handle_signals: bool = True,
        task_status: trio.TaskStatus[dict[str, int]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve until stopped, then stop gracefully (module docs).

        Args:
            handle_signals: stop on SIGTERM and SIGINT (main thread only).
            task_status: receives the centers' listening ports once serving.

        Raises:
            SpecError, InvalidConfig: a resource named in the configuration
                cannot be opened or a key name is wrong (nothing was started).
        """
        self._stop, self._hurry = trio.Event(), trio.Event()
        if self._stopping:
            self._stop.set()
        config = self.config
        environ = self._environ
        security = open_security(config, environ)
        check_keys(config, security)
        connector, center_ssl = tls_settings(config)
        journal = open_journal(config, environ)
        try:
            gw = config.gateway
            if config.metrics is not None:
                self.metrics = GatewayMetrics(
                    upstream=gw.upstream.name, centers=[c.name for c in gw.centers]
                )
            stan = await trio.to_thread.run_sync(last_stan, journal, self._clock())
            if stan:
                log.info("continuing the STAN sequence after %06d", stan)
            gateway = Gateway(
                gw,
                security=security,
                journal=journal,
                wallclock=self._clock,
                last_stan=stan,
                upstream_connector=connector,
                center_ssl=center_ssl,
                on_answered=self.metrics.observe if self.metrics is not None else None,
            )
            self.gateway = gateway
            if self.metrics is not None:
                self.metrics.bind(gateway)
            async with trio.open_nursery() as nursery:
                if handle_signals:
                    await nursery.start(self._watch_signals)
                await self._serve(nursery, gateway, journal, task_status)
                nursery.cancel_scope.cancel()
            stats = journal.statistics(time.time())
            log.info(
                "stopped: %d transactions journaled, %d pending, %d owed",
                stats.transactions,
                stats.pending,
                stats.owed,
                extra={"pending": stats.pending, "owed": stats.owed},
            )
        finally:
            journal.close()

    async def _serve(
        self,
        nursery: trio.Nursery,
        gateway: Gateway,
        journal: SQLiteJournal,
        task_status: trio.TaskStatus[dict[str, int]],
    ) -> None:
        config = self.config
        assert self._stop is not None and self._hurry is not None
        metrics, settings = self.metrics, config.metrics
        if metrics is not None and settings is not None:
            await metrics.read_journal(journal)
            self.metrics_port = await nursery.start(
                functools.partial(
                    serve_metrics, metrics.render, host=settings.host, port=settings.port
                )
            )
            nursery.start_soon(metrics.poll_journal, journal, settings.interval)
        scope = trio.CancelScope()
        done = trio.Event()

        async def run_gateway(task_status: trio.TaskStatus[dict[str, int]]) -> None:
            try:
                with scope:
                    await gateway.run(task_status=task_status)
            finally:
                done.set()

        ports: dict[str, int] = await nursery.start(run_gateway)
        up = config.gateway.upstream
        log.info(
            "serving: %s; upstream %s at %s:%d",
            ", ".join(f"{name} on port {port}" for name, port in ports.items()),
            up.name,
            up.host,
            up.port,
            extra={"ports": ports},
        )
        task_status.started(ports)
        await _first(self._stop.wait, done.wait)  # a stop, or the gateway ending by itself
        if not done.is_set():
            await self._drain(gateway)
            gateway.stop()  # listeners and store-and-forward stop; then sign-off and flush
            with trio.move_on_after(_SIGN_OFF_BOUND) as waiting:
                await _first(done.wait, self._hurry.wait)
            if waiting.cancelled_caught or not done.is_set():
                log.warning("the gateway did not stop in time; cancelling it (no sign-off)")
                scope.cancel()
                await done.wait()

    async def _drain(self, gateway: Gateway) -> None:
        timeout = self.config.drain_timeout
        assert self._hurry is not None
        log.info(
            "stopping: new requests refused (91); %d in flight, waiting up to %.1f s",
            gateway.in_flight,
            timeout,
        )
        drained = False

        async def drain() -> None:
            nonlocal drained
            drained = await gateway.drain(timeout)

        await _first(drain, self._hurry.wait)  # a second signal cuts it short
        if drained:
            log.info("drained: no request in flight; signing off")
        else:
            log.warning(
                "%d requests still in flight are cancelled; they stay pending in the journal",
                gateway.in_flight,
            )

    async def _watch_signals(self, task_status: trio.TaskStatus[None]) -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            task_status.started()
            async for number in signals:
                log.info("%s received", signal.Signals(number).name)
                self.stop()


async def _first(*waits: Callable[[], Awaitable[object]]) -> None:
    """Return as soon as one of ``waits`` returns."""
    async with trio.open_nursery() as nursery:
        for wait in waits:

            async def one(wait: Callable[[], Awaitable[object]] = wait) -> None:
                await wait()
                nursery.cancel_scope.cancel()

            nursery.start_soon(one)
