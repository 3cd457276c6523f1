"""Links to peers: a sans-I/O protocol and its Trio driver.

A link carries ISO 8583 traffic over one stream connection to a regional
center, the UnionPay switch or a POS terminal: sign-on, echo, key
exchange and sign-off (DOMAIN.md §2, §3), requests matched to responses by
the dialect's key, deadlines, MACs. :class:`LinkProtocol` does all of it
without I/O; :func:`open_link` and :func:`serve_links` drive it with Trio.
See ``docs/links.md``.
"""

from ._driver import RequestHandler as RequestHandler
from ._driver import StreamDriver as StreamDriver
from ._driver import UnmatchedHandler as UnmatchedHandler
from ._events import NEED_DATA as NEED_DATA
from ._events import EchoDue as EchoDue
from ._events import Event as Event
from ._events import FrameRejected as FrameRejected
from ._events import KeepaliveReceived as KeepaliveReceived
from ._events import KeyExchangeFailed as KeyExchangeFailed
from ._events import KeysChanged as KeysChanged
from ._events import NeedData as NeedData
from ._events import NetworkRequestAnswered as NetworkRequestAnswered
from ._events import RequestFailed as RequestFailed
from ._events import RequestReceived as RequestReceived
from ._events import RequestTimedOut as RequestTimedOut
from ._events import ResponseReceived as ResponseReceived
from ._events import StateChanged as StateChanged
from ._events import UnmatchedResponse as UnmatchedResponse
from ._network import StanCounter as StanCounter
from ._network import transmission_time as transmission_time
from ._pending import MatchKeys as MatchKeys
from ._security import KeyConfirmation as KeyConfirmation
from ._security import LinkKeys as LinkKeys
from ._server import PeerAllowList as PeerAllowList
from ._server import ServedLink as ServedLink
from ._server import serve_link_stream as serve_link_stream
from ._server import serve_links as serve_links
from ._server import tls_client_context as tls_client_context
from ._server import tls_server_context as tls_server_context
from ._state import TRANSITIONS as TRANSITIONS
from ._state import LinkState as LinkState
from ._state import Trigger as Trigger
from .protocol import LinkConfig as LinkConfig
from .protocol import LinkProtocol as LinkProtocol
from .protocol import LinkStatistics as LinkStatistics
from .trio_link import Backoff as Backoff
from .trio_link import Connector as Connector
from .trio_link import Link as Link
from .trio_link import open_link as open_link
from .trio_link import tcp_connector as tcp_connector

__all__ = [
    "NEED_DATA",
    "TRANSITIONS",
    "Backoff",
    "Connector",
    "EchoDue",
    "Event",
    "FrameRejected",
    "KeepaliveReceived",
    "KeyConfirmation",
    "KeyExchangeFailed",
    "KeysChanged",
    "Link",
    "LinkConfig",
    "LinkKeys",
    "LinkProtocol",
    "LinkState",
    "LinkStatistics",
    "MatchKeys",
    "NeedData",
    "NetworkRequestAnswered",
    "PeerAllowList",
    "RequestFailed",
    "RequestHandler",
    "RequestReceived",
    "RequestTimedOut",
    "ResponseReceived",
    "ServedLink",
    "StanCounter",
    "StateChanged",
    "StreamDriver",
    "Trigger",
    "UnmatchedHandler",
    "UnmatchedResponse",
    "open_link",
    "serve_link_stream",
    "serve_links",
    "tcp_connector",
    "tls_client_context",
    "tls_server_context",
    "transmission_time",
]
