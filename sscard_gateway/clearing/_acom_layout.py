"""The layout of UnionPay's acquirer clearing file, loaded from data.

Why data (docs/architecture.md principle 2): DOMAIN.md §6 lists the ACOM
fields' order and widths, but several fields are not public. The layout
therefore lives in ``specs/formats/cups_acom.toml``, unnamed fields kept as
named placeholders (``reserved_N``), so a center completes or corrects it
without a release. The file is checked when loaded and its errors name the
file, the place and the problem (:class:`~sscard_gateway.errors.SpecError`).

A layout compiles once into what reading a million lines needs: the
offsets of every field, one regular expression that validates a whole line
(exact widths, character classes, separators), per-field patterns that say
which field of a bad line is wrong, and a formatter for writing.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from ..errors import AcomFormatError, SpecError
from ..iso import specs_dir

__all__ = ["AcomField", "AcomLayout", "load_acom_layout"]

#: Field names the reader, the writer and reconciliation rely on.
REQUIRED_NAMES: Final = (
    "acquirer",
    "stan",
    "transmission_time",
    "pan",
    "amount",
    "mti",
    "processing_code",
    "rrn",
    "response_code",
)
TYPES: Final = ("n", "id", "pan", "an", "ans", "amount", "signed", "reserved")
_LEFT_DIGITS = ("id", "pan")
_CLASSES = {"n": "[0-9]", "amount": "[0-9]", "an": "[0-9A-Za-z ]", "ans": "[ -~]"}
_CLASSES["reserved"] = _CLASSES["ans"]
_WHAT = {
    "n": "{w} digits",
    "amount": "{w} digits (fen, zero-padded)",
    "id": "digits, left-aligned in {w} characters",
    "pan": "digits, left-aligned in {w} characters",
    "an": "{w} letters, digits or spaces",
    "ans": "{w} printable ASCII characters",
    "reserved": "{w} printable ASCII characters",
    "signed": "C or D, then {d} digits",
}


@attrs.frozen(kw_only=True)
class AcomField:
    """One fixed-width field of the layout.

    Attributes:
        name: the field's name (``reserved_N`` for the ones not public).
        width: characters, the separator not included.
        type: one of ``n id pan an ans amount signed reserved``.
        required: ``False`` lets the field be all spaces.
        offset: where it starts in the line (0-based).
        doc: what it holds.
    """

    name: str
    width: int
    type: str
    required: bool
    offset: int
    doc: str = ""

    def pattern(self) -> str:
        """The regular expression of the field's value (without separator)."""
        w = self.width
        if self.type in _LEFT_DIGITS:
            body = "|".join(f"[0-9]{{{k}}}{' ' * (w - k)}" for k in range(w, 0, -1))
        elif self.type == "signed":
            body = f"[CD][0-9]{{{w - 1}}}"
        else:
            body = f"{_CLASSES[self.type]}{{{w}}}"
            if self.required and self.type in ("an", "ans"):
                body = f"(?! {{{w}}}){body}"
        if not self.required and self.type != "reserved":
            body = f"{body}| {{{w}}}"
        return f"(?:{body})"

    def problem(self) -> str:
        """How a bad value of this field is described (never the value)."""
        text = _WHAT[self.type].format(w=self.width, d=self.width - 1)
        return f"must be {text}" + ("" if self.required else " (or all spaces)")

    def format(self, value: str | int | None) -> str:
        """Write ``value`` in the field's width.

        Args:
            value: text or an int (``n``, ``amount``, ``signed``); ``None``
                or ``""`` for blank (zeros for a required number; a
                required text field must be given).

        Returns:
            Exactly ``width`` characters.

        Raises:
            AcomFormatError: the value does not fit or has the wrong shape.
        """
        w = self.width
        if value is None or value == "":
            if not self.required or self.type == "reserved":
                return " " * w
            if self.type not in ("n", "amount", "signed"):
                raise AcomFormatError(self.name, "is required")
            value = 0
        if self.type == "signed":
            if not isinstance(value, int):
                raise AcomFormatError(self.name, "must be an int (fen)")
            text = ("D" if value < 0 else "C") + str(abs(value)).rjust(w - 1, "0")
        elif self.type in ("n", "amount"):
            if isinstance(value, int):
                if value < 0:
                    raise AcomFormatError(self.name, "must not be negative")
                value = str(value)
            text = value.rjust(w, "0")
        else:
            text = str(value).ljust(w)
        if len(text) != w or not re.fullmatch(self.pattern(), text):
            raise AcomFormatError(self.name, self.problem())
        return text


