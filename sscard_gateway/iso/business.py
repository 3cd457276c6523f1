"""Business checks and typed reads that a dialect file declares.

Decoding proves a message is well formed; this module says whether it is
valid for the business (DOMAIN.md §1), with the response code that answers
it: a PAN whose Luhn digit is wrong ``14``, a social security number whose
MOD 11-2 character is wrong ``30``, an amount split that does not add up
``13``. Which fields are checked, and how, is data: ``check = "pan" | "ssn"
| "region" | "card_number"`` and ``values = {...}`` on a field, and
``[validation] amount_total / amount_split`` in the dialect file.

Amounts are integer fen end to end: :func:`amount` and :func:`amount_split`
read them as ``int``, never as floating point.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from ..errors import ValidationError
from ..ids import (
    AmountSplit,
    parse_amount_field,
    validate_card_number,
    validate_pan,
    validate_region_code,
    validate_ssn,
)
from .composite import FixedLayout
from .dialect import Dialect
from .message import Message

__all__ = ["amount", "amount_split", "layout", "subfields", "validate"]

_CHECKS: dict[str, Callable[[str], object]] = {
    "pan": validate_pan,
    "ssn": validate_ssn,
    "region": validate_region_code,
    "card_number": validate_card_number,
}


@functools.lru_cache(maxsize=256)
def layout(dialect: Dialect, field: int) -> FixedLayout:
    """The subfield layout of ``field`` as the dialect file declares it.

    Raises:
        KeyError: the field has no layout.
    """
    spec = dialect.spec
    name = spec.fields[field].layout
    if name is None:
        raise KeyError(field)
    parts = [[n, width, required] for n, width, required in spec.layouts[name]]
    return FixedLayout.from_spec(parts, file=spec.file, where=f"layouts.{name}", field=str(field))


def _dialect(message: Message) -> Dialect:
    if message.dialect is None:
        raise ValidationError("message", "has no dialect to validate against")
    return message.dialect


def subfields(message: Message, field: int) -> dict[str, str]:
    """Field ``field`` of ``message`` split by its layout.

    Raises:
        DecodeError: the value does not fit the layout.
        KeyError: the field is absent or has no layout.
    """
    value = message.fields[field]
    if not isinstance(value, str):
        raise KeyError(field)
    return layout(_dialect(message), field).parse(value)


def amount(message: Message, field: int = 4) -> int:
    """An amount field as integer fen.

    Raises:
        DecodeError: the field is not digits; KeyError: it is absent.
    """
    value = message.fields[field]
    if not isinstance(value, str):
        raise KeyError(field)
    return parse_amount_field(value, width=len(value), field=str(field))


def amount_split(message: Message) -> AmountSplit | None:
    """The medical settlement split (total = fund + personal account + cash).

    Returns ``None`` when the dialect declares no split or the message
    carries none.

    Raises:
        ValidationError: code ``13`` when the parts do not add up to the total.
    """
    spec = _dialect(message).spec
    if spec.amount_split is None or spec.amount_split not in message.fields:
        return None
    parts = subfields(message, spec.amount_split)
    total_field = spec.amount_total
    total = None
    if total_field is not None and total_field in message.fields:
        total = amount(message, total_field)
    fund = int(parts.get("fund", "0"))
    personal = int(parts.get("personal_account", "0"))
    cash = int(parts.get("cash", "0"))
    if total is None:
        return AmountSplit.from_parts(fund=fund, personal_account=personal, cash=cash)
    return AmountSplit(total, fund, personal, cash)


def validate(message: Message) -> AmountSplit | None:
    """Run every business check the dialect declares on ``message``.

    Returns:
        The amount split it checked (see :func:`amount_split`), so callers
        need not parse it again.

    Raises:
        ValidationError: the first failure, with its response code.
    """
    spec = _dialect(message).spec
    for number, value in message.fields.items():
        f = spec.fields.get(number)
        if f is None or not isinstance(value, str):
            continue
        if f.check is not None:
            _CHECKS[f.check](value)
        if f.values and value not in f.values:
            allowed = ", ".join(sorted(f.values))
            raise ValidationError(f"field {number}", f"must be one of {allowed}", "12")
    return amount_split(message)
