"""Driving the sans-I/O engine in tests: a real SQLite journal, outcomes made up by the test.

:class:`Bench` builds the engine a lab gateway would (two centers, the
switch, the lab routes) on a SQLite journal in a test's folder, and
:meth:`Bench.drive` runs one saga: every ``Write`` goes to the journal as
one group, every ``Read`` reads it, every ``Send`` is answered by the
test's ``answer`` function (an :class:`Answered`, :class:`Unknown` or
:class:`NotSent`, or ``None`` to stop the saga there, as a crash would).
No Trio, no sockets, no clock: time is what the test passes in.

The peers can be the simulators' strict ledgers (:meth:`Bench.peers`),
which match every reversal and advice to the leg as they received it;
:meth:`Bench.deliver` is one round of store-and-forward with the engine's
own decisions, :meth:`Bench.recover` what a starting gateway does, and a
:class:`Stepper` carries a saga out one decision at a time so that a test
interleaves two sagas (a reversal racing its original) or stops one where
the process would die.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from sscard_gateway.clearing import Cutover
from sscard_gateway.engine import (
    Answered,
    Delivered,
    Found,
    Outcome,
    Read,
    Reply,
    Saga,
    Send,
    Unknown,
    Wake,
    Woken,
    Write,
    WriteFailed,
    Written,
    delivery,
    recover,
)
from sscard_gateway.gateway import engine_for, link_dialects
from sscard_gateway.ids import AmountSplit, luhn_check_digit
from sscard_gateway.iso import Message, load_dialect
from sscard_gateway.link import transmission_time
from sscard_gateway.sim import CardHolder, CenterSimulator, Kind, Ledger
from sscard_gateway.sim.lab import CENTERS, acquirer_purchase, lab_config, lab_security
from sscard_gateway.store import (
    GroupResult,
    LegState,
    OwedItem,
    OwedKind,
    SQLiteJournal,
    TransactionQuery,
    TransactionStatus,
)

_PENDING = TransactionStatus.PENDING
_SENT = LegState.SENT

PAN_KEY = bytes(range(32))
DATA_KEY = bytes(range(32, 64))
START = datetime(2026, 6, 15, 10, 0, 0)

_SECURITY: Any = None


def security() -> Any:
    global _SECURITY
    if _SECURITY is None:  # key generation costs: once per process
        _SECURITY = lab_security()
    return _SECURITY


_BINS = {"center-110000": "62258801", "center-310000": "62258802", "bank": "62258899"}
_REGIONS = {"center-110000": "110105", "center-310000": "310104", "bank": "440305"}


def card(home: str, serial: int = 1) -> CardHolder:
    """A card issued by ``home`` (a center's name, or ``bank``)."""
    body = _BINS[home] + f"{serial:07d}"
    return CardHolder(
        pan=body + luhn_check_digit(body),
        ssn="11010519491231002X",
        card_number=f"A{serial:08d}",
        home_region=_REGIONS[home],
    )


class Clock:
    """A settable wall clock for the center simulators' F7."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@attrs.define
class Run:
    """What one saga did."""

    decisions: list[Any] = attrs.field(factory=list)
    replies: list[Message] = attrs.field(factory=list)
    sent: list[Send] = attrs.field(factory=list)
    writes: list[tuple[Write, GroupResult | None]] = attrs.field(factory=list)
    woken: set[str] = attrs.field(factory=set)
    finished: bool = False

    @property
    def reply(self) -> Message:
        assert len(self.replies) == 1, self.replies
        return self.replies[0]

    @property
    def code(self) -> str:
        return str(self.reply.fields.get(39))


Answer = Callable[[Send, datetime], Outcome | None]


def approve(code: str = "00", **extra: str) -> Answer:
    """Every leg answered ``code`` (with F38 when approved; ``F15="0616"`` adds field 15)."""

    def answer(send: Send, now: datetime) -> Outcome:
        fields: dict[int, str] = {}
        if code == "00":
            fields[38] = "AB1234"
        fields.update({int(k[1:]): v for k, v in extra.items()})
        return Answered(send.message.response_to(code, fields), now)

    return answer


class Stepper:
    """A saga carried out one decision at a time, to interleave two sagas by hand."""

    def __init__(self, bench: Bench, saga: Saga, answer: Answer, *, delivered: bool = True) -> None:
        self.bench, self.saga, self.answer, self.delivered = bench, saga, answer, delivered
        self.run = Run()
        self.now = bench.clock()
        self.decision: Any = next(saga)

    @property
    def finished(self) -> bool:
        return self.run.finished

    def step(self) -> None:
        """Carry out the pending decision and take the next one."""
        assert not self.finished
        self.run.decisions.append(self.decision)
        outcome = self.bench.carry_out(
            self.run, self.decision, self.answer, self.delivered, self.now
        )
        assert outcome is not None
        self.now = outcome.now
        try:
            self.decision = self.saga.send(outcome)
        except StopIteration:
            self.run.finished = True
            self.decision = None

    def until(self, predicate: Callable[[Any], bool]) -> Any:
        """Step until the pending decision satisfies ``predicate`` (not carried out)."""
        while not self.finished and not predicate(self.decision):
            self.step()
        assert not self.finished, "the saga ended first"
        return self.decision

    def finish(self) -> Run:
        while not self.finished:
            self.step()
        return self.run

    def crash(self) -> None:
        """The process dies here: the pending decision is never carried out."""
        self.saga.close()


def timeout(send: Send, now: datetime) -> Outcome:
    return Unknown("deadline", now)


class Bench:
    """An engine on a SQLite journal, as a lab gateway would build it."""

    def __init__(self, folder: Path, *, request_timeout: float = 30.0) -> None:
        self.config = lab_config(0, timeout=request_timeout)
        self.dialects = link_dialects(self.config)
        self.journal = SQLiteJournal(folder / "journal.db", pan_key=PAN_KEY, data_key=DATA_KEY)
        self.cutover = Cutover(self.config.cutover_at)
        self.engine = self.new_engine()
        self.cups = load_dialect("cups")
        self.center = load_dialect("center")
        self.clock = Clock(START)
        self.sims = {
            name: CenterSimulator(
                ident, security=security(), pin_key=f"{name}.zpk", wallclock=self.clock
            )
            for name, ident in CENTERS.items()
        }
        self._cups_stan = 500000
        self.ledgers = {
            "cups": Ledger(self.cups, rrn_prefix="SW"),
            **{name: Ledger(self.center, rrn_prefix="HC") for name in CENTERS},
        }
        self.fail_writes: Callable[[Write], bool] = lambda write: False
        """Whether a write fails (disk full) instead of reaching the journal."""

    def new_engine(self, last_stan: int = 0) -> Any:
        return engine_for(
            self.config,
            security=security(),
            hasher=self.journal.pan_hasher,
            cutover=self.cutover,
            dialects=self.dialects,
            last_stan=last_stan,
        )

    def close(self) -> None:
        self.journal.close()
        for ledger in self.ledgers.values():
            ledger.close()

    def restart(self) -> None:
        """A new process on the same journal: its engine continues the journal's STANs."""
        self.engine = self.new_engine(last_stan=self.journal.last_stan())

    def recover(self, now: datetime | None = None) -> dict[str, list[Any]]:
        """The recovery a starting gateway applies (pending transactions, legs left sent)."""
        moment = now or self.clock()
        keys = dict.fromkeys(
            r.transaction_key
            for r in self.journal.transactions(TransactionQuery(statuses={_PENDING}))
        )
        keys.update(dict.fromkeys(leg.transaction_key for leg in self.journal.legs_in({_SENT})))
        done: dict[str, list[Any]] = {}
        for key in keys:
            record = self.journal.get_transaction(key)
            assert record is not None
            peer = self.engine.peers[record.source]
            ops = recover(
                record,
                self.journal.legs(key),
                moment,
                compensator=self.engine.compensator,
                timeout_code=peer.dialect.spec.timeout_response,
            )
            if ops:
                (result,) = self.journal.apply_groups([ops])
                assert result.applied, result.stopper
            done[key] = ops
        return done

    # -- peers that keep a strict record of the day ---------------------------------

    def peers(self, code: str | Callable[[Message], str] = "00") -> Answer:
        """Legs answered by their destination's ledger (which checks reversals strictly)."""

        def answer(send: Send, now: datetime) -> Outcome:
            ledger = self.ledgers[send.leg.destination]
            outcome = ledger.apply(send.message, code)
            return Answered(outcome.response(send.message), now)

        return answer

    def deliver(
        self,
        now: datetime,
        answer: Callable[[OwedItem, Message], str | None] | None = None,
        *,
        destinations: frozenset[str] | None = None,
    ) -> list[tuple[OwedItem, Message, str]]:
        """One round of store-and-forward, sans-I/O: every due item attempted once.

        Items are answered by ``answer`` (by the destination's ledger when
        ``None``), and each outcome is journaled as the engine decides it.
        Returns (item, message sent, verdict) for each attempt.
        """
        done = []
        due = self.journal.due_owed(now.timestamp(), 1000, destinations=destinations)
        for item in due:
            dialect = self.dialects[item.destination]
            message = dialect.decode(item.payload)
            if item.attempts or item.repeat:
                spec = dialect.spec
                if item.kind is OwedKind.REVERSAL:
                    repeat = spec.retransmission_mti
                else:
                    repeat = spec.advice.retransmission_mti if spec.advice else None
                message = message.evolve(mti=repeat) if repeat else message
            if answer is None:
                code: str | None = self.ledgers[item.destination].apply(message).response_code
            else:
                code = answer(item, message)
            verdict, ops = delivery(item, code, dialect=dialect, now=now, policy=self.config.saf)
            (result,) = self.journal.apply_groups([ops])
            assert result.applied, result.stopper
            done.append((item, message, verdict))
        return done

    # -- messages ---------------------------------------------------------------

    def settlement(
        self, source: str, home: str, *, fund: int, cash: int, serial: int = 1
    ) -> Message:
        split = AmountSplit.from_parts(fund=fund, personal_account=0, cash=cash)
        return self.sims[source].build(Kind.MEDICAL_SETTLEMENT, card(home, serial), split=split)

    def request(
        self, source: str, kind: Kind, home: str, *, amount: int, serial: int = 1
    ) -> Message:
        return self.sims[source].build(kind, card(home, serial), amount=amount)

    def refund(self, source: str, original: Message, *, amount: int, home: str | None = None,
               serial: int = 1) -> Message:  # fmt: skip
        holder = card(home or source, serial)
        return self.sims[source].build(Kind.REFUND, holder, amount=amount, original=original)

    def purchase(self, home: str, *, amount: int, serial: int = 1, mti: str = "0200") -> Message:
        """A CUPS-originated purchase (the switch as acquirer) for a card of ``home``."""
        self._cups_stan += 1
        stan = f"{self._cups_stan:06d}"
        now = transmission_time(self.clock())
        return acquirer_purchase(card(home, serial).pan, amount, stan=stan, now=now, mti=mti)

    def cups_reversal(self, original: Message) -> Message:
        self._cups_stan += 1
        return original.reversal_of(
            {7: transmission_time(self.clock()), 11: f"{self._cups_stan:06d}"}
        )

    # -- driving ----------------------------------------------------------------

    def start(self, source: str, message: Message, now: datetime | None = None) -> Saga:
        return self.engine.inbound(source, message, now or self.clock())

    def drive(
        self,
        saga: Saga,
        answer: Answer | None = None,
        *,
        delivered: bool = True,
        now: datetime | None = None,
        stop_after_send: int | None = None,
    ) -> Run:
        """Run ``saga`` to its end (or until ``answer`` returns ``None``); legs approved by
        default."""
        answer = answer or approve()
        run = Run()
        moment = now or self.clock()
        try:
            decision = next(saga)
            while True:
                run.decisions.append(decision)
                outcome = self.carry_out(run, decision, answer, delivered, moment)
                if outcome is None:
                    saga.close()
                    return run
                moment = outcome.now
                decision = saga.send(outcome)
        except StopIteration:
            run.finished = True
        return run

    def stepper(self, saga: Saga, answer: Answer | None = None, **kw: Any) -> Stepper:
        return Stepper(self, saga, answer or approve(), **kw)

    def carry_out(
        self, run: Run, decision: Any, answer: Answer, delivered: bool, now: datetime
    ) -> Outcome | None:
        if isinstance(decision, Write):
            if self.fail_writes(decision):
                run.writes.append((decision, None))
                return WriteFailed("database or disk is full", now)
            result = self.journal.apply_groups([decision.ops])[0]
            run.writes.append((decision, result))
            return Written(result, now)
        if isinstance(decision, Read):
            record = self.journal.get_transaction(decision.transaction_key)
            legs = tuple(self.journal.legs(decision.transaction_key))
            return Found(record, legs, now)
        if isinstance(decision, Send):
            run.sent.append(decision)
            return answer(decision, now)
        if isinstance(decision, Reply):
            run.replies.append(decision.message)
            return Delivered(delivered, now)
        assert isinstance(decision, Wake)
        run.woken |= decision.destinations
        return Woken(now)
