"""Routing and dialect translation, sans-I/O (DOMAIN.md §1, docs/architecture.md).

* :class:`RouteTable` chooses the link a request goes to (BIN prefix, home
  region, institution code, default) or the response code that refuses it
  (``15`` unknown BIN, ``92`` cannot route).
* :class:`Translator` (from a file under ``specs/mappings/``, see
  :func:`load_mapping`) turns a request into the outbound leg of another
  dialect, the upstream response into the requester's response, and an
  outbound leg into its reversal.
* :class:`LegCounters` and :class:`InstitutionCodes` give the outbound leg
  its own STAN, RRN and institution codes.

``docs/routing.md`` documents the configuration and the mapping schema.
"""

from ._counters import InstitutionCodes as InstitutionCodes
from ._counters import LegCounters as LegCounters
from ._mapspec import Generator as Generator
from ._mapspec import MappingSpec as MappingSpec
from ._routes import DEFAULT_PRIORITY as DEFAULT_PRIORITY
from ._routes import NoRoute as NoRoute
from ._routes import Route as Route
from ._routes import RouteReason as RouteReason
from ._routes import RouteStep as RouteStep
from ._routes import RouteTable as RouteTable
from ._routes import card_pan as card_pan
from ._translate import Translator as Translator
from ._translate import available_mappings as available_mappings
from ._translate import load_mapping as load_mapping

__all__ = [
    "DEFAULT_PRIORITY",
    "Generator",
    "InstitutionCodes",
    "LegCounters",
    "MappingSpec",
    "NoRoute",
    "Route",
    "RouteReason",
    "RouteStep",
    "RouteTable",
    "Translator",
    "available_mappings",
    "card_pan",
    "load_mapping",
]
