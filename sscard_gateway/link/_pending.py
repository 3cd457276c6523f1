"""Requests in flight on one connection, found again by their match key.

Why: a response carries no request id, only the fields it echoes. The
dialect says which fields identify an exchange (DOMAIN.md §2: CUPS F7 +
F11 + F32 + F33; the POS dialect F11 + F41; rules per message class and
processing code in ``[keys]`` of the dialect file). The key here is those
field values plus the request's MTI with the response and repeat bits
cleared, so a 0210 answers a 0200 and a 0430 answers a 0420 or its repeat
0421, never an 0110.

Two guarantees rest on this table:

* a second request with the key of one in flight is refused
  (:class:`~sscard_gateway.errors.DuplicateRequest`, code ``94``), since its
  response could not be told apart;
* a request that timed out (or was abandoned) leaves its key *quarantined*
  on this connection: a new request with that key is refused too, so a
  late response always reaches the unmatched handler and never a newer
  caller. The quarantine ends when the late response arrives, with the
  connection (responses never cross connections), or after the late window
  when one is configured (by default it lasts as long as the connection,
  bounded to the last 10,000 keys). A *repeat* (MTI fourth digit odd:
  0421, 0201) is the same exchange sent again, so it may take over a
  quarantined key and receive the late answer to its original; once the
  repeat is answered, the key is quarantined again for the answer still
  owed to the earlier transmission.

Deadlines are plain numbers from the caller's clock; nothing here reads time.
"""

from __future__ import annotations

import enum
import functools
import heapq
import math

import attrs

from ..errors import DuplicateRequest
from ..iso import Dialect, FieldValue, Message

__all__ = ["MatchKey", "MatchKeys", "Pending", "PendingTable", "RequestKind"]

MatchKey = tuple[str, tuple[FieldValue | None, ...]]
"""The normalised request MTI and the values of the key fields (``None`` if absent)."""

_QUARANTINE_LIMIT = 10_000


class RequestKind(enum.Enum):
    """What a request in flight is for; the link acts on some responses itself."""

    APPLICATION = "application"
    SIGN_ON = "sign-on"
    SIGN_OFF = "sign-off"
    ECHO = "echo"
    NETWORK = "network"

    __hash__ = object.__hash__  # identity: members are singletons (a cheap dict key)


@functools.cache
def exchange_mti(mti: str) -> str:
    """The request MTI of the exchange ``mti`` belongs to (0210 -> 0200, 0421 -> 0420)."""
    return mti[:2] + str(int(mti[2]) & ~1) + str(int(mti[3]) & ~1)


class MatchKeys:
    """The dialect's response-matching rule, compiled once.

    Args:
        dialect: supplies ``match_key`` and ``match_rules`` (by message
            class and processing code; the first rule that applies wins).
    """

    __slots__ = ("_cache", "_default", "_dialect", "_rules")

    def __init__(self, dialect: Dialect) -> None:
        spec = dialect.spec
        self._dialect = dialect
        self._default = spec.match_key
        self._rules = tuple(
            (frozenset(r.classes), frozenset(r.processing_codes), r.fields)
            for r in spec.match_rules
        )
        # (MTI, F3) -> (exchange MTI, key fields); bounded by the MTIs and codes in use
        self._cache: dict[tuple[str, object], tuple[str, tuple[int, ...]]] = {}

    def _rule(self, mti: str, code: object) -> tuple[int, ...]:
        cls = self._dialect.mti_class(mti)
        for classes, codes, fields in self._rules:
            if classes and cls not in classes:
                continue
            if codes and code not in codes:
                continue
            return fields
        return self._default

    def _plan(self, message: Message) -> tuple[str, tuple[int, ...]]:
        values = message.fields
        code = values.get(3)
        plan = self._cache.get((message.mti, code))
        if plan is None:
            mti = message.mti
            if len(self._cache) > 4096:
                self._cache.clear()
            plan = self._cache[(mti, code)] = (exchange_mti(mti), self._rule(mti, code))
        return plan

    def fields_for(self, message: Message) -> tuple[int, ...]:
        """The key fields that apply to ``message``."""
        return self._plan(message)[1]

    def key(self, message: Message) -> MatchKey:
        """The match key of a request or response."""
        mti, fields = self._plan(message)
        return (mti, tuple(map(message.fields.get, fields)))


