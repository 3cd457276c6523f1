"""What a requester was told: the requester's side of the record that judges a gateway.

Why: "no money lost" is a statement about two records — the switch's (or a
home center's) record of the day, and what each requester was told. A
debit the switch holds must be one its requester was told was approved and
did not reverse. The switch keeps the first record (:class:`~.Ledger`);
this is the second, kept by a simulated center (or by the switch simulator
when it originates requests to the gateway).

A request is identified by its transaction key as sent (the dialect's key
fields: F7, F11, F32 for the center dialect). Per request it keeps the
card, the amount, which ledgers should hold it if it ends approved (the
workload knows: the switch for a bank leg, the card's home center for a
cross-region settlement), every answer received, and the reversal the
requester sent. An answer ``94`` (duplicate) tells the requester nothing
about the outcome; any other answer is final, and a second, different
final answer is counted (a gateway must answer a request once).

:meth:`RequesterRecord.unknown` lists the requests whose outcome the
requester never learned: a real center reverses them, and so does the
simulation. With a path, every change is appended as one JSON line, so a
requester process killed and started again keeps its record.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from ..iso import Message

__all__ = ["RequesterRecord", "Told"]

_NO_NEWS = frozenset({"94"})  # answers that say nothing about the outcome
_REVERSAL_DONE = frozenset({"00", "12", "25"})


def _text(message: Message, number: int) -> str:
    value = message.fields.get(number, "")
    return value if isinstance(value, str) else ""


@attrs.frozen(kw_only=True)
class Told:
    """One request as its requester knows it.

    Attributes:
        key: its transaction key as sent.
        mti, kind: its message type and transaction kind.
        pan: the card (the peer's own record; never shown by ``repr``).
        amount: F4 in fen.
        expects: the ledgers that must hold it if it ends approved and not
            reversed (``"switch"``, a home center's name).
        advice: whether it is an advice (delivered until acknowledged).
        sends: how many times it was sent (resends included).
        answer: the first final answer, ``None`` while none came.
        answers: every final answer received, in order.
        reversal: the answer to the requester's reversal of it, ``None``
            when it sent none or got none back.
        reversal_sent: whether the requester sent a reversal of it.
    """

    key: tuple[str, ...]
    mti: str
    kind: str
    pan: str = attrs.field(repr=False)
    amount: int
    expects: frozenset[str]
    advice: bool = False
    sends: int = 0
    answer: str | None = None
    answers: tuple[str, ...] = ()
    reversal: str | None = None
    reversal_sent: bool = False

    @property
    def approved(self) -> bool:
        """Told approved (``00``), whatever came after."""
        return self.answer == "00"

    @property
    def reversed(self) -> bool:
        """Reversed by the requester, and the reversal was acknowledged."""
        return self.reversal in _REVERSAL_DONE

    @property
    def holds(self) -> bool:
        """Whether the ledgers in :attr:`expects` must hold it: approved and not reversed."""
        return self.approved and not self.reversal_sent


class RequesterRecord:
    """The record of one requester (see module docs).

    Args:
        key_fields: the fields of the requester's dialect that identify a
            request (its ``[keys] transaction``).
        path: a JSON-lines file to keep the record in across restarts.
    """

    def __init__(
        self, key_fields: Iterable[int], path: str | os.PathLike[str] | None = None
    ) -> None:
        self._fields = tuple(key_fields)
        self._told: dict[tuple[str, ...], Told] = {}
        self.duplicate_answers = 0
        """Final answers that contradicted an earlier final answer of the same request."""
        self._path = Path(path) if path is not None else None
        if self._path is not None and self._path.exists():
            for line in self._path.read_text(encoding="utf-8").splitlines():
                try:
                    self._apply(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    break  # a torn last line: the process died mid-write

    @classmethod
    def open(cls, key_fields: Iterable[int], path: str | os.PathLike[str]) -> RequesterRecord:
        """The record kept in ``path``, for a requester process that may be killed.

        The file is created mode 0600 when missing (it holds clear PANs); a
        last line a killed process left without its line end is cut off
        first, so the next event starts a line of its own.

        Args:
            key_fields: as for the constructor.
            path: the JSON-lines file.

        Raises:
            OSError: the file cannot be created or read.
        """
        target = Path(path)
        fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(fd, "r+b") as stream:
            data = stream.read()
            if data and not data.endswith(b"\n"):
                stream.truncate(data.rfind(b"\n") + 1)
        return cls(key_fields, target)

    # -- recording -----------------------------------------------------------

    def key_of(self, message: Message) -> tuple[str, ...]:
        """The key of a request (its key fields as sent)."""
        return tuple(_text(message, n) for n in self._fields)

    def sent(
        self, message: Message, *, kind: str, expects: Iterable[str], advice: bool = False
    ) -> None:
        """A request (or a resend of one) left."""
        self._record(
            {
                "event": "sent",
                "key": list(self.key_of(message)),
                "mti": message.mti,
                "kind": kind,
                "pan": _text(message, 2),
                "amount": int(_text(message, 4) or "0"),
                "expects": sorted(expects),
                "advice": advice,
            }
        )

    def told(self, message: Message, response: Message | None) -> None:
        """What came back for ``message`` (``None``: nothing in time)."""
        if response is None:
            return
        code = _text(response, 39)
        self._record({"event": "told", "key": list(self.key_of(message)), "code": code})

    def reversal(self, original: Message, response: Message | None) -> None:
        """The requester sent a reversal of ``original``; ``response`` is its answer."""
        code = None if response is None else _text(response, 39)
        self._record({"event": "reversal", "key": list(self.key_of(original)), "code": code})

    def _record(self, event: dict[str, Any]) -> None:
        self._apply(event)
        if self._path is not None:
            with self._path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(event) + "\n")

    def _apply(self, event: dict[str, Any]) -> None:
        key = tuple(event["key"])
        kind = event["event"]
        if kind == "sent":
            known = self._told.get(key)
            if known is None:
                self._told[key] = Told(
                    key=key,
                    mti=event["mti"],
                    kind=event["kind"],
                    pan=event["pan"],
                    amount=int(event["amount"]),
                    expects=frozenset(event["expects"]),
                    advice=bool(event["advice"]),
                    sends=1,
                )
            else:
                self._told[key] = attrs.evolve(known, sends=known.sends + 1)
            return
        known = self._told[key]
        if kind == "told":
            code = str(event["code"])
            if code in _NO_NEWS:
                return
            if known.answer is not None and code != known.answer:
                self.duplicate_answers += 1
            self._told[key] = attrs.evolve(
                known, answer=known.answer or code, answers=(*known.answers, code)
            )
        elif kind == "reversal":
            code = event["code"]
            reversal = known.reversal if code is None else known.reversal or str(code)
            self._told[key] = attrs.evolve(known, reversal=reversal, reversal_sent=True)

    # -- queries ---------------------------------------------------------------

    def entries(self) -> list[Told]:
        """Every request, in the order first sent."""
        return list(self._told.values())

    def get(self, key: tuple[str, ...]) -> Told | None:
        """The request with ``key``, if sent."""
        return self._told.get(key)

    def unknown(self) -> list[Told]:
        """Requests (not advices) still to reverse: the outcome was never learned, or a reversal
        was sent and never acknowledged. A center reverses them (again)."""
        return [
            t
            for t in self._told.values()
            if not t.advice and not t.reversed and (t.answer is None or t.reversal_sent)
        ]

    def unanswered_advices(self) -> list[Told]:
        """Advices never acknowledged: a center sends them again."""
        return [t for t in self._told.values() if t.advice and t.answer is None]
