"""Reading the field rules of a mapping section (copy, rename, rebuild, set, assign).

Both directions of a mapping share these rules (``[request]`` and
``[response]``); each is checked against the dialect it reads from and the
dialect it writes to, so a rule that could only fail per message fails once,
on load, with its key path. Where a carried value may still not fit its
target field (a narrower class, a shorter maximum, another text encoding)
the target field is marked ``guarded`` and the translator checks the value.
"""

from __future__ import annotations

import attrs

from .._toml import Table
from ..errors import EncodeError, SpecError
from ..iso.business import layout
from ..iso.dialect import Dialect
from ..iso.registry import load_dialect
from ..iso.spec import FieldClass, FieldSpec, LengthKind
from ._counters import InstitutionCodes, LegCounters
from ._leg import Leg
from ._mapspec import FieldRules, Generator, Rebuild, Rename, SubfieldRule
from ._table import field_key

__all__ = ["dialect_of", "field_of", "numbers", "read_rules", "values"]

# A sample of each generated value, to check at load that it fits its field.
_SAMPLE_LEG = Leg(LegCounters(), "1126101530", InstitutionCodes("48021000"))
_PROBE = {generator: _SAMPLE_LEG.value(generator) for generator in Generator}


def dialect_of(table: Table, key: str) -> Dialect:
    """The dialect named at ``key`` (``SpecError`` at that key when it cannot load)."""
    name = table.get(key, str)
    try:
        return load_dialect(name)
    except SpecError as exc:
        raise table.fail(key, f"dialect {name!r} cannot be loaded ({exc.problem})") from None


def field_of(table: Table, key: str, number: int, dialect: Dialect) -> int:
    """``number``, refused at ``key`` when ``dialect`` does not define that field."""
    if number not in dialect.spec.fields:
        raise table.fail(key, f"field {number} is not defined by dialect {dialect.name!r}")
    return number


def numbers(table: Table, key: str, dialect: Dialect) -> tuple[int, ...]:
    """A list of distinct field numbers of ``dialect`` at ``key``."""
    numbers = table.numbers(key)
    for i, n in enumerate(numbers):
        field_of(table, f"{key}[{i}]", n, dialect)
    return tuple(numbers)


def _probe(table: Table, key: str, dialect: Dialect, number: int, value: str) -> None:
    """Refuse a value that would not encode in ``number`` of ``dialect``."""
    spec = dialect.spec.fields[number]
    if spec.binary:
        raise table.fail(key, f"field {number} is binary and takes no text value")
    try:
        dialect.encode(dialect.message("0200", {number: value}))
    except EncodeError as exc:
        raise table.fail(key, f"does not fit field {number}: {exc.problem}") from None


def values(table: Table, key: str, dialect: Dialect) -> dict[int, str]:
    """A table of field number to literal at ``key``, each probed in ``dialect``."""
    sub = table.sub(key)
    out: dict[int, str] = {}
    if sub is None:
        return out
    for name in sub.table:
        number = field_of(sub, name, field_key(sub, name), dialect)
        value = sub.get(name, str)
        _probe(sub, name, dialect, number, value)
        out[number] = value
    return out


def _generators(table: Table, key: str, dialect: Dialect) -> dict[int, Generator]:
    sub = table.sub(key)
    out: dict[int, Generator] = {}
    if sub is None:
        return out
    allowed = ", ".join(g.value for g in Generator)
    for name in sub.table:
        number = field_of(sub, name, field_key(sub, name), dialect)
        try:
            generator = Generator(sub.get(name, str))
        except ValueError:
            raise sub.fail(name, f"must be one of {allowed}") from None
        _probe(sub, name, dialect, number, _PROBE[generator])
        out[number] = generator
    return out


def _compatible(table: Table, key: str, source: Dialect, s: int, target: Dialect, t: int) -> None:
    a, b = source.spec.fields[s], target.spec.fields[t]
    if a.binary != b.binary:
        raise table.fail(key, f"field {s} and field {t} are not both binary or both text")
    fixed = a.length is LengthKind.FIXED and b.length is LengthKind.FIXED
    if fixed and a.max != b.max:
        raise table.fail(key, f"field {s} ({a.max}) and field {t} ({b.max}) differ in length")


