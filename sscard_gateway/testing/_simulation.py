"""One simulated day: the real gateway, switch and centers on a simulated network, from one seed.

Theory of operation
-------------------
:func:`run_schedule` runs a :class:`~._schedule.Schedule` in one
``trio.run`` under ``MockClock(autojump_threshold=0)`` with Trio's
scheduler seeded (:func:`~._scheduling.seed_trio_scheduler`): virtual time,
no threads (the journal is called in the Trio thread), every random choice
from the seed. What runs is the real code: the :class:`~sscard_gateway.gateway.Gateway`
(engine, executor, store-and-forward, links) on a real SQLite journal file,
the switch simulator with its ledger of the day in a record file, two
centers whose links answer the gateway's home-center legs from their
ledgers, all joined by a :class:`~._network.SimNetwork`.

The schedule's events happen at their virtual times: requests (with
repeats and reversals in flight), crashes of the gateway (at a moment, or
at a chosen journal commit, before or after it), restarts of the switch
(its ledger kept) and of centers, a full disk, a slow switch, the
switch's cutover. Then the faults stop and the day drains: every
requester reverses what it never learned and resends unanswered advices,
and store-and-forward delivers what is owed — within a bounded virtual
time, or the run fails for liveness. Finally the judge
(:func:`~._judge.judge`) reads the records.
"""

from __future__ import annotations

import datetime as _dt
import functools
import logging
import random as _random
import tempfile
from pathlib import Path
from typing import Any

import attrs
import trio
import trio.testing

from ..clearing import Cutover as ClearingCutover
from ..errors import SscardError
from ..gateway import CenterLink, Gateway, link_dialects
from ..iso import load_dialect
from ..link import Backoff, LinkConfig, LinkKeys, StreamDriver, open_link, transmission_time
from ..sim import Action, Decision, HomeCenter, Ledger, Rule, SwitchRules, SwitchSimulator
from ..sim.lab import CENTERS
from ..store import OwedStatus, SQLiteJournal
from ._actors import Acquirer, CenterActor
from ._clearing_check import day_clears
from ._faulty_journal import FaultyJournal
from ._judge import Violation, judge
from ._network import SimNetwork
from ._schedule import Crash, Cutover, DiskFull, Request, Restart, Schedule, SlowSwitch
from ._scheduling import seed_trio_scheduler
from ._setup import config, declines, fast_tmp, logs_in, security

__all__ = ["Result", "run_schedule"]

_PAN_KEY = bytes(range(32))
_DATA_KEY = bytes(range(32, 64))
_CENTER_TIMEOUT = 10.0  # a center waits this long; the gateway's legs 30 s (the usual order)
_ACQUIRER_TIMEOUT = 40.0
_SETTLE = 40.0  # virtual seconds after the last event before the faults stop
_DRAIN_BOUND = 3600.0  # virtual seconds the day may take to drain once the faults stop
_SECURITY: Any = None


@attrs.frozen
class Result:
    """How one run went.

    Attributes:
        seed: its seed.
        violations: the invariants it broke (empty: none).
        trace: what happened, line by line (virtual time; no card data).
        counts: figures of the run (requests, crashes, legs...).
    """

    seed: int
    violations: tuple[Violation, ...]
    trace: tuple[str, ...]
    counts: dict[str, int]

    @property
    def ok(self) -> bool:
        """Whether every invariant held."""
        return not self.violations


