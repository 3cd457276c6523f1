"""``sscard-gateway owed``: the exception queue, for the operator.

Why a command: a reversal or advice that store-and-forward could not
deliver (past its business expiry, or answered with a code the
destination's dialect lists as final) is money in doubt, and the gateway
never gives it up by itself — not after any number of attempts. It waits
in the journal's exception queue until an operator looks at it and either
sends it again or settles it by hand, saying who and why.

``owed list`` shows the queue (or the items of another status), ``owed
show ID`` one item with its message decoded in the destination link's
dialect (masked: never a clear PAN, PIN, track, key or MAC) and its leg,
``owed retry ID`` puts an item back in the store-and-forward queue with a
new expiry, and ``owed resolve ID --by WHO --why TEXT`` settles it. Each
move is the engine's decision (:func:`sscard_gateway.engine.retry`,
:func:`~sscard_gateway.engine.resolve`) applied as one journal group, item
and leg together, compare-and-set: an item another operator (or the
gateway) moved meanwhile is refused, never overwritten. A running gateway
picks a retried item up at its next store-and-forward round (it reads due
items from the journal). Every command takes ``--config gateway.toml`` and
opens the journal it names with its keys; errors are one line, exit 2.
"""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import InvalidConfig, ServiceConfig, load_config
from ..engine import resolve, retry
from ..errors import DecodeError, RejectedByPeer, SpecError, SscardError
from ..gateway import link_dialects
from ..iso.display import describe_message
from ..store import (
    Journal,
    LegRecord,
    NotFound,
    Op,
    OwedItem,
    OwedStatus,
    Refused,
    SQLiteJournal,
    UpdateLeg,
)

__all__ = ["OwedError", "register"]

_STATUSES = ("owed", "exception", "done", "resolved", "all")
_SCAN = 100_000
"""Items read when ``--destination`` filters them (the journal filters by status only)."""


class OwedError(SscardError):
    """An ``owed`` command cannot do what it was asked: ``<what>: <why>``.

    Raised for an unknown item id, an item not in the exception queue, a
    destination the configuration has no link for, or a group the journal
    refused (the item or its leg moved meanwhile).
    """

    def __init__(self, what: str, why: str) -> None:
        self.what = what
        self.why = why
        super().__init__(f"{what}: {why}")


def _clock() -> datetime:
    """The time of a move (replaced in tests; nothing else reads a clock here)."""
    return datetime.now(UTC)


def register(sub: Any) -> None:
    """Add the ``owed`` command group (``list``, ``show``, ``retry``, ``resolve``)."""
    owed = sub.add_parser(
        "owed",
        help="the exception queue: list, show, retry or resolve owed reversals and advices",
        description="Inspect and settle the owed reversals and advices the journal holds "
        "(docs/operations.md, The exception queue).",
    )
    osub = owed.add_subparsers(dest="owed_command", required=True, metavar="ACTION")

    p = osub.add_parser(
        "list",
        help="list owed items (default: the exception queue)",
        description="One line per owed item, oldest first; never the payload.",
    )
    _config_option(p)
    p.add_argument(
        "--status",
        choices=_STATUSES,
        default="exception",
        help="only items with this status (default exception; all: every status)",
    )
    p.add_argument("--destination", metavar="NAME", help="only items owed to this link")
    p.add_argument(
        "--limit", type=_positive, default=100, metavar="N", help="at most N items (default 100)"
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(run=_list)

    p = osub.add_parser(
        "show",
        help="one item: every field, its message decoded and masked, its leg",
        description="Every field of an owed item, the message it carries decoded in the "
        "destination link's dialect (PAN masked; no PIN, track, key or MAC), and its leg.",
    )
    _config_option(p)
    p.add_argument("id", metavar="ID", help="the owed item's id (from owed list)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_show)

    p = osub.add_parser(
        "retry",
        help="send an item of the exception queue again (a new expiry from now)",
        description="Put an item of the exception queue back in the store-and-forward queue, "
        "its leg with it; a running gateway sends it (as a repeat) at its next round.",
    )
    _config_option(p)
    p.add_argument("id", metavar="ID", help="the owed item's id (from owed list)")
    p.add_argument(
        "--by", type=_note, metavar="WHO", help="who retries it, for the record (default: $USER)"
    )
    p.set_defaults(run=_retry)

    p = osub.add_parser(
        "resolve",
        help="settle an item of the exception queue by hand (who and why are kept)",
        description="Take an item out of the exception queue, its leg with it, once the money "
        "is settled another way; who and why are kept on the item.",
    )
    _config_option(p)
    p.add_argument("id", metavar="ID", help="the owed item's id (from owed list)")
    p.add_argument(
        "--by", type=_note, required=True, metavar="WHO", help="who settles it (kept on the item)"
    )
    p.add_argument(
        "--why",
        type=_note,
        required=True,
        metavar="TEXT",
        help="how it was settled, e.g. a ticket number (kept on the item)",
    )
    p.set_defaults(run=_resolve)


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without one)
        return "an unnamed operator"


def _config_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        type=Path,
        required=True,
        metavar="FILE",
        help="the gateway.toml naming the journal and its keys",
    )


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _note(text: str) -> str:
    """An operator's note: one line of ASCII, no card data (the journal keeps it as is)."""
    from ..service import mask_secrets

    note = text.strip()
    if not note or not note.isascii() or not note.isprintable():
        raise argparse.ArgumentTypeError("must be one non-empty line of ASCII text")
    if mask_secrets(note) != note:
        raise argparse.ArgumentTypeError("must not carry a card number or key material")
    return note


