"""Identifiers and money: PAN, social security number, region code, card number, fen.

Every message the gateway routes carries one or more of these, and a wrong
one must be refused before it reaches a peer, with the response code that
names the fault (DOMAIN.md §1, §2 response codes):

* **PAN** (ISO/IEC 7812-1): 16 to 19 digits by default (DOMAIN.md §1), the
  last a Luhn (mod 10) check digit computed over the others. A bad PAN
  answers ``14`` (invalid card).
* **Social security number**: the 18-character citizen identity number whose
  last character is an ISO 7064 MOD 11-2 check (weights
  ``7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2``, remainder ``0..10`` maps to
  ``1 0 X 9 8 7 6 5 4 3 2``). Positions 1-6 are the GB/T 2260 region where it
  was first issued, 7-14 the birth date ``YYYYMMDD``, 15-17 a sequence number.
* **Region code**: the 6-digit GB/T 2260 administrative code that names a
  regional center (``110105``).
* **Social security card number**: the 9 characters printed on the card,
  distinct from the bank PAN.
* **Money**: integer fen (0.01 CNY), currency 156; never floating point.
  Amount fields on the wire are ``n12`` zero-padded fen (DOMAIN.md §2 field 4).

Error messages never contain the value checked: callers may log them.
Masking (:func:`mask_pan`, :func:`mask_ssn`) is for logs and display
(docs/architecture.md principle 5).
"""

from __future__ import annotations

import datetime
from typing import TypeAlias

import attrs

from .errors import DecodeError, ValidationError

__all__ = [
    "AmountSplit",
    "Fen",
    "PROVINCE_CODES",
    "format_amount_field",
    "format_yuan",
    "is_valid_pan",
    "luhn_check_digit",
    "mask_pan",
    "mask_ssn",
    "parse_amount_field",
    "ssn_check_char",
    "validate_card_number",
    "validate_pan",
    "validate_region_code",
    "validate_ssn",
]

Fen: TypeAlias = int
"""An amount of money in fen (0.01 CNY). A plain ``int``; never ``float``."""

#: GB/T 2260 province-level codes (the first two digits of a region code):
#: 31 provinces, autonomous regions and municipalities, Taiwan (71), Hong Kong
#: (81) and Macao (82). The set has not changed since Chongqing (50) in 1997.
PROVINCE_CODES: frozenset[str] = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37"}
    | {"41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64"}
    | {"65", "71", "81", "82"}
)

# Identity numbers issued to Taiwan residents living on the mainland (residence
# permits since 2018) begin with 830000; 81/82 serve Hong Kong and Macao.
_SSN_EXTRA_PROVINCES = frozenset({"83"})

_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
_SSN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_SSN_CHECK = "10X98765432"
_CARD_NUMBER_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_AMOUNT_CODE = "13"
_PAN_CODE = "14"


def _is_digits(value: str) -> bool:
    # str.isdigit() alone accepts "²" and other non-ASCII digits.
    return value.isascii() and value.isdigit()


def _luhn_sum(digits: str, *, double_rightmost: bool) -> int:
    total = 0
    double = double_rightmost
    for ch in reversed(digits):
        d = ord(ch) - 48
        total += _LUHN_DOUBLED[d] if double else d
        double = not double
    return total


def luhn_check_digit(digits: str) -> str:
    """Compute the Luhn (ISO/IEC 7812-1 Annex B) check digit for a PAN payload.

    Args:
        digits: the PAN without its check digit, ASCII digits only.

    Returns:
        The check digit, one character ``"0"``..``"9"``.

    Raises:
        ValidationError: ``digits`` is empty or not ASCII digits (code ``14``).
    """
    if not _is_digits(digits):
        raise ValidationError("PAN", "must be ASCII digits", _PAN_CODE)
    return str(-_luhn_sum(digits, double_rightmost=True) % 10)


def _pan_problem(pan: object, min_len: int, max_len: int) -> str | None:
    if not isinstance(pan, str) or not _is_digits(pan):
        return "must be ASCII digits"
    if not min_len <= len(pan) <= max_len:
        return f"must be {min_len} to {max_len} digits"
    if _luhn_sum(pan, double_rightmost=False) % 10:
        return "PAN check digit is wrong"
    return None


def is_valid_pan(pan: object, *, min_len: int = 16, max_len: int = 19) -> bool:
    """Tell whether ``pan`` is a well-formed PAN with a correct Luhn digit.

    Args:
        pan: the candidate; any object (non-strings are simply invalid).
        min_len: the fewest digits accepted (DOMAIN.md §1 says 16; ISO/IEC 7812
            allows down to 8, foreign cards commonly have 13 to 15).
        max_len: the most digits accepted.

    Returns:
        ``True`` when valid. Never raises.
    """
    return _pan_problem(pan, min_len, max_len) is None


