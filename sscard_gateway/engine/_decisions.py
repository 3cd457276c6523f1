"""What the engine decides, and what it is told back: decisions out, outcomes in.

Why values: the engine is sans-I/O (as h11 and our link protocol are). A
transaction's handling is a *saga*, a generator that yields one
:data:`Decision` at a time — journal these operations as one group, read
this transaction, send this leg, answer the requester, wake
store-and-forward — and is sent back the :data:`Outcome` of carrying it
out. The executor in :mod:`sscard_gateway.gateway` does the I/O; the fault
simulation runs the same executor; the engine's tests drive sagas with
outcomes they make up, no sockets, no Trio, no clock (every outcome carries
the time it happened).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from datetime import datetime
from typing import TypeAlias, TypeVar

import attrs

from ..iso import Message
from ..store import GroupResult, LegRecord, Op, TransactionRecord

__all__ = [
    "Answered",
    "Decision",
    "Delivered",
    "Found",
    "NotSent",
    "Outcome",
    "Read",
    "Reply",
    "Saga",
    "Send",
    "Step",
    "Unknown",
    "Wake",
    "Woken",
    "Write",
    "WriteFailed",
    "Written",
]


# -- decisions -------------------------------------------------------------------


def _ops(ops: Iterable[Op]) -> tuple[Op, ...]:
    return tuple(ops)


@attrs.frozen
class Write:
    """Journal ``ops`` as one group (all or nothing); outcome :class:`Written` or
    :class:`WriteFailed`.

    Attributes:
        ops: the operations.
        must_land: the group records the outcome of a leg that was sent, so
            the executor retries it until it is committed instead of giving
            up (the engine must not forget what a peer may hold).
    """

    ops: tuple[Op, ...] = attrs.field(converter=_ops)
    must_land: bool = False


@attrs.frozen
class Read:
    """Read a transaction and its legs; outcome :class:`Found`."""

    transaction_key: str


@attrs.frozen
class Send:
    """Send a leg on its destination link and wait for its answer.

    Outcome :class:`Answered`, :class:`Unknown` or :class:`NotSent`.

    Attributes:
        leg: the leg as journaled (``destination`` names the link).
        message: the message to send (with its PIN block, which the journal
            does not keep).
        timeout: seconds to wait for the answer.
    """

    leg: LegRecord
    message: Message
    timeout: float


@attrs.frozen
class Reply:
    """Answer the requester; outcome :class:`Delivered`.

    Attributes:
        message: the response.
        kind: the transaction kind (for counts by kind and code).
    """

    message: Message
    kind: str


@attrs.frozen
class Wake:
    """Tell store-and-forward that items are owed to ``destinations``; outcome :class:`Woken`."""

    destinations: frozenset[str]


Decision: TypeAlias = Write | Read | Send | Reply | Wake


# -- outcomes -------------------------------------------------------------------


@attrs.frozen
class Written:
    """The group was committed, or stopped by a refusal (``result.applied``)."""

    result: GroupResult
    now: datetime


@attrs.frozen
class WriteFailed:
    """The journal failed (disk full...): nothing of the group was stored."""

    error: str
    now: datetime


@attrs.frozen
class Found:
    """What the journal holds under a key (``record`` ``None``: nothing)."""

    record: TransactionRecord | None
    legs: tuple[LegRecord, ...]
    now: datetime


@attrs.frozen
class Answered:
    """The leg's answer came."""

    message: Message
    now: datetime


@attrs.frozen
class Unknown:
    """The leg may have reached the peer but no answer came (deadline, line lost)."""

    reason: str
    now: datetime


@attrs.frozen
class NotSent:
    """The leg never left (no link, not signed on) or the peer refused it unread."""

    code: str
    reason: str
    now: datetime


@attrs.frozen
class Delivered:
    """Whether the answer went out on the connection its request came in on."""

    delivered: bool
    now: datetime


@attrs.frozen
class Woken:
    """Store-and-forward was told."""

    now: datetime


Outcome: TypeAlias = (
    Written | WriteFailed | Found | Answered | Unknown | NotSent | Delivered | Woken
)

Saga: TypeAlias = Generator[Decision, Outcome, None]
"""One transaction's handling: yields decisions, is sent their outcomes."""

T = TypeVar("T")

Step: TypeAlias = Generator[Decision, Outcome, T]
"""A part of a saga that ends with a value (``x = yield from step``)."""
