"""Reading what can be trusted of a malformed frame, to answer it with ``30``.

Why: a peer's request that does not decode still deserves an answer when
we can tell which exchange it belongs to (docs/architecture.md principle 6, "a
bad frame from a peer gets a reject or is dropped, and the link stays up");
otherwise the peer waits out its timeout and may reverse. ISO 8583 fields
are read in order, so every field before the one that failed is sound. If
the MTI is a request's and every key field the bitmap announces (DOMAIN.md
§2: CUPS F7, F11, F32, F33) was read, the format error response (F39 ``30``)
can be built; otherwise the frame is dropped.

pyiso8583's ``DecodeError`` carries the fields decoded before the failure;
the dialect's own decoder drops them (it must not hold card data), so this
module decodes the body once more, only on this error path, and keeps only
the fields a response echoes.
"""

from __future__ import annotations

from typing import Any

import iso8583

from ..errors import EncodeError, SscardError
from ..iso import Dialect, FieldValue, Message
from ..iso.framing import CUPS_HEADER_LENGTH, CupsHeader, Header, PosHeader
from ._pending import MatchKeys

__all__ = ["salvage_request"]


def _split(dialect: Dialect, payload: bytes) -> tuple[Header | None, bytes] | None:
    kind = dialect.spec.header
    try:
        if kind == "cups":
            versions = frozenset(dialect.spec.header_options.get("versions", [2]))
            header, _ = CupsHeader.decode(payload, 0, versions=versions)
            if header.rejected:
                return None
            return header, payload[CUPS_HEADER_LENGTH:]
        if kind == "pos":
            return PosHeader.decode(payload, 0), payload[11:]
    except SscardError:
        return None
    return None, payload


def _present(doc: dict[str, Any]) -> set[int]:
    out: set[int] = set()
    for key, base in (("p", 0), ("1", 64)):
        bitmap = doc.get(key)
        if not isinstance(bitmap, str):
            continue
        try:
            bits = int(bitmap, 16)
        except ValueError:
            continue
        width = len(bitmap) * 4
        out.update(base + i + 1 for i in range(width) if bits >> (width - 1 - i) & 1)
    return out


def salvage_request(dialect: Dialect, payload: bytes, match: MatchKeys) -> Message | None:
    """The trustworthy part of a malformed request, or ``None``.

    Args:
        dialect: the link's dialect.
        payload: the frame without its length prefix.
        match: the dialect's match key rule.

    Returns:
        A message holding the MTI, header and the readable fields a
        response echoes, when the MTI is a request's and every key field
        present on the wire could be read; otherwise ``None``.
    """
    split = _split(dialect, payload)
    if split is None:
        return None
    header, body = split
    failed: str | None = None
    try:
        doc, _ = iso8583.decode(body, dialect.compiled)
    except iso8583.DecodeError as exc:
        doc, failed = exc.doc_dec, str(exc.field)
    except Exception:  # pyiso8583 can fail in other ways on garbage
        return None
    mti = doc.get("t")
    if not isinstance(mti, str) or len(mti) != 4 or not mti.isdigit() or int(mti[2]) % 2:
        return None
    spec = dialect.spec
    wanted = set(spec.response_echo) | set(spec.match_key)
    for rule in spec.match_rules:
        wanted.update(rule.fields)
    fields: dict[int, FieldValue] = {}
    for key, value in doc.items():
        if not key.isdigit() or key == failed or not isinstance(value, str):
            continue
        number = int(key)
        fspec = spec.fields.get(number)
        if number not in wanted or fspec is None or fspec.cls.value == "z":
            continue
        if fspec.binary:
            try:
                fields[number] = bytes.fromhex(value)
            except ValueError:
                continue
        else:
            fields[number] = value
    message = _drop_invalid(dialect, Message(mti, fields, header=header, dialect=dialect))
    if message is None:
        return None
    present = _present(doc)
    for number in match.fields_for(message):
        if number in present and number not in message.fields:
            return None
    return message


def _drop_invalid(dialect: Dialect, message: Message) -> Message | None:
    # Encoding checks every value against its class; drop what fails.
    for _ in range(len(message.fields) + 1):
        try:
            dialect.encode(message)
        except EncodeError as exc:
            if not exc.field.isdigit() or int(exc.field) not in message.fields:
                return None
            message = message.without(int(exc.field))
            continue
        return message
    return None
