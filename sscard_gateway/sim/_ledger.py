"""A peer's record of the day and the answers it gives from it, sans-I/O.

Why: a payment gateway is judged by the switch's record of the day — every
debit the switch holds must be known to the requester or reversed. A
simulator that takes any reversal at its word cannot judge that, so the
:class:`Ledger` checks requests as the real switch (or a home center) does
and keeps what it did with them:

* **financial requests** (``0100``/``0200``): the first time a transaction
  key is seen, the caller's decision is recorded, approved or declined, with
  an RRN (assigned when absent) and, on approval, a 6-digit authorization;
  the same key again is answered ``94`` and changes nothing.
* **advices** (``0220``/``0221``): applied the first time (``00``); a resend
  is answered ``00`` and changes nothing. A refund or void advice carrying
  field 90 must name a known, approved, unreversed entry (``30``: field 90
  unreadable, ``25``: no such original).
* **reversals** (``0420``/``0421``): field 90 names the original (``30``
  when missing or malformed, ``25`` when unknown); the reversal's F3, F4,
  acquirer (and forwarder when the dialect's key has it) and PAN must be the
  original's as received (``30``, nothing applied). A match reverses an
  approved original once; every later reversal of it, and a resend of the
  same reversal, is answered as before and changes nothing. An original a
  reversal named before it arrived (a reversal overtook it) is declined
  ``12`` when it comes: it is never held. A reversal that comes after its
  original's settlement date was cut over (the ``settlement_date`` the
  caller passes differs from the original's) is refused ``C3``: that date
  is cleared, the original stays held and is claimed back by
  reconciliation.

Transaction keys are the dialect's ``keys.transaction`` fields, institution
codes (F32, F33) compared without leading zeros. Nothing here does I/O but
the optional record file (:mod:`._ledger_file`); time does not enter.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ..errors import DecodeError, SpecError
from ..iso import Dialect, Message
from ..iso.composite import OriginalData
from ._ledger_file import LedgerFile
from ._ledger_types import (
    KEY_EFFECT,
    STATISTIC,
    Effect,
    Entry,
    EntryKind,
    Key,
    KeyEffects,
    LedgerStatistics,
    Outcome,
)

__all__ = [
    "Decide",
    "Effect",
    "Entry",
    "EntryKind",
    "Key",
    "KeyEffects",
    "Ledger",
    "LedgerStatistics",
    "Outcome",
]

_NEW_ENTRY = (Effect.APPROVED, Effect.DECLINED, Effect.ADVICE_APPLIED)

#: a response code, or a function of the request giving it
Decide = Callable[[Message], str] | str

_INSTITUTIONS = (32, 33)
_AFTER_ITS_REVERSAL = "12"  # an original that arrives after its reversal is declined
_F90_PARTS = (7, 11, 32, 33)


def _text(message: Message, number: int) -> str:
    value = message.fields.get(number, "")
    return value if isinstance(value, str) else ""


def _amount(message: Message) -> int | None:
    value = _text(message, 4)
    if value == "":
        return 0
    return int(value) if value.isascii() and value.isdigit() else None


class Ledger:
    """The record of the day of one peer, in one dialect.

    Args:
        dialect: the dialect of the requests (CUPS for the switch, the
            center dialect for a home center).
        path: a record file: every change is appended to it as a JSON line
            and it is replayed here, so the ledger survives a restart.
        rrn_prefix: the first characters of an RRN the ledger assigns.

    Raises:
        SpecError: the dialect's transaction key has a field field 90 cannot
            name, or the record file has a bad line.
        OSError: the record file cannot be opened.
    """

    def __init__(
        self,
        dialect: Dialect,
        path: str | os.PathLike[str] | None = None,
        *,
        rrn_prefix: str = "SW",
    ) -> None:
        spec = dialect.spec
        if any(n not in _F90_PARTS for n in spec.transaction_key):
            raise SpecError(spec.file, "keys.transaction", "a ledger needs fields of 7, 11, 32, 33")
        self.dialect = dialect
        self.rrn_prefix = rrn_prefix
        self._key_fields = spec.transaction_key
        self._approved = frozenset(spec.approved)
        self._reversal_mtis = {spec.reversal_mti, spec.retransmission_mti} - {None}
        self._original_field = spec.original_data_field
        self._refunds = {
            spec.processing_codes[name]
            for name in ("refund", "void")
            if name in spec.processing_codes
        }
        self._entries: dict[Key, Entry] = {}
        self._reversals: dict[Key, tuple[str, Key | None]] = {}
        self._unseen: set[Key] = set()  # originals a reversal named before they came
        self._effects: dict[Key, dict[str, int]] = {}
        self._counts = attrs.asdict(LedgerStatistics())
        self._sequence = 0
        #: grows with every change (a view built from the ledger can cache on it)
        self.version = 0
        self._file: LedgerFile | None = None
        if path is not None:
            self._file = LedgerFile(path)
            for number, event in enumerate(self._file.replayed(), start=1):
                try:
                    self._commit(event)
                except (KeyError, TypeError, ValueError):
                    self.close()
                    raise SpecError(str(path), f"line {number}", "is not a ledger event") from None

    # -- keys ----------------------------------------------------------------

    def key_of(self, message: Message) -> Key:
        """The transaction key of ``message`` (institution codes without leading zeros)."""
        return tuple(self._normal(n, _text(message, n)) for n in self._key_fields)

    def _normal(self, number: int, value: str) -> str:
        return value.lstrip("0") if number in _INSTITUTIONS else value

    def _original_key(self, original: OriginalData) -> Key:
        parts = {
            7: original.transmission_time,
            11: original.stan,
            32: original.acquirer,
            33: original.forwarder,
        }
        return tuple(self._normal(n, parts[n]) for n in self._key_fields)

    # -- answering -------------------------------------------------------------

    def apply(
        self, message: Message, decide: Decide = "00", *, settlement_date: str = ""
    ) -> Outcome:
        """Decide the answer to one inbound request and record its effect.

        Args:
            message: the request.
            decide: the response code of a new financial request (and of a
                message of a class the ledger does not record), or a function
                of the request giving it; called only when needed.
            settlement_date: the settlement date (MMDD) the answer carries,
                kept on a new entry (its clearing file is the date's).

        Returns:
            The answer and what the request did.

        Raises:
            OSError: the record file cannot be written (nothing changed).
        """
        mti = message.mti
        if mti in self._reversal_mtis:
            event = self._reversal(message, settlement_date)
        elif mti[:2] in ("01", "02") and mti[2] == "2":
            event = self._advice(message, settlement_date)
        elif mti[:2] in ("01", "02") and mti[2] == "0":
            event = self._financial(message, decide, settlement_date)
        elif mti[:2] == "04":
            event = {"effect": Effect.NOT_RECORDED.value, "code": "12"}
        else:
            code = decide(message) if callable(decide) else decide
            event = {"effect": Effect.NOT_RECORDED.value, "code": code}
        fields = event.pop("fields", {})
        if self._file is not None:
            self._file.append(event)
        self._commit(event)
        key = event.get("target") or event.get("key")
        return Outcome(
            response_code=event["code"],
            effect=Effect(event["effect"]),
            fields=fields,
            entry=self._entries.get(tuple(key)) if key else None,
        )

    def answer(self, message: Message, decide: Decide = "00") -> Message:
        """The response to ``message`` after :meth:`apply` (a handler's one call).

        Args:
            message: the request.
            decide: as for :meth:`apply`.

        Returns:
            The response, with F39 and any F37/F38 the ledger assigned.

        Raises:
            EncodeError: ``message`` is a response or has no dialect.
            OSError: the record file cannot be written.
        """
        return self.apply(message, decide).response(message)

    def _next(self) -> int:
        self._sequence += 1
        return self._sequence

    def _new_entry(
        self, message: Message, kind: EntryKind, code: str, key: Key, settlement_date: str
    ) -> tuple[dict[str, Any], dict[int, str]]:
        fields: dict[int, str] = {}
        rrn = _text(message, 37)
        if not rrn:
            rrn = f"{self.rrn_prefix}{self._next() % 10**10:010d}"
            fields[37] = rrn
        authorization = ""
        if code in self._approved:
            authorization = _text(message, 38)
            if not authorization:
                authorization = f"{(self._next() - 1) % 999_999 + 1:06d}"
                fields[38] = authorization
        entry = Entry(
            kind=kind,
            key=key,
            mti=message.mti,
            processing_code=_text(message, 3),
            pan=_text(message, 2),
            amount=_amount(message) or 0,
            transmission_time=_text(message, 7),
            stan=_text(message, 11),
            acquirer=_text(message, 32),
            forwarder=_text(message, 33),
            rrn=rrn,
            authorization=authorization,
            response_code=code,
            terminal=_text(message, 41),
            merchant=_text(message, 42),
            settlement_date=settlement_date,
        )
        return entry.to_json(), fields

    def _financial(self, message: Message, decide: Decide, settlement_date: str) -> dict[str, Any]:
        key = self.key_of(message)
        if key in self._entries:
            return {"effect": Effect.DUPLICATE.value, "code": "94", "key": list(key)}
        if key in self._unseen:  # reversed before it came: never held
            code = _AFTER_ITS_REVERSAL
        else:
            code = decide(message) if callable(decide) else decide
        entry, fields = self._new_entry(message, EntryKind.FINANCIAL, code, key, settlement_date)
        effect = Effect.APPROVED if code in self._approved else Effect.DECLINED
        return {
            "effect": effect.value,
            "code": code,
            "key": list(key),
            "entry": entry,
            "sequence": self._sequence,
            "fields": fields,
        }

    def _advice(self, message: Message, settlement_date: str) -> dict[str, Any]:
        key = self.key_of(message)
        if key in self._entries:
            return {"effect": Effect.ADVICE_REPEAT.value, "code": "00", "key": list(key)}
        refused = {"effect": Effect.ADVICE_REFUSED.value, "key": list(key)}
        if self._original_field is not None and _text(message, 3) in self._refunds:
            raw = message.fields.get(self._original_field)
            if raw is not None:
                original = self._parse_original(raw)
                if original is None:
                    return {**refused, "code": "30"}
                target = self._entries.get(self._original_key(original))
                if target is None or target.reversed or target.response_code not in self._approved:
                    return {**refused, "code": "25"}
        code = "00" if "00" in self._approved else min(self._approved)
        entry, fields = self._new_entry(message, EntryKind.ADVICE, code, key, settlement_date)
        return {
            "effect": Effect.ADVICE_APPLIED.value,
            "code": code,
            "key": list(key),
            "entry": entry,
            "sequence": self._sequence,
            "fields": fields,
        }

    def _parse_original(self, raw: object) -> OriginalData | None:
        if not isinstance(raw, str):
            return None
        try:
            return OriginalData.parse(raw, field=str(self._original_field))
        except DecodeError:
            return None

    def _reversal(self, message: Message, settlement_date: str) -> dict[str, Any]:
        rkey = list(self.key_of(message))
        seen = self._reversals.get(tuple(rkey))
        if seen is not None:
            code, target = seen
            event = {"effect": Effect.REVERSAL_REPEAT.value, "code": code, "resent": rkey}
            return {**event, "target": list(target)} if target is not None else event
        raw = None if self._original_field is None else message.fields.get(self._original_field)
        original = self._parse_original(raw)
        if original is None:
            return {"effect": Effect.REVERSAL_REFUSED.value, "code": "30", "reversal": rkey}
        key = self._original_key(original)
        entry = self._entries.get(key)
        event = {"reversal": rkey, "target": list(key)}
        if entry is None:  # remembered: the original, arriving later, is refused
            event = {"effect": Effect.REVERSAL_UNKNOWN.value, "code": "25", "reversal": rkey}
            return {**event, "unseen": list(key)}
        if not self._same_transaction(entry, message, original):
            return {**event, "effect": Effect.REVERSAL_REFUSED.value, "code": "30"}
        if entry.response_code not in self._approved:
            return {**event, "effect": Effect.REVERSAL_OF_DECLINED.value, "code": "00"}
        if entry.reversed:
            return {**event, "effect": Effect.REVERSAL_REPEAT.value, "code": "00"}
        if entry.settlement_date and settlement_date and entry.settlement_date != settlement_date:
            # the original's date is cut over and cleared: it stays held, claimed back later
            return {**event, "effect": Effect.REVERSAL_NEXT_DAY.value, "code": "C3"}
        return {**event, "effect": Effect.REVERSED.value, "code": "00"}

    def _same_transaction(self, entry: Entry, message: Message, original: OriginalData) -> bool:
        """Whether a reversal describes ``entry`` as it was received."""
        if original.mti[:3] != entry.mti[:3]:
            return False
        if _text(message, 3) != entry.processing_code or _amount(message) != entry.amount:
            return False
        for number, value in ((32, entry.acquirer), (33, entry.forwarder)):
            if (number == 32 or number in self._key_fields) and self._normal(
                number, _text(message, number)
            ) != self._normal(number, value):
                return False
        pan = _text(message, 2)
        return not (pan and entry.pan and pan != entry.pan)

    # -- the one place state changes (live and on replay) ---------------------

    def _commit(self, event: Mapping[str, Any]) -> None:
        effect = Effect(event["effect"])
        if not isinstance(event["code"], str):
            raise TypeError("the code must be a string")
        if effect in _NEW_ENTRY:
            entry = Entry.from_json(event["entry"])
            self._entries[entry.key] = entry
            self._sequence = max(self._sequence, int(event["sequence"]))
        self._counts["requests"] += 1
        self._counts[STATISTIC[effect]] += 1
        target = event.get("target") or event.get("key")
        if effect is Effect.REVERSED:
            key = tuple(event["target"])
            self._entries[key] = attrs.evolve(self._entries[key], reversed=True)
        if "unseen" in event:
            self._unseen.add(tuple(event["unseen"]))
        if "reversal" in event:
            self._reversals[tuple(event["reversal"])] = (
                str(event["code"]),
                tuple(event["target"]) if "target" in event else None,
            )
        if target is not None and effect in KEY_EFFECT:
            counters = self._effects.setdefault(tuple(target), {})
            name = KEY_EFFECT[effect]
            counters[name] = counters.get(name, 0) + 1
        self.version += 1

    # -- queries -----------------------------------------------------------------

    def entries(self) -> list[Entry]:
        """Every entry of the day, in the order first received."""
        return list(self._entries.values())

    def entry(self, key: Key) -> Entry | None:
        """The entry of a transaction key (see :meth:`key_of`), or ``None``."""
        return self._entries.get(tuple(key))

    def held(self) -> list[Entry]:
        """What the peer holds: approved, unreversed entries (requests and advices)."""
        return [
            e
            for e in self._entries.values()
            if e.response_code in self._approved and not e.reversed
        ]

    def effects(self, key: Key) -> KeyEffects:
        """What requests did to one transaction key (zeros when never seen)."""
        return KeyEffects(**self._effects.get(tuple(key), {}))

    def effect_counts(self) -> dict[Key, KeyEffects]:
        """:meth:`effects` of every key a request touched."""
        return {key: KeyEffects(**counts) for key, counts in self._effects.items()}

    def statistics(self) -> LedgerStatistics:
        """The counters, as a snapshot."""
        return LedgerStatistics(**self._counts)

    def close(self) -> None:
        """Close the record file, if any (the ledger can still be read)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
