"""Mapping files: how one dialect's request becomes another's, checked on load.

Translation between dialects is data (docs/architecture.md principle 2): a file
under ``specs/mappings/`` says which fields a request carries over, which
are renamed, rebuilt or dropped, which processing codes and response codes
correspond, and which values the gateway assigns for the outbound leg. A
center corrects an ``[assumed]`` choice by editing the file. The schema is
documented for authors in ``docs/routing.md``; this module is its single
source of truth.

Everything is checked before the mapping is used, against both dialects:
fields exist, binary fields map only to binary fields, literal values encode
in the target dialect, subfield names exist in the layouts, processing and
response codes are known, no target field is written by two rules, and every
field the source dialect defines is accounted for (copied, renamed, rebuilt
or dropped), so a field added to a dialect later cannot vanish unnoticed.
Errors are ``SpecError(file, key path, problem)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._toml import Table
from ..iso.dialect import Dialect
from ._mapspec import AmountRule, FieldRules, Generator, MappingSpec, ProcessingRule
from ._rules import dialect_of, field_of, numbers, read_rules, values

__all__ = ["spec_from_dict"]

_HEADER_KEYS = ("destination", "source", "transaction_info")
_SPLIT_PARTS = ("fund", "personal_account", "cash")


def _code(table: Table, key: str, text: str, dialect: Dialect) -> str:
    if len(text) == 6 and text.isascii() and text.isdigit():
        return text
    code = dialect.spec.processing_codes.get(text)
    if code is None:
        known = ", ".join(sorted(dialect.spec.processing_codes))
        problem = f"{text!r} is neither 6 digits nor a processing code of {dialect.name!r}"
        raise table.fail(key, f"{problem} ({known})")
    return code


def _processing_codes(
    root: Table, source: Dialect, target: Dialect, assigned: Mapping[int, Generator]
) -> dict[str, ProcessingRule]:
    table = root.sub("processing_codes")
    if table is None:
        return {}
    out: dict[str, ProcessingRule] = {}
    where: dict[str, str] = {}
    for name in table.table:
        code = _code(table, name, name, source)
        value = table.table[name]
        if isinstance(value, str):
            rule = ProcessingRule(_code(table, name, table.get(name, str), target))
        else:
            inner = table.sub(name) if isinstance(value, dict) else None
            if inner is None:
                raise table.fail(name, "must be a processing code or { code, set }")
            target_code = _code(inner, "code", inner.get("code", str), target)
            fixed = values(inner, "set", target)
            for n in fixed:
                if n in assigned:
                    raise inner.fail(f"set.{n}", f"field {n} is assigned by the gateway")
            rule = ProcessingRule(target_code, fixed, numbers(inner, "require", source))
            inner.done()
        if code in out and out[code] != rule:
            raise table.fail(name, f"code {code} is already mapped differently at {where[code]}")
        out[code] = rule
        where[code] = name
    return out


def _response_codes(root: Table, upstream: Dialect, requester: Dialect) -> dict[str, str]:
    table = root.sub("response_codes")
    out: dict[str, str] = {}
    if table is None:
        return out
    for key in table.table:
        if key not in upstream.spec.response_codes:
            raise table.fail(key, f"is not a response code of dialect {upstream.name!r}")
        value = table.get(key, str)
        if value not in requester.spec.response_codes:
            raise table.fail(key, f"{value!r} is not a response code of {requester.name!r}")
        out[key] = value
    return out


def _mti_map(table: Table, source: Dialect) -> dict[str, str]:
    sub = table.sub("mti")
    if sub is None:
        raise table.fail("mti", "is required")
    reversal = {source.spec.reversal_mti, source.spec.retransmission_mti}
    out = {}
    for key in sub.table:
        value = sub.get(key, str)
        for text in (key, value):
            if len(text) != 4 or not text.isdigit() or int(text[2]) % 2:
                raise sub.fail(key, f"{text!r} is not the MTI of a request")
        if key in reversal:
            raise sub.fail(key, "reversals are translated by Translator.reversal()")
        out[key] = value
    return out


def _coverage(table: Table, source: Dialect, rules: FieldRules, handled: set[int]) -> None:
    handled |= set(rules.copy) | set(rules.drop) | {r.source for r in rules.renames}
    handled |= {r.source for r in rules.rebuilds if r.source is not None}
    for n in source.spec.fields:
        if n not in handled:
            raise table.fail(
                "",
                f"field {n} of dialect {source.name!r} is neither copied, renamed, "
                "rebuilt nor dropped",
            )


def spec_from_dict(data: Mapping[str, Any], *, file: str, name: str) -> MappingSpec:
    """Check a parsed mapping file and build its spec.

    Args:
        data: the parsed TOML document.
        file: the file name, for errors.
        name: the mapping's name when ``[mapping] name`` is not given.

    Returns:
        The checked :class:`MappingSpec`.

    Raises:
        SpecError: naming the file, the key path and the problem.
    """
    root = Table(file, data, "")
    head = root.sub("mapping")
    if head is None:
        raise root.fail("mapping", "section is required")
    source = dialect_of(head, "from")
    target = dialect_of(head, "to")
    title = head.opt("title", str) or ""
    name = head.opt("name", str) or name
    head.done()
    request = root.sub("request")
    if request is None:
        raise root.fail("request", "section is required")
    mti = _mti_map(request, source)
    header = request.sub("header")
    header_set: dict[str, str] = {}
    header_assign: dict[str, Generator] = {}
    if header is not None:
        header_set, header_assign = _header(header, target)
    amount = _amount(request, source, target)
    rules = read_rules(request, source, target, request=True)
    processing = None
    if root.has("processing_codes"):
        processing = _processing_codes(root, source, target, rules.assign)
    handled = {3} if processing is not None else set()
    if amount is not None and source.spec.amount_split is not None:
        handled.add(source.spec.amount_split)
    _coverage(request, source, rules, handled)
    request.done()
    response = root.sub("response")
    fallback = "96"
    if response is not None:
        fallback = response.opt("fallback", str) or fallback
        if fallback not in source.spec.response_codes:
            raise response.fail("fallback", f"is not a response code of {source.name!r}")
    response_rules = read_rules(response, target, source, request=False)
    if response is not None:
        response.done()
    codes = _response_codes(root, target, source)
    root.done()
    return MappingSpec(
        file=file,
        name=name,
        title=title,
        source=source,
        target=target,
        mti=mti,
        request=rules,
        header_set=header_set,
        header_assign=header_assign,
        amount=amount,
        processing_codes=processing,
        response=response_rules,
        response_codes=codes,
        fallback=fallback,
    )


def _header(table: Table, target: Dialect) -> tuple[dict[str, str], dict[str, Generator]]:
    if target.spec.header != "cups":
        raise table.fail("", f"dialect {target.name!r} has no CUPS header to set")
    fixed: dict[str, str] = {}
    assigned: dict[str, Generator] = {}
    for key in ("set", "assign"):
        sub = table.sub(key)
        for name in sub.table if sub is not None else ():
            assert sub is not None
            if name not in _HEADER_KEYS or name in fixed or name in assigned:
                raise sub.fail(name, f"must be one of {', '.join(_HEADER_KEYS)}, once")
            value = sub.get(name, str)
            if key == "set":
                info = name == "transaction_info"
                if not value.isascii() or (len(value) != 8 if info else len(value) > 11):
                    raise sub.fail(
                        name, f"must be ASCII of {'8' if info else 'at most 11'} characters"
                    )
                fixed[name] = value
            elif value in ("acquirer", "forwarder"):
                assigned[name] = Generator(value)
            else:
                raise sub.fail(name, "must be 'acquirer' or 'forwarder'")
    table.done()
    return fixed, assigned


def _amount(request: Table, source: Dialect, target: Dialect) -> AmountRule | None:
    table = request.sub("amount")
    if table is None:
        return None
    number = field_of(table, "field", table.get("field", int), target)
    part = table.get("from_split", str)
    if part not in _SPLIT_PARTS:
        raise table.fail("from_split", f"must be one of {', '.join(_SPLIT_PARTS)}")
    if source.spec.amount_split is None:
        raise table.fail("from_split", f"dialect {source.name!r} declares no amount split")
    table.done()
    return AmountRule(number, part)
