"""The kit's end of one connection: raw frames out, decoded answers in.

Why not a :class:`~sscard_gateway.link.Link`: a link is built to behave
well — it signs on by itself, refuses to send a request whose match key is
in flight, MACs everything and never writes a malformed frame. The kit
must misbehave on purpose (a wrong MAC, a letter in a numeric field, the
same transaction twice) and see exactly what the peer answers, so it
writes frames it encoded itself and reads every frame that comes back.

What it still does like a link: it reads frames with the dialect's
:class:`~sscard_gateway.iso.FrameDecoder`, answers the peer's echo,
sign-on and sign-off requests with ``00`` (other requests with ``12``:
the kit originates, it does not serve), MACs what it sends under the
kit's key names, and verifies the MAC of what it receives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import attrs
import trio

from ..crypto import SecurityModule
from ..errors import DecodeError, FramingError, RejectedByPeer, SecurityError, SscardError
from ..iso import Dialect, FrameDecoder, Message
from ._cases import KitKeys

__all__ = ["Inbound", "PeerGone", "Session", "open_session"]

Connector = Callable[[], Awaitable[trio.abc.Stream]]

_HEX = "0123456789ABCDEF"


class PeerGone(Exception):
    """The connection ended while the kit was writing to it."""


@attrs.frozen
class Inbound:
    """A response from the peer, or our message sent back with a reject header."""

    message: Message
    reject_code: str | None = None


def response_mti(mti: str) -> str:
    """The MTI answering ``mti`` (third digit + 1: 0200 -> 0210)."""
    return mti[:2] + str(int(mti[2]) + 1) + mti[3]


def _wrong(value: bytes) -> bytes:
    """A MAC field value of the same form that is certainly wrong."""
    out = bytearray()
    for byte in value:
        char = chr(byte)
        out.append(ord(_HEX[15 - _HEX.index(char)]) if char in _HEX else byte ^ 0xFF)
    return bytes(out)


class Session:
    """One connection to the peer (see the module docstring).

    Args:
        stream: the connected stream.
        dialect: the dialect spoken.
        security: the kit's security module (``None``: no MACs).
        keys: the kit's key names.
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        dialect: Dialect,
        *,
        security: SecurityModule | None,
        keys: KitKeys,
    ) -> None:
        self.dialect = dialect
        self.security = security
        self.keys = keys
        spec = dialect.spec
        self._stream = stream
        self._decoder = FrameDecoder(
            spec.prefix, max_length=spec.max_length, includes_itself=spec.prefix_includes_itself
        )
        self._inbox: list[Inbound] = []
        self._changed = trio.Event()
        self._send_lock = trio.Lock()
        self.closed: str | None = None
        self.problems: list[str] = []
        self.requests: list[Message] = []

    # -- MACs ---------------------------------------------------------------------

    @property
    def macs(self) -> bool:
        """Whether the kit MACs its messages (a MAC key, a module and a dialect MAC)."""
        return (
            self.security is not None
            and self.keys.mac_key is not None
            and self.dialect.spec.mac is not None
        )

    def _generate(self, block: bytes) -> bytes:
        mac = self.dialect.spec.mac
        assert mac is not None and self.security is not None and self.keys.mac_key is not None
        return self.security.generate_mac(self.keys.mac_key, mac.algorithm, block, mac.form)

    def encode(self, message: Message, mac: str = "valid") -> bytes:
        """Encode ``message`` with a valid MAC (when its class needs one), a wrong one, or none.

        Raises:
            EncodeError: the message cannot be encoded.
            SecurityError: the MAC key is missing or unsuitable.
        """
        needs = self.dialect.mti_class(message.mti) in self.keys.mac_classes
        if mac == "none" or not self.macs or (mac == "valid" and not needs):
            if self.dialect.spec.mac is not None:
                message = message.without(self.dialect.spec.mac.field)
            return self.dialect.encode(message)
        if mac == "bad":
            return self.dialect.encode(message, mac=lambda block: _wrong(self._generate(block)))
        return self.dialect.encode(message, mac=self._generate)

    def mac_problem(self, message: Message) -> str | None:
        """Why the MAC of a received message is not acceptable, or ``None``."""
        mac = self.dialect.spec.mac
        if not self.macs or mac is None:
            return None
        assert self.security is not None and self.keys.mac_key is not None
        value = message.fields.get(mac.field)
        if value is None:
            approved = message.fields.get(39) in self.dialect.spec.approved
            if approved and self.dialect.mti_class(message.mti) in self.keys.mac_classes:
                return f"the approved {message.mti} carries no MAC (field {mac.field})"
            return None
        if not isinstance(value, bytes):
            return f"MAC field {mac.field} is not binary"
        try:
            block = self.dialect.mac_block(message)
            self.security.verify_mac(self.keys.mac_key, mac.algorithm, block, value, mac.form)
        except SecurityError as exc:
            return f"the MAC of the {message.mti} does not verify ({exc})"
        return None

    # -- writing and reading --------------------------------------------------------

    async def send(self, frame: bytes) -> None:
        """Write one frame.

        Raises:
            PeerGone: the connection is closed.
        """
        async with self._send_lock:
            try:
                await self._stream.send_all(frame)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self._close(f"connection lost while writing ({type(exc).__name__})")
                raise PeerGone(self.closed) from None

    async def response_to(self, request: Message, timeout: float) -> Inbound | None:
        """Wait for the answer to ``request`` (same F11, and F7 when both carry one).

        Returns:
            The answer, or ``None`` on timeout or when the connection closed
            (:attr:`closed` then says why).
        """
        with trio.move_on_after(timeout):
            while True:
                for i, item in enumerate(self._inbox):
                    if _answers(item, request):
                        return self._inbox.pop(i)
                if self.closed is not None:
                    return None
                await self._changed.wait()
        return None

    def unmatched(self) -> list[Message]:
        """Answers received that matched no request so far (a wrong STAN, a late answer)."""
        return [item.message for item in self._inbox]

    async def receive_loop(self) -> None:
        """Read frames until the connection ends (run it in a nursery)."""
        try:
            while True:
                data = await self._stream.receive_some(65536)
                if not data:
                    self._close("the peer closed the connection")
                    return
                self._decoder.receive_data(data)
                while True:
                    try:
                        payload = self._decoder.next_frame()
                    except FramingError as exc:
                        self._close(f"framing lost ({exc})")
                        return
                    if payload is None:
                        break
                    await self._frame(payload)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self._close(f"connection lost ({type(exc).__name__})")

    def _close(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _frame(self, payload: bytes) -> None:
        if not payload:  # keepalive
            return
        try:
            message = self.dialect.decode_payload(payload)
        except RejectedByPeer as exc:
            inner = exc.message
            if isinstance(inner, Message):
                self._inbox.append(Inbound(inner, exc.reject_code))
                self._wake()
            return
        except DecodeError as exc:
            self.problems.append(f"the peer sent a frame that does not decode: {exc}")
            self._wake()
            return
        if message.is_response:
            self._inbox.append(Inbound(message))
            self._wake()
            return
        self.requests.append(message)
        await self._answer(message)

    async def _answer(self, request: Message) -> None:
        network = self.dialect.spec.network
        code = "12"
        if network is not None and request.mti == network.request_mti:
            answered = {network.codes.get(n) for n in ("sign_on", "sign_off", "echo")}
            if request.fields.get(int(network.code_field)) in answered:
                code = "00"
        try:
            frame = self.encode(request.response_to(code))
            await self.send(frame)
        except (SscardError, PeerGone) as exc:
            self.problems.append(f"could not answer the peer's {request.mti}: {exc}")


def _answers(item: Inbound, request: Message) -> bool:
    message = item.message
    if item.reject_code is not None:
        if message.mti != request.mti:
            return False
    elif message.mti != response_mti(request.mti):
        return False
    if message.fields.get(11) != request.fields.get(11):
        return False
    f7, g7 = message.fields.get(7), request.fields.get(7)
    return f7 is None or g7 is None or f7 == g7


@asynccontextmanager
async def open_session(
    connect: Connector,
    dialect: Dialect,
    *,
    security: SecurityModule | None,
    keys: KitKeys,
) -> AsyncIterator[Session]:
    """Connect and read in the background; the connection closes with the block.

    Raises:
        OSError: the connection cannot be opened.
    """
    stream = await connect()
    try:
        async with trio.open_nursery() as nursery:
            session = Session(stream, dialect, security=security, keys=keys)
            nursery.start_soon(session.receive_loop)
            try:
                yield session
            finally:
                nursery.cancel_scope.cancel()
    finally:
        await trio.aclose_forcefully(stream)
