"""What a gateway is made of: its links, key names, routes and queue policy.

These are frozen values a deployment builds once (from ``gateway.toml``
through :func:`sscard_gateway.config.load_config`, or in code); the
:class:`~sscard_gateway.gateway.Gateway` only reads them. Key names refer to
keys in the security module; nothing here holds key material.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import attrs

from ..engine import SafPolicy
from ..link import Backoff, LinkKeys
from ..routing import InstitutionCodes

__all__ = ["CenterLink", "GatewayConfig", "SafPolicy", "UpstreamLink"]


class _KeyNames:
    """The key names a link's settings carry, as the link layer takes them."""

    __slots__ = ()

    mac_key: str | None
    pin_key: str | None
    kek: str | None

    def link_keys(self) -> LinkKeys:
        """The link layer's view of this link's keys."""
        return LinkKeys(mac_key=self.mac_key, pin_key=self.pin_key, kek=self.kek)


@attrs.frozen(kw_only=True)
class CenterLink(_KeyNames):
    """A regional center the gateway listens for.

    Attributes:
        name: the link's name in routes, logs and the journal.
        institution: the center's institution code (its F32).
        region: the center's GB/T 2260 region code.
        host, port: where the gateway listens for this center (0: any port).
        mac_key, pin_key, kek: key names in the security module (the center's
            ZAK, ZPK and ZMK); ``None`` turns MACs or PIN translation off.
        pin_format: the PIN block format the center uses.
    """

    name: str
    institution: str
    region: str
    host: str = "127.0.0.1"
    port: int = 0
    mac_key: str | None = None
    pin_key: str | None = None
    kek: str | None = None
    pin_format: str = "iso0"


@attrs.frozen(kw_only=True)
class UpstreamLink(_KeyNames):
    """The link to the UnionPay switch (the gateway connects).

    Attributes:
        name: the link's name (``cups``).
        host, port: the switch's address.
        mac_key, pin_key, kek: key names (CUPS ZAK, ZPK, ZMK).
        pin_format: ``iso0`` (field 52) or ``sm4`` (field 63 usage ``SM``).
        sign_on: sign on after each connect (0820 F70 001).
        echo_interval: seconds of silence before an echo test.
        backoff: reconnection delays.
    """

    name: str = "cups"
    host: str = "127.0.0.1"
    port: int = 0
    mac_key: str | None = None
    pin_key: str | None = None
    kek: str | None = None
    pin_format: str = "iso0"
    sign_on: bool = True
    echo_interval: float | None = 60.0
    backoff: Backoff = attrs.field(factory=lambda: Backoff(initial=0.2, maximum=5.0))


@attrs.frozen(kw_only=True)
class GatewayConfig:
    """The whole gateway.

    Attributes:
        institution: the gateway's own institution codes (F32/F33 of the
            legs it originates, the CUPS header source).
        upstream: the switch link.
        centers: the regional centers.
        routes: the route table, as :meth:`~sscard_gateway.routing.RouteTable.from_config` takes it.
        request_timeout: seconds an upstream leg may take before the
            gateway answers the requester and reverses the leg.
        saf: store-and-forward policy.
        forward_to_home_center: route cross-region settlements to the card's
            home center when it is connected.
        cutover_at: the daily cutover time (local): the settlement date a
            transaction is stamped with changes at it (CUPS cutover messages,
            0820 F70 201/202, may move it; see docs/clearing.md).
        journal_batch: the most journal operations committed in one
            transaction. Group commit amortises fsync, but a batch releases all
            its waiters at once; unbounded, the requests in flight move through
            the gateway as one convoy and the gateway and its peers take turns
            instead of working in parallel. 16 measured best (docs/gateway.md).
    """

    institution: InstitutionCodes
    upstream: UpstreamLink
    centers: tuple[CenterLink, ...]
    routes: Mapping[str, Any]
    request_timeout: float = 30.0
    saf: SafPolicy = attrs.field(factory=SafPolicy)
    forward_to_home_center: bool = True
    cutover_at: datetime.time = datetime.time(23, 0)
    journal_batch: int = 16

    def center(self, name: str) -> CenterLink:
        """The center named ``name``.

        Raises:
            KeyError: no such center.
        """
        for center in self.centers:
            if center.name == name:
                return center
        raise KeyError(name)
