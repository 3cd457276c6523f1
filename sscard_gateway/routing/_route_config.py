"""Reading a route table from configuration, checked key by key.

The gateway's configuration embeds the route table (``[routing]``, see
``docs/routing.md``); a mistake in it must stop the gateway at start with
the key path that is wrong, not misroute money later. This module checks
every key and value and hands :class:`~sscard_gateway.routing.RouteTable`
plain mappings.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from typing import Any

from .._toml import Table, join
from ..errors import SpecError
from ..ids import PROVINCE_CODES

__all__ = ["DEFAULT_PRIORITY", "RouteStep", "read_route_config"]

_MAX_BIN = 12  # a prefix, never a whole PAN (16-19 digits), so it may be shown
_MAX_INSTITUTION = 11


class RouteStep(enum.Enum):
    """One step of the lookup order, named in the ``priority`` setting."""

    RECEIVING = "receiving"  # field 100
    BIN = "bin"  # field 2, or field 35 before its separator
    REGION = "region"  # the region field (58)
    FORWARDING = "forwarding"  # field 33
    ACQUIRING = "acquiring"  # field 32


DEFAULT_PRIORITY: tuple[RouteStep, ...] = (
    RouteStep.RECEIVING,
    RouteStep.BIN,
    RouteStep.REGION,
    RouteStep.FORWARDING,
    RouteStep.ACQUIRING,
)


def read_route_config(
    table: Mapping[str, Any],
    *,
    file: str,
    where: str,
    destinations: Collection[str] | None,
) -> dict[str, Any]:
    """Check a route table's TOML form; return the keyword arguments of ``RouteTable``.

    Raises:
        SpecError: naming the file, the key path and the problem.
    """
    root = Table(file, table, where)
    known = None if destinations is None else frozenset(destinations)

    def destination(t: Table, key: str) -> str:
        name = t.get(key, str)
        if not name:
            raise t.fail(key, "must not be empty")
        if known is not None and name not in known:
            raise t.fail(key, f"{name!r} is not a configured link")
        return name

    bins: dict[str, str] = {}
    regions: dict[str, str] = {}
    institutions: dict[str, str] = {}
    places: dict[tuple[str, str], str] = {}
    for route in root.subs("routes"):
        target = destination(route, "destination")
        keys = 0
        for key, into, check in (
            ("bins", bins, _check_bin),
            ("regions", regions, _check_region),
            ("institutions", institutions, _check_institution),
        ):
            for i, value in enumerate(route.strings(key)):
                place = join(route.where, f"{key}[{i}]")
                problem = check(value)
                if problem is not None:
                    raise SpecError(file, place, problem)
                earlier = places.get((key, value))
                if earlier is not None:
                    raise SpecError(file, place, f"{value!r} is already routed at {earlier}")
                places[(key, value)] = place
                into[value] = target
                keys += 1
        route.done()
        if keys == 0:
            raise route.fail("", "needs at least one of bins, regions, institutions")
    default = destination(root, "default") if root.has("default") else None
    priority = _priority(root)
    region_field = root.opt("region_field", int)
    if region_field is not None and not 2 <= region_field <= 128:
        raise root.fail("region_field", "must be a field number from 2 to 128")
    root.done()
    return {
        "bins": bins,
        "regions": regions,
        "institutions": institutions,
        "default": default,
        "priority": priority,
        "region_field": 58 if region_field is None else region_field,
    }


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _check_bin(value: str) -> str | None:
    if not _digits(value) or not 1 <= len(value) <= _MAX_BIN:
        return f"a BIN prefix is 1 to {_MAX_BIN} digits"
    return None


def _check_region(value: str) -> str | None:
    if not _digits(value) or len(value) not in (2, 4, 6):
        return "a region prefix is 2, 4 or 6 digits (province, city, county)"
    if value[:2] not in PROVINCE_CODES:
        return f"{value!r} has no known province"
    return None


def _check_institution(value: str) -> str | None:
    if not _digits(value) or not 1 <= len(value) <= _MAX_INSTITUTION:
        return f"an institution code is 1 to {_MAX_INSTITUTION} digits"
    return None


def _priority(root: Table) -> tuple[RouteStep, ...]:
    if not root.has("priority"):
        root.seen.add("priority")
        return DEFAULT_PRIORITY
    names = root.strings("priority")
    steps: list[RouteStep] = []
    for i, name in enumerate(names):
        try:
            step = RouteStep(name)
        except ValueError:
            allowed = ", ".join(s.value for s in RouteStep)
            raise root.fail(f"priority[{i}]", f"must be one of {allowed}") from None
        if step in steps:
            raise root.fail(f"priority[{i}]", f"{name!r} is named twice")
        steps.append(step)
    return tuple(steps)
