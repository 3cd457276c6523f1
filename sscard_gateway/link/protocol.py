"""LinkProtocol: one connection to a peer, with no I/O (docs/architecture.md principle 1).

Theory of operation
-------------------
Like h11's ``Connection`` (STYLE.md 1), the object is fed bytes with
:meth:`LinkProtocol.receive_data` and hands out events from
:meth:`LinkProtocol.next_event` (:data:`NEED_DATA` when it needs more);
what we send is turned into bytes by :meth:`~LinkProtocol.send_request`
and :meth:`~LinkProtocol.send`. Time is a number passed in (``now``):
deadlines, echo and key retirement are computed from it, never read. A
driver sleeps until :meth:`~LinkProtocol.next_deadline` and then calls
:meth:`~LinkProtocol.on_tick`.

* State: one table (:mod:`._state`) of closed, connected, signing on,
  signed on, signing off. Application requests flow only when signed on.
* Requests: registered under the dialect's match key (:mod:`._pending`);
  each ends exactly once — :class:`ResponseReceived`,
  :class:`RequestTimedOut` or :class:`RequestFailed`.
* Inbound frames: a response to a request in flight; a late or unknown
  response (:class:`UnmatchedResponse`, never a newer request); a network
  management request the link answers itself (echo, sign-on, sign-off,
  key exchange — DOMAIN.md §2, §3); or a request for the application
  (:class:`RequestReceived`). A malformed frame is answered with ``30`` when
  its MTI and key can be read, else dropped; a frame over the maximum
  length ends the connection.
* Security: with a security module and :class:`LinkKeys`, MACs are made
  and checked on every message of the MAC classes (bad MAC: ``A0`` to a
  request, a dropped response); key exchanges are applied through the
  module, checked against their check values, staged and confirmed.
"""

from __future__ import annotations

from ..errors import ProtocolError
from ..iso import FrameDecoder, Message
from ._config import LinkConfig, LinkStatistics
from ._events import EchoDue, RequestTimedOut
from ._pending import Pending, RequestKind
from ._receiving import ReceivingLink
from ._state import LinkState, Trigger

__all__ = ["LinkConfig", "LinkProtocol", "LinkStatistics"]


_KIND_TRIGGER = {
    RequestKind.APPLICATION: Trigger.SEND_REQUEST,
    RequestKind.ECHO: Trigger.SEND_ECHO,
    RequestKind.NETWORK: Trigger.SEND_ECHO,
    RequestKind.SIGN_ON: Trigger.SEND_SIGN_ON,
    RequestKind.SIGN_OFF: Trigger.SEND_SIGN_OFF,
}


