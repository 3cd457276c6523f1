"""What settles: the one place that decides how a journal record clears.

Why one module: clearing (totals, the cross-region matrix, net settlement)
and reconciliation with UnionPay's file must agree on which records
settle, or the two reports contradict each other. DOMAIN.md §6 states the
practice: inquiries do not settle; reversals and voids do not settle, nor
do the originals they cancel; declined, failed and timed-out requests do
not settle. Approved records do.

Next-day reversals (``C3``, DOMAIN.md §2): a reversal whose original has an
earlier settlement date arrived after that date was cut over (the
settlement date of a record is stamped at cutover, see
:class:`~sscard_gateway.clearing.Cutover`). The original's date is closed,
so its clearing must not change: **the original settles on its own date
and the reversal settles on its own date, as a negative adjustment** with
the original's amounts and regions. A reversal of the same date cancels its
original: neither settles. An original that was never approved — reversed
while still in flight, or timed out — never settles on any date, and its
reversal claims nothing back (``response_code`` ``00`` marks the approved).

The match key (DOMAIN.md §2, §6): UnionPay's file is matched to the journal
on RRN + transmission time (F7) + STAN + acquirer, taken from the gateway's
outbound leg to CUPS (``upstream_rrn`` and ``upstream_key`` =
``F7|F11|F32|F33``). Institution codes are compared as 11 digits with
leading zeros, as field 90 carries them; the RRN without padding.
"""

from __future__ import annotations

import enum

import attrs

from ..store import TransactionRecord, TransactionStatus

__all__ = [
    "ClearingRules",
    "RegionLevel",
    "Treatment",
    "bank_match_key",
    "leg_match_key",
    "match_key",
    "treatment",
    "treatment_of",
]


class RegionLevel(enum.Enum):
    """How region codes are aggregated: GB/T 2260 digits kept, the rest zeros."""

    PROVINCE = 2
    """``110105`` counts as ``110000`` (Beijing)."""
    CITY = 4
    """``110105`` counts as ``110100``."""
    FULL = 6
    """The full 6-digit code (the default)."""

    def of(self, code: str) -> str:
        """Aggregate one region code.

        Args:
            code: a region code (6 digits) or ``""``.

        Returns:
            The code at this level, zero-filled to 6 digits; ``""`` stays ``""``.
        """
        return code[: self.value].ljust(6, "0") if code else ""


class Treatment(enum.Enum):
    """How a journal record clears; every value but two means "does not settle"."""

    SETTLES = "settles"
    """Approved: counted in the totals, matrix and net settlement."""
    NEXT_DAY_REVERSAL = "next_day_reversal"
    """A ``C3`` reversal: settles on its own date as a negative adjustment."""
    INQUIRY = "inquiry"
    REVERSED = "reversed"
    """An original reversed or voided on its own settlement date."""
    REVERSAL = "reversal"
    """A reversal or void that cancels a same-day original (or nothing)."""
    DECLINED = "declined"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    PENDING = "pending"

    @property
    def settles(self) -> bool:
        """Whether records with this treatment are counted in clearing."""
        return self in (Treatment.SETTLES, Treatment.NEXT_DAY_REVERSAL)


_BY_STATUS = {
    TransactionStatus.APPROVED: Treatment.SETTLES,
    TransactionStatus.DECLINED: Treatment.DECLINED,
    TransactionStatus.FAILED: Treatment.FAILED,
    TransactionStatus.TIMED_OUT: Treatment.TIMED_OUT,
    TransactionStatus.PENDING: Treatment.PENDING,
}


def _frozen(values: frozenset[str] | set[str] | tuple[str, ...] | list[str]) -> frozenset[str]:
    return frozenset(values)


@attrs.frozen(kw_only=True)
class ClearingRules:
    """The kinds and names clearing needs to know; the defaults fit the gateway.

    Attributes:
        inquiry_kinds: kinds that never settle.
        reversal_kinds: kinds that cancel an original (``original_key``).
        void_kinds: kinds that cancel a same-day original like a reversal.
        credit_kinds: kinds that give money back (refunds): negative in
            the cross-region matrix.
        upstream: the destination name of the gateway's CUPS leg; only
            records routed there are in UnionPay's acquirer file.
    """

    inquiry_kinds: frozenset[str] = attrs.field(
        default=frozenset({"balance_inquiry"}), converter=_frozen
    )
    reversal_kinds: frozenset[str] = attrs.field(default=frozenset({"reversal"}), converter=_frozen)
    void_kinds: frozenset[str] = attrs.field(default=frozenset({"void"}), converter=_frozen)
    credit_kinds: frozenset[str] = attrs.field(default=frozenset({"refund"}), converter=_frozen)
    upstream: str = "cups"

    @property
    def cancelling_kinds(self) -> frozenset[str]:
        """Reversal and void kinds together."""
        return self.reversal_kinds | self.void_kinds

    def sign(self, kind: str) -> int:
        """``-1`` for credit kinds (refunds), ``+1`` otherwise.

        Args:
            kind: a record's kind.

        Returns:
            The sign of its amounts in the cross-region matrix.
        """
        return -1 if kind in self.credit_kinds else 1

    def has_bank_leg(self, record: TransactionRecord) -> bool:
        """Whether the record went to CUPS as the gateway's own transaction.

        Args:
            record: a journal record.

        Returns:
            ``True`` when routed to :attr:`upstream` with an outbound leg key.
        """
        return record.destination == self.upstream and bool(record.upstream_key)