def _renames(table: Table, source: Dialect, target: Dialect) -> tuple[Rename, ...]:
    sub = table.sub("rename")
    out: list[Rename] = []
    if sub is None:
        return ()
    for name in sub.table:
        s = field_of(sub, name, field_key(sub, name), source)
        value = sub.table[name]
        usage: str | None = None
        if isinstance(value, dict):
            inner = sub.sub(name)
            assert inner is not None
            t = inner.get("to", int)
            usage = inner.opt("usage", str)
            inner.done()
            where = f"{name}.to"
        else:
            t = sub.get(name, int)
            where = name
        field_of(sub, where, t, target)
        strip = False
        if usage is not None:
            src_usage = source.spec.fields[s].composite == "usage"
            dst_usage = target.spec.fields[t].composite == "usage"
            if len(usage) != 2 or not usage.isalnum() or usage.upper() != usage:
                raise sub.fail(f"{name}.usage", "must be two upper-case letters or digits")
            if src_usage == dst_usage:
                raise sub.fail(
                    f"{name}.usage", "exactly one of the two fields must be a usage field"
                )
            strip = src_usage
        binary = source.spec.fields[s].binary or target.spec.fields[t].binary
        if binary and usage is not None:
            raise sub.fail(f"{name}.usage", "binary fields carry no usage tag")
        _compatible(sub, where, source, s, target, t)
        out.append(Rename(s, t, usage, strip))
    return tuple(out)


def _rebuilds(table: Table, source: Dialect, target: Dialect) -> tuple[Rebuild, ...]:
    sub = table.sub("rebuild")
    if sub is None:
        return ()
    out = []
    for name in sub.table:
        t = field_of(sub, name, field_key(sub, name), target)
        rule = sub.sub(name)
        assert rule is not None
        if target.spec.fields[t].layout is None:
            raise rule.fail("", f"field {t} of dialect {target.name!r} has no layout")
        s = rule.opt("from", int)
        if s is not None:
            field_of(rule, "from", s, source)
            if source.spec.fields[s].layout is None:
                raise rule.fail("from", f"field {s} of dialect {source.name!r} has no layout")
        parts = rule.sub("subfields")
        if parts is None:
            raise rule.fail("subfields", "is required")
        rules = _subfields(parts, s, source, t, target)
        rule.done()
        out.append(Rebuild(t, s, rules))
    return tuple(out)


def _subfields(
    parts: Table, s: int | None, source: Dialect, t: int, target: Dialect
) -> tuple[SubfieldRule, ...]:
    target_layout = layout(target, t)
    widths = {sf.name: sf.length for sf in target_layout.subfields}
    source_widths = {}
    if s is not None:
        source_widths = {sf.name: sf.length for sf in layout(source, s).subfields}
    source_names = set(source_widths)
    rules = []
    for name in parts.table:
        if name not in widths:
            raise parts.fail(name, f"is not a subfield of field {t}'s layout")
        value = parts.table[name]
        if isinstance(value, str):
            rule = SubfieldRule(name, literal=parts.get(name, str))
        else:
            inner = parts.sub(name) if isinstance(value, dict) else None
            if inner is None:
                raise parts.fail(name, "must be a string or { from, default }")
            ref = inner.get("from", str)
            default = inner.opt("default", str)
            inner.done()
            if s is None:
                raise inner.fail("from", "needs the rebuild's 'from' field")
            if ref not in source_names:
                raise inner.fail("from", f"is not a subfield of field {s}'s layout")
            if source_widths[ref] != widths[name]:
                problem = f"subfield {ref} has {source_widths[ref]} characters, not {widths[name]}"
                raise inner.fail("from", problem)
            rule = SubfieldRule(name, source=ref, default=default)
        for text in (rule.literal, rule.default):
            if text is not None and len(text) != widths[name]:
                raise parts.fail(name, f"must be {widths[name]} characters")
        rules.append(rule)
    order = list(widths)
    rules.sort(key=lambda r: order.index(r.name))
    probe = {r.name: r.literal or r.default or "0" * widths[r.name] for r in rules}
    try:
        sample = target_layout.format(probe)
    except EncodeError as exc:
        raise parts.fail("", exc.problem) from None
    if all(r.literal is not None or r.default is not None for r in rules):
        _probe(parts, "", target, t, sample)  # the literals must suit the field's class
    return tuple(rules)


