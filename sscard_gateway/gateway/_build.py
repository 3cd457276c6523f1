"""What a gateway's configuration makes of the engine: its peers, dialects and translators.

Why a function of its own: the gateway, the engine's tests and the fault
simulation all build the same engine from a :class:`~._config.GatewayConfig`;
one function keeps them from drifting apart. Translators are loaded once,
for every pair of link dialects a mapping file exists for, so no leg
reads a file.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..clearing import Cutover
from ..crypto import SecurityModule
from ..engine import Engine, Peer
from ..iso import Dialect, load_dialect
from ..routing import LegCounters, RouteTable, Translator, available_mappings, load_mapping
from ..store import PanHasher
from ._config import GatewayConfig

__all__ = ["engine_for", "link_dialects", "route_table"]


def link_dialects(config: GatewayConfig) -> dict[str, Dialect]:
    """The dialect of each link: the switch speaks ``cups``, every center ``center``."""
    dialects = {config.upstream.name: load_dialect("cups")}
    dialects.update({c.name: load_dialect("center") for c in config.centers})
    return dialects


def route_table(config: GatewayConfig) -> RouteTable:
    """The configuration's route table, its destinations checked against the links.

    Raises:
        SpecError: a route names no link, or is malformed.
    """
    names = {c.name for c in config.centers} | {config.upstream.name}
    return RouteTable.from_config(
        config.routes, file="<gateway config>", where="routing", destinations=names
    )


def engine_for(
    config: GatewayConfig,
    *,
    security: SecurityModule,
    hasher: PanHasher,
    cutover: Cutover,
    dialects: Mapping[str, Dialect] | None = None,
    routes: RouteTable | None = None,
    last_stan: int = 0,
) -> Engine:
    """The transaction engine of a gateway with this configuration.

    Args:
        config: the gateway's configuration.
        security: the security module (PIN translation).
        hasher: the journal's PAN hash.
        cutover: the settlement date rule (shared with the gateway, which
            applies the switch's cutover messages to it).
        dialects: the links' dialects (:func:`link_dialects` by default).
        routes: the route table (:func:`route_table` by default).
        last_stan: the last STAN used (the next leg gets the one after).

    Returns:
        The engine.
    """
    dialects = dict(dialects or link_dialects(config))
    up = config.upstream
    peers = {up.name: Peer(name=up.name, dialect=dialects[up.name], pin_key=up.pin_key,
                           pin_format=up.pin_format)}  # fmt: skip
    for center in config.centers:
        peers[center.name] = Peer(
            name=center.name,
            dialect=dialects[center.name],
            pin_key=center.pin_key,
            pin_format=center.pin_format,
        )
    shipped = set(available_mappings())
    translators: dict[tuple[str, str], Translator] = {}
    for source in dialects.values():
        for target in dialects.values():
            name = f"{source.name}_to_{target.name}"
            if name in shipped:
                translators[(source.name, target.name)] = load_mapping(name)

    def mapping(source: str, destination: str) -> Translator:
        return translators[(dialects[source].name, dialects[destination].name)]

    return Engine(
        peers=peers,
        bank=up.name,
        routes=routes or route_table(config),
        mappings=mapping,
        institution=config.institution,
        counters=LegCounters(last_stan=last_stan),
        security=security,
        hasher=hasher,
        cutover=cutover,
        policy=config.saf,
        request_timeout=config.request_timeout,
        forward_to_members=config.forward_to_home_center,
    )
