"""Values of one outbound leg: generated identifiers, field fit, original data.

Small pure helpers of :mod:`._translate` (and of :mod:`._rules`' load-time
probes): :class:`Leg` takes the leg's STAN from the counters once (F11 and
the RRN share it) and only when a rule needs it, so a refused request
consumes no STAN; :func:`fits` is the per-message check of the fields a
mapping marks ``guarded``; :func:`original_data` builds field 90 from a leg
as it was sent (DOMAIN.md §2: original MTI, STAN, F7, F32, F33).
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import EncodeError, MappingError
from ..iso._compile import TEXT_CHECKS
from ..iso.composite import OriginalData
from ..iso.message import FieldValue, Message
from ..iso.spec import DataEncoding, FieldSpec, LengthKind
from ._counters import InstitutionCodes, LegCounters, check_f7
from ._mapspec import Generator

__all__ = ["Leg", "fits", "original_data"]


class Leg:
    """The values assigned to one outbound leg, taken from the counters on first use."""

    __slots__ = ("_counters", "_institution", "_now", "_stan")

    def __init__(
        self, counters: LegCounters, now_f7: str, institution: InstitutionCodes | None
    ) -> None:
        check_f7(now_f7)
        self._counters = counters
        self._now = now_f7
        self._institution = institution
        self._stan: str | None = None

    def stan(self) -> str:
        if self._stan is None:
            self._stan = self._counters.next_stan()
        return self._stan

    def value(self, generator: Generator) -> str:
        if generator is Generator.STAN:
            return self.stan()
        if generator is Generator.RRN:
            return self._counters.rrn(stan=self.stan(), now_f7=self._now)
        if generator is Generator.TRANSMISSION_TIME:
            return self._now
        if generator is Generator.LOCAL_TIME:
            return self._now[4:]
        if generator is Generator.LOCAL_DATE:
            return self._now[:4]
        if self._institution is None:
            raise ValueError(f"{generator.value} needs the gateway's institution codes")
        if generator is Generator.ACQUIRER:
            return self._institution.acquirer
        return self._institution.forwarder


def fits(spec: FieldSpec, value: FieldValue) -> bool:
    """Whether ``value`` is a valid value of field ``spec`` (class, length, encoding)."""
    if spec.binary:
        size = len(value) if isinstance(value, bytes) else -1
    elif not isinstance(value, str) or not TEXT_CHECKS[spec.cls](value):
        return False
    elif spec.data is DataEncoding.ASCII:
        try:
            size = len(value.encode(spec.encoding))
        except UnicodeEncodeError:
            return False
    else:
        size = len(value)
    if spec.length is LengthKind.FIXED:
        return size == spec.max
    return 0 <= size <= spec.max


def original_data(original: Message, fail: Callable[[str, str, str], MappingError]) -> str:
    try:
        return OriginalData.from_original(
            mti=original.mti,
            stan=original.text(11),
            f7=original.text(7),
            f32=original.text(32),
            f33=original.text(33) or None,
        ).format()
    except (TypeError, EncodeError):
        raise fail("original", "lacks F7, F11 or F32 for original data elements", "96") from None