# -- the journal -----------------------------------------------------------------------------


def _config(path: Path) -> ServiceConfig:
    try:
        return load_config(path)
    except InvalidConfig as exc:
        more = len(exc.errors) - 1
        hint = f" (and {more} more: sscard-gateway check-config {path})" if more else ""
        raise SpecError(exc.file, exc.where, exc.problem + hint) from None


def _journal(config: ServiceConfig) -> SQLiteJournal:
    from ..service import open_journal

    path = config.journal.path
    if not Path(path).is_file():
        raise SpecError(config.file, "journal.path", f"no journal at {path}")
    return open_journal(config)


def _item(journal: Journal, id: str) -> OwedItem:
    item = journal.get_owed(id)
    if item is None:
        raise OwedError(f"owed item {id}", "no such item in the journal (see owed list)")
    return item


def _in_queue(item: OwedItem, action: str) -> None:
    if item.status is not OwedStatus.EXCEPTION:
        why = f"it is {item.status.value}, not in the exception queue; only those can be {action}"
        raise OwedError(f"owed item {item.id}", why)


def _apply(journal: Journal, item: OwedItem, ops: Sequence[Op], action: str) -> OwedItem:
    """Apply ``ops`` as one group; a refusal becomes one :class:`OwedError` line."""
    result = journal.apply_groups([ops])[0]
    if result.applied:
        moved = result.results[0]
        assert isinstance(moved, OwedItem)
        return moved
    stopper = result.stopper
    if isinstance(stopper, Refused) and isinstance(stopper.current, OwedItem):
        why = f"it moved to {stopper.current.status.value} meanwhile"
    elif isinstance(stopper, Refused) and isinstance(stopper.current, LegRecord):
        why = f"its leg {stopper.current.leg_id} is {stopper.current.state.value}, not exception"
    elif isinstance(stopper, NotFound):
        why = f"{stopper.key} is not in the journal"
    else:
        why = f"the journal refused the change ({type(stopper).__name__})"
    raise OwedError(f"owed item {item.id}", f"not {action}: {why}; nothing was changed")


def _leg(journal: Journal, item: OwedItem) -> LegRecord | None:
    if item.leg_id is None:
        return None
    return next((x for x in journal.legs(item.transaction_key) if x.leg_id == item.leg_id), None)


# -- display ---------------------------------------------------------------------------------


def _when(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, UTC).astimezone().isoformat(timespec="seconds")


def _item_dict(item: OwedItem) -> dict[str, Any]:
    """Every field of ``item`` but the payload (its length only), times in local ISO."""
    return {
        "id": item.id,
        "kind": item.kind.value,
        "destination": item.destination,
        "transaction_key": item.transaction_key,
        "status": item.status.value,
        "attempts": item.attempts,
        "last_response_code": item.last_response_code,
        "created_at": _when(item.created_at),
        "updated_at": _when(item.updated_at),
        "next_attempt_at": _when(item.next_attempt_at),
        "expires_at": _when(item.expires_at),
        "leg_id": item.leg_id,
        "stan": item.stan,
        "repeat": item.repeat,
        "reason": item.reason,
        "resolution": item.resolution,
        "payload_bytes": len(item.payload),
    }


def _leg_dict(leg: LegRecord) -> dict[str, Any]:
    return {
        "leg_id": leg.leg_id,
        "step": leg.step,
        "kind": leg.kind.value,
        "destination": leg.destination,
        "mti": leg.mti,
        "stan": leg.stan,
        "leg_key": leg.leg_key,
        "amount": leg.amount,
        "state": leg.state.value,
        "response_code": leg.response_code,
        "created_at": _when(leg.created_at),
        "updated_at": _when(leg.updated_at),
    }


