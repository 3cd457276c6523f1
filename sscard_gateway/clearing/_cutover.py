"""Cutover: which settlement date a transaction belongs to.

Why a clock-free object of its own: every journal record carries the
settlement date it clears on (DOMAIN.md §1: at cutover the gateway totals
and nets a day), and that date must agree with UnionPay's, which closes its
day at a fixed local time (23:00 by custom) and announces it with network
management messages: ``0820`` with field 70 ``201`` (cutover begins) and
``202`` (cutover ends) (DOMAIN.md §2). The date cannot simply be the
calendar date of the request.

Theory of operation. Business day ``D`` ends at its **boundary**, nominally
``D`` at the configured time ``at``; a request at or after the boundary
belongs to ``D + 1``. The switch moves the boundary:

* **early**: a ``201`` before ``at`` moves the boundary to the moment it
  arrives (the switch has closed its day; so do we);
* **late**: with ``wait_for_switch=True`` the date holds past ``at`` until
  the ``201`` arrives, for at most ``grace`` (the fallback when the switch
  sends nothing);
* a ``202`` that arrives while the old date still holds (its ``201`` was
  lost) switches the date at once.

A ``201`` outside ``at ± grace`` is not accepted (a misconfigured switch must
not put half a day on the wrong date): the event says so and the caller logs
it. Time is passed in (STYLE.md 1): nothing here reads a clock. The
boundaries the switch moved are what must survive a restart: :meth:`Cutover.saved`
gives them as text, which the gateway keeps in the journal, and
:meth:`Cutover.restore` takes them back when it starts (the rest of the
state, a cutover in progress, is not kept: the next ``201``/``202`` sets it).

Next-day reversals (``C3``, DOMAIN.md §2): a reversal whose original has an
earlier settlement date than the reversal's own arrives after that date was
cut over; :meth:`Cutover.is_next_day` tells. Clearing settles such a
reversal on its own date as a negative adjustment (see ``docs/clearing.md``).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Literal

import attrs

from ..iso import Message

__all__ = ["Cutover", "CutoverEvent", "CutoverState", "cutover_signal", "resolve_mmdd"]

_DAY = dt.timedelta(days=1)
_KEEP_DAYS = 8  # boundaries moved by the switch remembered (older ones are history)


def _yyyymmdd(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


@attrs.frozen(kw_only=True)
class CutoverEvent:
    """What a cutover message did.

    Attributes:
        signal: ``"cutover_begin"`` (F70 ``201``) or ``"cutover_end"`` (``202``).
        at: when it arrived.
        settlement_date: the date in force after it (``YYYYMMDD``).
        changed: whether it moved the boundary (switched the date).
        accepted: ``False`` when it arrived outside ``at ± grace`` and was
            ignored (log it: the switch and our configuration disagree).
    """

    signal: Literal["cutover_begin", "cutover_end"]
    at: dt.datetime
    settlement_date: str
    changed: bool
    accepted: bool = True


@attrs.frozen(kw_only=True)
class CutoverState:
    """A snapshot for metrics and tests (STYLE.md 10).

    Attributes:
        in_progress: between a ``201`` and its ``202``.
        last_begin: when the last accepted ``201`` arrived, if any.
        last_end: when the last ``202`` arrived, if any.
        moved: boundaries the switch moved, by calendar day (``YYYYMMDD``).
    """

    in_progress: bool
    last_begin: dt.datetime | None
    last_end: dt.datetime | None
    moved: dict[str, dt.datetime]


class Cutover:
    """The settlement date of any moment, from the configured time and the switch.

    Args:
        at: the local time the business day closes (UnionPay: 23:00).
            Must be after midnight (a day cannot close at its own start).
        wait_for_switch: hold the old date past ``at`` until the switch's
            ``201`` arrives (at most ``grace``); otherwise switch at ``at``
            or at an earlier ``201``.
        grace: how far from ``at`` a ``201`` is accepted, and how long the
            date waits for it.

    Raises:
        ValueError: ``at`` is midnight, ``grace`` is negative, or
            ``at ± grace`` leaves the calendar day.
    """

    def __init__(
        self,
        at: dt.time = dt.time(23, 0),
        *,
        wait_for_switch: bool = False,
        grace: dt.timedelta = dt.timedelta(minutes=30),
    ) -> None:
        if at == dt.time(0, 0):
            raise ValueError("the cutover time must be after midnight")
        if grace < dt.timedelta(0):
            raise ValueError("grace must not be negative")
        base = dt.datetime.combine(dt.date(2000, 1, 1), at)
        if (base - grace).date() != base.date() or (base + grace).date() != base.date():
            raise ValueError("the cutover time plus or minus grace must stay within the day")
        self.at = at
        self.wait_for_switch = wait_for_switch
        self.grace = grace
        self._moved: dict[dt.date, dt.datetime] = {}
        self._in_progress = False
        self._last_begin: dt.datetime | None = None
        self._last_end: dt.datetime | None = None

    def _nominal(self, day: dt.date, now: dt.datetime) -> dt.datetime:
        return dt.datetime.combine(day, self.at, tzinfo=now.tzinfo)

    def boundary(self, now: dt.datetime) -> dt.datetime:
        """When the business day that contains ``now``'s calendar day closes.

        Args:
            now: any moment of the calendar day in question.

        Returns:
            The boundary: moved by the switch, or the configured time (plus
            ``grace`` while waiting for the switch).
        """
        day = now.date()
        moved = self._moved.get(day)
        if moved is not None:
            return moved
        nominal = self._nominal(day, now)
        return nominal + self.grace if self.wait_for_switch else nominal

    def settlement_date(self, now: dt.datetime) -> str:
        """The settlement date (``YYYYMMDD``) a transaction at ``now`` belongs to.

        The gateway stamps every journal record with this when it creates it.

        Args:
            now: the local time of the request (the gateway's wall clock).

        Returns:
            ``now``'s calendar date before the boundary, the next date from it on.
        """
        day = now.date()
        return _yyyymmdd(day + _DAY if now >= self.boundary(now) else day)

    def is_next_day(self, original_settlement_date: str, now: dt.datetime) -> bool:
        """Whether a reversal at ``now`` of a transaction of that date is next-day (``C3``).

        Args:
            original_settlement_date: the original's settlement date, ``YYYYMMDD``.
            now: when the reversal arrives.

        Returns:
            ``True`` when the original's date was cut over before ``now``.
        """
        return original_settlement_date < self.settlement_date(now)

    def _accepts(self, now: dt.datetime) -> bool:
        nominal = self._nominal(now.date(), now)
        return nominal - self.grace <= now <= nominal + self.grace

    def _forget_old(self, now: dt.datetime) -> None:
        horizon = now.date() - dt.timedelta(days=_KEEP_DAYS)
        for day in [d for d in self._moved if d < horizon]:
            del self._moved[day]

    def on_cutover_begin(self, now: dt.datetime) -> CutoverEvent:
        """The switch began its cutover (``0820``, F70 ``201``).

        Args:
            now: when the message arrived.

        Returns:
            The event: the date in force after it, and whether it changed.
        """
        if not self._accepts(now):
            return CutoverEvent(
                signal="cutover_begin",
                at=now,
                settlement_date=self.settlement_date(now),
                changed=False,
                accepted=False,
            )
        self._in_progress = True
        self._last_begin = now
        changed = now < self.boundary(now)
        if changed:
            self._moved[now.date()] = now
            self._forget_old(now)
        return CutoverEvent(
            signal="cutover_begin",
            at=now,
            settlement_date=self.settlement_date(now),
            changed=changed,
        )

    def on_cutover_end(self, now: dt.datetime) -> CutoverEvent:
        """The switch ended its cutover (``0820``, F70 ``202``).

        A ``202`` whose ``201`` was lost switches the date now, if it still
        holds; otherwise it changes nothing but the state.

        Args:
            now: when the message arrived.

        Returns:
            The event.
        """
        self._in_progress = False
        self._last_end = now
        changed = self._accepts(now) and now < self.boundary(now)
        if changed:
            self._moved[now.date()] = now
            self._forget_old(now)
        return CutoverEvent(
            signal="cutover_end",
            at=now,
            settlement_date=self.settlement_date(now),
            changed=changed,
            accepted=self._accepts(now),
        )

    def on_message(self, message: Message, now: dt.datetime) -> CutoverEvent | None:
        """Apply a network management message if it is a cutover signal.

        Args:
            message: any message from the switch.
            now: when it arrived.

        Returns:
            The event, or ``None`` when ``message`` is not a cutover signal
            (the caller handles it as usual).
        """
        signal = cutover_signal(message)
        if signal == "cutover_begin":
            return self.on_cutover_begin(now)
        if signal == "cutover_end":
            return self.on_cutover_end(now)
        return None

    def saved(self) -> str:
        """The boundaries the switch moved, as text to keep across a restart.

        The gateway keeps it in the journal (``SetSetting("cutover.moved",
        ...)``) each time a boundary moves, and gives it back to
        :meth:`restore` when it starts.

        Returns:
            JSON: ``{"YYYYMMDD": "ISO 8601 moment"}`` for the calendar days
            whose boundary moved (the last ``8`` days at most).
        """
        moved = {_yyyymmdd(day): at.isoformat() for day, at in sorted(self._moved.items())}
        return json.dumps(moved, sort_keys=True)

    def restore(self, saved: str) -> None:
        """Take back boundaries kept by :meth:`saved` (after a restart).

        Boundaries already known here stay as they are.

        Args:
            saved: what :meth:`saved` returned.

        Raises:
            ValueError: ``saved`` is not what :meth:`saved` writes.
        """
        try:
            moved = json.loads(saved)
            days = {
                dt.datetime.strptime(day, "%Y%m%d").date(): dt.datetime.fromisoformat(at)
                for day, at in moved.items()
            }
        except (TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"not a saved cutover state: {exc}") from None
        for day, at in days.items():
            if at.date() != day:
                raise ValueError("not a saved cutover state: a boundary outside its day")
            self._moved.setdefault(day, at)

    def state(self) -> CutoverState:
        """A snapshot of the cutover state.

        Returns:
            The state (a copy; later events do not change it).
        """
        return CutoverState(
            in_progress=self._in_progress,
            last_begin=self._last_begin,
            last_end=self._last_end,
            moved={_yyyymmdd(d): t for d, t in sorted(self._moved.items())},
        )


def cutover_signal(message: Message) -> Literal["cutover_begin", "cutover_end"] | None:
    """Tell a cutover message (``0820`` F70 ``201``/``202`` in CUPS) by its dialect.

    The MTI, code field and codes come from the dialect's ``[network]``
    section (DOMAIN.md §2), not from constants here.

    Args:
        message: a decoded message with its dialect.

    Returns:
        ``"cutover_begin"``, ``"cutover_end"``, or ``None`` for anything else.
    """
    dialect = message.dialect
    network = dialect.spec.network if dialect is not None else None
    if network is None or message.mti[:3] != network.request_mti[:3]:
        return None
    if not network.code_field.isdigit():
        return None
    code = message.fields.get(int(network.code_field))
    if code is None:
        return None
    if code == network.codes.get("cutover_begin"):
        return "cutover_begin"
    if code == network.codes.get("cutover_end"):
        return "cutover_end"
    return None


def resolve_mmdd(mmdd: str, near: dt.date) -> str:
    """The full date of an ``MMDD`` settlement date (field 15), nearest to ``near``.

    CUPS returns its settlement date as ``MMDD``; around New Year the year
    is the one that puts the date within half a year of ``near``.

    Args:
        mmdd: four digits.
        near: a date close to the answer (the request's date).

    Returns:
        ``YYYYMMDD``.

    Raises:
        ValueError: ``mmdd`` is not a valid month and day.
    """
    if len(mmdd) != 4 or not (mmdd.isascii() and mmdd.isdigit()):
        raise ValueError("a settlement date MMDD must be four digits")
    month, day = int(mmdd[:2]), int(mmdd[2:])
    best: dt.date | None = None
    for year in (near.year - 1, near.year, near.year + 1):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            continue
        if best is None or abs(candidate - near) < abs(best - near):
            best = candidate
    if best is None:
        raise ValueError("not a valid month and day")
    return _yyyymmdd(best)
