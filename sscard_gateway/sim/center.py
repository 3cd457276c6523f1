"""A regional center simulator: builds every center transaction and checks answers.

The center dialect (docs/center-dialect.md) carries the social security
business: medical settlement with its fund / personal account / cash split,
benefit payouts by insurance kind, contribution payments, balance
inquiries, refunds and reversals. :class:`CenterSimulator` builds valid
messages of each kind (:meth:`CenterSimulator.build`), with F7 and F11 from
injected sources and the PIN block enciphered under the center's PIN key in
its security module, and sends them over a link (:meth:`run_kind`),
returning what came back so a test or the demo can check it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime

import attrs

from ..crypto import SecurityModule
from ..ids import AmountSplit
from ..iso import Message, load_dialect
from ..iso.composite import OriginalData
from ..link import StanCounter, transmission_time

__all__ = ["CardHolder", "CenterIdentity", "CenterSimulator", "Kind"]


class Kind(enum.Enum):
    """The transaction kinds a center originates."""

    MEDICAL_SETTLEMENT = "medical_settlement"
    BENEFIT_PAYOUT = "benefit_payout"
    CONTRIBUTION_PAYMENT = "contribution_payment"
    BALANCE_INQUIRY = "balance_inquiry"
    REFUND = "refund"


_INSURANCE = {
    "pension": "110",
    "unemployment": "210",
    "medical": "310",
    "work_injury": "410",
    "maternity": "510",
}


@attrs.frozen(kw_only=True)
class CardHolder:
    """A card as the center knows it (test data)."""

    pan: str = attrs.field(repr=False)
    ssn: str = attrs.field(repr=False)
    card_number: str
    home_region: str
    pin: str = attrs.field(default="123456", repr=False)


@attrs.frozen(kw_only=True)
class CenterIdentity:
    """Who the center is on the wire."""

    institution: str
    region: str
    terminal: str = "SSC00001"
    merchant: str = "SSCENTER0000001"


class CenterSimulator:
    """Builds and sends center transactions.

    Args:
        identity: the center's institution code and region.
        security: the center's security module (PIN key ``pin_key``).
        pin_key: name of the center's zone PIN key.
        stan: F11 source; a :class:`~sscard_gateway.link.StanCounter` by default.
        wallclock: F7 source.
    """

    def __init__(
        self,
        identity: CenterIdentity,
        *,
        security: SecurityModule | None = None,
        pin_key: str = "center.zpk",
        stan: Callable[[], str] | None = None,
        wallclock: Callable[[], datetime] | None = None,
    ) -> None:
        self.identity = identity
        self.dialect = load_dialect("center")
        self.security = security
        self.pin_key = pin_key
        self._stan = stan or StanCounter()
        self._clock = wallclock or datetime.now

    def build(
        self,
        kind: Kind,
        holder: CardHolder,
        *,
        amount: int = 0,
        split: AmountSplit | None = None,
        insurance: str = "medical",
        treating_region: str | None = None,
        reference: str = "",
        with_pin: bool = True,
        original: Message | None = None,
    ) -> Message:
        """A valid center request of ``kind`` for ``holder``.

        Args:
            kind: the transaction kind.
            holder: the card.
            amount: F4 in fen (for a medical settlement, the split's total).
            split: the medical settlement split (fund, personal account, cash).
            insurance: the insurance kind (pension, unemployment, medical,
                work_injury, maternity).
            treating_region: F59; the center's own region by default.
            reference: F62, the business reference.
            with_pin: add a PIN block (needs the security module).
            original: for a refund, the request it refunds (field 90 names it).
        """
        spec = self.dialect.spec
        now = self._clock()
        stan = self._stan()
        processing = spec.processing_codes[kind.value]
        fields: dict[int, str | bytes] = {
            2: holder.pan,
            3: processing,
            7: transmission_time(now),
            11: stan,
            12: now.strftime("%H%M%S"),
            13: now.strftime("%m%d"),
            22: "051",
            25: "00",
            32: self.identity.institution,
            37: now.strftime("%m%d") + stan + "00",
            41: self.identity.terminal,
            42: self.identity.merchant,
            49: "156",
            56: holder.ssn,
            57: holder.card_number,
            58: holder.home_region,
            59: treating_region or self.identity.region,
            60: _INSURANCE["medical" if kind is Kind.MEDICAL_SETTLEMENT else insurance],
        }
        if kind is Kind.MEDICAL_SETTLEMENT:
            split = split or AmountSplit.from_parts(fund=amount, personal_account=0, cash=0)
            amount = split.total
            fields[61] = f"{split.fund:012d}{split.personal_account:012d}{split.cash:012d}"
        if kind is not Kind.BALANCE_INQUIRY:
            fields[4] = f"{amount:012d}"
        if reference:
            fields[62] = reference
        if with_pin and self.security is not None and kind is not Kind.BENEFIT_PAYOUT:
            fields[52] = self.security.encrypt_pin(holder.pin, holder.pan, self.pin_key, "iso0")
            fields[53] = spec.pin.control if spec.pin and spec.pin.control else "2600000000000000"
        if original is not None and spec.original_data_field is not None:
            fields[spec.original_data_field] = OriginalData.from_original(
                mti=original.mti,
                stan=original.text(11),
                f7=original.text(7),
                f32=original.text(32),
                f33=original.text(33) or None,
            ).format()
        mti = "0220" if kind is Kind.REFUND else "0200"
        return self.dialect.message(mti, fields)

    def reversal(self, original: Message, *, stan: str | None = None) -> Message:
        """The center's reversal (0420) of ``original``, as a new transmission."""
        now = self._clock()
        return original.reversal_of({7: transmission_time(now), 11: stan or self._stan()})
