"""The link's states and its one table of transitions.

Why one table: every state change of a link (connect, sign-on, echo, key
exchange, sign-off, a fatal framing error, a lost connection) is a row
below, keyed by state and trigger, so a reviewer checks the whole protocol
on one screen (STYLE.md 2, after h11's ``_state.py``). Triggers that leave
the state unchanged are rows too: they say *where* an action is allowed
(application requests only when signed on; echo before sign-on as well, as
CUPS members do, DOMAIN.md §2). A trigger missing from a state's rows is a
:class:`~sscard_gateway.errors.ProtocolError`.

Sign-on and sign-off are the network management exchanges of DOMAIN.md §2
(CUPS 0820/0830, F70 001/002) and §3 (POS 0800/0810, F60.3 001/003/004 with
working keys in F62).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from ..errors import ProtocolError

__all__ = ["TRANSITIONS", "LinkState", "Trigger", "next_state"]


class LinkState(enum.Enum):
    """Where a link stands with its peer."""

    CLOSED = "closed"
    CONNECTED = "connected"
    SIGNING_ON = "signing on"
    SIGNED_ON = "signed on"
    SIGNING_OFF = "signing off"

    # Members are singletons: identity hashing (the C slot) keeps the table
    # lookups on the request path cheap; Enum's own __hash__ runs in Python.
    __hash__ = object.__hash__


class Trigger(enum.Enum):
    """What moves a link: something we send, receive, or the transport does."""

    CONNECT = "connect"  # the transport is up
    SEND_SIGN_ON = "send sign-on"  # our sign-on request went out
    SIGN_ON_APPROVED = "sign-on approved"  # its response approved it (keys applied)
    SIGN_ON_FAILED = "sign-on failed"  # refused, timed out, or keys did not check
    SKIP_SIGN_ON = "skip sign-on"  # a link configured without sign-on
    PEER_SIGN_ON = "peer signed on"  # we approved the peer's sign-on request
    SEND_REQUEST = "send request"  # an application request (financial, advice...)
    SEND_ECHO = "send echo"  # an echo test, or another network request
    SEND_RESPONSE = "send response"  # a response or an advice we do not wait for
    KEY_EXCHANGE = "key exchange"  # new working keys were applied
    SEND_SIGN_OFF = "send sign-off"  # our sign-off request went out
    SIGN_OFF_ENDED = "sign-off ended"  # answered or timed out
    PEER_SIGN_OFF = "peer signed off"  # we answered the peer's sign-off request
    FRAME_TOO_LARGE = "frame too large"  # framing lost: the connection must close
    CONNECTION_LOST = "connection lost"  # the transport is gone

    __hash__ = object.__hash__  # see LinkState


_S = LinkState
_T = Trigger
_OPEN = (_S.CONNECTED, _S.SIGNING_ON, _S.SIGNED_ON, _S.SIGNING_OFF)

_TABLE: dict[tuple[LinkState, Trigger], LinkState] = {
    (_S.CLOSED, _T.CONNECT): _S.CONNECTED,
    (_S.CLOSED, _T.CONNECTION_LOST): _S.CLOSED,
    # before sign-on
    (_S.CONNECTED, _T.SEND_SIGN_ON): _S.SIGNING_ON,
    (_S.CONNECTED, _T.SKIP_SIGN_ON): _S.SIGNED_ON,
    (_S.CONNECTED, _T.PEER_SIGN_ON): _S.SIGNED_ON,
    (_S.CONNECTED, _T.SEND_ECHO): _S.CONNECTED,
    (_S.CONNECTED, _T.KEY_EXCHANGE): _S.CONNECTED,
    # signing on
    (_S.SIGNING_ON, _T.SIGN_ON_APPROVED): _S.SIGNED_ON,
    (_S.SIGNING_ON, _T.SIGN_ON_FAILED): _S.CONNECTED,
    (_S.SIGNING_ON, _T.PEER_SIGN_ON): _S.SIGNING_ON,
    (_S.SIGNING_ON, _T.SEND_ECHO): _S.SIGNING_ON,
    (_S.SIGNING_ON, _T.KEY_EXCHANGE): _S.SIGNING_ON,
    # signed on: traffic flows
    (_S.SIGNED_ON, _T.SEND_REQUEST): _S.SIGNED_ON,
    (_S.SIGNED_ON, _T.SEND_ECHO): _S.SIGNED_ON,
    (_S.SIGNED_ON, _T.KEY_EXCHANGE): _S.SIGNED_ON,
    (_S.SIGNED_ON, _T.PEER_SIGN_ON): _S.SIGNED_ON,
    (_S.SIGNED_ON, _T.SEND_SIGN_OFF): _S.SIGNING_OFF,
    (_S.SIGNED_ON, _T.PEER_SIGN_OFF): _S.CONNECTED,
    # signing off: no new requests; what is in flight may still end
    (_S.SIGNING_OFF, _T.SIGN_OFF_ENDED): _S.CONNECTED,
    (_S.SIGNING_OFF, _T.PEER_SIGN_OFF): _S.SIGNING_OFF,
    (_S.SIGNING_OFF, _T.KEY_EXCHANGE): _S.SIGNING_OFF,
}
for _state in _OPEN:
    _TABLE[(_state, _T.SEND_RESPONSE)] = _state
    _TABLE[(_state, _T.FRAME_TOO_LARGE)] = _S.CLOSED
    _TABLE[(_state, _T.CONNECTION_LOST)] = _S.CLOSED

TRANSITIONS: Mapping[tuple[LinkState, Trigger], LinkState] = MappingProxyType(_TABLE)
"""``(state, trigger) -> next state``; a missing pair is not allowed."""


def next_state(state: LinkState, trigger: Trigger) -> LinkState:
    """The state after ``trigger`` in ``state``.

    Args:
        state: the current state.
        trigger: what happened.

    Returns:
        The next state (possibly the same).

    Raises:
        ProtocolError: ``trigger`` is not allowed in ``state``.
    """
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise ProtocolError(f"cannot {trigger.value} while {state.value}") from None
