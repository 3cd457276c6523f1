"""Reading ``gateway.toml``: every section checked, every mistake named by its key path.

The file is read once at start (``sscard-gateway run``) and by
``sscard-gateway check-config``. Each top-level section is checked on its
own, so one run reports the first mistake of every section rather than
stopping at the first of the file; within a section the first mistake
stops it (later ones often follow from it). The route table is checked by
:meth:`~sscard_gateway.routing.RouteTable.from_config` against the link
names the file declares, as the gateway will check it. Relative paths are
taken from the configuration file's folder, so a deployment folder can be
moved whole. See ``docs/configuration.md`` for the annotated schema.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._toml import join
from ..crypto import KeyUsage, PinFormat
from ..errors import SpecError
from ..gateway import CenterLink, GatewayConfig, SafPolicy, UpstreamLink
from ..link import Backoff
from ..routing import InstitutionCodes, RouteTable, load_mapping
from ._model import (
    Cutover,
    JournalSettings,
    KeyReference,
    LoggingSettings,
    MetricsSettings,
    SecuritySettings,
    ServiceConfig,
    TlsFiles,
)
from ._reader import Section
from ._values import (
    delays,
    dialect_name,
    fraction,
    host_name,
    institution,
    link_name,
    loopback,
    region,
    secret,
    tls_files,
)

__all__ = ["InvalidConfig", "config_from_dict", "load_config"]

_LEVELS = ("debug", "info", "warning", "error", "critical")
_PIN_FORMATS = tuple(f.value for f in PinFormat)
_CUTOVER = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_TOP = (
    "gateway",
    "upstream",
    "centers",
    "routing",
    "mappings",
    "store_and_forward",
    "security",
    "journal",
    "cutover",
    "logging",
    "metrics",
)
# What the gateway speaks today; other names are refused rather than ignored.
_CENTER_DIALECT = "center"
_UPSTREAM_DIALECT = "cups"
_MAPPINGS = {"to_cups": "center_to_cups", "from_cups": "cups_to_center"}


class InvalidConfig(SpecError):
    """Every mistake found in a configuration file (at least one).

    ``file``, ``where`` and ``problem`` are those of the first; ``errors``
    holds them all, and ``str()`` lists them one per line.
    """

    def __init__(self, errors: Sequence[SpecError]) -> None:
        if not errors:
            raise ValueError("InvalidConfig needs at least one error")
        first = errors[0]
        super().__init__(first.file, first.where, first.problem)
        self.errors = tuple(errors)
        self.args = ("\n".join(str(e) for e in self.errors),)


def load_config(path: str | os.PathLike[str]) -> ServiceConfig:
    """Read and check a ``gateway.toml``.

    Args:
        path: the file; relative paths inside it are taken from its folder.

    Returns:
        The checked configuration.

    Raises:
        InvalidConfig: the file cannot be read, is not TOML, or has mistakes
            (each named by key path).
    """
    name = os.fspath(path)
    try:
        data = tomllib.loads(Path(name).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidConfig([SpecError(name, "file", f"cannot read it ({exc.strerror})")]) from None
    except UnicodeDecodeError:
        raise InvalidConfig([SpecError(name, "file", "is not UTF-8 text")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidConfig([SpecError(name, "syntax", str(exc))]) from None
    return config_from_dict(data, file=name, base=Path(name).parent)


def config_from_dict(
    data: Mapping[str, Any], *, file: str = "gateway.toml", base: Path | None = None
) -> ServiceConfig:
    """Check a parsed ``gateway.toml`` document.

    Args:
        data: the document (as :mod:`tomllib` gives it).
        file: its name in error messages.
        base: the folder relative paths are taken from (the current one by default).

    Returns:
        The checked configuration.

    Raises:
        InvalidConfig: naming every section's first mistake by key path.
    """
    return _Loader(Section(file, data, "", base if base is not None else Path())).load()


class _Loader:
    def __init__(self, root: Section) -> None:
        self.root = root
        self.file = root.file
        self.errors: list[SpecError] = []
        self.keys: list[KeyReference] = []

    def section(self, key: str, read: Callable[[Section], Any], *, required: bool) -> Any:
        try:
            table = self.root.sub(key, required=required)
            if table is None:
                return None
            value = read(table)
            table.done()
            return value
        except SpecError as exc:
            self.errors.append(exc)
            return None

    def load(self) -> ServiceConfig:
        root = self.root
        for key in root.table:
            if key not in _TOP:
                self.errors.append(root.fail(key, "is not a known key"))
        root.seen.update(_TOP)
        gateway = self.section("gateway", self.gateway, required=True)
        upstream = self.section("upstream", self.upstream, required=True)
        centers = self.centers()
        mappings = self.section("mappings", self.mappings, required=False)
        saf = self.section("store_and_forward", self.saf, required=False)
        security = self.section("security", self.security, required=True)
        journal = self.section("journal", self.journal, required=True)
        cutover = self.section("cutover", self.cutover, required=True)
        logging = self.section("logging", self.logging, required=False)
        metrics = self.section("metrics", self.metrics, required=False)
        names = {c.name for c, _ in centers or ()}
        if upstream is not None:
            if upstream[0].name in names:
                self.errors.append(
                    SpecError(self.file, "upstream.name", "is also the name of a center")
                )
            names.add(upstream[0].name)
        known = names if upstream is not None and centers is not None else None
        routes = self.section("routing", lambda t: self.routing(t, known), required=True)
        if centers is not None:
            self.check_ports(centers, metrics)
        if self.errors or centers is None:
            raise InvalidConfig(self.errors)
        settings, up_tls, up_dialect = upstream
        gateway_config = GatewayConfig(
            institution=gateway["institution"],
            upstream=settings,
            centers=tuple(c for c, _ in centers),
            routes=routes,
            request_timeout=gateway["request_timeout"],
            saf=saf if saf is not None else SafPolicy(),
            forward_to_home_center=gateway["forward_to_home_center"],
            journal_batch=gateway["journal_batch"],
            cutover_at=cutover.time,
        )
        dialects = {settings.name: up_dialect}
        dialects.update({c.name: _CENTER_DIALECT for c, _ in centers})
        return ServiceConfig(
            file=self.file,
            gateway=gateway_config,
            security=security,
            journal=journal,
            cutover=cutover,
            logging=logging if logging is not None else LoggingSettings(),
            metrics=metrics,
            drain_timeout=gateway["drain_timeout"],
            upstream_tls=up_tls,
            center_tls={c.name: tls for c, tls in centers if tls is not None},
            dialects=dialects,
            mappings=mappings if mappings is not None else dict(_MAPPINGS),
            keys=tuple(self.keys),
        )

    # -- sections --------------------------------------------------------------------

    def gateway(self, t: Section) -> dict[str, Any]:
        acquirer = institution(t, "institution")
        forwarder = institution(t, "forwarder", required=False) or acquirer
        return {
            "institution": InstitutionCodes(acquirer=acquirer, forwarder=forwarder),
            "request_timeout": t.number("request_timeout", 30.0),
            "forward_to_home_center": t.boolean("forward_to_home_center", True),
            "journal_batch": t.integer("journal_batch", 16, low=1, high=10_000),
            "drain_timeout": t.number("drain_timeout", 10.0, above=False),
        }

    def link_keys(self, t: Section) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for key, usage in (
            ("mac_key", KeyUsage.ZONE_MAC),
            ("pin_key", KeyUsage.ZONE_PIN),
            ("kek", KeyUsage.ZONE_MASTER),
        ):
            name = t.text(key, None)
            out[key] = name
            if name is not None:
                self.keys.append(KeyReference(where=join(t.where, key), name=name, usage=usage))
        return out

    def upstream(self, t: Section) -> tuple[UpstreamLink, TlsFiles | None, str]:
        name = link_name(t, "name", "cups")
        dialect = dialect_name(t, _UPSTREAM_DIALECT, "to the switch")
        echo = t.number("echo_interval", 60.0, above=False)
        backoff = Backoff(initial=0.2, maximum=5.0)
        b = t.sub("backoff")
        if b is not None:
            backoff = Backoff(**delays(b, "backoff", 0.2, 5.0), jitter=fraction(b, "jitter", 0.5))
            b.done()
        link = UpstreamLink(
            name=name,
            host=host_name(t),
            port=t.integer("port", low=1, high=65535),
            pin_format=t.choice("pin_format", _PIN_FORMATS, "iso0"),
            sign_on=t.boolean("sign_on", True),
            echo_interval=echo or None,
            backoff=backoff,
            **self.link_keys(t),
        )
        return link, tls_files(t, upstream=True), dialect

    def centers(self) -> list[tuple[CenterLink, TlsFiles | None]] | None:
        try:
            tables = self.root.subs("centers")
        except SpecError as exc:
            self.errors.append(exc)
            return None
        if not tables:
            self.errors.append(self.root.fail("centers", "needs at least one [[centers]] table"))
            return None
        out: list[tuple[CenterLink, TlsFiles | None]] = []
        seen: dict[str, str] = {}
        failed = False
        for t in tables:
            try:
                name = link_name(t, "name", None)
                if name in seen:
                    raise t.fail("name", f"{name!r} is already the name of {seen[name]}")
                seen[name] = t.where
                dialect_name(t, _CENTER_DIALECT, "to centers")
                center = CenterLink(
                    name=name,
                    institution=institution(t, "institution"),
                    region=region(t),
                    host=host_name(t),
                    port=t.integer("port", low=1, high=65535),
                    pin_format=t.choice("pin_format", _PIN_FORMATS, "iso0"),
                    **self.link_keys(t),
                )
                out.append((center, tls_files(t, upstream=False)))
                t.done()
            except SpecError as exc:
                self.errors.append(exc)
                failed = True
        return None if failed else out

    def routing(self, t: Section, names: set[str] | None) -> dict[str, Any]:
        table = dict(t.table)
        t.seen.update(table)
        RouteTable.from_config(table, file=self.file, where="routing", destinations=names)
        return table

    def mappings(self, t: Section) -> dict[str, str]:
        out = {}
        for key, shipped in _MAPPINGS.items():
            name = t.text(key, shipped)
            try:
                load_mapping(name)
            except SpecError as exc:
                raise t.fail(key, exc.problem) from None
            if name != shipped:
                raise t.fail(key, f"the gateway translates with {shipped!r} (others: not yet)")
            out[key] = name
        return out

    def saf(self, t: Section) -> SafPolicy:
        return SafPolicy(
            **delays(t, "store_and_forward", 1.0, 60.0),
            expiry=t.number("expiry", 3 * 86400.0),
            attempt_timeout=t.number("attempt_timeout", 10.0),
            batch=t.integer("batch", 32, low=1, high=10_000),
        )

    def security(self, t: Section) -> SecuritySettings:
        return SecuritySettings(
            key_store=t.path("key_store"),
            master_key=secret(t, "master_key", default_env="SSCARD_MASTER_KEY"),
        )

    def journal(self, t: Section) -> JournalSettings:
        return JournalSettings(
            path=t.path("path"),
            pan_key=secret(t, "pan_key"),
            data_key=secret(t, "data_key"),
        )

    def cutover(self, t: Section) -> Cutover:
        text = t.text("time")
        match = _CUTOVER.fullmatch(text)
        if match is None:
            raise t.fail("time", 'must be a time of day "HH:MM" (00:00 to 23:59)')
        return Cutover(time=_dt.time(int(match[1]), int(match[2])))

    def logging(self, t: Section) -> LoggingSettings:
        return LoggingSettings(
            level=t.choice("level", _LEVELS, "info"), json=t.boolean("json", False)
        )

    def metrics(self, t: Section) -> MetricsSettings | None:
        enabled = t.boolean("enabled", True)
        host = t.text("host", "127.0.0.1")
        if not loopback(host):
            raise t.fail("host", "must be a loopback address (metrics have no authentication)")
        settings = MetricsSettings(
            host=host,
            port=t.integer("port", 9108, low=1, high=65535),
            interval=t.number("interval", 5.0),
        )
        return settings if enabled else None

    def check_ports(
        self,
        centers: list[tuple[CenterLink, TlsFiles | None]],
        metrics: MetricsSettings | None,
    ) -> None:
        ports = [(f"centers[{i}].port", center.port) for i, (center, _) in enumerate(centers)]
        if metrics is not None:
            ports.append(("metrics.port", metrics.port))
        used: dict[int, str] = {}
        for where, port in ports:
            if port in used:
                problem = f"{port} is already used by {used[port]}"
                self.errors.append(SpecError(self.file, where, problem))
            used.setdefault(port, where)