class LinkProtocol(ReceivingLink):
    """The sans-I/O state machine of one link connection; see the module docstring.

    Bytes in: :meth:`receive_data`, then :meth:`next_event` until
    :data:`NEED_DATA`. Bytes out: :meth:`send_request` (and :meth:`sign_on`,
    :meth:`sign_off`, :meth:`echo`, :meth:`key_reset_request`) for requests
    that expect an answer, :meth:`send` for responses and advices. Time:
    :meth:`next_deadline` and :meth:`on_tick`. Transport: :meth:`connect`,
    :meth:`connection_lost`.

    Args:
        dialect: the wire dialect of the peer.
        config: protocol settings.
        security: the security module, for MACs and key exchange.
        keys: key names in ``security``; MACs are off without ``mac_key``.
        stan: F11 source for the network requests the link builds.
        wallclock: F7 clock for those requests (the only clock read, and only
            if the dialect has F7).

    Raises:
        SpecError: ``config.sign_on`` is set but the dialect has no network section.
    """

    def connect(self, now: float) -> None:
        """The transport is up: start reading frames.

        Args:
            now: the current time (starts the echo idle timer).

        Raises:
            ProtocolError: the link is not closed.
        """
        self._fire(Trigger.CONNECT)
        spec = self.dialect.spec
        self._decoder = FrameDecoder(
            spec.prefix, max_length=spec.max_length, includes_itself=spec.prefix_includes_itself
        )
        self._last_rx = self._tick_now(now)
        self._echo_raised = False

    def skip_sign_on(self) -> None:
        """Open a link configured without sign-on for traffic.

        Raises:
            ProtocolError: not connected.
        """
        self._fire(Trigger.SKIP_SIGN_ON)

    def connection_lost(self) -> None:
        """The transport is gone: every request in flight fails, once."""
        self._lose(Trigger.CONNECTION_LOST, "connection lost")

    def send_request(
        self, message: Message, now: float, timeout: float | None = None
    ) -> tuple[int, bytes]:
        """Register a request and encode it.

        Args:
            message: a request or advice (not a response) that expects an answer.
            now: the current time.
            timeout: seconds until it times out (``config.request_timeout``).

        Returns:
            The request id and the frame to write.

        Raises:
            ProtocolError: not allowed in this state (application requests
                need a signed-on link), or ``message`` is a response.
            DuplicateRequest: its match key is in flight, or quarantined
                after a timeout and ``message`` is not a repeat (MTI fourth
                digit odd, e.g. 0421).
            EncodeError: it cannot be encoded.
            SecurityError: the MAC cannot be generated.
        """
        now = self._tick_now(now)
        if message.is_response:
            raise ProtocolError(f"{message.mti} is a response: use send()")
        kind = self._kind(message)
        trigger = _KIND_TRIGGER[kind]
        self._allowed(trigger)
        key = self._match.key(message)
        owed = self._pending.check(key, now, repeat=int(message.mti[3]) % 2 == 1)
        data = self._encode(message)
        if timeout is None:
            timeout = self.config.request_timeout
        request_id = next(self._ids)
        self._pending.add(Pending(request_id, key, now + timeout, kind, owed))
        self._fire(trigger)
        self._counts["sent"] += 1
        return request_id, data

    def sign_on(self, now: float) -> tuple[int, bytes]:
        """Build and register our sign-on request, due in ``config.sign_on_timeout``.

        Args:
            now: the current time.

        Returns:
            The request id and the frame to write.

        Raises:
            ProtocolError: not connected, or no sign-on code or wall clock.
        """
        return self.send_request(self.build_network("sign_on"), now, self.config.sign_on_timeout)

    def sign_off(self, now: float) -> tuple[int, bytes]:
        """Build and register our sign-off request, due in ``config.sign_off_timeout``.

        Args:
            now: the current time.

        Returns:
            The request id and the frame to write.

        Raises:
            ProtocolError: not signed on, or no sign-off code.
        """
        return self.send_request(self.build_network("sign_off"), now, self.config.sign_off_timeout)

    def echo(self, now: float) -> tuple[int, bytes]:
        """Build and register an echo test, due in ``config.echo_timeout``.

        Args:
            now: the current time.

        Returns:
            The request id and the frame to write.

        Raises:
            ProtocolError: not connected, or no echo code.
        """
        return self.send_request(self.build_network("echo"), now, self.config.echo_timeout)

    def key_reset_request(self, now: float, timeout: float | None = None) -> tuple[int, bytes]:
        """Build and register a request for new working keys (CUPS F70 ``101``).

        Args:
            now: the current time.
            timeout: seconds until it times out (``config.request_timeout``).

        Returns:
            The request id and the frame to write.

        Raises:
            ProtocolError: not connected, or no key reset request code.
        """
        return self.send_request(self.build_network("key_reset_request"), now, timeout)

    def abandon(self, request_id: int, now: float) -> None:
        """Forget a request whose caller went away (no event is raised for it).

        Args:
            request_id: the id :meth:`send_request` returned.
            now: the current time.

        Its key is quarantined as after a timeout, so its response goes to
        :class:`UnmatchedResponse`.
        """
        entry = self._pending.abandon(request_id, self._tick_now(now))
        if entry is not None:
            self._end_network(entry)

    def _echo_at(self) -> float | None:
        interval = self.config.echo_interval
        if interval is None or self._echo_raised or self._state is not LinkState.SIGNED_ON:
            return None
        return self._last_rx + interval

    def next_deadline(self) -> float | None:
        """When :meth:`on_tick` next has work, or ``None``."""
        retire = self._kx.next_retirement() if self._kx is not None else None
        times = [self._pending.next_deadline(), self._echo_at(), retire]
        return min((t for t in times if t is not None), default=None)

    def on_tick(self, now: float) -> None:
        """Expire requests, raise :class:`EchoDue`, retire old keys, as of ``now``.

        Args:
            now: the current time (a driver calls this at :meth:`next_deadline`).
        """
        now = self._tick_now(now)
        for entry in self._pending.expire(now):
            self._counts["timeouts"] += 1
            self._end_network(entry)
            self._events.append(RequestTimedOut(entry.request_id))
        echo_at = self._echo_at()
        if echo_at is not None and now >= echo_at:
            self._echo_raised = True
            self._events.append(EchoDue())
        if self._kx is not None:
            self._kx.retire_due(now)

    def confirm_keys(self, now: float) -> None:
        """Confirm every key a key exchange staged (an operator's decision).

        Args:
            now: the current time (schedules the old keys' retirement).
        """
        if self._kx is not None:
            self._emit(self._kx.confirm_pending(self._tick_now(now)))
