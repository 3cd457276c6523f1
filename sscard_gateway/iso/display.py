"""Masked display of messages for logs, the CLI and ``repr``.

Secrets never leak (docs/architecture.md principle 5). What a field holds comes
from the dialect's ``sensitive`` setting (or, for a message without a
dialect, the usual ISO 8583 positions):

* ``pan`` — first 6 and last 4 digits kept, the rest ``*``;
* ``ssn`` — the social security number's region code and check character kept;
* ``track``, ``pin``, ``key``, ``mac``, ``cryptogram`` — wiped, only the
  length shown;
* field 55 — a list of tags; cryptograms and other secret tags wiped;
* usage-tagged fields (48, 63) whose usage carries a key or a PIN block
  (``NK``, ``SM``) — tag kept, data wiped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import DecodeError
from ..ids import mask_pan, mask_ssn

if TYPE_CHECKING:
    from .message import FieldValue, Message

__all__ = ["describe_message", "mask_fields", "mask_value"]

_WIPED = {"track", "pin", "key", "mac", "cryptogram"}


def _secret_usages(message: Message) -> frozenset[str]:
    dialect = message.dialect
    if dialect is None:
        return frozenset({"NK", "SM"})
    spec = dialect.spec
    usages = set()
    if spec.pin is not None and spec.pin.sm4_usage:
        usages.add(spec.pin.sm4_usage)
    if spec.network is not None and spec.network.key_exchange is not None:
        usage = spec.network.key_exchange.pin_key_usage
        if usage:
            usages.add(usage)
    return frozenset(usages)


def _sensitivity(message: Message, number: int) -> tuple[str | None, str | None]:
    from .message import default_secret

    dialect = message.dialect
    if dialect is None:
        kind = default_secret(number)
        return kind, "tlv" if number == 55 else None
    f = dialect.spec.fields.get(number)
    if f is None:
        return default_secret(number), None
    kind = f.sensitive.value
    return (None if kind == "none" else kind), f.composite


def mask_value(kind: str | None, value: FieldValue) -> str:
    """Display ``value`` for a field of sensitivity ``kind``."""
    if kind is None:
        return value.hex().upper() if isinstance(value, bytes) else value
    if kind in _WIPED:
        unit = "bytes" if isinstance(value, bytes) else "chars"
        return f"<{kind} wiped, {len(value)} {unit}>"
    text = value.hex().upper() if isinstance(value, bytes) else value
    if kind == "pan":
        return mask_pan(text)
    if kind == "ssn":
        return mask_ssn(text)
    return f"<{kind} wiped>"


def _mask_tlv(value: FieldValue) -> str:
    from .tlv import describe, parse_tlv

    if not isinstance(value, bytes):
        return "<unreadable chip data wiped>"
    try:
        items = parse_tlv(value)
    except DecodeError:
        return f"<malformed chip data wiped, {len(value)} bytes>"
    return " ".join(f"{'  ' * r.depth}{r.tag}={r.value}" for r in describe(items))


def mask_fields(message: Message) -> dict[int, str]:
    """Every field of ``message`` as a display string, secrets masked."""
    usages: frozenset[str] | None = None
    out: dict[int, str] = {}
    for number in sorted(message.fields):
        value = message.fields[number]
        kind, composite = _sensitivity(message, number)
        if composite == "tlv":
            out[number] = _mask_tlv(value)
            continue
        if composite == "usage" and isinstance(value, str):
            if usages is None:
                usages = _secret_usages(message)
            if value[:2] in usages:
                out[number] = f"{value[:2]}<wiped, {len(value) - 2} chars>"
                continue
        out[number] = mask_value(kind, value)
    return out


def describe_message(message: Message) -> dict[str, Any]:
    """A JSON-ready, masked description: MTI, header and named fields."""
    from .framing import CupsHeader, PosHeader

    names = {}
    if message.dialect is not None:
        names = {n: f.name for n, f in message.dialect.spec.fields.items()}
    header: dict[str, Any] | None = None
    h = message.header
    if isinstance(h, CupsHeader):
        header = {
            "kind": "cups",
            "destination": h.destination,
            "source": h.source,
            "test": h.test,
            "version": h.version,
            "batch": h.batch,
            "transaction_info": h.transaction_info,
            "user_info": h.user_info,
            "reject_code": h.reject_code,
        }
    elif isinstance(h, PosHeader):
        header = {
            "kind": "pos",
            "tpdu": {"id": h.tpdu.id, "destination": h.tpdu.destination, "source": h.tpdu.source},
            "application": h.application,
            "version": h.version,
            "status": h.status,
            "request": h.request,
            "reserved": h.reserved,
        }
    return {
        "dialect": message.dialect.name if message.dialect is not None else None,
        "mti": message.mti,
        "header": header,
        "fields": [
            {"field": n, "name": names.get(n, f"Field {n}"), "value": v}
            for n, v in message.masked().items()
        ],
    }
