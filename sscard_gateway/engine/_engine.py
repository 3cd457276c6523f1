"""The transaction engine: one saga per inbound message, no I/O.

Theory of operation
-------------------
:meth:`Engine.inbound` turns a message from a link into a saga (see
:mod:`._decisions`): a generator of decisions the executor carries out.
Which saga is chosen by the source dialect's message types, never by a
dialect's name: its ``[reversal]`` MTIs make a reversal, its ``[advice]``
MTIs an advice, anything else a request.

A **request** is checked (the dialect's business checks), planned
(:mod:`._plan`) and its legs run in order. Each leg is journaled as sent —
in the same group as the transaction for the first one, guarded by the
transaction still being ``pending`` for the next ones — before its first
byte leaves; each answer is journaled before anything else happens; the
final group holds the last leg's answer, the transaction's status and
every reversal the outcome owes (:class:`~._compensate.Compensator`).
Only then is the requester answered. An approval that cannot be delivered
(the requester's line is gone) is reversed upstream.

A **reversal** finds its original by the key its field 90 names
(:func:`~._keys.original_key`). In one group it journals itself, marks the
original ``reversed`` (compare-and-set: whatever the original's legs are
doing) and owes the reversal of every leg that may hold money; the
requester gets ``00`` once that is durable. The original's own saga, when
its leg answers, finds its transaction no longer ``pending`` and owes what
it still holds: a late approval can never turn a reversed transaction
approved. A reversal of an original never seen is answered ``25`` and
leaves a tombstone under the original's key, so that an original arriving
after its reversal is refused as a duplicate, not debited.

An **advice** is accepted at once: its legs are journaled as owed advices
with the transaction, and store-and-forward delivers them until the
destination acknowledges (never reversed).

A repeated message (same key) is answered from the journal: a request with
the duplicate code, a reversal or advice with its first answer.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime

import attrs

from ..clearing import Cutover
from ..crypto import SecurityModule
from ..ids import AmountSplit
from ..iso import Dialect, Message
from ..iso.composite import transmission_time
from ..routing import InstitutionCodes, LegCounters, NoRoute, RouteTable, Translator
from ..store import (
    Duplicate,
    InsertTransaction,
    PanHasher,
    TransactionRecord,
    TransactionStatus,
    UpdateTransaction,
)
from ._advice import advice
from ._compensate import Compensator
from ._decisions import (
    Found,
    Read,
    Reply,
    Saga,
    Write,
    WriteFailed,
    Written,
)
from ._pin import PinRoute, translate_pin
from ._plan import Plan, plan_legs
from ._policy import SafPolicy
from ._records import (
    Draft,
    is_advice,
    is_reversal,
    new_record,
    text_of,
)
from ._request import request
from ._reversal import reversal

__all__ = ["Engine", "Peer"]

log = logging.getLogger("sscard_gateway.engine")

_PENDING = TransactionStatus.PENDING


@attrs.frozen(kw_only=True)
class Peer:
    """A link as the engine knows it.

    Attributes:
        name: its name (routes, journal).
        dialect: the dialect it speaks.
        pin_key: the name of its PIN key in the security module (``None``:
            PIN blocks are not translated to or from it).
        pin_format: its PIN block format.
    """

    name: str
    dialect: Dialect
    pin_key: str | None = None
    pin_format: str = "iso0"


class Engine:
    """The sans-I/O transaction engine (see the module docs).

    Args:
        peers: every link by name.
        bank: the name of the bank link (the switch), where bank legs go.
        routes: the route table.
        mappings: the translator from one link's dialect to another's,
            by (source link, destination link).
        institution: the gateway's institution codes (F32/F33 of its legs).
        counters: its STAN sequence (continued from the journal at start).
        security: the security module (PIN translation).
        hasher: the journal's PAN hash.
        cutover: the settlement date rule.
        policy: store-and-forward (owed items' expiry).
        request_timeout: seconds a leg waits for its answer.
        forward_to_members: route a request for another member's card to it.
    """

    def __init__(
        self,
        *,
        peers: Mapping[str, Peer],
        bank: str,
        routes: RouteTable,
        mappings: Callable[[str, str], Translator],
        institution: InstitutionCodes,
        counters: LegCounters,
        security: SecurityModule,
        hasher: PanHasher,
        cutover: Cutover,
        policy: SafPolicy,
        request_timeout: float,
        forward_to_members: bool = True,
    ) -> None:
        self.peers = dict(peers)
        self.bank = bank
        self.routes = routes
        self._mappings = mappings
        self.institution = institution
        self.counters = counters
        self.security = security
        self.hasher = hasher
        self.cutover = cutover
        self.policy = policy
        self.request_timeout = request_timeout
        self.forward_to_members = forward_to_members
        self.compensator = Compensator(
            {name: peer.dialect for name, peer in self.peers.items()}, counters, policy
        )
        self.counts: Counter[str] = Counter()
        """Events worth a metric: ``refused`` transitions, ``undeliverable`` answers..."""

    # -- entry ---------------------------------------------------------------------

    def inbound(self, source: str, message: Message, now: datetime) -> Saga:
        """The saga of one message received on link ``source`` (a request, reversal or advice).

        Args:
            source: the link's name.
            message: the message as decoded (MAC verified by the link).
            now: when it was received.

        Returns:
            The saga to drive.
        """
        peer = self.peers[source]
        if is_reversal(message):
            return reversal(self, peer, message, now)
        if is_advice(message):
            return advice(self, peer, message, now)
        return request(self, peer, message, now)

    # -- shared pieces (the sagas' modules use them) ---------------------------------

    def reply(self, message: Message, code: str, kind: str) -> Reply:
        return Reply(message.response_to(code), kind)

    def draft(
        self,
        peer: Peer,
        message: Message,
        kind: str,
        key: str,
        now: datetime,
        split: AmountSplit | None = None,
    ) -> Draft:
        return new_record(
            message,
            key=key,
            source=peer.name,
            kind=kind,
            now=now,
            hasher=self.hasher,
            settlement_date=self.cutover.settlement_date(now),
            split=split,
        )

    def mapping(self, source: str, destination: str) -> Translator:
        """The translator from link ``source``'s dialect to link ``destination``'s."""
        return self._mappings(source, destination)

    def bank_part(self, peer: Peer, message: Message) -> int | None:
        if peer.name == self.bank:
            return None
        return self._mappings(peer.name, self.bank).outbound_amount(message)

    def plan(self, peer: Peer, message: Message, split: AmountSplit | None) -> Plan | NoRoute:
        members = frozenset(n for n in self.peers if n not in (self.bank, peer.name))
        return plan_legs(
            message,
            source=peer.name,
            routes=self.routes,
            bank=self.bank,
            members=members,
            split=split,
            bank_part=self.bank_part(peer, message) if split is not None else None,
            forward_to_members=self.forward_to_members,
        )

    def outbound(
        self,
        source: Peer,
        message: Message,
        destination: str,
        now: datetime,
        *,
        original: Message | None = None,
        pin: bool = True,
    ) -> Message:
        """The leg to ``destination``: translated, with the PIN block re-enciphered.

        Raises:
            SscardError: the request does not translate (the error's code answers it).
        """
        target = self.peers[destination]
        outbound = self._mappings(source.name, destination).request(
            message,
            counters=self.counters,
            now_f7=transmission_time(now),
            institution=self.institution,
            original=original,
        )
        if not pin:
            spec = target.dialect.spec.pin
            return outbound.without(spec.field if spec else 52)
        route = PinRoute(
            from_key=source.pin_key,
            from_format=source.pin_format,
            to_key=target.pin_key,
            to_format=target.pin_format,
        )
        return translate_pin(self.security, message, outbound, route, target.dialect)

    def bank_fields(self, leg: Message, destination: str) -> dict[str, str]:
        """The transaction record's view of its bank leg (what clearing matches on)."""
        fields = {"destination": destination}
        if destination == self.bank:
            fields.update(
                upstream_stan=text_of(leg, 11),
                upstream_rrn=text_of(leg, 37),
                upstream_key="|".join(text_of(leg, n) for n in (7, 11, 32, 33)),
            )
        return fields

    def refused(self, result: Written, what: str) -> None:
        self.counts["refused"] += 1
        log.warning("%s: refused by the journal: %r", what, result.result.stopper)

    def end(
        self,
        key: str,
        status: TransactionStatus,
        code: str,
        now: datetime,
        **fields: str | None,
    ) -> UpdateTransaction:
        stamp = now.timestamp()
        return UpdateTransaction(
            transaction_key=key,
            updated_at=stamp,
            expect=_PENDING,
            status=status,
            response_code=code,
            responded_at=stamp,
            **fields,
        )

    def local(self, message: Message, record: Draft, kind: str) -> Saga:
        """Journal a request answered without any leg, then answer it."""
        outcome = yield Write([InsertTransaction(TransactionRecord(**record))])
        if isinstance(outcome, WriteFailed):
            yield from self.unwritten(message, record["transaction_key"], kind)
            return
        assert isinstance(outcome, Written)
        if not outcome.result.applied:
            yield from self.repeated(message, outcome, kind)
            return
        yield self.reply(message, record["response_code"], kind)

    def unwritten(self, message: Message, key: str, kind: str) -> Saga:
        """A message's first write failed: ``96``, unless its key is journaled already.

        A repeat the journal holds gets what :meth:`repeated` gives, never a
        refusal: a request the duplicate code (the original may be
        approved, and a decline would tell its requester that no money
        moved); a reversal or an advice its first answer (an advice
        accepted is delivered by store-and-forward whatever comes after).
        """
        found = yield Read(key)
        assert isinstance(found, Found)
        record = found.record
        if record is None:
            code = "96"
        elif is_reversal(message) or is_advice(message):
            code = record.response_code or "00"
        else:
            code = "94"
        yield self.reply(message, code, kind)

    def repeated(self, message: Message, outcome: Written, kind: str) -> Saga:
        """A message whose key is journaled: a request is a duplicate; a reversal or advice gets
        its first answer again (idempotent)."""
        stopper = outcome.result.stopper
        code = "94"
        if isinstance(stopper, Duplicate) and (is_reversal(message) or is_advice(message)):
            code = stopper.existing.response_code or "00"
        yield self.reply(message, code, kind)