class _Run:
    """The state of one run (see module docs)."""

    def __init__(self, schedule: Schedule, folder: Path) -> None:
        self.schedule = schedule
        self.folder = folder
        self.trace: list[str] = []
        self.counts: dict[str, int] = {}
        self.rng = _random.Random(schedule.seed * 7919 + 1)
        self.start = _dt.datetime.fromisoformat(schedule.start)
        self.t0 = 0.0
        self.network = SimNetwork(
            _random.Random(schedule.seed * 7919 + 2), faults=schedule.faults, trace=self._net
        )
        self.security = security()
        self.config = config()
        self.dialects = link_dialects(self.config)
        self.journal_path = folder / "journal.db"
        self.switch_record = folder / "switch.ledger"
        self.rules = declines(schedule)
        self.switch: SwitchSimulator | None = None
        self.gateway: Gateway | None = None
        self.journal: FaultyJournal | None = None
        self.homes = {name: HomeCenter() for name in CENTERS}
        self.centers = {
            name: CenterActor(
                name, ident, security=self.security, clock=self.now, timeout=_CENTER_TIMEOUT
            )
            for name, ident in CENTERS.items()
        }
        self.acquirer = Acquirer(self._switch_link, clock=self.now, timeout=_ACQUIRER_TIMEOUT)
        self.disk_full_until = 0.0
        self.switch_day = (
            ClearingCutover()
        )  # the switch's own settlement date, moved by its cutover
        self.scopes: dict[str, trio.CancelScope] = {}
        self.work: dict[str, trio.Nursery] = {}  # each requester's nursery while it is up
        self.down: dict[str, trio.Event] = {}  # set when a stopped process may start again
        self.main: trio.Nursery | None = None

    # -- time and trace ----------------------------------------------------------------

    def now(self) -> _dt.datetime:
        return self.start + _dt.timedelta(seconds=trio.current_time() - self.t0)

    def note(self, line: str) -> None:
        self.trace.append(f"{trio.current_time() - self.t0:10.3f} {line}")

    def _net(self, at: float, line: str) -> None:
        self.trace.append(f"{at - self.t0:10.3f} net {line}")

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    # -- processes: each runs incarnations until the run ends -------------------------

    async def _stopped(self, name: str) -> None:
        """Wait until a stopped process may start again."""
        await self.down.setdefault(name, trio.Event()).wait()
        self.down.pop(name, None)

    def _stop(self, name: str, node: str, why: str) -> None:
        self.note(f"{name} stops ({why})")
        self.network.kill(node)
        self.down.setdefault(name, trio.Event())
        scope = self.scopes.get(name)
        if scope is not None:
            scope.cancel()

    async def _start_later(self, name: str, node: str, delay: float) -> None:
        await trio.sleep(delay)
        self.network.revive(node)
        self.note(f"{name} starts again")
        self.down.setdefault(name, trio.Event()).set()

    async def run_switch(self, *, task_status: trio.TaskStatus[None]) -> None:
        started = False
        while True:
            switch = SwitchSimulator(
                rules=self.rules,
                security=self.security,
                keys=LinkKeys(mac_key="cups.zak", pin_key="cups.zpk"),
                settlement_date=lambda: self.switch_day.settlement_date(self.now())[4:],
                record=self.switch_record,
            )
            self.switch = switch
            listener = self.network.listen("cups", node="switch", dialect=self.dialects["cups"])
            try:
                with trio.CancelScope() as scope:
                    self.scopes["cups"] = scope
                    async with trio.open_nursery() as nursery:
                        await nursery.start(functools.partial(switch.serve, listeners=[listener]))
                        self.work["cups"] = nursery
                        if not started:
                            task_status.started()
                            started = True
                        await trio.sleep_forever()
            finally:
                self.work.pop("cups", None)
                switch.close()
            await self._stopped("cups")

    async def run_gateway(self, *, task_status: trio.TaskStatus[None]) -> None:
        started = False
        while True:
            inner = SQLiteJournal(self.journal_path, pan_key=_PAN_KEY, data_key=_DATA_KEY)
            journal = FaultyJournal(
                inner,
                disk_full=lambda: trio.current_time() < self.disk_full_until,
                trace=self.note,
            )
            self.journal = journal
            gateway = Gateway(
                self.config,
                security=self.security,
                journal=journal,
                wallclock=self.now,
                upstream_connector=self.network.connector("cups", node="gateway"),
                listeners=self._listeners,
                random=self.rng.random,
                journal_threads=False,
            )
            self.gateway = gateway
            try:
                with trio.CancelScope() as scope:
                    self.scopes["gateway"] = scope
                    async with trio.open_nursery() as nursery:
                        await nursery.start(gateway.run)
                        recovered = gateway.statistics().recovered
                        if recovered:
                            self.note(f"gateway recovered {recovered} transactions")
                            self.count("recovered", recovered)
                        if not started:
                            task_status.started()
                            started = True
            finally:
                self.gateway = None
                inner.close()
            await self._stopped("gateway")

    async def _listeners(self, center: CenterLink) -> list[Any]:
        dialect = self.dialects[center.name]
        return [self.network.listen(f"gw:{center.name}", node="gateway", dialect=dialect)]

    async def run_center(self, name: str, *, task_status: trio.TaskStatus[None]) -> None:
        actor = self.centers[name]
        ident = CENTERS[name]
        started = False
        while True:
            with trio.CancelScope() as scope:
                self.scopes[name] = scope
                async with open_link(
                    load_dialect("center"),
                    self.network.connector(f"gw:{name}", node=name),
                    config=LinkConfig(
                        echo_interval=None,
                        request_timeout=_CENTER_TIMEOUT,
                        network_fields={32: ident.institution},
                    ),
                    handler=self.homes[name].handle,
                    security=self.security,
                    keys=LinkKeys(mac_key=f"{name}.zak", pin_key=f"{name}.zpk"),
                    backoff=Backoff(initial=0.2, maximum=2.0),
                    random=self.rng.random,
                    wallclock=self.now,
                    drain_timeout=0.5,
                    name=name,
                ) as link:
                    actor.link = link
                    try:
                        async with trio.open_nursery() as nursery:
                            self.work[name] = nursery
                            if not started:
                                task_status.started()
                                started = True
                            await trio.sleep_forever()
                    finally:
                        self.work.pop(name, None)
                        actor.link = None
            await self._stopped(name)

    def _switch_link(self) -> StreamDriver | None:
        links = self.switch.links if self.switch is not None else []
        return links[0] if links else None

    # -- events ------------------------------------------------------------------------

    def crash_gateway(self, why: str, down_for: float) -> None:
        """The gateway process dies now: its network and its code stop together."""
        if self.gateway is None or "gateway" in self.down:
            return
        self.count("crashes")
        self._stop("gateway", "gateway", f"crash {why}")
        assert self.main is not None
        self.main.start_soon(self._start_later, "gateway", "gateway", down_for)

    async def restart(self, peer: str, down_for: float) -> None:
        node = "switch" if peer == "cups" else peer
        if peer in self.down:
            return
        self.count("restarts")
        self._stop(peer, node, f"restart, down {down_for:.1f} s")
        await self._start_later(peer, node, down_for)

    async def slow_switch(self, event: SlowSwitch) -> None:
        self.note(f"switch answers {event.delay:.1f} s late for {event.duration:.1f} s")
        slow = Rule(mti=("02",), decision=Decision(action=Action.RESPOND, delay=event.delay))
        self._set_rules(self.rules.with_rule(slow))
        await trio.sleep(event.duration)
        self._set_rules(attrs.evolve(self.rules, rules=tuple(r for r in self.rules.rules
                                                              if r is not slow)))  # fmt: skip

    def _set_rules(self, rules: SwitchRules) -> None:
        self.rules = rules
        if self.switch is not None:
            self.switch.rules = rules

    async def cutover(self) -> None:
        cups = self.dialects["cups"]
        for number, code in enumerate(("201", "202")):
            link = self._switch_link()
            if link is None:
                return
            now = transmission_time(self.now())
            message = cups.message(
                "0820",
                {7: now, 11: f"{990001 + number:06d}", 33: "00010000", 70: code},
                header=cups.default_header(),
            )
            self.note(f"switch cutover {code}")
            self.switch_day.on_message(message, self.now())
            try:
                await link.request(message, timeout=10.0)
            except SscardError as exc:  # the cutover is a best effort of the switch
                self.note(f"cutover {code} not answered: {type(exc).__name__}")
            await trio.sleep(3.0)

    def dispatch(self, event: Any) -> None:
        assert self.main is not None
        if isinstance(event, Request):
            self.send(event)
        elif isinstance(event, Crash):
            if event.commit is None:
                self.crash_gateway("at a random moment", event.down_for)
            elif self.journal is not None and not self.journal.crashed:
                self.note(f"the gateway will die at its commit +{event.commit}"
                          f" ({'after' if event.after_commit else 'before'} it)")  # fmt: skip
                self.journal.arm(
                    event.commit,
                    after=event.after_commit,
                    on_crash=lambda: self.crash_gateway("at a journal commit", event.down_for),
                )
        elif isinstance(event, Restart):
            self.main.start_soon(self.restart, event.peer, event.down_for)
        elif isinstance(event, DiskFull):
            self.note(f"the disk is full for {event.duration:.1f} s")
            self.count("disk_full")
            self.disk_full_until = trio.current_time() + event.duration
        elif isinstance(event, SlowSwitch):
            self.main.start_soon(self.slow_switch, event)
        elif isinstance(event, Cutover):
            self.main.start_soon(self.cutover)

    def send(self, event: Request) -> None:
        actor: CenterActor | Acquirer = (
            self.acquirer if event.source == "cups" else self.centers[event.source]
        )
        nursery = self.work.get(event.source)
        if nursery is None:
            self.note(f"request {event.ref}: {event.source} is down, not sent")
            self.count("not_sent")
            return
        self.count("requests")
        self.note(f"request {event.ref} {event.kind} from {event.source}, card of {event.card}")
        nursery.start_soon(actor.transact, event)
        if event.repeat_after is not None:
            nursery.start_soon(self._repeat, actor, event)
        if event.reverse_after is not None:
            nursery.start_soon(self._reverse, actor, event)

    async def _repeat(self, actor: CenterActor | Acquirer, event: Request) -> None:
        assert event.repeat_after is not None
        await trio.sleep(event.repeat_after)
        self.note(f"request {event.ref} sent again by {event.source}")
        self.count("repeats")
        await actor.repeat(event.ref)

    async def _reverse(self, actor: CenterActor | Acquirer, event: Request) -> None:
        assert event.reverse_after is not None
        await trio.sleep(event.reverse_after)
        message = actor.sent(event.ref)
        if message is not None:
            self.note(f"request {event.ref} reversed in flight by {event.source}")
            self.count("reversed_in_flight")
            await actor.reverse(message, rounds=3)

    # -- the whole run -----------------------------------------------------------------

    async def run(self) -> None:
        self.t0 = trio.current_time()
        async with trio.open_nursery() as nursery:
            self.main = nursery
            await nursery.start(self.run_switch)
            await nursery.start(self.run_gateway)
            for name in CENTERS:
                await nursery.start(functools.partial(self.run_center, name))
            for event in self.schedule.events:
                await trio.sleep_until(self.t0 + event.at)
                self.dispatch(event)
            last = self.schedule.events[-1].at if self.schedule.events else 0.0
            await trio.sleep_until(self.t0 + last + _SETTLE)
            await self.drain()
            nursery.cancel_scope.cancel()

    async def drain(self) -> None:
        """Stop the faults, bring everything up, settle, and wait for what is owed."""
        self.note("the faults stop; the day drains")
        self.network.calm()
        self.disk_full_until = 0.0
        self._set_rules(declines(self.schedule))
        with trio.move_on_after(_DRAIN_BOUND) as bound:
            while self.down or self.gateway is None:
                await trio.sleep(1.0)
            await self._connected()
            for _ in range(50):
                open_ = 0
                for actor in self._requesters():
                    open_ += await actor.settle()
                if not open_ and self._owed() == 0:
                    break
                await trio.sleep(5.0)
        if bound.cancelled_caught:
            self.liveness = f"the day did not drain within {_DRAIN_BOUND:.0f} virtual seconds"
        self.count("virtual_seconds", int(trio.current_time() - self.t0))

    def _requesters(self) -> list[CenterActor | Acquirer]:
        return [*self.centers.values(), self.acquirer]

    async def _connected(self) -> None:
        while True:
            gateway = self.gateway
            centers = all(a.link is not None and a.link.state.name == "SIGNED_ON"
                          for a in self.centers.values())  # fmt: skip
            if (
                gateway is not None
                and gateway.statistics().upstream_ready
                and centers
                and len(gateway.centers) == len(self.centers)
            ):
                return
            await trio.sleep(0.5)

    def _owed(self) -> int:
        journal = self.journal
        if journal is None or journal.crashed:
            return -1
        return len(journal.inner.owed_items(status=OwedStatus.OWED, limit=100_000))

    liveness: str | None = None