def _message(config: ServiceConfig, item: OwedItem) -> dict[str, Any]:
    """The payload decoded in the destination's dialect and masked, or why it is not."""
    dialect = link_dialects(config.gateway).get(item.destination)
    if dialect is None:
        return {"error": f"{item.destination!r} is not a link of {config.file}: not decoded"}
    try:
        return describe_message(dialect.decode(item.payload))
    except (DecodeError, RejectedByPeer) as exc:
        return {"error": f"cannot decode it in the {dialect.name} dialect: {exc}"}


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# -- the commands ----------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    config = _config(args.config)
    status = None if args.status == "all" else OwedStatus(args.status)
    with _journal(config) as journal:
        scan = _SCAN if args.destination else args.limit
        items = journal.owed_items(status=status, limit=scan)
    if args.destination:
        items = [i for i in items if i.destination == args.destination][: args.limit]
    if args.json:
        for item in items:
            print(json.dumps(_item_dict(item), ensure_ascii=False))
        return 0
    if not items:
        where = f" owed to {args.destination}" if args.destination else ""
        print(f"no owed items with status {args.status}{where}")
        return 0
    rows = [
        [
            "ID", "KIND", "DESTINATION", "TRANSACTION KEY", "STATUS", "ATTEMPTS", "LAST CODE",
            "CREATED", "UPDATED", "REASON / RESOLUTION",
        ]
    ]  # fmt: skip
    for item in items:
        d = _item_dict(item)
        note = item.resolution if item.status is OwedStatus.RESOLVED else item.reason
        rows.append(
            [
                item.id, d["kind"], item.destination, item.transaction_key, d["status"],
                str(item.attempts), _text(item.last_response_code), d["created_at"],
                d["updated_at"], _text(note),
            ]
        )  # fmt: skip
    _table(rows)
    if len(items) == args.limit:
        print(f"(the first {args.limit}; --limit N for more)")
    return 0


def _show(args: argparse.Namespace) -> int:
    config = _config(args.config)
    with _journal(config) as journal:
        item = _item(journal, args.id)
        leg = _leg(journal, item)
        record = journal.get_transaction(item.transaction_key)
    message = _message(config, item)
    transaction = None
    if record is not None:
        transaction = {"status": record.status.value, "kind": record.kind, "pan": record.pan_masked}
    if args.json:
        out = {
            "item": _item_dict(item),
            "leg": None if leg is None else _leg_dict(leg),
            "transaction": transaction,
            "message": message,
        }
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"owed item {item.id}")
    for key, value in _item_dict(item).items():
        if key != "id":
            print(f"  {key.replace('_', ' '):<20}{_text(value)}")
    if leg is not None:
        print(f"leg {leg.leg_id}: state {leg.state.value}")
        for key, value in _leg_dict(leg).items():
            if key not in ("leg_id", "state"):
                print(f"  {key.replace('_', ' '):<20}{_text(value)}")
    elif item.leg_id is None:
        print("leg: none recorded (owed by a gateway before legs were journaled)")
    else:
        print(f"leg {item.leg_id}: not in the journal")
    if transaction is not None:
        shown = ", ".join(f"{k} {v}" for k, v in transaction.items() if v)
        print(f"transaction {item.transaction_key}: {shown}")
    if "error" in message:
        print(f"message: {message['error']}")
        return 0
    print(f"message ({message['dialect']} dialect, masked): MTI {message['mti']}")
    width = max((len(f["name"]) for f in message["fields"]), default=0) + 2
    for field in message["fields"]:
        print(f"  F{field['field']:<4}{field['name']:<{width}}{field['value']}")
    return 0


def _retry(args: argparse.Namespace) -> int:
    config = _config(args.config)
    who = args.by or _user()
    with _journal(config) as journal:
        item = _item(journal, args.id)
        _in_queue(item, "retried")
        if item.destination not in link_dialects(config.gateway):
            why = f"{item.destination!r} is not a link of {config.file}; resolve it instead"
            raise OwedError(f"owed item {item.id}", why)
        ops = retry(item, _clock(), config.gateway.saf)
        moved = _apply(journal, item, ops, "retried")
    states = [op.state.value for op in ops if isinstance(op, UpdateLeg) and op.state is not None]
    leg = f", leg {item.leg_id} {states[0]}" if states else ""
    print(
        f"owed item {moved.id}: retried by {who}: owed again to {moved.destination} "
        f"(sent as a repeat at the next store-and-forward round), expires "
        f"{_when(moved.expires_at)}{leg}"
    )
    return 0


def _resolve(args: argparse.Namespace) -> int:
    config = _config(args.config)
    with _journal(config) as journal:
        item = _item(journal, args.id)
        _in_queue(item, "resolved")
        ops = resolve(item, _clock(), who=args.by, why=args.why)
        moved = _apply(journal, item, ops, "resolved")
    leg = f", leg {item.leg_id} resolved" if item.leg_id is not None else ""
    print(f"owed item {moved.id}: resolved ({moved.resolution}){leg}")
    return 0
