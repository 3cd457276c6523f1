"""A regional center's answering side, listening in the center dialect, and its answers.

Why: ``--role center`` checks the half of a center implementation that
answers — the requests a gateway forwards to a card's home center
(cross-region settlements, UnionPay-originated transactions): MACs,
duplicates, malformed frames, declines. Our
:class:`~sscard_gateway.sim.CenterSimulator` only originates (it is a
client of the gateway), so the kit ships this small server as the
reference that passes the role, and as a stand-in center for integrators'
own tests of a gateway's home-center leg. A fault simulation judges the
gateway by the home center's record of the day as much as by the switch's,
so the answers come from a :class:`~sscard_gateway.sim.Ledger` in the
center dialect, as strict as the switch's: a repeated transaction key
(F7 + F11 + F32) is answered ``94``, an advice is applied once, and a
reversal must match its original as received (else ``30``; ``25`` when
the original is unknown) and reverses it once.

:class:`HomeCenter` is those answers alone, for a client link: give
``home.handle`` to :func:`~sscard_gateway.link.open_link` as its handler
and a center connected to the gateway answers like a home center.
:class:`CenterResponder` is a :func:`~sscard_gateway.link.serve_links`
listener around one: the link layer answers sign-on, echo and sign-off,
verifies MACs (``A0``), answers malformed frames (``30``) and applies key
exchanges when a KEK is named.
"""

from __future__ import annotations

import collections
import os

from ..crypto import SecurityModule
from ..iso import Dialect, Message, load_dialect
from ..link import LinkConfig, LinkKeys
from ._ledger import Ledger
from ._serve import Listener

__all__ = ["CenterResponder", "HomeCenter"]


class HomeCenter:
    """A home center's answers: approve, decline over an amount, from a ledger.

    Args:
        dialect: the center dialect (the shipped one by default).
        decline_over: financial requests over this amount (fen, field 4)
            are declined (``None``: none are).
        decline_code: the code a decline is answered with.
        record: the ledger's record file (``None``: in memory only).
        ledger: answer from this ledger instead (``dialect`` and ``record``
            are then ignored).

    Raises:
        SpecError: the record file has a bad line.
        OSError: the record file cannot be opened.
    """

    def __init__(
        self,
        *,
        dialect: Dialect | None = None,
        decline_over: int | None = 10_000_000,
        decline_code: str = "51",
        record: str | os.PathLike[str] | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        self.ledger = ledger or Ledger(dialect or load_dialect("center"), record, rrn_prefix="HC")
        self.decline_over = decline_over
        self.decline_code = decline_code
        #: how many answers of each code were given
        self.answered: collections.Counter[str] = collections.Counter()

    def decide(self, message: Message) -> str:
        """The code of a new financial request: declined over the amount, else approved.

        Args:
            message: the request.

        Returns:
            ``decline_code`` or ``00``.
        """
        amount = message.fields.get(4, "0")
        over = self.decline_over
        if over is not None and isinstance(amount, str) and amount.isdigit() and int(amount) > over:
            return self.decline_code
        return "00"

    async def handle(self, message: Message) -> Message | None:
        """Answer one request (a link's handler).

        Args:
            message: the request.

        Returns:
            The response.

        Raises:
            OSError: the record file cannot be written.
        """
        response = self.ledger.answer(message, self.decide)
        self.answered[response.text(39)] += 1
        return response


class CenterResponder(Listener):
    """The answering side of a center: ``port = await nursery.start(responder.serve)``.

    Args:
        security: the center's security module (``None``: no MACs).
        keys: the center's key names (MAC key, PIN key, KEK).
        decline_over: amounts (fen, field 4) above this are declined.
        decline_code: the code a decline is answered with.
        dialect: the center dialect (the shipped one by default).
        config: link settings of each connection.
        remember: kept for compatibility; the ledger keeps the whole day.
        record: the ledger's record file (``None``: in memory only).

    Raises:
        SpecError: the record file has a bad line.
        OSError: the record file cannot be opened.
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
        record: str | os.PathLike[str] | None = None,
    ) -> None:
        self.security = security
        self.keys = keys
        self.dialect = dialect or load_dialect("center")
        self.config = config or LinkConfig(echo_interval=None)
        self.port: int | None = None
        self.home = HomeCenter(
            dialect=self.dialect,
            decline_over=decline_over,
            decline_code=decline_code,
            record=record,
        )

    @property
    def ledger(self) -> Ledger:
        """The center's record of the day."""
        return self.home.ledger

    @property
    def answered(self) -> collections.Counter[str]:
        """How many answers of each code were given."""
        return self.home.answered

    @property
    def decline_over(self) -> int | None:
        """Amounts (fen) above this are declined."""
        return self.home.decline_over

    @decline_over.setter
    def decline_over(self, value: int | None) -> None:
        self.home.decline_over = value

    @property
    def decline_code(self) -> str:
        """The code a decline is answered with."""
        return self.home.decline_code

    @decline_code.setter
    def decline_code(self, value: str) -> None:
        self.home.decline_code = value

    async def handle(self, message: Message) -> Message | None:
        """Answer one request (the link layer calls this)."""
        return await self.home.handle(message)