def run_schedule(
    schedule: Schedule, *, folder: str | Path | None = None, verbose: bool = False
) -> Result:
    """Run one schedule to its end and judge it (module docs).

    Args:
        schedule: what happens.
        folder: where the journal and the switch's ledger are kept (a
            temporary folder by default, removed afterwards).
        verbose: put the library's log lines down to debug in the trace
            (warnings and errors are always there).

    Returns:
        The result: the violations, the trace, the counts.
    """
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="sscard-sim-", dir=fast_tmp()) as temp:
            return run_schedule(schedule, folder=temp, verbose=verbose)
    path = Path(folder)
    seed_trio_scheduler(schedule.seed)
    state = _Run(schedule, path)
    with logs_in(
        state.trace.append, lambda: state.t0, logging.DEBUG if verbose else logging.WARNING
    ):
        trio.run(state.run, clock=trio.testing.MockClock(autojump_threshold=0))
    violations = list(_judged(state))
    if state.liveness is not None:
        violations.insert(0, Violation("liveness", state.liveness))
    return Result(schedule.seed, tuple(violations), tuple(state.trace), dict(state.counts))


def _judged(state: _Run) -> list[Violation]:
    ledgers = {"cups": Ledger(state.dialects["cups"], state.switch_record)}
    ledgers.update({name: home.ledger for name, home in state.homes.items()})
    requesters = {name: actor.record for name, actor in state.centers.items()}
    requesters["cups"] = state.acquirer.record
    with SQLiteJournal(state.journal_path, pan_key=_PAN_KEY, data_key=_DATA_KEY) as journal:
        try:
            found = judge(
                requesters=requesters, ledgers=ledgers, journal=journal, dialects=state.dialects
            )
            return found + day_clears(journal, ledgers["cups"], state.folder)
        finally:
            ledgers["cups"].close()
