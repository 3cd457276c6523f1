"""Network management messages built from the dialect's codes.

Why: sign-on, sign-off, echo test and key reset request differ between
dialects only in data (DOMAIN.md §2: CUPS 0820 with the code in F70 —
001 sign-on, 002 sign-off, 301 echo, 101 key reset request; §3: POS 0800
with the code in F60.3 — 003 sign-on with double-length keys). The dialect
file's ``[network]`` section says which MTI and which field (or subfield of
a fixed layout) carries the code; this module holds no code of its own.

F11 (STAN) comes from an injected source and F7 (transmission date and time,
``MMDDhhmmss``) from an injected wall clock, so tests and simulators fix
both. Fields every network request carries (CUPS F33 forwarding institution,
POS F41/F42 terminal and merchant, the POS F60 batch) come from the link
configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from ..errors import DecodeError, ProtocolError, SpecError
from ..iso import Dialect, FieldValue, Message
from ..iso.composite import FixedLayout, transmission_time
from ..iso.framing import Header
from ..iso.spec import KeyExchangeSpec

__all__ = ["NetworkManagement", "StanCounter", "transmission_time"]

StanSource = Callable[[], str]
"""Returns the next six-digit STAN."""
WallClock = Callable[[], datetime]
"""Returns the local date and time written in F7."""


class StanCounter:
    """STANs ``000001`` to ``999999``, then around again (``000000`` is never used).

    Args:
        start: the first STAN handed out.
    """

    __slots__ = ("_next",)

    def __init__(self, start: int = 1) -> None:
        if not 1 <= start <= 999_999:
            raise ValueError("a STAN is 1 to 999999")
        self._next = start

    def __call__(self) -> str:
        value = self._next
        self._next = value % 999_999 + 1
        return f"{value:06d}"


class NetworkManagement:
    """Builds and recognises a dialect's network management requests.

    Args:
        dialect: a dialect with a ``[network]`` section.
        stan: the STAN source for F11.
        wallclock: the clock for F7 (needed only if the dialect defines F7).
        fields: fields every network request carries.
        header: the header of network requests (the dialect default if ``None``).

    Raises:
        SpecError: the dialect has no ``[network]`` section or its code
            field names a subfield without a layout.
    """

    def __init__(
        self,
        dialect: Dialect,
        *,
        stan: StanSource,
        wallclock: WallClock | None,
        fields: Mapping[int, FieldValue],
        header: Header | None,
    ) -> None:
        spec = dialect.spec
        if spec.network is None:
            raise SpecError(spec.file, "network", "the link needs a [network] section")
        self._dialect = dialect
        self._spec = spec.network
        self._stan = stan
        self._wallclock = wallclock
        self._fields = dict(fields)
        self._header = header
        self._has_f7 = 7 in spec.fields
        field, _, sub = self._spec.code_field.partition(".")
        self._field = int(field)
        self._sub = sub or None
        self._layout: FixedLayout | None = None
        if self._sub is not None:
            layout_name = spec.fields[self._field].layout if self._field in spec.fields else None
            if layout_name is None or layout_name not in spec.layouts:
                raise SpecError(spec.file, "network.code_field", f"field {field} has no layout")
            parts = [list(p) for p in spec.layouts[layout_name]]
            self._layout = FixedLayout.from_spec(
                parts, file=spec.file, where=f"layouts.{layout_name}", field=field
            )

    @property
    def request_mti(self) -> str:
        """The MTI of network management requests we send."""
        return self._spec.request_mti

    @property
    def key_exchange(self) -> KeyExchangeSpec | None:
        """The dialect's key exchange description."""
        return self._spec.key_exchange

    def code(self, name: str) -> str | None:
        """The dialect's code for ``name`` (``"sign_on"``, ``"echo"``...), if any."""
        return self._spec.codes.get(name)

    def code_of(self, message: Message) -> str | None:
        """The network management code a message carries, or ``None``."""
        value = message.fields.get(self._field)
        if not isinstance(value, str):
            return None
        if self._layout is None:
            return value
        try:
            return self._layout.parse(value).get(self._sub or "")
        except DecodeError:
            return None

    def name_of(self, message: Message) -> str | None:
        """``"sign_on"``, ``"echo"``... for a network message of this dialect."""
        if self._dialect.mti_class(message.mti) != "network":
            return None
        code = self.code_of(message)
        if code is None:
            return None
        for name, value in self._spec.codes.items():
            if value == code:
                return name
        return None

    def _code_value(self, code: str) -> str:
        if self._layout is None:
            return code
        base = self._fields.get(self._field)
        values: dict[str, str] = {}
        if isinstance(base, str):
            values = self._layout.parse(base)
        out: dict[str, str] = {}
        for sf in self._layout.subfields:
            if sf.name == self._sub:
                out[sf.name] = code
                break
            out[sf.name] = values.get(sf.name, "0" * sf.length)
        return self._layout.format(out)

    def build(self, name: str) -> Message:
        """A new network management request.

        Args:
            name: ``"sign_on"``, ``"sign_off"``, ``"echo"``,
                ``"key_reset_request"``, ``"cutover_begin"`` or ``"cutover_end"``.

        Returns:
            The request with F7 (if the dialect has it), F11, the configured
            fields and the code.

        Raises:
            ProtocolError: the dialect has no code for ``name``, or F7 is
                needed and no wall clock was given.
        """
        code = self._spec.codes.get(name)
        if code is None:
            raise ProtocolError(f"dialect {self._dialect.name!r} has no {name} code")
        fields = dict(self._fields)
        if self._has_f7:
            if self._wallclock is None:
                raise ProtocolError("a wall clock is needed for F7")
            fields[7] = transmission_time(self._wallclock())
        fields[11] = self._stan()
        fields[self._field] = self._code_value(code)
        header = self._header if self._header is not None else self._dialect.default_header()
        return self._dialect.message(self._spec.request_mti, fields, header=header)
