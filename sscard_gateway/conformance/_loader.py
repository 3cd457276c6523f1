"""Reading case files: TOML in, checked :mod:`._cases` values out.

Why a loader of its own: a case file is written by hand by an integrator,
so every mistake — an unknown key, a step naming no template, a
placeholder defined nowhere, ``repeat_of`` pointing at a later step — is
refused on load with a ``SpecError`` naming the file, the place in it
(``case[3].step[1].expect.39``) and the problem, before any peer is
contacted (docs/architecture.md principle 2).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import SpecError
from ._cases import (
    DYNAMIC_VARIABLES,
    PLACEHOLDER,
    Case,
    CaseFile,
    Expect,
    FieldExpectation,
    KeyExchange,
    Kind,
    KitKeys,
    Mutation,
    Role,
    Step,
    Template,
)

__all__ = ["default_cases_dir", "load_cases"]

OFFLINE_CHECKS = frozenset({"codec-samples", "kcv", "cipher", "mac", "cups-mab", "pinblock"})
REQUIREMENTS = frozenset({"kek", "mac-key", "upstream-control"})
_MUTATION = re.compile(r"malformed:field(\d{1,3})-letter")


class _Reader:
    """Typed access to one TOML table, naming the file and key on error."""

    def __init__(self, file: str, where: str, data: Any, known: set[str]) -> None:
        if not isinstance(data, dict):
            raise SpecError(file, where, "must be a table")
        self.file, self.where = file, where
        self.data: Mapping[str, Any] = data
        unknown = sorted(set(data) - known)
        if unknown:
            raise self.error(unknown[0], "is not a known key")

    def error(self, key: str, problem: str) -> SpecError:
        return SpecError(self.file, f"{self.where}.{key}" if self.where else key, problem)

    def text(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or (value == "" and default is None):
            raise self.error(key, "must be a non-empty string")
        return value

    def optional(self, key: str) -> str | None:
        return self.text(key) if key in self.data else None

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, "must be true or false")
        return value

    def strings(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.data.get(key, list(default))
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, "must be a string or a list of strings")
        return tuple(value)

    def table(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.error(key, "must be a table")
        return value

    def text_map(self, key: str) -> Mapping[str, str]:
        table = self.table(key)
        for name, value in table.items():
            if not isinstance(value, str):
                raise self.error(f"{key}.{name}", "must be a string")
        return MappingProxyType(dict(table))


def _is_mti(value: object) -> bool:
    return isinstance(value, str) and len(value) == 4 and value.isdigit()


def _template(file: str, name: str, data: Any) -> Template:
    r = _Reader(file, f"templates.{name}", data, {"mti", "fields", "header"})
    mti = r.text("mti")
    if not _is_mti(mti):
        raise r.error("mti", "must be four digits")
    fields = r.text_map("fields")
    for number in fields:
        if not number.isdigit():
            raise r.error(f"fields.{number}", "field keys are field numbers")
    return Template(name, mti, fields, r.text_map("header"))


def _expect(r: _Reader) -> Expect | None:
    if "expect" not in r.data:
        return None
    table = r.table("expect")
    where = f"{r.where}.expect"
    mti: str | None = None
    out: list[FieldExpectation] = []
    for key, value in table.items():
        if key == "mti":
            if not _is_mti(value):
                raise SpecError(r.file, f"{where}.mti", "must be four digits")
            mti = value
            continue
        if not key.isdigit():
            raise SpecError(r.file, f"{where}.{key}", "must be 'mti' or a field number")
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            out.append(FieldExpectation(int(key), allowed=tuple(value)))
        elif (
            isinstance(value, dict)
            and set(value) == {"not"}
            and isinstance(value["not"], list)
            and all(isinstance(v, str) for v in value["not"])
        ):
            out.append(FieldExpectation(int(key), refused=tuple(value["not"])))
        else:
            problem = "must be a list of values or { not = [values] }"
            raise SpecError(r.file, f"{where}.{key}", problem)
    return Expect(mti, tuple(out))


_STEP_KEYS = {
    "id",
    "send",
    "fields",
    "repeat_of",
    "mac",
    "frame",
    "key_exchange",
    "upstream",
    "wait_for_reversal",
    "timeout",
    "expect",
}


def _step(
    file: str, where: str, data: Any, earlier: list[str], templates: Mapping[str, Any]
) -> Step:
    r = _Reader(file, where, data, _STEP_KEYS)
    step_id = r.text("id")
    if step_id in earlier:
        raise r.error("id", f"{step_id!r} is used twice in this case")
    send, repeat_of = r.optional("send"), r.optional("repeat_of")
    if (send is None) == (repeat_of is None):
        raise r.error("send", "a step has exactly one of 'send' and 'repeat_of'")
    if send is not None and send not in templates:
        raise r.error("send", f"no template named {send!r}")
    if repeat_of is not None and repeat_of not in earlier:
        raise r.error("repeat_of", f"no earlier step {repeat_of!r} in this case")
    mac = r.text("mac", "valid")
    if mac not in ("valid", "bad", "none"):
        raise r.error("mac", "must be valid, bad or none")
    mutation = None
    if "frame" in data:
        match = _MUTATION.fullmatch(r.text("frame"))
        if match is None:
            raise r.error("frame", "must be malformed:field<N>-letter")
        mutation = Mutation(int(match.group(1)))
    exchange = None
    if "key_exchange" in data:
        kx = _Reader(file, f"{where}.key_exchange", r.table("key_exchange"), {"key", "check_value"})
        key, check = kx.text("key"), kx.text("check_value", "valid")
        if key not in ("pin", "mac") or check not in ("valid", "bad"):
            raise kx.error("key", "key is pin or mac, check_value valid or bad")
        exchange = KeyExchange(key, check)
    upstream = r.optional("upstream")
    if upstream not in (None, "silent"):
        raise r.error("upstream", "the only upstream behaviour is 'silent'")
    timeout = data.get("timeout")
    if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
        raise r.error("timeout", "must be a positive number of seconds")
    wait = r.flag("wait_for_reversal", False)
    return Step(
        id=step_id,
        send=send,
        fields=r.text_map("fields"),
        repeat_of=repeat_of,
        mac=mac,
        frame=mutation,
        key_exchange=exchange,
        upstream=upstream,
        wait_for_reversal=wait,
        timeout=None if timeout is None else float(timeout),
        expect=_expect(r),
    )


_CASE_KEYS = {"id", "title", "kind", "roles", "dialects", "check", "source", "step"}
_CASE_KEYS |= {"requires", "sign_on"}


def _case(
    file: CaseFile, where: str, data: Any, defaults: tuple[tuple[str, ...], tuple[str, ...]]
) -> Case:
    name = file.path.name
    r = _Reader(name, where, data, _CASE_KEYS)
    try:
        kind = Kind(r.text("kind"))
    except ValueError:
        raise r.error("kind", "must be offline or live") from None
    try:
        roles = tuple(Role(v) for v in r.strings("roles", defaults[0]))
    except ValueError:
        raise r.error("roles", "roles are switch, gateway and center") from None
    requires = frozenset(r.strings("requires"))
    if not requires <= REQUIREMENTS:
        raise r.error("requires", f"known requirements: {sorted(REQUIREMENTS)}")
    sign_on = r.flag("sign_on", True)
    dialects = r.strings("dialects", defaults[1])
    if kind is Kind.LIVE and not (dialects and roles):
        raise r.error("dialects", "a live case names its roles and dialects (here or file-wide)")
    check = source = None
    steps: list[Step] = []
    if kind is Kind.OFFLINE:
        check, source = r.text("check"), r.text("source")
        if check not in OFFLINE_CHECKS:
            raise r.error("check", f"known checks: {sorted(OFFLINE_CHECKS)}")
    else:
        raw = data.get("step")
        if not isinstance(raw, list) or not raw:
            raise r.error("step", "a live case needs [[case.step]] tables")
        earlier: list[str] = []
        for i, entry in enumerate(raw):
            step = _step(name, f"{where}.step[{i}]", entry, earlier, file.templates)
            _check_placeholders(file, f"{where}.step[{i}]", step)
            earlier.append(step.id)
            steps.append(step)
        if sign_on and file.sign_on is None:
            raise r.error("sign_on", "the file has no [session] sign_on template")
    return Case(
        id=r.text("id"),
        title=r.text("title"),
        kind=kind,
        roles=roles,
        dialects=dialects,
        file=file,
        check=check,
        source=source,
        steps=tuple(steps),
        requires=requires,
        sign_on=sign_on,
    )


def _check_placeholders(file: CaseFile, where: str, step: Step) -> None:
    texts = list(step.fields.values())
    if step.send is not None:
        template = file.templates[step.send]
        texts += [*template.fields.values(), *template.header.values()]
    for text in texts:
        for name in PLACEHOLDER.findall(text):
            if name not in DYNAMIC_VARIABLES and name not in file.variables:
                problem = f"placeholder {{{name}}} is neither per-step nor in [variables]"
                raise SpecError(file.path.name, where, problem)


def _load_file(path: Path) -> list[Case]:
    name = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(name, "", f"cannot be read ({exc})") from None
    known = {"description", "roles", "dialects", "templates", "variables", "keys", "session"}
    r = _Reader(name, "", data, known | {"case"})
    templates = {k: _template(name, k, v) for k, v in r.table("templates").items()}
    keys_r = _Reader(name, "keys", r.table("keys"), {"mac", "pin", "kek", "mac_classes"})
    session = _Reader(name, "session", r.table("session"), {"sign_on", "sign_off"})
    for key in ("sign_on", "sign_off"):
        if key in session.data and session.data[key] not in templates:
            raise session.error(key, f"no template named {session.data[key]!r}")
    file = CaseFile(
        path=path,
        description=r.text("description", ""),
        templates=MappingProxyType(templates),
        variables=r.text_map("variables"),
        keys=KitKeys(
            mac_key=keys_r.optional("mac"),
            pin_key=keys_r.optional("pin"),
            kek=keys_r.optional("kek"),
            mac_classes=keys_r.strings("mac_classes", ("financial",)),
        ),
        sign_on=session.optional("sign_on"),
        sign_off=session.optional("sign_off"),
    )
    raw = data.get("case", [])
    if not isinstance(raw, list):
        raise r.error("case", "must be [[case]] tables")
    defaults = (r.strings("roles", tuple(role.value for role in Role)), r.strings("dialects"))
    return [_case(file, f"case[{i}]", entry, defaults) for i, entry in enumerate(raw)]


def default_cases_dir() -> Path:
    """``conformance/`` of the specs folder (``sscard_gateway.iso.specs_dir``)."""
    from ..iso import specs_dir

    return specs_dir() / "conformance"


def load_cases(paths: Iterable[str | Path] | str | Path | None = None) -> list[Case]:
    """Load conformance cases from case files or folders of them.

    Args:
        paths: ``.toml`` files and folders (every ``*.toml`` in a folder, in
            name order); the shipped ``specs/conformance/`` when ``None``.

    Returns:
        The cases, in file order then case order.

    Raises:
        SpecError: a file is missing or invalid, or two cases share an id.
    """
    if paths is None:
        paths = [default_cases_dir()]
    elif isinstance(paths, str | Path):
        paths = [paths]
    files: list[Path] = []
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            files.extend(sorted(path.glob("*.toml")))
        elif path.is_file():
            files.append(path)
        else:
            raise SpecError(str(path), "", "no such case file or folder")
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for file in files:
        for case in _load_file(file):
            if case.id in seen:
                where = f"case {case.id!r}"
                raise SpecError(file.name, where, f"id already used in {seen[case.id]}")
            seen[case.id] = file.name
            cases.append(case)
    return cases