@attrs.frozen(kw_only=True)
class AcomLayout:
    """A clearing file layout (see ``specs/formats/cups_acom.toml``).

    Attributes:
        file: where it was loaded from.
        title: what the file is.
        name_template: the file name with ``{yymmdd}``.
        separator: the character after every field.
        line_end: written after every line (``"\\r\\n"`` is read as well).
        fields: in order.
        settling_mti_prefixes, approved_codes, inquiry_prefixes: which lines
            settle (DOMAIN.md §6).
    """

    file: str
    title: str
    name_template: str
    separator: str
    line_end: str
    fields: tuple[AcomField, ...]
    settling_mti_prefixes: tuple[str, ...]
    approved_codes: tuple[str, ...]
    inquiry_prefixes: tuple[str, ...]
    by_name: Mapping[str, AcomField] = attrs.field(init=False, repr=False)
    line_width: int = attrs.field(init=False)
    line_regex: re.Pattern[bytes] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "by_name", {f.name: f for f in self.fields})
        set_(self, "line_width", sum(f.width + 1 for f in self.fields))
        sep = re.escape(self.separator)
        parts = [f"{f.pattern()}{sep}" for f in self.fields]
        parts[-1] = f"{self.fields[-1].pattern()}(?:{sep})?"  # a lost last separator is fine
        set_(self, "line_regex", re.compile(("".join(parts) + "\r?\n?").encode("ascii")))

    def file_name(self, settlement_date: str) -> str:
        """The file's name for a settlement date (``IND241126" "01ACOM``).

        Args:
            settlement_date: ``YYYYMMDD``.

        Returns:
            The name from the layout's template.
        """
        return self.name_template.format(yymmdd=settlement_date[2:8])

    def settles(self, mti: str, processing_code: str, response_code: str) -> bool:
        """Whether a line with these values settles (the layout's rules).

        Args:
            mti: the message type.
            processing_code: field 3.
            response_code: field 39.

        Returns:
            ``True`` for an approved financial line that is not an inquiry.
        """
        return (
            mti[:2] in self.settling_mti_prefixes
            and response_code in self.approved_codes
            and processing_code[:2] not in self.inquiry_prefixes
        )

    def format_line(self, values: Mapping[str, str | int | None]) -> str:
        """One line (with its line end) from field values.

        Args:
            values: by field name; missing fields are blank (zeros for
                required numbers).

        Returns:
            The line.

        Raises:
            AcomFormatError: a value does not fit its field, or a name is
                not in the layout.
        """
        unknown = set(values) - set(self.by_name)
        if unknown:
            raise AcomFormatError(sorted(unknown)[0], "is not a field of the layout")
        sep = self.separator
        return "".join(f.format(values.get(f.name)) + sep for f in self.fields) + self.line_end


def _fail(file: str, where: str, problem: str) -> SpecError:
    return SpecError(file, where, problem)


def _strings(file: str, where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, str) and v.isascii() and v.isalnum() for v in value
    ):
        raise _fail(file, where, "must be a list of letters-and-digits strings")
    return tuple(value)


