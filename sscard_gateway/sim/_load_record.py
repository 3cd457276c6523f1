"""A load that keeps a requester's record: unique cards, what it sent, and its reversals.

Why a module of its own: :mod:`.load` measures throughput and nothing
more, while a crash test needs the load to behave as a real center does
and to leave a record a judge can read
(:func:`sscard_gateway.testing._judge.judge`). So this is the center's
side of that bargain, kept apart from the measurements:

* **unique cards** (:class:`UniqueWorkload`): request ``i`` gets a card of
  its own (a lab BIN, a 7-digit serial, the Luhn digit), cards of the
  center's own region, of the other lab center's region and bank cards in
  turn, so that bank legs and cross-region legs both happen and the judge
  can tell every request apart by its card number;
* **the record** (:class:`LoadRecord`): a
  :class:`~sscard_gateway.sim.RequesterRecord` in a JSON-lines file, and
  beside it (``FILE.messages``) every request and reversal as encoded,
  each written down *before* it leaves, so a load killed mid-run, or a
  later ``--requests 0 --reverse-unknown`` run, can still reverse what it
  sent (a reversal needs its original's fields, and a resend as ``0421``
  needs the reversal's own key);
* **reversing the unknown** (:func:`reverse_unknown`): every request whose
  outcome the center never learned is reversed, and the reversal resent
  as ``0421``, until it is acknowledged (``00``, ``12``, ``25``) or a time
  bound passes.

Both files hold clear PANs (the requester's own record; a test tool): they
are created mode 0600.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path

import attrs
import trio

from ..errors import LinkUnavailable, SscardError
from ..ids import AmountSplit, luhn_check_digit
from ..iso import Dialect, Message
from ..link import Link, LinkState
from ._ledger_file import LedgerFile
from ._requester import RequesterRecord, Told
from .center import CardHolder, CenterSimulator, Kind

__all__ = [
    "ACKNOWLEDGED",
    "MIXED_KINDS",
    "LoadRecord",
    "Planned",
    "RecordingRequester",
    "ReversalResult",
    "UniqueWorkload",
    "expected_ledgers",
    "reverse_once",
    "reverse_unknown",
    "unique_card",
]

#: the answers that end a reversal (done, reversed before, original unknown)
ACKNOWLEDGED = frozenset({"00", "12", "25"})
#: the kinds ``--kind mixed`` sends in turn (money moves in each)
MIXED_KINDS = (Kind.MEDICAL_SETTLEMENT, Kind.CONTRIBUTION_PAYMENT, Kind.BENEFIT_PAYOUT)

# the lab's card issuers (sim/lab.py routes 62258801 and 62258802 to the centers;
# any other BIN goes to the switch), as the fault simulation's cards
_BINS = {"center-110000": "62258801", "center-310000": "62258802", "bank": "62258899"}
_REGIONS = {"center-110000": "110105", "center-310000": "310104", "bank": "440305"}
_SSNS = {
    "center-110000": "11010519491231002X",
    "center-310000": "310104198001010017",
    "bank": "11010519491231002X",
}
_SERIALS = 10_000_000  # 7 digits after the BIN


def unique_card(home: str, serial: int) -> CardHolder:
    """The card number ``serial`` issued by ``home`` (a lab center, or ``"bank"``).

    Raises:
        SscardError: ``home`` is not a lab issuer, or ``serial`` has more than 7 digits.
    """
    if home not in _BINS:
        raise SscardError(f"no lab cards for {home!r}: use one of {', '.join(_BINS)}")
    if not 0 <= serial < _SERIALS:
        raise SscardError(f"card serial {serial} does not fit 7 digits")
    body = _BINS[home] + f"{serial:07d}"
    return CardHolder(
        pan=body + luhn_check_digit(body),
        ssn=_SSNS[home],
        card_number=f"A{serial:08d}",
        home_region=_REGIONS[home],
    )


def expected_ledgers(kind: Kind, *, center: str, card_home: str, cash: int) -> frozenset[str]:
    """The ledgers that hold a request if it ends approved (the plan the gateway follows).

    A card of another center goes to that center whole (and a medical
    settlement's cash part to the switch after it); anything else goes to
    the switch (``"cups"``), except a medical settlement of the center's
    own card with no cash part, which needs no leg at all.
    """
    other = card_home if card_home not in (center, "bank") else None
    if kind is Kind.REFUND:
        return frozenset({"cups"})
    if kind is Kind.MEDICAL_SETTLEMENT:
        bank = {"cups"} if cash else set()
        return frozenset(bank | ({other} if other else set()))
    return frozenset({other} if other else {"cups"})


@attrs.frozen
class Planned:
    """One request of a workload: the message and what the record needs to know of it."""

    message: Message
    kind: Kind
    expects: frozenset[str]


class UniqueWorkload:
    """Request ``i``: a card of its own, kinds and card issuers in turn (module docs).

    Args:
        sim: builds the center's messages.
        center: the center's link name (a lab center).
        kinds: the kinds sent in turn.
        first_serial: the card serial of request 0 (request ``i`` has
            ``first_serial + i``); two loads on one switch day need
            ranges of their own.

    Raises:
        SscardError: ``center`` is not a lab center.
    """

    def __init__(
        self, sim: CenterSimulator, *, center: str, kinds: Iterable[Kind], first_serial: int
    ) -> None:
        others = [name for name in _BINS if name not in (center, "bank")]
        if center not in _BINS or center == "bank" or not others:
            raise SscardError(f"--unique-cards needs a lab center, not {center!r}")
        self.sim = sim
        self.center = center
        self.kinds = tuple(kinds)
        self.homes = (center, others[0], "bank")
        self.first_serial = first_serial

    def plan(self, index: int) -> Planned:
        """Request number ``index``."""
        kind = self.kinds[index % len(self.kinds)]
        home = self.homes[(index // len(self.kinds)) % len(self.homes)]
        card = unique_card(home, self.first_serial + index)
        amount = 100 + index % 900
        cash = 0
        if kind is Kind.MEDICAL_SETTLEMENT:
            cash = amount
            split = AmountSplit.from_parts(fund=3 * amount, personal_account=amount, cash=cash)
            message = self.sim.build(kind, card, split=split)
        else:
            message = self.sim.build(kind, card, amount=amount)
        expects = expected_ledgers(kind, center=self.center, card_home=home, cash=cash)
        return Planned(message, kind, expects)


class LoadRecord:
    """A requester's record in ``path`` and its messages in ``path.messages`` (module docs).

    Args:
        path: the record (a :class:`~sscard_gateway.sim.RequesterRecord`
            file; created mode 0600).
        dialect: the requester's dialect (its transaction key, its encoding).

    Raises:
        SpecError: the messages file has a bad line.
        OSError: a file cannot be opened.
    """

    def __init__(self, path: str | os.PathLike[str], dialect: Dialect) -> None:
        self.path = Path(path)
        self.dialect = dialect
        self.record = RequesterRecord.open(dialect.spec.transaction_key, self.path)
        self._file = LedgerFile(self.path.with_name(self.path.name + ".messages"))
        self._originals: dict[tuple[str, ...], Message] = {}
        self._reversals: dict[tuple[str, ...], Message] = {}
        for event in self._file.replayed():
            self._remember(event)

    def _remember(self, event: Mapping[str, object]) -> None:
        wire = event.get("wire")
        key = event.get("key")
        if not isinstance(wire, str) or not isinstance(key, list):
            return
        message = self.dialect.decode(bytes.fromhex(wire))
        table = self._reversals if event.get("event") == "reversal" else self._originals
        table[tuple(str(k) for k in key)] = message

    def _append(self, event: str, original: Message, message: Message) -> None:
        line = {
            "event": event,
            "key": list(self.record.key_of(original)),
            "wire": self.dialect.encode(message).hex(),
        }
        self._file.append(line)
        self._remember(line)

    def sent(self, message: Message, *, kind: str, expects: Iterable[str]) -> None:
        """``message`` is about to leave (written down first).

        An advice (``xx2x``, a refund) is recorded as one: it is never
        reversed (a center resends an advice instead; this load does not).
        """
        self._append("original", message, message)
        advice = message.mti[2:3] == "2"
        self.record.sent(message, kind=kind, expects=expects, advice=advice)

    def told(self, message: Message, response: Message | None) -> None:
        """What came back for ``message``."""
        self.record.told(message, response)

    def reversing(self, original: Message, reversal: Message) -> None:
        """The first send of ``reversal`` (of ``original``) is about to leave."""
        self._append("reversal", original, reversal)
        self.record.reversal(original, None)

    def reversal_answered(self, original: Message, response: Message | None) -> None:
        """The answer to a send of the reversal of ``original`` (``None``: none in time)."""
        self.record.reversal(original, response)

    def original(self, key: tuple[str, ...]) -> Message | None:
        """The request with transaction ``key`` as sent."""
        return self._originals.get(tuple(key))

    def reversal(self, key: tuple[str, ...]) -> Message | None:
        """The reversal of the request ``key``, as first sent."""
        return self._reversals.get(tuple(key))

    def unknown(self) -> list[Told]:
        """Requests whose outcome was never learned (or whose reversal was never acknowledged)."""
        return self.record.unknown()

    def close(self) -> None:
        """Close the messages file (the record file is opened per event)."""
        self._file.close()


Send = Callable[[Message], Awaitable[Message | None]]


async def reverse_once(
    record: LoadRecord, original: Message, send: Send, build: Callable[[Message], Message]
) -> bool:
    """Send the reversal of ``original`` once; whether it was acknowledged.

    The first time, a new reversal (``build``) is written down and sent;
    after that the same one is resent as the dialect's retransmission
    (``0421``). Every answer goes into the record.
    """
    key = record.record.key_of(original)
    reversal = record.reversal(key)
    if reversal is None:
        reversal = build(original)
        record.reversing(original, reversal)
    else:
        resend = record.dialect.spec.retransmission_mti
        reversal = reversal.evolve(mti=resend) if resend else reversal
    response = await send(reversal)
    record.reversal_answered(original, response)
    return response is not None and response.text(39) in ACKNOWLEDGED


@attrs.frozen
class ReversalResult:
    """How reversing the unknown went.

    Attributes:
        unknown: requests whose outcome was unknown at the start.
        acknowledged: of which the reversal was acknowledged.
        open: still not acknowledged when the bound passed (or with no
            message on record to reverse).
        rounds: how many rounds of sends it took.
        sends: reversals sent (first sends and resends).
    """

    unknown: int
    acknowledged: int
    open: int
    rounds: int
    sends: int


async def reverse_unknown(
    record: LoadRecord,
    send: Send,
    build: Callable[[Message], Message],
    *,
    concurrency: int,
    bound: float,
    pause: float = 0.5,
) -> ReversalResult:
    """Reverse every request of ``record`` whose outcome is unknown, until acknowledged.

    Rounds: every open reversal is sent (``concurrency`` at a time), then,
    after ``pause`` seconds, those not acknowledged are resent (``0421``),
    until none is left or ``bound`` seconds have passed.

    Args:
        record: the requester's record.
        send: sends one message, returns its answer (``None``: none in time).
        build: the new reversal of an original.
        concurrency: reversals in flight at once.
        bound: seconds to keep trying.
        pause: seconds between rounds.
    """
    open_: list[Message] = []
    missing = 0
    for told in record.unknown():
        original = record.original(told.key)
        if original is None:
            missing += 1  # on record without its message: nothing to reverse it from
        else:
            open_.append(original)
    unknown = len(open_) + missing
    limiter = trio.CapacityLimiter(max(1, concurrency))
    rounds = sends = 0
    done: set[int] = set()

    async def one(index: int, original: Message) -> None:
        nonlocal sends
        async with limiter:
            sends += 1
            if await reverse_once(record, original, send, build):
                done.add(index)

    with trio.move_on_after(bound):
        while open_:
            rounds += 1
            done.clear()
            async with trio.open_nursery() as nursery:
                for index, original in enumerate(open_):
                    nursery.start_soon(one, index, original)
            open_ = [m for i, m in enumerate(open_) if i not in done]
            if open_:
                await trio.sleep(pause)
    return ReversalResult(
        unknown=unknown,
        acknowledged=unknown - missing - len(open_),
        open=len(open_) + missing,
        rounds=rounds,
        sends=sends,
    )


class RecordingRequester:
    """``run_load``'s request function for a center that keeps a record (module docs).

    Each request waits (up to ``connect_timeout``) for the link to be
    signed on — a center holds its requests while the gateway is away —
    is written down, then sent. With ``reverse_at_once``, a request sent
    and not answered (timed out, or the connection lost) is reversed at
    once, one send; what stays unacknowledged is left to
    :func:`reverse_unknown`.

    Args:
        link: the center's link to the gateway.
        record: the record.
        sim: builds reversals.
        timeout: seconds per request.
        connect_timeout: seconds a request waits for sign-on (then it is
            not sent: :class:`~sscard_gateway.errors.LinkUnavailable`).
        reverse_at_once: reverse an unanswered request at once.
    """

    def __init__(
        self,
        link: Link,
        record: LoadRecord,
        sim: CenterSimulator,
        *,
        timeout: float,
        connect_timeout: float,
        reverse_at_once: bool,
    ) -> None:
        self.link = link
        self.record = record
        self.sim = sim
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.reverse_at_once = reverse_at_once
        self._planned: dict[tuple[str, ...], Planned] = {}

    def expect(self, planned: Planned) -> Message:
        """Note what ``planned`` is (its kind and ledgers) for when it is sent; its message."""
        self._planned[self.record.record.key_of(planned.message)] = planned
        return planned.message

    async def _ready(self) -> None:
        if self.link.state is LinkState.SIGNED_ON:
            return
        with trio.move_on_after(self.connect_timeout) as waiting:
            await self.link.wait_ready()
        if waiting.cancelled_caught:
            raise LinkUnavailable("not signed on to the gateway in time")

    async def send(self, message: Message) -> Message | None:
        """Send ``message`` once the link is signed on; its answer, ``None`` if none in time."""
        try:
            await self._ready()
            return await self.link.request(message, timeout=self.timeout)
        except SscardError:
            return None

    async def request(self, message: Message) -> Message:
        """Send one request of the load (see the class docs); its response.

        Raises:
            SscardError: no answer (counted by the load as an error).
        """
        key = self.record.record.key_of(message)
        planned = self._planned.pop(key, None)
        await self._ready()
        kind = planned.kind.value if planned else "unknown"
        self.record.sent(message, kind=kind, expects=planned.expects if planned else ())
        try:
            response = await self.link.request(message, timeout=self.timeout)
        except LinkUnavailable:
            raise  # not sent: its reversal, harmless, is left to reverse_unknown
        except SscardError:
            if self.reverse_at_once and message.mti[2:3] != "2":  # an advice is not reversed
                await reverse_once(self.record, message, self.send, self.reversal_of)
            raise
        self.record.told(message, response)
        return response

    def reversal_of(self, original: Message) -> Message:
        """A new reversal of ``original`` (new F7 and F11)."""
        return self.sim.reversal(original)
