"""The values ``gateway.toml``'s sections hold, each read from a ``Section`` and checked.

Link names, institution and region codes, hosts, retry schedules,
dialects, secrets and TLS files: :mod:`._load` reads each section with
these, and each refuses a wrong value with its key path.
"""

from __future__ import annotations

import ipaddress
import re

from .._toml import join
from ..errors import SpecError
from ..ids import PROVINCE_CODES
from ..iso import load_dialect
from ._model import SecretSource, TlsFiles
from ._reader import Section

__all__ = [
    "delays",
    "dialect_name",
    "fraction",
    "host_name",
    "institution",
    "link_name",
    "loopback",
    "region",
    "secret",
    "tls_files",
]


def link_name(t: Section, key: str, default: str | None) -> str:
    name = t.text(key) if default is None else t.text(key, default)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
        raise t.fail(key, "must be 1-64 letters, digits, '.', '_' or '-'")
    return name


def institution(t: Section, key: str, *, required: bool = True) -> str:
    value = t.text(key) if required else t.text(key, None)
    if value is not None and not (value.isascii() and value.isdigit() and len(value) <= 11):
        raise t.fail(key, "an institution code is 1 to 11 digits")
    return value or ""


def region(t: Section) -> str:
    value = t.text("region")
    if not (value.isascii() and value.isdigit() and len(value) == 6):
        raise t.fail("region", "a region code is 6 digits (GB/T 2260)")
    if value[:2] not in PROVINCE_CODES:
        raise t.fail("region", f"{value!r} has no known province")
    return value


def host_name(t: Section) -> str:
    host = t.text("host", "127.0.0.1")
    if any(c.isspace() for c in host):
        raise t.fail("host", "must be a host name or an address")
    return host


def fraction(t: Section, key: str, default: float) -> float:
    value = t.number(key, default, above=False)
    if value > 1.0:
        raise t.fail(key, "must be a number from 0 to 1")
    return value


def delays(t: Section, name: str, initial: float, maximum: float) -> dict[str, float]:
    """A retry schedule's ``initial``, ``maximum`` (at least ``initial``) and ``multiplier``."""
    first = t.number("initial", initial)
    last = t.number("maximum", maximum)
    if last < first:
        raise t.fail("maximum", f"must be at least {name}.initial")
    multiplier = t.number("multiplier", 2.0, minimum=1.0, above=False)
    return {"initial": first, "maximum": last, "multiplier": multiplier}


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dialect_name(t: Section, expected: str, towards: str) -> str:
    name = t.text("dialect", expected)
    try:
        load_dialect(name)
    except SpecError as exc:
        raise t.fail("dialect", exc.problem) from None
    if name != expected:
        raise t.fail("dialect", f"the gateway speaks {expected!r} {towards} (others: not yet)")
    return name


def secret(t: Section, key: str, *, default_env: str | None = None) -> SecretSource:
    file_key, env_key = f"{key}_file", f"{key}_env"
    path = t.path(file_key, None)
    env = t.env_name(env_key, None)
    where = join(t.where, key)
    if path is not None and env is not None:
        raise t.fail(env_key, f"give only one of {file_key} and {env_key}")
    if path is not None:
        return SecretSource(where=where, file=path)
    if env is None:
        if default_env is None:
            raise t.fail(file_key, f"is required (or {env_key})")
        env = default_env
    return SecretSource(where=where, env=env)


def tls_files(t: Section, *, upstream: bool) -> TlsFiles | None:
    s = t.sub("tls")
    if s is None:
        return None
    files = TlsFiles(
        where=s.where,
        cert=s.path("cert"),
        key=s.path("key"),
        ca=s.path("ca"),
        server_name=s.text("server_name", None) if upstream else None,
    )
    s.done()
    return files
