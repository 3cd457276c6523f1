"""The shared core of a link: settings, state, encoding and the answers it sends.

Why: :class:`~sscard_gateway.link.LinkProtocol` is split by concern into
this core (state and its one table of transitions, :mod:`._state`; MACs
on what is sent, :mod:`._security`; answers to the peer), the receiving
side (:mod:`._receiving`: classifying inbound frames, DOMAIN.md §2, §3) and
the public sending and timing API (:mod:`.protocol`). No I/O anywhere
(docs/architecture.md principle 1); the time is what callers pass in.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable
from datetime import datetime

from ..crypto import SecurityModule
from ..errors import LinkClosed, ProtocolError, SscardError
from ..iso import Dialect, FrameDecoder, Message
from ._config import LinkConfig, LinkStatistics
from ._events import Event, RequestFailed, StateChanged
from ._keyexchange import KeyExchange
from ._network import NetworkManagement, StanCounter
from ._pending import MatchKeys, Pending, PendingTable, RequestKind
from ._security import LinkKeys, LinkSecurity
from ._state import LinkState, Trigger, next_state

__all__ = ["LinkCore"]

_NAME_KIND = {
    "sign_on": RequestKind.SIGN_ON,
    "sign_off": RequestKind.SIGN_OFF,
    "echo": RequestKind.ECHO,
}


class LinkCore:
    """State, settings and encoding shared by the receiving and sending sides.

    Args:
        dialect: the wire dialect of the peer.
        config: protocol settings.
        security: the security module, for MACs and key exchange.
        keys: key names in ``security``; MACs are off without ``mac_key``
            (and a module without ``keys`` is not used).
        stan: F11 source for the network requests the link builds.
        wallclock: F7 clock for those requests (the only clock read, and only
            if the dialect has F7).

    Raises:
        SpecError: ``config.sign_on`` is set but the dialect has no network section.
    """

    def __init__(
        self,
        dialect: Dialect,
        *,
        config: LinkConfig | None = None,
        security: SecurityModule | None = None,
        keys: LinkKeys | None = None,
        stan: Callable[[], str] | None = None,
        wallclock: Callable[[], datetime] | None = None,
    ) -> None:
        self.dialect = dialect
        self.config = config = config if config is not None else LinkConfig()
        spec = dialect.spec
        self._match = MatchKeys(dialect)
        self._pending = PendingTable(late_window=config.late_window)
        self._net: NetworkManagement | None = None
        if spec.network is not None or config.sign_on:
            self._net = NetworkManagement(
                dialect,
                stan=stan if stan is not None else StanCounter(),
                wallclock=wallclock,
                fields=config.network_fields,
                header=config.header,
            )
        self._security: LinkSecurity | None = None
        self._kx: KeyExchange | None = None
        if security is not None and keys is not None:
            self._security = LinkSecurity(dialect, security, keys)
            self._kx = KeyExchange(dialect, self._security)
        self._state = LinkState.CLOSED
        self._decoder: FrameDecoder | None = None
        self._events: collections.deque[Event] = collections.deque()
        self._ids = itertools.count(1)
        self._now = 0.0
        self._last_rx = 0.0
        self._echo_raised = False
        self._keepalive = spec.prefix.encode(spec.prefix.size if spec.prefix_includes_itself else 0)
        self._counts = collections.Counter[str]()

    @property
    def state(self) -> LinkState:
        """The current state."""
        return self._state

    @property
    def has_events(self) -> bool:
        """Whether events are queued (``next_event`` also reads buffered frames)."""
        return bool(self._events)

    @property
    def in_flight(self) -> int:
        """Requests waiting for a response."""
        return len(self._pending)

    def statistics(self) -> LinkStatistics:
        """A frozen snapshot of counters and sizes."""
        c = self._counts
        return LinkStatistics(
            state=self._state,
            in_flight=len(self._pending),
            quarantined=self._pending.quarantined,
            requests_sent=c["sent"],
            responses_received=c["responses"],
            timeouts=c["timeouts"],
            failures=c["failures"],
            unmatched=c["unmatched"],
            frames_rejected=c["rejected"],
        )

    def _fire(self, trigger: Trigger) -> None:
        previous = self._state
        self._state = next_state(previous, trigger)
        if self._state is not previous:
            self._events.append(StateChanged(previous, self._state, trigger))

    def _allowed(self, trigger: Trigger) -> None:
        next_state(self._state, trigger)

    def _tick_now(self, now: float | None) -> float:
        if now is not None and now > self._now:
            self._now = now
        return self._now

    def build_network(self, name: str) -> Message:
        """A network management request of the dialect, built but not sent.

        Args:
            name: ``"sign_on"``, ``"sign_off"``, ``"echo"``, ``"key_reset_request"``,
                ``"cutover_begin"`` or ``"cutover_end"``.

        Returns:
            The message, with F7 and F11 from the injected sources.

        Raises:
            ProtocolError: the dialect has no such code or no network section.
        """
        if self._net is None:
            raise ProtocolError(f"dialect {self.dialect.name!r} has no network management")
        return self._net.build(name)

    def _kind(self, message: Message) -> RequestKind:
        if self._net is None:
            return RequestKind.APPLICATION
        name = self._net.name_of(message)
        if name is None:
            return RequestKind.APPLICATION
        return _NAME_KIND.get(name, RequestKind.NETWORK)

    def _encode(self, message: Message) -> bytes:
        security = self._security
        mac = security.mac_for(message) if security is not None else None
        return self.dialect.encode(message, mac=mac)

    def _answer(self, request: Message, code: str) -> bytes | None:
        try:
            return self._encode(request.response_to(code))
        except SscardError:
            try:  # without a MAC if that is what failed
                return self.dialect.encode(request.response_to(code))
            except SscardError:
                return None

    def send(self, message: Message, now: float | None = None) -> bytes:
        """Encode a response, or an advice whose answer nobody waits for.

        An approved response to the peer's sign-on (sign-off) signs the link
        on (off).

        Args:
            message: the response or advice.
            now: the current time (the last time passed in if ``None``).

        Returns:
            The frame to write (with its MAC when MACs are on).

        Raises:
            ProtocolError: not allowed in this state.
            EncodeError: it cannot be encoded.
            SecurityError: the MAC cannot be generated.
        """
        self._tick_now(now)
        if not message.is_response:
            self._allowed(Trigger.SEND_REQUEST)
            data = self._encode(message)
            self._counts["sent"] += 1
            return data
        self._allowed(Trigger.SEND_RESPONSE)
        trigger = self._peer_trigger(message)
        if trigger is not None:
            self._allowed(trigger)
        data = self._encode(message)
        if trigger is not None:
            self._fire(trigger)
        return data

    def _peer_trigger(self, response: Message) -> Trigger | None:
        if self._net is None or response.fields.get(39) not in self.dialect.spec.approved:
            return None
        name = self._net.name_of(response)
        if name == "sign_on" and self.config.sign_on:
            return Trigger.PEER_SIGN_ON
        if name == "sign_off" and self._state in (LinkState.SIGNED_ON, LinkState.SIGNING_OFF):
            return Trigger.PEER_SIGN_OFF
        return None

    def _lose(self, trigger: Trigger, reason: str) -> None:
        """The connection ends (``trigger``): every request in flight fails, once."""
        for entry in self._pending.clear():
            self._counts["failures"] += 1
            self._events.append(RequestFailed(entry.request_id, LinkClosed(reason)))
        self._fire(trigger)
        self._decoder = None

    def _end_network(self, entry: Pending) -> None:
        """Our sign-on or sign-off ended without an answer."""
        if entry.kind is RequestKind.SIGN_ON and self._state is LinkState.SIGNING_ON:
            self._fire(Trigger.SIGN_ON_FAILED)
        elif entry.kind is RequestKind.SIGN_OFF and self._state is LinkState.SIGNING_OFF:
            self._fire(Trigger.SIGN_OFF_ENDED)

    def _code_of(self, message: Message) -> str | None:
        return self._net.code_of(message) if self._net is not None else None

    def _emit(self, event: Event | None) -> None:
        if event is not None:
            self._events.append(event)