def validate_pan(pan: object, *, min_len: int = 16, max_len: int = 19) -> str:
    """Check a PAN and return it unchanged.

    Args:
        pan: the candidate PAN.
        min_len: the fewest digits accepted.
        max_len: the most digits accepted.

    Returns:
        ``pan``.

    Raises:
        ValidationError: with ``what="PAN"`` and response code ``14``; the
            message says what is wrong and never contains the PAN.
    """
    problem = _pan_problem(pan, min_len, max_len)
    if problem is not None:
        raise ValidationError("PAN", problem, _PAN_CODE)
    assert isinstance(pan, str)  # for mypy: _pan_problem checked it
    return pan


def _mask(value: str, first: int, last: int, fill: str) -> str:
    n = len(value)
    first = max(first, 0)
    last = max(last, 0)
    if n < first + last + 6:
        # Short value: reveal at most half of it, the end first.
        budget = n // 2
        last = min(last, budget)
        first = min(first, budget - last)
    hidden = n - first - last
    return value[:first] + fill * hidden + value[n - last :]


def mask_pan(pan: str, *, first: int = 6, last: int = 4, fill: str = "*") -> str:
    """Mask a PAN for logs and display, keeping its length.

    The first ``first`` and last ``last`` characters stay visible when at
    least six characters would still be hidden (a 16-digit PAN with the
    defaults shows ``622588******4321``). A shorter value (a malformed or
    truncated PAN) never shows more than half of its characters: the last
    ones first (up to ``last``), then the first ones. Any string is accepted,
    valid or not, so a malformed field can still be logged safely.

    Args:
        pan: the PAN (or any string in its place).
        first: characters to keep at the start.
        last: characters to keep at the end.
        fill: the one character written for each hidden one.

    Returns:
        The masked string, as long as ``pan`` (with a one-character ``fill``).
    """
    return _mask(pan, first, last, fill)


def ssn_check_char(first17: str) -> str:
    """Compute the ISO 7064 MOD 11-2 check character of a social security number.

    Args:
        first17: the first 17 characters, ASCII digits.

    Returns:
        The check character, ``"0"``..``"9"`` or ``"X"``.

    Raises:
        ValidationError: ``first17`` is not 17 ASCII digits (code ``30``).
    """
    if len(first17) != 17 or not _is_digits(first17):
        raise ValidationError("social security number", "must start with 17 ASCII digits")
    total = sum(w * (ord(c) - 48) for w, c in zip(_SSN_WEIGHTS, first17, strict=True))
    return _SSN_CHECK[total % 11]


def validate_ssn(ssn: str, *, today: datetime.date | None = None) -> str:
    """Check a social security number (18-character citizen identity number).

    Rules: 18 characters; the first 17 ASCII digits; the last a digit or an
    upper-case ``X`` (lower-case ``x`` is refused: the wire form is canonical);
    the MOD 11-2 check matches; characters 7-14 form a real calendar date
    ``YYYYMMDD`` from 1880 on, and not after ``today`` when given (the module
    reads no clock). The first two digits must be a GB/T 2260 province code
    (:data:`PROVINCE_CODES`) or ``83`` (Taiwan residents' residence permits);
    a number beginning with ``9`` (foreigner's permanent residence identity
    card, 2023 format) must have a province code in characters 2-3
    **[assumed]**. The rest of the region code is not checked: codes of
    abolished counties remain valid on older identity numbers.

    Args:
        ssn: the candidate number.
        today: the current date, to refuse birth dates in the future.

    Returns:
        ``ssn``.

    Raises:
        ValidationError: ``what="social security number"``, response code
            ``30``, naming the rule broken but never the number.
    """
    what = "social security number"
    if not isinstance(ssn, str) or len(ssn) != 18:
        raise ValidationError(what, "must be 18 characters")
    if not _is_digits(ssn[:17]):
        raise ValidationError(what, "the first 17 characters must be digits")
    last = ssn[17]
    if last not in _SSN_CHECK:
        raise ValidationError(what, "the last character must be a digit or X")
    if ssn_check_char(ssn[:17]) != last:
        raise ValidationError(what, "check character is wrong")
    province = ssn[1:3] if ssn[0] == "9" else ssn[:2]
    if province not in PROVINCE_CODES and province not in _SSN_EXTRA_PROVINCES:
        raise ValidationError(what, "region code has no known province")
    try:
        born = datetime.date(int(ssn[6:10]), int(ssn[10:12]), int(ssn[12:14]))
    except ValueError:
        raise ValidationError(what, "birth date is not a calendar date") from None
    if born.year < 1880 or (today is not None and born > today):
        raise ValidationError(what, "birth date is not plausible")
    return ssn


def mask_ssn(ssn: str, *, first: int = 6, last: int = 1, fill: str = "*") -> str:
    """Mask a social security number for logs and display, keeping its length.

    By default the region code (first 6 characters, which names the home
    center and helps routing diagnostics) and the check character stay; the
    birth date and sequence number are personal data and are hidden
    (``110105***********X``). The short value rule of :func:`mask_pan`
    applies to malformed values.

    Args:
        ssn: the number (or any string in its place).
        first: characters to keep at the start.
        last: characters to keep at the end.
        fill: the one character written for each hidden one.

    Returns:
        The masked string.
    """
    return _mask(ssn, first, last, fill)