def read_rules(
    table: Table | None, source: Dialect, target: Dialect, *, request: bool
) -> FieldRules:
    """The field rules of ``[request]`` (``request=True``) or ``[response]``.

    ``source`` is the dialect values are read from, ``target`` the one they
    are written to (for ``[response]``: the upstream's and the requester's).
    """
    if table is None:
        return FieldRules()
    rules = FieldRules(
        copy=numbers(table, "copy", source),
        fill=() if request else numbers(table, "fill", source),
        renames=_renames(table, source, target),
        drop=numbers(table, "drop", source) if request else (),
        rebuilds=_rebuilds(table, source, target),
        set=values(table, "set", target),
        default=values(table, "default", target),
        assign=_generators(table, "assign", target) if request else {},
        assign_default=_generators(table, "assign_default", target) if request else {},
    )
    for i, n in enumerate(rules.copy):
        field_of(table, f"copy[{i}]", n, target)
        _compatible(table, f"copy[{i}]", source, n, target, n)
    for i, n in enumerate(rules.fill):
        field_of(table, f"fill[{i}]", n, target)
        _compatible(table, f"fill[{i}]", source, n, target, n)
    _check_writers(table, rules)
    pairs = [(n, n, 0) for n in (*rules.copy, *rules.fill)]
    pairs += [(r.source, r.target, _usage_delta(r)) for r in rules.renames]
    guarded = {
        t
        for s, t, delta in pairs
        if _may_not_fit(source.spec.fields[s], target.spec.fields[t], delta)
    }
    # subfields read from a source field carry its class into the target's
    guarded |= {
        r.target
        for r in rules.rebuilds
        if r.source is not None
        and target.spec.fields[r.target].cls not in _WIDER[source.spec.fields[r.source].cls]
    }
    return attrs.evolve(rules, guarded=frozenset(guarded))


# Source class -> target classes that take every value of it.
_WIDER = {
    FieldClass.N: {FieldClass.N, FieldClass.AN, FieldClass.ANS, FieldClass.NS, FieldClass.Z},
    FieldClass.AN: {FieldClass.AN, FieldClass.ANS},
    FieldClass.ANS: {FieldClass.ANS, FieldClass.NS},
    FieldClass.NS: {FieldClass.ANS, FieldClass.NS},
    FieldClass.Z: {FieldClass.Z, FieldClass.ANS, FieldClass.NS},
    FieldClass.XN: {FieldClass.XN, FieldClass.ANS, FieldClass.NS},
    FieldClass.B: {FieldClass.B},
}


def _usage_delta(rename: Rename) -> int:
    if rename.usage is None:
        return 0
    return -len(rename.usage) if rename.strip else len(rename.usage)


def _may_not_fit(a: FieldSpec, b: FieldSpec, delta: int) -> bool:
    """Whether a value valid in field ``a`` may be refused by field ``b``."""
    fixed = LengthKind.FIXED
    return (
        b.cls not in _WIDER[a.cls]
        or a.max + delta > b.max
        or (b.length is fixed and (a.length is not fixed or delta != 0))
        or (a.encoding != b.encoding and not b.binary)
    )


def _check_writers(table: Table, rules: FieldRules) -> None:
    """Each target field is written by one rule; defaults only fill what is absent."""
    writers: dict[int, str] = {}
    named = [
        *((n, "copy") for n in rules.copy),
        *((n, "fill") for n in rules.fill),
        *((r.target, f"rename.{r.source}") for r in rules.renames),
        *((r.target, f"rebuild.{r.target}") for r in rules.rebuilds),
        *((n, f"set.{n}") for n in rules.set),
        *((n, f"assign.{n}") for n in rules.assign),
    ]
    for n, key in named:
        if n in writers:
            raise table.fail(key, f"field {n} is already written by {writers[n]}")
        writers[n] = key
    defaults = [("default", n) for n in rules.default]
    defaults += [("assign_default", n) for n in rules.assign_default]
    for key, n in defaults:
        if n in rules.set or n in rules.assign:
            raise table.fail(f"{key}.{n}", f"field {n} is always set; a default is never used")
    dropped = set(rules.drop)
    for n in rules.copy:
        if n in dropped:
            raise table.fail("drop", f"field {n} is both copied and dropped")
    for r in rules.renames:
        if r.source in dropped:
            raise table.fail("drop", f"field {r.source} is both renamed and dropped")
