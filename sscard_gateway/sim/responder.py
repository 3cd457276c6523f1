"""A minimal answering side of a regional center, listening in the center dialect.

Why: ``--role center`` checks the half of a center implementation that
answers — the requests a gateway forwards to a card's home center
(cross-region settlements, UnionPay-originated transactions): MACs,
duplicates, malformed frames, declines. Our
:class:`~sscard_gateway.sim.CenterSimulator` only originates (it is a
client of the gateway), so the kit ships this small server as the
reference that passes the role, and as a stand-in center for integrators'
own tests of a gateway's home-center leg.

It is a :func:`~sscard_gateway.link.serve_links` listener: the link layer
answers sign-on, echo and sign-off, verifies MACs (``A0``), answers
malformed frames (``30``) and applies key exchanges when a KEK is named.
The handler approves financial requests, declines those over an amount,
answers a repeated transaction key (F7 + F11 + F32) with ``94``, and
acknowledges reversals (``00``, or ``25`` when the original is unknown).
"""

from __future__ import annotations

import collections

from ..crypto import SecurityModule
from ..iso import Dialect, FieldValue, Message, load_dialect
from ..link import LinkConfig, LinkKeys
from ._serve import Listener

__all__ = ["CenterResponder"]


class CenterResponder(Listener):
    """The answering side of a center: ``port = await nursery.start(responder.serve)``.

    Args:
        security: the center's security module (``None``: no MACs).
        keys: the center's key names (MAC key, PIN key, KEK).
        decline_over: amounts (fen, field 4) above this are declined.
        decline_code: the code a decline is answered with.
        dialect: the center dialect (the shipped one by default).
        config: link settings of each connection.
        remember: how many transaction keys are kept to detect duplicates.
    """

    name = "center-responder"

    def __init__(
        self,
        *,
        security: SecurityModule | None = None,
        keys: LinkKeys | None = None,
        decline_over: int | None = 10_000_000,
        decline_code: str = "51",
        dialect: Dialect | None = None,
        config: LinkConfig | None = None,
        remember: int = 100_000,
    ) -> None:
        self.security = security
        self.keys = keys
        self.decline_over = decline_over
        self.decline_code = decline_code
        self.dialect = dialect or load_dialect("center")
        self.config = config or LinkConfig(echo_interval=None)
        self.port: int | None = None
        self.answered: collections.Counter[str] = collections.Counter()
        self._seen: collections.OrderedDict[tuple[str, str, str], str] = collections.OrderedDict()
        self._remember = remember
        self._authorization = 0

    async def handle(self, message: Message) -> Message | None:
        """Answer one request (the link layer calls this)."""
        code, extra = self._decide(message)
        self.answered[code] += 1
        return message.response_to(code, extra)

    def _decide(self, message: Message) -> tuple[str, dict[int, FieldValue]]:
        klass = message.mti[:2]
        if klass == "04":
            original = message.text(90)
            key = (original[10:20], original[4:10], original[20:31].lstrip("0"))
            found = any(
                (f7, stan, acquirer.lstrip("0")) == key for f7, stan, acquirer in self._seen
            )
            return ("00" if found else "25"), {}
        if klass not in ("01", "02"):
            return "00", {}
        key = (message.text(7), message.text(11), message.text(32))
        if key in self._seen:
            return "94", {}
        self._seen[key] = message.mti
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        amount = message.text(4, "0")
        if self.decline_over is not None and amount.isdigit() and int(amount) > self.decline_over:
            return self.decline_code, {}
        self._authorization = self._authorization % 999_999 + 1
        return "00", {38: f"{self._authorization:06d}"}
