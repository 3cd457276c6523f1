"""Events a :class:`~sscard_gateway.link.LinkProtocol` hands out.

Why value types: the sans-I/O link (docs/architecture.md principle 1) reports
everything that happened as frozen, slotted ``attrs`` records, like h11's
``_events.py`` (STYLE.md 1, 4). A driver takes them from ``next_event()``
and acts: resolves a waiting request, starts a handler, writes ``reply``
bytes, sends an echo. Every request sent with ``send_request`` ends with
exactly one of :class:`ResponseReceived`, :class:`RequestTimedOut` or
:class:`RequestFailed`.

Events that answer the peer carry the encoded answer in ``reply`` (format
error ``30`` to a malformed request, ``A0`` to a request with a bad MAC, the
0830/0810 answer to an echo, sign-on or key exchange); the driver writes it
unchanged. Messages in events print masked (docs/architecture.md principle 5).
"""

from __future__ import annotations

import enum
from typing import Literal

import attrs

from ..crypto import KeyInfo
from ..errors import SscardError
from ..iso import Message
from ._state import LinkState, Trigger

__all__ = [
    "NEED_DATA",
    "EchoDue",
    "Event",
    "FrameRejected",
    "KeepaliveReceived",
    "KeyExchangeFailed",
    "KeysChanged",
    "NeedData",
    "NetworkRequestAnswered",
    "RequestFailed",
    "RequestReceived",
    "RequestTimedOut",
    "ResponseReceived",
    "StateChanged",
    "UnmatchedResponse",
]


class NeedData(enum.Enum):
    """The type of :data:`NEED_DATA`."""

    NEED_DATA = "NEED_DATA"


NEED_DATA: Literal[NeedData.NEED_DATA] = NeedData.NEED_DATA
"""Returned by ``next_event()`` when nothing more can happen without more bytes."""


@attrs.frozen(slots=True)
class ResponseReceived:
    """The response to our request ``request_id`` arrived (MAC verified if configured)."""

    request_id: int
    message: Message


@attrs.frozen(slots=True)
class RequestTimedOut:
    """Request ``request_id`` reached its deadline unanswered.

    Its match key stays quarantined for the late window, so a late response
    goes to :class:`UnmatchedResponse` and never to a newer request.
    """

    request_id: int


@attrs.frozen(slots=True)
class RequestFailed:
    """Request ``request_id`` ended without a response.

    ``error`` is a :class:`~sscard_gateway.errors.LinkClosed` when the
    connection was lost, or a :class:`~sscard_gateway.errors.RejectedByPeer`
    when CUPS sent it back with a reject header.
    """

    request_id: int
    error: SscardError


@attrs.frozen(slots=True)
class UnmatchedResponse:
    """A response that matches no request in flight.

    ``late`` is true when it answers a request that already timed out (or
    was abandoned) on this connection; otherwise it is unknown.
    """

    message: Message
    late: bool


@attrs.frozen(slots=True)
class RequestReceived:
    """A request (or advice) from the peer for the application's handler."""

    message: Message


@attrs.frozen(slots=True)
class NetworkRequestAnswered:
    """The link answered a network management request itself (echo, sign-on, sign-off).

    ``code`` is the network management code (``"301"`` for an echo).
    """

    message: Message
    code: str
    reply: bytes


@attrs.frozen(slots=True)
class EchoDue:
    """Nothing was received for the configured idle time: send an echo test."""


@attrs.frozen(slots=True)
class KeepaliveReceived:
    """A zero-length frame arrived; ``reply`` is the answer when configured."""

    reply: bytes | None


@attrs.frozen(slots=True)
class FrameRejected:
    """A frame could not be accepted.

    Attributes:
        error: the typed error (decode error, MAC error, frame too large...).
        reply: the answer to write (format error ``30``, MAC error ``A0``)
            when the frame was a request whose MTI and match key could be
            read; otherwise ``None`` and the frame is dropped.
        close: the connection must be closed (its framing is lost).
    """

    error: SscardError
    reply: bytes | None
    close: bool = False


@attrs.frozen(slots=True)
class KeysChanged:
    """Working keys changed: imported from a key exchange or confirmed.

    Attributes:
        keys: what the security module now holds for each changed name
            (check values only).
        reply: the key exchange answer to write, if any.
    """

    keys: tuple[KeyInfo, ...]
    reply: bytes | None = None


@attrs.frozen(slots=True)
class KeyExchangeFailed:
    """Keys offered by the peer were refused (bad check value, bad layout).

    ``reply`` answers the peer's key exchange request with the error's
    response code (``A8`` PIN key, ``A9`` MAC key, ``30`` layout) when it
    was a request; nothing pending was confirmed.
    """

    error: SscardError
    reply: bytes | None = None


@attrs.frozen(slots=True)
class StateChanged:
    """The link moved from ``previous`` to ``state`` because of ``trigger``."""

    previous: LinkState
    state: LinkState
    trigger: Trigger


Event = (
    ResponseReceived
    | RequestTimedOut
    | RequestFailed
    | UnmatchedResponse
    | RequestReceived
    | NetworkRequestAnswered
    | EchoDue
    | KeepaliveReceived
    | FrameRejected
    | KeysChanged
    | KeyExchangeFailed
    | StateChanged
)
"""Any event ``next_event()`` may return."""