def _field(file: str, index: int, raw: Any, offset: int) -> AcomField:
    where = f"field[{index}]"
    if not isinstance(raw, dict):
        raise _fail(file, where, "must be a table")
    name = raw.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise _fail(file, f"{where}.name", "must be a name (letters, digits, underscores)")
    width = raw.get("width")
    if not isinstance(width, int) or isinstance(width, bool) or not 1 <= width <= 999:
        raise _fail(file, f"{where}.width", "must be an integer from 1 to 999")
    kind = raw.get("type")
    if kind not in TYPES:
        raise _fail(file, f"{where}.type", f"must be one of {', '.join(TYPES)}")
    if kind == "signed" and width < 2:
        raise _fail(file, f"{where}.width", "a signed amount needs at least 2 characters")
    required = raw.get("required", kind != "reserved")
    if not isinstance(required, bool):
        raise _fail(file, f"{where}.required", "must be true or false")
    doc = raw.get("doc", "")
    if not isinstance(doc, str):
        raise _fail(file, f"{where}.doc", "must be a string")
    extra = set(raw) - {"name", "width", "type", "required", "doc"}
    if extra:
        raise _fail(file, f"{where}.{sorted(extra)[0]}", "is not a field setting")
    return AcomField(
        name=name, width=width, type=str(kind), required=required, offset=offset, doc=doc
    )


def load_acom_layout(path: str | os.PathLike[str] | None = None) -> AcomLayout:
    """Load and check a clearing file layout.

    Args:
        path: a TOML file; ``specs/formats/cups_acom.toml`` by default.

    Returns:
        The layout.

    Raises:
        SpecError: the file cannot be read, is not TOML, or is not a valid
            layout (the message names the place and the problem).
    """
    file = str(path) if path is not None else str(specs_dir() / "formats" / "cups_acom.toml")
    try:
        data = tomllib.loads(Path(file).read_text(encoding="utf-8"))
    except OSError as exc:
        raise _fail(file, "", f"cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise _fail(file, "", f"is not valid TOML: {exc}") from None
    head = data.get("file", {})
    sep = head.get("separator", " ")
    if not isinstance(sep, str) or len(sep) != 1 or not sep.isascii() or sep.isalnum():
        raise _fail(file, "file.separator", "must be one ASCII character, not a letter or digit")
    line_end = head.get("line_end", "\n")
    if line_end not in ("\n", "\r\n"):
        raise _fail(file, "file.line_end", 'must be "\\n" or "\\r\\n"')
    template = head.get("name", "")
    if not isinstance(template, str) or "{yymmdd}" not in template:
        raise _fail(file, "file.name", "must be a file name holding {yymmdd}")
    if head.get("encoding", "ascii") != "ascii":
        raise _fail(file, "file.encoding", 'only "ascii" is supported')
    rules = data.get("settlement", {})
    raw_fields = data.get("field")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise _fail(file, "field", "must be a non-empty array of tables ([[field]])")
    fields: list[AcomField] = []
    offset = 0
    for index, raw in enumerate(raw_fields):
        field = _field(file, index, raw, offset)
        if any(f.name == field.name for f in fields):
            raise _fail(file, f"field[{index}].name", f"{field.name!r} is named twice")
        fields.append(field)
        offset += field.width + 1
    names = {f.name for f in fields}
    for name in REQUIRED_NAMES:
        if name not in names:
            raise _fail(file, "field", f"the layout needs a field named {name!r}")
    return AcomLayout(
        file=file,
        title=str(head.get("title", "")),
        name_template=template,
        separator=sep,
        line_end=line_end,
        fields=tuple(fields),
        settling_mti_prefixes=_strings(
            file, "settlement.mti_prefixes", rules.get("mti_prefixes", ["02"])
        ),
        approved_codes=_strings(file, "settlement.approved", rules.get("approved", ["00"])),
        inquiry_prefixes=_strings(
            file,
            "settlement.inquiry_processing_prefixes",
            rules.get("inquiry_processing_prefixes", ["30"]),
        ),
    )
