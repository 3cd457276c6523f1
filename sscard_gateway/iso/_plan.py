"""Per-field-set plans: the codec's hot path with the per-field work in C.

Messages of one kind carry the same set of fields, so what the codec must do
for each field (name its pyiso8583 key, check its class, convert bytes to
and from hex) is worked out once per field set and kept as ``itemgetter``
objects. Converting a message is then a handful of C-level calls: get the
values of each class at once, join them, check the join in one call.

A set not seen before (or a value that fails a batch check) takes the slow
path in :mod:`.dialect`, which names the offending field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

import attrs

__all__ = ["BIN", "KINDS", "Plan", "build_plan"]

BIN, N, AN, ANS, OTHER = range(5)
KINDS = (BIN, N, AN, ANS, OTHER)


def _getter(keys: Sequence[Any]) -> Callable[[Mapping[Any, Any]], tuple[Any, ...]]:
    if not keys:
        return lambda mapping: ()
    if len(keys) == 1:
        key = keys[0]
        return lambda mapping: (mapping[key],)
    return itemgetter(*keys)


@attrs.frozen(slots=True)
class Plan:
    """What to do with each field of one field set (see module docs).

    Text fields are ordered by class — ``n``, then ``an``, then ``ans``,
    then the rest — so one ``itemgetter`` call fetches every text value and
    slices of its result are the values of each class.
    """

    numbers: tuple[int, ...]
    keys: tuple[str, ...]
    values: Callable[[Mapping[Any, Any]], tuple[Any, ...]]
    n_end: int
    an_end: int
    ans_end: int
    binary: tuple[tuple[int, str], ...]
    simple: bool  # no field needs a per-field check or conversion
    lens: tuple[str, ...] = ()  # keys whose ASCII length prefix must be checked

    def batch_ok(self, values: tuple[str, ...]) -> bool:
        """Check the values fetched by :attr:`values` class by class.

        Raises:
            TypeError: a value is not ``str`` (the caller reports which).
        """
        return batch_ok(
            values[: self.n_end],
            values[self.n_end : self.an_end],
            values[self.an_end : self.ans_end],
        )


def build_plan(
    order: Sequence[Any],
    kinds: Mapping[Any, int],
    to_number: Callable[[Any], int],
    ascii_lengths: frozenset[str] = frozenset(),
) -> Plan:
    """Plan for fields in ``order`` (ints when encoding, str keys when decoding).

    ``kinds`` gives each field's kind (:data:`BIN`, :data:`N`...); keys whose
    kind is unknown (``t``, ``p``, ``1``) are left out.
    """
    present = [k for k in order if k in kinds]
    by_kind: dict[int, list[Any]] = {kind: [] for kind in KINDS}
    for k in present:
        by_kind[kinds[k]].append(k)
    text = by_kind[N] + by_kind[AN] + by_kind[ANS] + by_kind[OTHER]
    n_end = len(by_kind[N])
    an_end = n_end + len(by_kind[AN])
    return Plan(
        numbers=tuple(to_number(k) for k in text),
        keys=tuple(str(to_number(k)) for k in text),
        values=_getter(text),
        n_end=n_end,
        an_end=an_end,
        ans_end=an_end + len(by_kind[ANS]),
        binary=tuple((to_number(k), str(to_number(k))) for k in by_kind[BIN]),
        simple=not by_kind[OTHER],
        lens=tuple(k for k in present if k in ascii_lengths),
    )


def batch_ok(n: Sequence[str], an: Sequence[str], ans: Sequence[str]) -> bool:
    """One C-level check per class over all values of that class.

    Raises:
        TypeError: a value is not ``str`` (the caller reports which).
    """
    if n:
        joined = "".join(n)
        if not (joined.isdigit() and joined.isascii()):
            return False
    if an:
        joined = "".join(an)
        if joined and not (joined.isalnum() and joined.isascii()):
            return False
    return not ans or "".join(ans).isprintable()