def treatment(
    record: TransactionRecord,
    *,
    rules: ClearingRules,
    reversed_same_day: bool,
    original: TransactionRecord | None = None,
) -> Treatment:
    """Decide how one journal record clears on its settlement date.

    Args:
        record: the record.
        rules: the kinds.
        reversed_same_day: whether a reversal or void of the record's own
            settlement date cancels it (only read for ``REVERSED`` records).
        original: for a reversal or void, its original, if found.

    Returns:
        The treatment.
    """
    return treatment_of(
        record.kind,
        record.status,
        record.settlement_date,
        rules=rules,
        reversed_same_day=reversed_same_day,
        original_date=None if original is None else original.settlement_date,
    )


def treatment_of(
    kind: str,
    status: TransactionStatus,
    settlement_date: str,
    *,
    rules: ClearingRules,
    reversed_same_day: bool,
    original_date: str | None,
) -> Treatment:
    """:func:`treatment` on a record's fields (for rows read without records).

    Args:
        kind, status, settlement_date: the record's.
        rules: the kinds.
        reversed_same_day: see :func:`treatment`.
        original_date: for a reversal or void, its original's settlement
            date, or ``None`` when the original is not found.

    Returns:
        The treatment.
    """
    if kind in rules.cancelling_kinds:
        if (
            status is TransactionStatus.APPROVED
            and original_date is not None
            and original_date < settlement_date
        ):
            return Treatment.NEXT_DAY_REVERSAL
        return Treatment.REVERSAL
    if kind in rules.inquiry_kinds:
        return Treatment.INQUIRY
    if status is TransactionStatus.REVERSED:
        return Treatment.REVERSED if reversed_same_day else Treatment.SETTLES
    return _BY_STATUS[status]


def was_approved(response_code: str | None) -> bool:
    """Whether a record was answered approved (``00``) before anything else happened to it.

    A reversed record that never was — reversed while in flight — settles
    on no date, and its reversal claims nothing back. The SQL readers of
    :mod:`._journal_side` say the same with ``response_code = '00'``.
    """
    return response_code == "00"


def match_key(rrn: str, transmission_time: str, stan: str, acquirer: str) -> str:
    """The reconciliation match key: RRN + F7 + STAN + acquirer (DOMAIN.md §6).

    Args:
        rrn: field 37 (padding spaces are ignored).
        transmission_time: field 7, ``MMDDhhmmss``.
        stan: field 11.
        acquirer: field 32 (compared as its last 11 characters after zeros
            are put in front: institution codes are at most 11 digits).

    Returns:
        ``"RRN|F7|STAN|ACQUIRER"``.
    """
    acq = ("00000000000" + acquirer.strip(" "))[-11:]
    return f"{rrn.strip(' ')}|{transmission_time}|{stan}|{acq}"


def bank_match_key(record: TransactionRecord, rules: ClearingRules) -> str | None:
    """The match key of a record's CUPS leg, or ``None`` when it has none.

    F7 and the acquirer (F32) come from ``upstream_key`` (``F7|F11|F32|F33``),
    the STAN from ``upstream_stan`` (F11 of the same leg, journaled beside
    it), the RRN from ``upstream_rrn``.

    Args:
        record: a journal record.
        rules: names the upstream link.

    Returns:
        The key (:func:`match_key`).
    """
    return leg_match_key(
        record.destination, record.upstream_key, record.upstream_stan, record.upstream_rrn, rules
    )


def leg_match_key(
    destination: str,
    upstream_key: str | None,
    upstream_stan: str | None,
    upstream_rrn: str | None,
    rules: ClearingRules,
) -> str | None:
    """:func:`bank_match_key` on a record's fields (for rows read without records).

    Args:
        destination, upstream_key, upstream_stan, upstream_rrn: the record's.
        rules: names the upstream link.

    Returns:
        The key, or ``None`` without a CUPS leg.
    """
    if destination != rules.upstream or not upstream_key:
        return None
    f7 = upstream_key.split("|", 1)[0]
    stan = upstream_stan or ""
    acquirer = upstream_key[len(f7) + len(stan) + 2 :].split("|", 1)[0]
    return match_key(upstream_rrn or "", f7, stan, acquirer)
