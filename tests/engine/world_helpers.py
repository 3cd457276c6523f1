"""The real Gateway on an in-memory network, in virtual time: for tests of what it does at start.

:func:`open_world` starts the switch simulator and a :class:`Gateway` on a
journal file (the one a :class:`~engine_helpers.Bench` prepared), joined by
a :class:`~sscard_gateway.testing.SimNetwork`, under the test's
``autojump_clock``. No center connects unless the test opens one. The
switch answers from the ledger it is given, so a reversal the gateway owes
for a leg the bench sent is checked against that leg as the switch
received it.
"""

from __future__ import annotations

import functools
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import trio
from engine_helpers import DATA_KEY, PAN_KEY, security

from sscard_gateway.gateway import CenterLink, Gateway, SafPolicy, link_dialects
from sscard_gateway.iso import load_dialect
from sscard_gateway.link import Backoff, LinkConfig, LinkKeys, open_link
from sscard_gateway.sim import HomeCenter, Ledger, SwitchRules, SwitchSimulator
from sscard_gateway.sim.lab import CENTERS, lab_config
from sscard_gateway.store import SQLiteJournal
from sscard_gateway.testing import SimNetwork


@attrs.define
class World:
    gateway: Gateway
    switch: SwitchSimulator
    journal: SQLiteJournal
    network: SimNetwork
    nursery: trio.Nursery
    now: Any

    async def until(self, predicate: Any, seconds: float = 600.0, every: float = 0.5) -> None:
        """Wait (virtual time, looking ``every`` seconds) until ``predicate()`` holds."""
        with trio.fail_after(seconds):
            while not predicate():
                await trio.sleep(every)


@asynccontextmanager
async def center_link(world: World, name: str, ledger: Ledger, now: Any) -> AsyncIterator[Any]:
    """A center's link to the gateway, for the test to send on; leaving it drops the line."""
    async with trio.open_nursery() as nursery:
        link = await nursery.start(_center, world.network, name, ledger, now)
        yield link
        nursery.cancel_scope.cancel()


async def _center(
    network: SimNetwork,
    name: str,
    ledger: Ledger,
    now: Any,
    *,
    task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
) -> None:
    """A center's link to the gateway, answering its home-center legs from ``ledger``."""
    async with open_link(
        load_dialect("center"),
        network.connector(f"gw:{name}", node=name),
        config=LinkConfig(echo_interval=None, network_fields={32: CENTERS[name].institution}),
        handler=HomeCenter(ledger=ledger).handle,
        security=security(),
        keys=LinkKeys(mac_key=f"{name}.zak", pin_key=f"{name}.zpk"),
        backoff=Backoff(initial=0.2, maximum=2.0),
        wallclock=now,
        name=name,
    ) as link:
        await link.wait_ready()
        task_status.started(link)
        await trio.sleep_forever()


@asynccontextmanager
async def open_world(
    path: Path,
    start: datetime,
    *,
    switch_ledger: Ledger | None = None,
    centers: dict[str, Ledger] | None = None,
    rules: SwitchRules | None = None,
    switch_after: float = 0.0,
    saf: SafPolicy | None = None,
    backoff: Backoff | None = None,
) -> AsyncIterator[World]:
    """The world (module docs); the switch listens only ``switch_after`` seconds in.

    ``saf`` and ``backoff`` replace the lab's store-and-forward policy and the
    gateway's reconnection backoff (the lab's are sized for seconds, not hours).
    """
    config = lab_config(0, timeout=30.0)
    if saf is not None:
        config = attrs.evolve(config, saf=saf)
    if backoff is not None:
        config = attrs.evolve(config, upstream=attrs.evolve(config.upstream, backoff=backoff))
    dialects = link_dialects(config)
    network = SimNetwork(random.Random(7))
    t0 = trio.current_time()

    def now() -> datetime:
        return start + timedelta(seconds=trio.current_time() - t0)

    switch = SwitchSimulator(
        rules=rules,
        security=security(),
        keys=LinkKeys(mac_key="cups.zak", pin_key="cups.zpk"),
        settlement_date=lambda: now().strftime("%m%d"),
    )
    if switch_ledger is not None:
        switch.ledger.close()
        switch.ledger = switch_ledger

    async def listeners(center: CenterLink) -> list[Any]:
        return [network.listen(f"gw:{center.name}", node="gateway", dialect=dialects[center.name])]

    journal = SQLiteJournal(path, pan_key=PAN_KEY, data_key=DATA_KEY)
    gateway = Gateway(
        config,
        security=security(),
        journal=journal,
        wallclock=now,
        upstream_connector=network.connector("cups", node="gateway"),
        listeners=listeners,
        random=random.Random(3).random,
        journal_threads=False,
    )
    try:
        async with trio.open_nursery() as nursery:

            async def serve_switch() -> None:
                await trio.sleep(switch_after)
                listener = network.listen("cups", node="switch", dialect=dialects["cups"])
                await switch.serve(listeners=[listener])

            if switch_after:
                nursery.start_soon(serve_switch)
            else:
                listener = network.listen("cups", node="switch", dialect=dialects["cups"])
                await nursery.start(functools.partial(switch.serve, listeners=[listener]))
            await nursery.start(gateway.run)
            for name, ledger in (centers or {}).items():
                await nursery.start(_center, network, name, ledger, now)
            yield World(gateway, switch, journal, network, nursery, now)
            nursery.cancel_scope.cancel()
    finally:
        journal.close()