def validate_region_code(code: str) -> str:
    """Check a GB/T 2260 administrative region code (a regional center's id).

    Rules: exactly 6 ASCII digits whose first two are a province code in
    :data:`PROVINCE_CODES` (so ``000000`` is refused). The city and county
    digits are not checked against a list: GB/T 2260 changes every year and
    centers keep codes of merged districts.

    Args:
        code: the candidate code.

    Returns:
        ``code``.

    Raises:
        ValidationError: ``what="region code"``, response code ``30``.
    """
    if not isinstance(code, str) or len(code) != 6 or not _is_digits(code):
        raise ValidationError("region code", "must be 6 digits")
    if code[:2] not in PROVINCE_CODES:
        raise ValidationError("region code", "has no known province")
    return code


def validate_card_number(number: str) -> str:
    """Check a social security card number (the 9 characters printed on the card).

    Rules: exactly 9 characters, each an ASCII digit or upper-case letter
    ``A``-``Z``. No check character is published for this number, so only
    its shape is checked.

    Args:
        number: the candidate card number.

    Returns:
        ``number``.

    Raises:
        ValidationError: ``what="card number"``, response code ``14``.
    """
    if not isinstance(number, str) or len(number) != 9:
        raise ValidationError("card number", "must be 9 characters", _PAN_CODE)
    if not _CARD_NUMBER_CHARS.issuperset(number):
        raise ValidationError("card number", "must be digits and upper-case letters", _PAN_CODE)
    return number


def _check_fen(fen: object, what: str = "amount") -> int:
    # bool is an int subclass; float and Decimal are never money here.
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise ValidationError(what, "must be an int number of fen", _AMOUNT_CODE)
    return fen


def parse_amount_field(value: str, *, width: int = 12, field: str = "4") -> Fen:
    """Read a zero-padded amount field (``n12`` fen, DOMAIN.md §2 field 4).

    Args:
        value: the field value as decoded text.
        width: the field's fixed width.
        field: the field number, for errors.

    Returns:
        The amount in fen.

    Raises:
        DecodeError: ``value`` is not exactly ``width`` ASCII digits; the
            offset is that of the first bad character (or of the end).
    """
    if len(value) == width and _is_digits(value):
        return int(value)
    for offset, ch in enumerate(value[:width]):
        if not ("0" <= ch <= "9"):
            raise DecodeError(field, offset, f"{width} digits")
    raise DecodeError(field, min(len(value), width), f"exactly {width} digits")


def format_amount_field(fen: Fen, width: int = 12) -> str:
    """Write an amount as a zero-padded field value.

    Args:
        fen: the amount, a non-negative ``int`` (``bool`` and ``float`` refused).
        width: the field's fixed width.

    Returns:
        ``width`` digits.

    Raises:
        ValidationError: ``what="amount"``, response code ``13``, when the
            amount is not an int, is negative or does not fit ``width`` digits.
    """
    _check_fen(fen)
    if fen < 0:
        raise ValidationError("amount", "must not be negative", _AMOUNT_CODE)
    text = str(fen)
    if len(text) > width:
        raise ValidationError("amount", f"does not fit {width} digits", _AMOUNT_CODE)
    return text.zfill(width)


def format_yuan(fen: Fen) -> str:
    """Write fen as yuan for display: ``12345`` gives ``"123.45"``, ``-5`` ``"-0.05"``.

    Args:
        fen: the amount; negative amounts (net settlement) are allowed.

    Returns:
        The amount in yuan with exactly two decimals.

    Raises:
        ValidationError: ``fen`` is not an int (response code ``13``).
    """
    _check_fen(fen)
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{yuan}.{cents:02d}"


def _non_negative_fen(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    _check_fen(value, "amount split")
    assert isinstance(value, int)
    if value < 0:
        raise ValidationError("amount split", f"{attribute.name} is negative", _AMOUNT_CODE)


@attrs.frozen
class AmountSplit:
    """How a medical settlement's total divides between payers (DOMAIN.md §1).

    ``fund`` is paid by the insurance fund (owed between regions in
    cross-region settlement), ``personal_account`` from the holder's personal
    medical account, ``cash`` (self-pay) through the card's bank account over
    CUPS. All in fen.

    Raises:
        ValidationError: response code ``13`` when a part is not an int, is
            negative, or the parts do not add up to ``total``.
    """

    total: Fen = attrs.field(validator=_non_negative_fen)
    fund: Fen = attrs.field(validator=_non_negative_fen)
    personal_account: Fen = attrs.field(validator=_non_negative_fen)
    cash: Fen = attrs.field(validator=_non_negative_fen)

    def __attrs_post_init__(self) -> None:
        if self.fund + self.personal_account + self.cash != self.total:
            raise ValidationError(
                "amount split", "fund + personal account + cash differs from total", _AMOUNT_CODE
            )

    @classmethod
    def from_parts(cls, *, fund: Fen, personal_account: Fen, cash: Fen) -> AmountSplit:
        """Build a split whose total is the sum of its parts.

        Raises:
            ValidationError: a part is not an int or is negative (code ``13``).
        """
        for part in (fund, personal_account, cash):
            _check_fen(part, "amount split")
        return cls(fund + personal_account + cash, fund, personal_account, cash)
