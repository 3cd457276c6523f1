"""Route plans: which legs a request needs, derived from the route table and the amount split.

Why a plan and not a flow per kind: the first gateway coded each path
(center to CUPS, cross-region, CUPS to center) by hand, and every new path
repeated — and missed — the compensation rules. Here a request becomes a
list of legs, and one saga runs any list: each leg journaled as sent,
the next started only when the previous one was approved, and on any
failure every approved leg compensated in reverse order.

The rule, with no transaction kind and no dialect named:

1. The route table gives the destination of the request (BIN, home region,
   institution; routes leading back to the source are passed over).
2. A destination that is another *member* link (a card's home center) gets
   the request whole: it approves the parts it holds (for a medical
   settlement, the insurance fund and the personal account).
3. The *bank* part goes to the bank link (the switch): the whole request
   when the route leads there, or, after a home-center leg, the amount
   split's bank part (the mapping's ``[request.amount]``, the cash) when it
   is not zero.
4. A request with an amount split whose bank part is ``0`` and no
   home-center leg needs no leg at all: its parts are the source's own.
"""

from __future__ import annotations

import attrs

from ..ids import AmountSplit
from ..iso import Message
from ..routing import NoRoute, RouteTable

__all__ = ["LegPlan", "Plan", "plan_legs"]


@attrs.frozen
class LegPlan:
    """One leg to send: where to.

    Attributes:
        destination: the link's name.
    """

    destination: str


@attrs.frozen
class Plan:
    """The legs of one request, in the order they are sent (and compensated in reverse).

    Attributes:
        legs: the legs; empty when the request needs none.
    """

    legs: tuple[LegPlan, ...]


def plan_legs(
    message: Message,
    *,
    source: str,
    routes: RouteTable,
    bank: str,
    members: frozenset[str],
    split: AmountSplit | None,
    bank_part: int | None,
    forward_to_members: bool,
) -> Plan | NoRoute:
    """The plan of ``message`` from ``source`` (see the module docs).

    Args:
        message: the request as received.
        source: the link it came from.
        routes: the route table.
        bank: the bank link's name (the switch).
        members: the other links a request may be routed to whole (centers).
        split: the request's amount split, if it has one.
        bank_part: the amount the bank leg carries for it, in fen (``None``:
            no amount).
        forward_to_members: route a member's request for another member's
            card to that member; otherwise only the bank leg is sent (the
            bank's own requests always go to the member).

    Returns:
        The plan, or the :class:`~sscard_gateway.routing.NoRoute` refusal.
    """
    route = routes.route(message, source=source)
    if isinstance(route, NoRoute):
        return route
    destination = route.destination
    if destination == source:
        return NoRoute("92", f"the route leads back to {source!r}")
    legs: list[LegPlan] = []
    if destination != bank and destination in members and (forward_to_members or source == bank):
        legs.append(LegPlan(destination))
        if split is not None and bank_part and source != bank:
            legs.append(LegPlan(bank))
        return Plan(tuple(legs))
    if destination != bank and destination not in members:
        return NoRoute("92", f"no link named {destination!r}")
    if source == bank:  # the bank's request for a card no member takes
        return NoRoute("92", "a request from the bank link must go to a member")
    if split is not None and not bank_part:
        return Plan(())  # nothing for the bank: the split's parts are the source's own
    return Plan((LegPlan(bank),))
