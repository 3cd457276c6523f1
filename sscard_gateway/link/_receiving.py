"""The receiving side of a link: every inbound frame classified.

Why: a frame from the peer is exactly one of (DOMAIN.md §2, §3):

* a zero-length keepalive (answered only when configured);
* a frame that cannot be read: a request whose MTI and match key can be
  read gets a format error (``30``, :mod:`._salvage`), anything else is
  dropped; a declared length over the maximum ends the connection, since
  the stream cannot resynchronise (docs/architecture.md principle 6);
* our request sent back by CUPS with a reject header: that request fails;
* a message whose MAC does not verify: ``A0`` to a request, a response is
  dropped (its request then times out);
* a response: to the request in flight with its match key, or else a late
  or unknown response — never given to another request (:mod:`._pending`);
* a network management request the link answers itself (echo, sign-on,
  sign-off) or applies (a key exchange, :mod:`._keyexchange`);
* a request for the application's handler.
"""

from __future__ import annotations

from ..crypto import KeyVersion
from ..errors import (
    DecodeError,
    FramingError,
    RejectedByPeer,
    SecurityError,
    SscardError,
)
from ..iso import Message
from ._core import LinkCore
from ._events import (
    NEED_DATA,
    Event,
    FrameRejected,
    KeepaliveReceived,
    KeyExchangeFailed,
    KeysChanged,
    NeedData,
    NetworkRequestAnswered,
    RequestFailed,
    RequestReceived,
    ResponseReceived,
    UnmatchedResponse,
)
from ._pending import RequestKind
from ._salvage import salvage_request
from ._state import LinkState, Trigger

__all__ = ["ReceivingLink"]


class ReceivingLink(LinkCore):
    """Feeding bytes in and taking events out (see the module docstring)."""

    def receive_data(self, data: bytes | bytearray, now: float | None = None) -> None:
        """Feed bytes read from the transport (discarded while closed).

        Args:
            data: the bytes, in any chunks.
            now: the time they arrived (the last time passed in if ``None``),
                which restarts the echo idle timer when a frame completes.
        """
        self._tick_now(now)
        if self._decoder is not None and self._state is not LinkState.CLOSED:
            self._decoder.receive_data(data)

    def next_event(self) -> Event | NeedData:
        """The next event, or :data:`NEED_DATA`."""
        while True:
            if self._events:
                return self._events.popleft()
            decoder = self._decoder
            if decoder is None:
                return NEED_DATA
            try:
                frame = decoder.next_frame()
            except FramingError as exc:
                self._frame_too_large(exc)
                continue
            if frame is None:
                return NEED_DATA
            self._last_rx = self._now
            self._echo_raised = False
            self._frame(frame)

    def _frame_too_large(self, error: FramingError) -> None:
        self._counts["rejected"] += 1
        self._events.append(FrameRejected(error, None, close=True))
        self._lose(Trigger.FRAME_TOO_LARGE, "framing lost")

    def _reject(self, error: SscardError, request: Message | None, code: str | None) -> None:
        reply = None
        if request is not None and code is not None:
            reply = self._answer(request, code)
        self._counts["rejected"] += 1
        self._events.append(FrameRejected(error, reply))

    def _frame(self, payload: bytes) -> None:
        if not payload:
            reply = self._keepalive if self.config.answer_keepalive else None
            self._events.append(KeepaliveReceived(reply))
            return
        try:
            message = self.dialect.decode_payload(payload)
        except RejectedByPeer as exc:
            self._rejected(exc)
            return
        except DecodeError as exc:
            salvaged = salvage_request(self.dialect, payload, self._match)
            self._reject(exc, salvaged, exc.response_code)
            return
        if self._security is not None:
            try:
                version = self._security.verify(message)
            except SecurityError as exc:
                request = None if message.is_response else message
                self._reject(exc, request, exc.response_code or "A0")
                return
            if version is KeyVersion.PENDING and self._kx is not None:
                self._emit(self._kx.peer_used_pending(self._now))
        if message.is_response:
            self._response(message)
        else:
            self._request(message)

    def _rejected(self, exc: RejectedByPeer) -> None:
        inner = exc.message
        entry = None
        if isinstance(inner, Message):
            entry = self._pending.pop_by_key(self._match.key(inner), self._now)
        if entry is None:
            self._counts["rejected"] += 1
            self._events.append(FrameRejected(exc, None))
            return
        self._counts["failures"] += 1
        self._end_network(entry)
        self._events.append(RequestFailed(entry.request_id, exc))

    def _response(self, message: Message) -> None:
        key = self._match.key(message)
        entry = self._pending.pop_by_key(key, self._now)
        if entry is None:
            self._counts["unmatched"] += 1
            late = self._pending.take_late(key, self._now)
            self._events.append(UnmatchedResponse(message, late))
            return
        if entry.kind is RequestKind.SIGN_ON and self._state is LinkState.SIGNING_ON:
            self._sign_on_answered(message)
        elif entry.kind is RequestKind.SIGN_OFF:
            self._end_network(entry)
        self._counts["responses"] += 1
        self._events.append(ResponseReceived(entry.request_id, message))

    def _sign_on_answered(self, message: Message) -> None:
        if message.fields.get(39) not in self.dialect.spec.approved:
            self._fire(Trigger.SIGN_ON_FAILED)
            return
        if self._kx is not None and self._kx.configured:
            try:
                keys = self._kx.apply(message, self._code_of(message), self._now, initiated=True)
            except SscardError as exc:
                self._events.append(KeyExchangeFailed(exc))
                self._fire(Trigger.SIGN_ON_FAILED)
                return
            if keys is not None:
                self._events.append(KeysChanged(tuple(keys)))
        self._fire(Trigger.SIGN_ON_APPROVED)

    def _request(self, message: Message) -> None:
        net = self._net
        name = net.name_of(message) if net is not None else None
        if name is not None and self._is_key_exchange(message):
            self._key_exchange(message)
            return
        if not self.config.answer_network or name not in ("echo", "sign_on", "sign_off"):
            self._events.append(RequestReceived(message))
            return
        response = message.response_to("00")
        try:
            reply = self.send(response)
        except SscardError:  # e.g. a sign-on while signing off: the handler decides
            self._events.append(RequestReceived(message))
            return
        code = net.code_of(message) if net is not None else None
        self._events.append(NetworkRequestAnswered(message, code or "", reply))

    def _is_key_exchange(self, message: Message) -> bool:
        net = self._net
        kx = net.key_exchange if net is not None else None
        if kx is None or net is None or message.mti != kx.mti or net.code_of(message) != kx.code:
            return False
        return any(
            f is not None and f in message.fields for f in (kx.pin_key_field, kx.mac_key_field)
        )

    def _key_exchange(self, message: Message) -> None:
        try:
            if self._kx is None:
                raise SecurityError("no security module on this link")
            self._allowed(Trigger.KEY_EXCHANGE)
            code = self._code_of(message)
            keys = self._kx.apply(message, code, self._now, initiated=False)
            if keys is None:
                raise DecodeError(self._key_field(), 0, "a key to exchange")
        except SscardError as exc:
            reply = self._answer(message, exc.response_code or "A7")
            self._events.append(KeyExchangeFailed(exc, reply))
            return
        self._fire(Trigger.KEY_EXCHANGE)
        self._events.append(KeysChanged(tuple(keys), self._answer(message, "00")))

    def _key_field(self) -> str:
        kx = self._net.key_exchange if self._net is not None else None
        return str(kx.pin_key_field) if kx is not None else "?"
