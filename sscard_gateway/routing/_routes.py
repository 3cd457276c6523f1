"""The route table: which link a message goes to, and why; or the code that refuses it.

The gateway sits between regional centers and CUPS (DOMAIN.md §1): it sends
center-originated transactions to CUPS, CUPS-originated transactions for
social security cards to the card's home center, and cross-region ones from
center to center. Every request therefore needs a destination (the name of a
center link or of the CUPS link), chosen from configuration and from what
the message itself says, once per message: lookups are dictionary hits.

Theory of operation
-------------------
A route table maps three kinds of key to destinations:

* **BIN prefixes** of the card number (1 to 12 digits, longest prefix wins).
  The card number is field 2 or, when absent, track 2 (field 35) before its
  separator. Prefixes are kept in one dictionary per length, tried longest
  first, so a lookup costs one dictionary hit per distinct prefix length.
* **Home region** prefixes (GB/T 2260: ``11`` province, ``1101`` city,
  ``110105`` county; longest wins) matched against the center dialect's
  field 58, the card's home region.
* **Institution codes** (exact) matched against field 100 (receiving
  institution), 33 (forwarding) or 32 (acquiring).

Steps are tried in a configurable priority, by default
``receiving, bin, region, forwarding, acquiring``: field 100 is the
sender's explicit address and wins; then what the card says (its BIN, then
its home region); then the sender-side institution codes; then the
``default`` route. Each step gives at most one candidate (its longest
match). A candidate that is the link the message came from (``source``) is
passed over, and the next step is tried: a center's own card therefore goes
on to the default route (CUPS) instead of back to the center.

When no step and no default give a destination, the message is answered
without being forwarded (:class:`NoRoute`): ``15`` (no such issuer) when it
carries a card number whose BIN no route knows; ``92`` (cannot route)
otherwise — no card number, an unknown institution, or routes that only lead
back to the sender.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from typing import Any

import attrs

from ..errors import RoutingError
from ..iso.message import Message
from ._route_config import DEFAULT_PRIORITY, RouteStep, read_route_config

__all__ = [
    "DEFAULT_PRIORITY",
    "NoRoute",
    "Route",
    "RouteReason",
    "RouteStep",
    "RouteTable",
    "card_pan",
]


class RouteReason(enum.Enum):
    """Why a route was chosen."""

    INSTITUTION = "institution"
    BIN = "bin"
    REGION = "region"
    DEFAULT = "default"


_INSTITUTION_FIELD = {RouteStep.RECEIVING: 100, RouteStep.FORWARDING: 33, RouteStep.ACQUIRING: 32}


@attrs.frozen(slots=True)
class Route:
    """Where a message goes and why.

    Attributes:
        destination: the link's name (``"cups"``, ``"center-110000"``).
        reason: which kind of key matched.
        field: the field that matched (2, 35, 58, 100, 33, 32), ``None`` for
            the default route.
        matched: the configured key that matched: the BIN prefix (at most
            12 digits, never the card number), the region prefix or the
            institution code; ``""`` for the default route.
    """

    destination: str
    reason: RouteReason
    field: int | None = None
    matched: str = ""


@attrs.frozen(slots=True)
class NoRoute:
    """No destination: answer the message with ``response_code``, forward nothing.

    Attributes:
        response_code: ``15`` (the card's BIN is unknown) or ``92`` (cannot
            route).
        problem: a description for the log, without card data.
    """

    response_code: str
    problem: str

    def error(self) -> RoutingError:
        """The same as an exception, for callers that prefer to raise.

        Returns:
            A :class:`~sscard_gateway.errors.RoutingError` carrying the code.
        """
        return RoutingError(self.problem, self.response_code)


def card_pan(message: Message) -> str | None:
    """The card number of a message: field 2, else track 2 before ``=`` (or ``D``).

    Args:
        message: a message of any dialect.

    Returns:
        The digits, or ``None`` when the message carries no card number.
    """
    found = _card(message.fields)
    return None if found is None else found[0]


def _card(fields: Mapping[int, object]) -> tuple[str, int] | None:
    pan = fields.get(2)
    if isinstance(pan, str) and pan:
        return pan, 2
    track = fields.get(35)
    if isinstance(track, str) and track:
        end = len(track)
        for sep in ("=", "D"):
            at = track.find(sep)
            if at != -1 and at < end:
                end = at
        if end:
            return track[:end], 35
    return None


class _PrefixIndex:
    """Longest-prefix lookup: one dictionary per prefix length, longest first."""

    __slots__ = ("_levels",)

    def __init__(self, entries: Mapping[str, str]) -> None:
        by_length: dict[int, dict[str, str]] = {}
        for prefix, value in entries.items():
            by_length.setdefault(len(prefix), {})[prefix] = value
        self._levels = tuple(
            (length, by_length[length]) for length in sorted(by_length, reverse=True)
        )

    def longest(self, key: str) -> tuple[str, str] | None:
        n = len(key)
        for length, level in self._levels:
            if length <= n:
                prefix = key[:length]
                value = level.get(prefix)
                if value is not None:
                    return prefix, value
        return None


class RouteTable:
    """A checked, immutable route table (see the module documentation).

    Build one with :meth:`from_config`; direct construction takes already
    valid mappings (tests and generated tables).

    Args:
        bins: BIN prefix to destination.
        regions: region prefix (2, 4 or 6 digits) to destination.
        institutions: institution code to destination.
        default: the destination of messages no key matches, or ``None``.
        priority: the lookup order.
        region_field: the field holding the card's home region.
    """

    __slots__ = (
        "_bins",
        "_institutions",
        "_regions",
        "default",
        "destinations",
        "priority",
        "region_field",
    )

    def __init__(
        self,
        *,
        bins: Mapping[str, str] | None = None,
        regions: Mapping[str, str] | None = None,
        institutions: Mapping[str, str] | None = None,
        default: str | None = None,
        priority: tuple[RouteStep, ...] = DEFAULT_PRIORITY,
        region_field: int = 58,
    ) -> None:
        self._bins = _PrefixIndex(bins or {})
        self._regions = _PrefixIndex(regions or {})
        self._institutions: Mapping[str, str] = dict(institutions or {})
        self.default = default
        self.priority = priority
        self.region_field = region_field
        every = [*(bins or {}).values(), *(regions or {}).values(), *self._institutions.values()]
        self.destinations: frozenset[str] = frozenset(
            every + ([default] if default is not None else [])
        )

    def __repr__(self) -> str:
        names = ", ".join(sorted(self.destinations))
        return f"<RouteTable to {names or 'nowhere'}, default {self.default!r}>"

    # -- loading -------------------------------------------------------------

    @classmethod
    def from_config(
        cls,
        table: Mapping[str, Any],
        *,
        file: str = "<config>",
        where: str = "routing",
        destinations: Collection[str] | None = None,
    ) -> RouteTable:
        """Build a table from its TOML form, checking everything.

        Args:
            table: the parsed table: ``routes`` (an array of tables with
                ``destination`` and any of ``bins``, ``regions``,
                ``institutions``), optional ``default``, ``priority`` and
                ``region_field``.
            file: the file name for errors.
            where: the key path of ``table`` in that file, for errors.
            destinations: the link names that exist; when given, every
                destination must be one of them.

        Returns:
            The route table.

        Raises:
            SpecError: naming the file, the key path and the problem: an
                unknown key, a wrong type, a malformed BIN, region or
                institution code, a key given twice, a route with no key, an
                unknown destination or priority step.
        """
        return cls(**read_route_config(table, file=file, where=where, destinations=destinations))

    # -- lookups ------------------------------------------------------------

    def route_pan(self, pan: str) -> Route | None:
        """The route of a card number by its longest configured BIN prefix.

        Args:
            pan: the card number (digits).

        Returns:
            The route, or ``None`` when no prefix matches.
        """
        hit = self._bins.longest(pan)
        return None if hit is None else Route(hit[1], RouteReason.BIN, 2, hit[0])

    def route_region(self, region: str) -> Route | None:
        """The route of a home region code by its longest configured prefix.

        Args:
            region: a 6-digit GB/T 2260 code.

        Returns:
            The route, or ``None`` when no prefix matches.
        """
        hit = self._regions.longest(region)
        return None if hit is None else Route(hit[1], RouteReason.REGION, self.region_field, hit[0])

    def route_institution(self, code: str, *, field: int = 100) -> Route | None:
        """The route of an institution code (exact match).

        Args:
            code: the institution code as carried in the field.
            field: the field it came from, recorded in the route.

        Returns:
            The route, or ``None`` when the code is not configured.
        """
        target = self._institutions.get(code)
        return None if target is None else Route(target, RouteReason.INSTITUTION, field, code)

    def route(self, message: Message, *, source: str | None = None) -> Route | NoRoute:
        """Choose the destination of a request.

        Args:
            message: the request, in any dialect.
            source: the link it arrived on; routes to it are passed over.

        Returns:
            A :class:`Route`, or a :class:`NoRoute` carrying ``15`` (the
            card's BIN is unknown) or ``92`` (cannot route).
        """
        fields = message.fields
        pan = None
        bin_unknown = False
        passed_over = False
        for step in self.priority:
            found: Route | None = None
            if step is RouteStep.BIN:
                card = _card(fields)
                if card is not None:
                    pan = card[0]
                    hit = self._bins.longest(pan)
                    bin_unknown = hit is None
                    if hit is not None:
                        found = Route(hit[1], RouteReason.BIN, card[1], hit[0])
            elif step is RouteStep.REGION:
                region = fields.get(self.region_field)
                if isinstance(region, str):
                    found = self.route_region(region)
            else:
                number = _INSTITUTION_FIELD[step]
                code = fields.get(number)
                if isinstance(code, str):
                    found = self.route_institution(code, field=number)
            if found is not None:
                if found.destination != source:
                    return found
                passed_over = True
        if self.default is not None:
            if self.default != source:
                return Route(self.default, RouteReason.DEFAULT)
            passed_over = True
        if bin_unknown and pan is not None:
            return NoRoute("15", f"no route knows the card's BIN {pan[:6]}")
        if passed_over:
            return NoRoute("92", f"every matching route leads back to {source!r}")
        return NoRoute("92", "no route matches the message (no known card, region or institution)")
