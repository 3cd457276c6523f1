"""Transaction keys: how a request, its repeats and its reversal find one another.

Why one module: duplicates are detected, and the original of a reversal
found, by keys built from the dialect's declared key fields
(``[keys] transaction``; CUPS: F7 + F11 + F32 + F33). Both sides of every
lookup must build the key the same way, or a resend is debited twice and a
reversal answered "original not found" while the original stays debited.

A key is ``<source link>:<family>:<year>:<fields>``:

* the source link, because two centers may use the same STAN in the same
  second;
* the family — ``tx`` for requests and advices, ``rev`` for reversals — so
  that a reversal that repeats its original's F11 (some systems do) never
  collides with it;
* the year, because F7 (``MMDDhhmmss``) carries none: it is the year that
  puts F7 nearest the moment the message was received, so a resend across
  31 December / 1 January keeps its key and a 1 January reversal finds its
  31 December original;
* the key fields, each without leading zeros (field 90 carries institution
  codes zero-padded to 11 digits, the original's F32 does not).
"""

from __future__ import annotations

import datetime as dt

from ..iso import Message
from ..iso.composite import OriginalData

__all__ = ["f7_year", "key_of", "original_key", "transaction_key"]


def f7_year(f7: str, now: dt.datetime) -> int:
    """The year that puts a transmission time ``MMDDhhmmss`` nearest ``now``.

    Args:
        f7: field 7 (anything else gives ``now``'s year).
        now: when the message was received.

    Returns:
        ``now.year - 1``, ``now.year`` or ``now.year + 1``.
    """
    if len(f7) != 10 or not (f7.isascii() and f7.isdigit()):
        return now.year
    month, day = int(f7[:2]), int(f7[2:4])
    hour, minute, second = int(f7[4:6]), int(f7[6:8]), int(f7[8:10])
    best: tuple[dt.timedelta, int] | None = None
    for year in (now.year - 1, now.year, now.year + 1):
        try:
            moment = dt.datetime(year, month, day, hour, minute, second)
        except ValueError:
            continue
        distance = abs(moment - now.replace(tzinfo=None))
        if best is None or distance < best[0]:
            best = (distance, year)
    return now.year if best is None else best[1]


def key_of(source: str, family: str, year: int, parts: list[str]) -> str:
    """Assemble a key (see the module docs) from its parts."""
    return f"{source}:{family}:{year:04d}:" + ":".join(p.lstrip("0") for p in parts)


def transaction_key(message: Message, source: str, family: str, now: dt.datetime) -> str:
    """The key of ``message`` from ``source`` (``family``: ``tx`` or ``rev``).

    Args:
        message: the request as received (its dialect gives the key fields).
        source: the link it came from.
        family: ``tx`` for requests and advices, ``rev`` for reversals.
        now: when it was received.

    Returns:
        The key.
    """
    assert message.dialect is not None
    parts = [str(message.fields.get(n, "")) for n in message.dialect.spec.transaction_key]
    return key_of(source, family, f7_year(message.text(7), now), parts)


def original_key(message: Message, source: str, original: OriginalData, now: dt.datetime) -> str:
    """The key of the original a reversal names in its original-data field.

    The dialect's ``[reversal] original_key`` says which part of field 90
    gives each key field (the original's F7 from ``transmission_time``...).

    Args:
        message: the reversal (its dialect declares the key).
        source: the link it came from (the original came from the same).
        original: its field 90, parsed.
        now: when the reversal was received.

    Returns:
        The original's ``tx`` key.
    """
    assert message.dialect is not None
    spec = message.dialect.spec
    parts = [str(getattr(original, spec.original_key[n])) for n in spec.transaction_key]
    return key_of(source, "tx", f7_year(original.transmission_time, now), parts)
