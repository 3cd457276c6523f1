"""Settings and statistics records of a link.

Why separate: the settings are the part of a link an operator writes (in
the gateway's configuration), the statistics the part metrics and tests
read (STYLE.md 10); both are frozen values, apart from the state machine
that uses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

from ..iso import FieldValue
from ..iso.framing import Header
from ._state import LinkState

__all__ = ["LinkConfig", "LinkStatistics"]


def _frozen_map(value: Mapping[int, FieldValue]) -> Mapping[int, FieldValue]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class LinkConfig:
    """Settings of the sans-I/O link (times in seconds).

    Attributes:
        sign_on: whether the link signs on (client) or expects a sign-on
            (server) before application traffic; ``False`` opens at once.
        sign_on_timeout: deadline of our sign-on request.
        sign_off_timeout: deadline of our sign-off request.
        request_timeout: default deadline of a request.
        echo_interval: seconds without any frame received after which
            :class:`EchoDue` is raised; ``None`` disables echo.
        echo_timeout: deadline of an echo request.
        late_window: how long a timed-out request's key stays quarantined
            so that its late response cannot reach a newer request; ``None``
            (the default) for as long as the connection lasts.
        answer_keepalive: answer a zero-length frame with one.
        answer_network: answer echo, sign-on and sign-off requests in the
            link (``00``); otherwise they go to the handler.
        network_fields: fields every network request we build carries
            (CUPS F33; POS F41, F42 and F60 with its batch).
        header: header of the network requests we build (dialect default
            when ``None``).
        max_handling: inbound requests handled at once on one connection;
            one more is answered ``busy_code`` at once (a peer cannot make
            us hold unbounded work).
        busy_code: F39 of that answer (``91``: switch or issuer inoperative).
    """

    sign_on: bool = True
    sign_on_timeout: float = 10.0
    sign_off_timeout: float = 5.0
    request_timeout: float = 30.0
    echo_interval: float | None = 60.0
    echo_timeout: float = 10.0
    late_window: float | None = None
    answer_keepalive: bool = False
    answer_network: bool = True
    network_fields: Mapping[int, FieldValue] = attrs.field(
        factory=dict, converter=_frozen_map, eq=False
    )
    header: Header | None = None
    max_handling: int = attrs.field(default=256, validator=attrs.validators.ge(1))
    busy_code: str = "91"


@attrs.frozen
class LinkStatistics:
    """A snapshot of one link (STYLE.md 10).

    ``busy`` counts inbound requests answered ``busy_code`` because
    ``max_handling`` were in hand.
    """

    state: LinkState
    in_flight: int
    quarantined: int
    requests_sent: int
    responses_received: int
    timeouts: int
    failures: int
    unmatched: int
    frames_rejected: int
    busy: int = 0