@attrs.define(slots=True, eq=False)
class Pending:
    """One request in flight.

    ``owed`` counts answers still owed to earlier transmissions of the same
    exchange that this one (a repeat) took over; they are expected late.
    """

    request_id: int
    key: MatchKey
    deadline: float
    kind: RequestKind
    owed: int = 0


class PendingTable:
    """Requests in flight by match key and id, with deadlines and a late quarantine.

    Args:
        late_window: how long a timed-out request's key stays quarantined
            (``None``: as long as the connection).
    """

    def __init__(self, *, late_window: float | None) -> None:
        self._late_window = late_window
        self._by_key: dict[MatchKey, Pending] = {}
        self._by_id: dict[int, Pending] = {}
        self._heap: list[tuple[float, int]] = []
        self._late: dict[MatchKey, tuple[float, int]] = {}  # key -> (until, answers owed)

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def quarantined(self) -> int:
        """Keys waiting for a late response."""
        return len(self._late)

    def check(self, key: MatchKey, now: float, *, repeat: bool = False) -> int:
        """Raise if a request with ``key`` may not be sent now.

        Args:
            key: the request's match key.
            now: the current time.
            repeat: the request repeats an earlier one (it may take over a
                quarantined key).

        Returns:
            The late answers a repeat would take over (0 if none).

        Raises:
            DuplicateRequest: the key is in flight, or quarantined and this
                is not a repeat.
        """
        if key in self._by_key:
            raise DuplicateRequest("a request with the same match key is in flight")
        late = self._late.get(key)
        if late is None:
            return 0
        until, owed = late
        if until <= now:
            del self._late[key]
            return 0
        if not repeat:
            raise DuplicateRequest(
                "a request with the same match key timed out and its late response may still arrive"
            )
        return owed

    def add(self, entry: Pending) -> None:
        """Register ``entry``, which :meth:`check` allowed (``owed`` is what it returned).

        A repeat takes over its key's quarantine.
        """
        self._late.pop(entry.key, None)
        self._by_key[entry.key] = entry
        self._by_id[entry.request_id] = entry
        heapq.heappush(self._heap, (entry.deadline, entry.request_id))

    def _remove(self, entry: Pending) -> None:
        del self._by_id[entry.request_id]
        del self._by_key[entry.key]

    def pop_by_key(self, key: MatchKey, now: float) -> Pending | None:
        """Take the request a response with ``key`` answers, if any.

        If it had taken over answers owed to earlier transmissions, the key
        is quarantined again for them.
        """
        entry = self._by_key.get(key)
        if entry is not None:
            self._remove(entry)
            if entry.owed:
                self._quarantine(key, now, entry.owed)
        return entry

    def take_late(self, key: MatchKey, now: float) -> bool:
        """True if a late answer was owed on ``key`` (one fewer is owed now)."""
        late = self._late.get(key)
        if late is None:
            return False
        until, owed = late
        if until <= now or owed <= 1:
            del self._late[key]
        else:
            self._late[key] = (until, owed - 1)
        return until > now

    def _quarantine(self, key: MatchKey, now: float, owed: int) -> None:
        self._late.pop(key, None)
        window = self._late_window
        self._late[key] = (math.inf if window is None else now + window, owed)
        while len(self._late) > _QUARANTINE_LIMIT:
            del self._late[next(iter(self._late))]

    def abandon(self, request_id: int, now: float) -> Pending | None:
        """Forget a request whose caller went away; its key is quarantined."""
        entry = self._by_id.get(request_id)
        if entry is not None:
            self._remove(entry)
            self._quarantine(entry.key, now, entry.owed + 1)
        return entry

    def next_deadline(self) -> float | None:
        """The earliest deadline of a request in flight."""
        heap = self._heap
        while heap and heap[0][1] not in self._by_id:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def expire(self, now: float) -> list[Pending]:
        """Remove and return the requests whose deadline is ``<= now``, oldest first."""
        out = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, request_id = heapq.heappop(heap)
            entry = self._by_id.get(request_id)
            if entry is not None:
                self._remove(entry)
                self._quarantine(entry.key, now, entry.owed + 1)
                out.append(entry)
        # drop quarantine entries whose window passed (they are in time order)
        late = self._late
        while late:
            first = next(iter(late))
            if late[first][0] > now:
                break
            del late[first]
        return out

    def clear(self) -> list[Pending]:
        """Remove every request (the connection is gone) and end every quarantine."""
        out = sorted(self._by_id.values(), key=lambda e: e.request_id)
        self._by_id.clear()
        self._by_key.clear()
        self._heap.clear()
        self._late.clear()
        return out
