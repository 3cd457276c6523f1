"""Translation between dialects: the outbound leg, its response, its reversal.

A request the gateway forwards becomes a new transaction on the outbound
link (DOMAIN.md §1, docs/architecture.md data flow): the fields a mapping file
carries over, the processing code the upstream knows, the cash part of a
medical settlement as the amount, and identifiers of the gateway's own (STAN
and RRN from :class:`~sscard_gateway.routing.LegCounters`, F7, and the
gateway's institution codes in F32/F33 and the CUPS header). Translation is
sans-I/O and pure apart from taking counter values.

The response to the original requester is built from the original request
(``Message.response_to``: the requester dialect's echoed fields, the header
with source and destination swapped), not from the upstream response: only
what the mapping's ``[response]`` lists, and the response code mapped by
``[response_codes]``, come from upstream. Echoed fields therefore always
hold what the requester sent (its STAN, its amount, its RRN).

A reversal of the outbound leg (``Translator.reversal``) is built from that
leg as it was sent: field 90 carries the outbound leg's MTI, STAN, F7, F32
and F33, never the requester's. It gets a new STAN and F7 of its own; the
RRN and the other echoed fields stay those of the leg it reverses.
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ..errors import DecodeError, MappingError, SpecError
from ..ids import format_amount_field
from ..iso.business import amount_split, layout
from ..iso.dialect import Dialect
from ..iso.framing import CupsHeader
from ..iso.message import FieldValue, Message
from ..iso.registry import specs_dir
from ._counters import InstitutionCodes, LegCounters
from ._leg import Leg, fits, original_data
from ._mapping import spec_from_dict
from ._mapspec import FieldRules, MappingSpec, Rebuild

__all__ = ["Translator", "available_mappings", "load_mapping"]


class Translator:
    """One mapping file, ready to translate (see the module documentation).

    Build one with :func:`load_mapping` or :meth:`Translator.load`; it is
    immutable and may be shared.

    Attributes:
        spec: the checked mapping.
        source: the requester's dialect (``center``, ``pos``, ``cups``).
        target: the outbound leg's dialect.
    """

    __slots__ = ("source", "spec", "target")

    def __init__(self, spec: MappingSpec) -> None:
        self.spec = spec
        self.source: Dialect = spec.source
        self.target: Dialect = spec.target

    def __repr__(self) -> str:
        return f"<Translator {self.spec.name!r}: {self.source.name} -> {self.target.name}>"

    @property
    def name(self) -> str:
        """The mapping's name (``center_to_cups``)."""
        return self.spec.name

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Translator:
        """Read and check a mapping file.

        Args:
            path: the TOML file.

        Returns:
            The translator.

        Raises:
            SpecError: the file is missing, not TOML, or invalid; the error
                names the file, the key path and the problem.
        """
        file = Path(path)
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SpecError(file.name, "", f"cannot be read ({exc.strerror})") from None
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(file.name, "", f"is not valid TOML ({exc})") from None
        return cls(spec_from_dict(data, file=file.name, name=file.stem))

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, file: str = "<mapping>", name: str = "mapping"
    ) -> Translator:
        """Check a parsed mapping document (the TOML schema as a dict).

        Args:
            data: the document.
            file: the file name, for errors.
            name: the mapping's name when ``[mapping] name`` is not given.

        Returns:
            The translator.

        Raises:
            SpecError: naming ``file``, the key path and the problem.
        """
        return cls(spec_from_dict(data, file=file, name=name))

    def _fail(self, where: str, problem: str, code: str) -> MappingError:
        return MappingError(self.spec.name, where, problem, code)

    def _check_dialect(self, message: Message, dialect: Dialect, what: str) -> None:
        if message.dialect is None or message.dialect.name != dialect.name:
            raise self._fail(what, f"must be a message of dialect {dialect.name!r}", "96")

    # -- requests -------------------------------------------------------------

    def outbound_amount(self, message: Message) -> int | None:
        """The amount the outbound leg carries for ``message``, in fen.

        A medical settlement's leg carries only the split's part named by
        ``[request.amount]`` (the cash): when it is ``0`` the bank has
        nothing to do, and the gateway may answer without forwarding.

        Args:
            message: a request of the source dialect.

        Returns:
            The amount, or ``None`` when the leg carries none.

        Raises:
            ValidationError: the split does not add up (``13``).
            DecodeError: the amount fields are malformed (``30``).
        """
        rule = self.spec.amount
        split = amount_split(message) if rule is not None else None
        if rule is not None and split is not None:
            return int(getattr(split, rule.part))
        value = message.fields.get(4)
        return int(value) if isinstance(value, str) and value.isdigit() else None

    def request(
        self,
        message: Message,
        *,
        counters: LegCounters,
        now_f7: str,
        institution: InstitutionCodes,
        original: Message | None = None,
    ) -> Message:
        """Translate a request into the outbound leg.

        Args:
            message: the request as received, in the source dialect.
            counters: where the leg's STAN and RRN come from.
            now_f7: the leg's transmission time ``MMDDhhmmss`` (the caller's
                clock, in the time zone the peer expects).
            institution: the gateway's institution codes.
            original: for a void or refund, the outbound leg of the
                transaction it refers to; its identifiers fill the target
                dialect's original-data field (90).

        Returns:
            The outbound request in the target dialect, with the target's
            header (CUPS: destination and source from ``[request.header]``).

        Raises:
            MappingError: the MTI or processing code is not carried (``12``),
                a field the mapping needs is missing or malformed (``30``),
                or the message is not of the source dialect (``96``).
            ValidationError: the amount split does not add up (``13``).
            ValueError: ``now_f7`` is not 10 digits.
        """
        spec = self.spec
        self._check_dialect(message, self.source, "request")
        mti = spec.mti.get(message.mti)
        if mti is None:
            problem = f"message type {message.mti} is not carried to {self.target.name!r}"
            if message.mti in (self.source.spec.reversal_mti, self.source.spec.retransmission_mti):
                problem = f"{message.mti} is a reversal: use Translator.reversal()"
            raise self._fail("mti", problem, "12")
        leg = Leg(counters, now_f7, institution)
        rules = spec.request
        out = self._carry(rules, message, self.source)
        self._guard(rules, out, self.target)
        data_field = self.target.spec.original_data_field
        if original is not None and data_field is not None:
            self._check_dialect(original, self.target, "original")
            out[data_field] = original_data(original, self._fail)
        extra: Mapping[int, str] = {}
        if spec.processing_codes is not None:
            code = message.fields.get(3)
            if not isinstance(code, str):
                raise self._fail("processing_codes", "the request has no processing code", "12")
            rule = spec.processing_codes.get(code)
            if rule is None:
                raise self._fail("processing_codes", "the processing code is not carried", "12")
            for n in rule.require:
                if n not in message.fields:
                    problem = f"processing code {code} needs field {n}"
                    raise self._fail(f"field {n}", problem, "30")
            out[3] = rule.code
            extra = rule.set
        if spec.amount is not None:
            try:
                split = amount_split(message)
            except DecodeError as exc:
                raise self._fail(
                    f"field {exc.field}", "the amount split is malformed", "30"
                ) from None
            if split is not None:
                out[spec.amount.field] = format_amount_field(getattr(split, spec.amount.part))
        out.update(rules.set)
        for n, gen in rules.assign.items():
            out[n] = leg.value(gen)
        for n, value in rules.default.items():
            out.setdefault(n, value)
        for n, gen in rules.assign_default.items():
            if n not in out:
                out[n] = leg.value(gen)
        out.update(extra)
        header = self.target.default_header()
        if isinstance(header, CupsHeader):
            parts = dict(spec.header_set)
            parts.update({k: leg.value(g) for k, g in spec.header_assign.items()})
            header = attrs.evolve(
                header,
                destination=parts.get("destination", header.destination),
                source=parts.get("source", header.source),
                transaction_info=parts.get("transaction_info", header.transaction_info),
            )
        return Message(mti, dict(sorted(out.items())), header=header, dialect=self.target)

    # -- responses ------------------------------------------------------------

    def response_code(self, upstream_code: str | None) -> str:
        """The requester's response code for the upstream's.

        Args:
            upstream_code: field 39 of the upstream response, if any.

        Returns:
            ``[response_codes]``'s value; else the same code when the
            requester's dialect knows it; else ``[response] fallback``.
        """
        spec = self.spec
        if upstream_code is None:
            return spec.fallback
        mapped = spec.response_codes.get(upstream_code)
        if mapped is not None:
            return mapped
        if upstream_code in self.source.spec.response_codes:
            return upstream_code
        return spec.fallback

    def response(self, request: Message, upstream_response: Message) -> Message:
        """The response to the original requester.

        Args:
            request: the original request as received (source dialect),
                including a reversal or advice.
            upstream_response: the response of the outbound leg (target
                dialect).

        Returns:
            ``request.response_to(code)`` in the source dialect, with the
            fields ``[response]`` carries from upstream.

        Raises:
            MappingError: a message of the wrong dialect, or a request that
                is already a response (``96``); an upstream subfield the
                mapping needs is missing (``30``).
        """
        self._check_dialect(request, self.source, "request")
        self._check_dialect(upstream_response, self.target, "upstream_response")
        if request.is_response:
            raise self._fail("request", f"{request.mti} is already a response", "96")
        up39 = upstream_response.fields.get(39)
        code = self.response_code(up39 if isinstance(up39, str) else None)
        base = request.response_to(code)
        rules = self.spec.response
        carried = self._carry(rules, upstream_response, self.target)
        for n in rules.fill:
            if n not in base.fields and n in upstream_response.fields:
                carried.setdefault(n, upstream_response.fields[n])
        self._guard(rules, carried, self.source)
        out = dict(base.fields)
        out.update(carried)
        out.update(rules.set)
        for n, value in rules.default.items():
            out.setdefault(n, value)
        out[39] = code
        return base.evolve(fields=dict(sorted(out.items())))

    # -- reversals ------------------------------------------------------------

    def reversal(self, outbound: Message, *, counters: LegCounters, now_f7: str) -> Message:
        """The reversal of an outbound leg, to send upstream.

        Args:
            outbound: the leg as it was sent (target dialect), as journaled.
            counters: where the reversal's own STAN comes from.
            now_f7: the reversal's transmission time ``MMDDhhmmss``.

        Returns:
            The target dialect's reversal (CUPS ``0420``): its echoed fields
            from ``outbound``, a new F11 and F7, and field 90 from the
            outbound leg's MTI, STAN, F7, F32 and F33.

        Raises:
            MappingError: ``outbound`` is not a request of the target
                dialect, or lacks F7, F11 or F32 (``96``).
            ValueError: ``now_f7`` is not 10 digits.
        """
        self._check_dialect(outbound, self.target, "outbound")
        if outbound.is_response:
            raise self._fail("outbound", f"{outbound.mti} is a response", "96")
        leg = Leg(counters, now_f7, None)
        data_field = self.target.spec.original_data_field
        extra: dict[int, FieldValue] = {11: leg.stan(), 7: now_f7}
        if data_field is not None:
            extra[data_field] = original_data(outbound, self._fail)
        out = outbound.reversal_of(extra)
        return out.evolve(fields=dict(sorted(out.fields.items())))

    # -- shared -------------------------------------------------------------------

    def _guard(self, rules: FieldRules, out: dict[int, FieldValue], into: Dialect) -> None:
        """Check carried values their target field may refuse (``FieldRules.guarded``).

        A request with such a value is refused (``30``); a response loses
        the field instead, so the requester still gets its answer.
        """
        for n in rules.guarded:
            value = out.get(n)
            if value is not None and not fits(into.spec.fields[n], value):
                if into is self.source:
                    del out[n]
                else:
                    problem = f"the value does not fit field {n} of dialect {into.name!r}"
                    raise self._fail(f"field {n}", problem, "30")

    def _carry(
        self, rules: FieldRules, message: Message, dialect: Dialect
    ) -> dict[int, FieldValue]:
        """Copies, renames and rebuilds of ``rules`` from ``message``."""
        fields = message.fields
        out: dict[int, FieldValue] = {n: fields[n] for n in rules.copy if n in fields}
        for r in rules.renames:
            value = fields.get(r.source)
            if value is None:
                continue
            if r.usage is not None and isinstance(value, str):
                if r.strip:
                    if not value.startswith(r.usage):
                        continue
                    value = value[len(r.usage) :]
                else:
                    value = r.usage + value
            out[r.target] = value
        for rebuild in rules.rebuilds:
            out[rebuild.target] = self._rebuild(rebuild, message, dialect)
        return out

    def _rebuild(self, rebuild: Rebuild, message: Message, dialect: Dialect) -> str:
        parts: Mapping[str, str] = {}
        value = message.fields.get(rebuild.source) if rebuild.source is not None else None
        if rebuild.source is not None and value is not None:
            # A value longer than its layout (subfields a newer terminal
            # specification added) is read up to the last declared subfield.
            source_layout = layout(dialect, rebuild.source)
            declared = sum(sf.length for sf in source_layout.subfields)
            try:
                if not isinstance(value, str):
                    raise KeyError(rebuild.source)
                parts = source_layout.parse(value[:declared])
            except (DecodeError, KeyError):
                where = f"field {rebuild.source}"
                raise self._fail(where, "does not fit its layout", "30") from None
        values: dict[str, str] = {}
        for rule in rebuild.subfields:
            if rule.literal is not None:
                values[rule.name] = rule.literal
                continue
            assert rule.source is not None
            part = parts.get(rule.source, rule.default)
            if part is None:
                where = f"field {rebuild.source}"
                raise self._fail(where, f"subfield {rule.source} is required", "30")
            values[rule.name] = part
        other = self.target if dialect is self.source else self.source
        return layout(other, rebuild.target).format(values)


def available_mappings() -> list[str]:
    """Names of the mapping files shipped under ``specs/mappings/``.

    Returns:
        Sorted names (``center_to_cups``, ...).
    """
    return sorted(p.stem for p in (specs_dir() / "mappings").glob("*.toml"))


@functools.cache
def _load_named(name: str) -> Translator:
    return Translator.load(specs_dir() / "mappings" / f"{name}.toml")


def load_mapping(name_or_path: str | os.PathLike[str]) -> Translator:
    """Load a mapping by name (``"center_to_cups"``) or from a TOML file path.

    Named mappings are loaded once and shared; a path is read every call.

    Args:
        name_or_path: a shipped mapping's name, or a path.

    Returns:
        The translator.

    Raises:
        SpecError: the file is missing or invalid.
    """
    text = os.fspath(name_or_path)
    if os.sep in text or text.endswith(".toml"):
        return Translator.load(text)
    if not (specs_dir() / "mappings" / f"{text}.toml").is_file():
        known = ", ".join(available_mappings())
        raise SpecError(f"{text}.toml", "", f"no such mapping (known: {known})")
    return _load_named(text)
