"""Identifiers of an outbound leg: STAN, RRN, and the gateway's institution codes.

When the gateway forwards a request it becomes the acquirer of a new leg, so
that leg needs its own identifiers (DOMAIN.md §2: a transaction is
identified by F7 + F11 + F32 + F33): a system trace audit number (F11) from
the gateway's own sequence, a retrieval reference number (F37) UnionPay's
clearing file matches on (DOMAIN.md §6), the gateway's transmission time
(F7), and the gateway's institution codes in F32/F33 and the CUPS header.

:class:`LegCounters` is sans-I/O: it reads no clock (the caller passes F7)
and stores nothing (the journal persists :attr:`LegCounters.last_stan` and
gives it back on restart). STANs run ``000001`` to ``999999`` and wrap to
``000001``, never ``000000``. The RRN is 12 characters from a template over
the transmission time and the leg's STAN, by default ``{mmddhh}{stan}``
(``1126101530`` and ``000457`` give ``112610000457``, the form of the
shipped samples) **[assumed]**: unique while fewer than a million legs leave
one counter per hour. F7 carries no year, so a year-based form (``YDDD``)
would need a date the caller does not pass.
"""

from __future__ import annotations

import string

import attrs

__all__ = ["InstitutionCodes", "LegCounters", "check_f7"]

_STAN_MAX = 999_999
_RRN_LENGTH = 12
_PLACEHOLDERS = frozenset({"mmdd", "hh", "mmddhh", "hhmmss", "stan"})
_SAMPLE_F7 = "1126101530"


def _f7_parts(now_f7: str, stan: str) -> dict[str, str]:
    return {
        "mmdd": now_f7[0:4],
        "hh": now_f7[4:6],
        "mmddhh": now_f7[0:6],
        "hhmmss": now_f7[4:10],
        "stan": stan,
    }


def check_f7(now_f7: str) -> None:
    """Refuse a transmission time that is not 10 digits ``MMDDhhmmss`` (``ValueError``)."""
    if len(now_f7) != 10 or not (now_f7.isascii() and now_f7.isdigit()):
        raise ValueError("now_f7 must be 10 digits MMDDhhmmss")


class LegCounters:
    """The STAN sequence and RRN rule of one outbound identity (one F32).

    Not thread-safe; the gateway's Trio tasks share one event loop thread.

    Args:
        last_stan: the last STAN used (``0`` for a fresh start); the next
            leg gets the one after it.
        rrn_template: the RRN built from ``{mmdd}``, ``{hh}``, ``{mmddhh}``,
            ``{hhmmss}`` (from F7), ``{stan}`` and literal letters or digits;
            it must give 12 characters.

    Raises:
        ValueError: ``last_stan`` is outside 0..999999, or the template names
            an unknown part or does not give 12 letters and digits.
    """

    __slots__ = ("_rrn_template", "_stan")

    def __init__(self, *, last_stan: int = 0, rrn_template: str = "{mmddhh}{stan}") -> None:
        if isinstance(last_stan, bool) or not 0 <= last_stan <= _STAN_MAX:
            raise ValueError("last_stan must be 0 to 999999")
        names = {name for _, name, _, _ in string.Formatter().parse(rrn_template) if name}
        unknown = names - _PLACEHOLDERS
        if unknown:
            raise ValueError(f"rrn_template names unknown parts: {', '.join(sorted(unknown))}")
        probe = rrn_template.format(**_f7_parts(_SAMPLE_F7, "000001"))
        if len(probe) != _RRN_LENGTH or not (probe.isascii() and probe.isalnum()):
            raise ValueError("rrn_template must give 12 letters and digits")
        self._stan = last_stan
        self._rrn_template = rrn_template

    def __repr__(self) -> str:
        return f"LegCounters(last_stan={self._stan}, rrn_template={self._rrn_template!r})"

    @property
    def last_stan(self) -> int:
        """The last STAN handed out (``0`` before the first): what the journal keeps."""
        return self._stan

    def next_stan(self) -> str:
        """Take the next STAN.

        Returns:
            Six digits, ``000001`` to ``999999``; after ``999999`` comes
            ``000001``.
        """
        self._stan = self._stan % _STAN_MAX + 1
        return f"{self._stan:06d}"

    def rrn(self, *, stan: str, now_f7: str) -> str:
        """The RRN of a leg.

        Args:
            stan: the leg's STAN (6 digits).
            now_f7: the leg's transmission time ``MMDDhhmmss``.

        Returns:
            12 characters from the template.

        Raises:
            ValueError: ``now_f7`` is not 10 digits or ``stan`` not 6.
        """
        check_f7(now_f7)
        if len(stan) != 6 or not (stan.isascii() and stan.isdigit()):
            raise ValueError("stan must be 6 digits")
        return self._rrn_template.format(**_f7_parts(now_f7, stan))


def _institution_code(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    ok = isinstance(value, str) and 1 <= len(value) <= 11 and value.isascii() and value.isdigit()
    if not ok:
        raise ValueError(f"{attribute.name} must be an institution code of 1 to 11 digits")


@attrs.frozen(slots=True)
class InstitutionCodes:
    """The gateway's own institution codes on outbound legs.

    Attributes:
        acquirer: field 32 of the legs the gateway originates.
        forwarder: field 33, and the source ID of the CUPS header; the
            acquirer's code when not given.

    Raises:
        ValueError: a code is not 1 to 11 digits.
    """

    acquirer: str = attrs.field(validator=_institution_code)
    forwarder: str = attrs.field(validator=_institution_code)

    @forwarder.default
    def _forwarder_default(self) -> str:
        return self.acquirer
