"""How the UnionPay switch simulator answers: rules as data, decided sans-I/O.

A conformance or end-to-end test needs a switch that approves, declines by
amount or card, answers late, does not answer, or drops the connection, on
purpose and reproducibly. :class:`SwitchRules` holds those rules (built from
keyword arguments or a TOML-shaped dict); :meth:`SwitchRules.decide` turns
one request into a :class:`Decision`. The Trio layer only carries it out.

Rules are tried in order; the first whose conditions all hold decides.
Conditions: ``mti`` prefixes, ``processing_codes``, ``amount_over`` (fen,
field 4), ``pan_suffixes`` (last digits of field 2, so tests never need a
whole PAN in a rule). Actions: ``respond`` with a code, ``delay`` seconds
before responding, ``silent`` (no answer), ``drop`` (close the connection).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..errors import SpecError
from ..iso import Message

__all__ = ["Action", "Decision", "Rule", "SwitchRules"]


class Action(enum.Enum):
    """What the switch does with a request: answer, stay silent, or drop the line."""

    RESPOND = "respond"
    SILENT = "silent"
    DROP = "drop"


@attrs.frozen(kw_only=True)
class Decision:
    """What the switch does with one request."""

    action: Action = Action.RESPOND
    response_code: str = "00"
    delay: float = 0.0


@attrs.frozen(kw_only=True)
class Rule:
    """One rule: conditions (all must hold) and the decision."""

    mti: tuple[str, ...] = ()
    processing_codes: tuple[str, ...] = ()
    amount_over: int | None = None
    pan_suffixes: tuple[str, ...] = ()
    decision: Decision = attrs.field(factory=Decision)

    def matches(self, message: Message) -> bool:
        """Whether every condition of this rule holds for ``message``."""
        if self.mti and not message.mti.startswith(self.mti):
            return False
        if self.processing_codes and message.get(3) not in self.processing_codes:
            return False
        if self.amount_over is not None:
            amount = message.get(4)
            if not isinstance(amount, str) or not amount.isdigit():
                return False
            if int(amount) <= self.amount_over:
                return False
        if self.pan_suffixes:
            pan = message.get(2)
            if not isinstance(pan, str) or not pan.endswith(self.pan_suffixes):
                return False
        return True


_RULE_KEYS = {"mti", "processing_codes", "amount_over", "pan_suffixes", "action", "code", "delay"}


def _rule_from_dict(data: Mapping[str, Any], where: str) -> Rule:
    unknown = set(data) - _RULE_KEYS
    if unknown:
        raise SpecError("<rules>", f"{where}.{sorted(unknown)[0]}", "is not a known key")
    try:
        action = Action(data.get("action", "respond"))
    except ValueError:
        raise SpecError("<rules>", f"{where}.action", "must be respond, silent or drop") from None
    code = data.get("code", "00")
    if not (isinstance(code, str) and len(code) == 2):
        raise SpecError("<rules>", f"{where}.code", "must be a 2-character response code")
    delay = data.get("delay", 0.0)
    if not isinstance(delay, int | float) or delay < 0:
        raise SpecError("<rules>", f"{where}.delay", "must be a number of seconds >= 0")
    amount_over = data.get("amount_over")
    if amount_over is not None and (not isinstance(amount_over, int) or amount_over < 0):
        raise SpecError("<rules>", f"{where}.amount_over", "must be an amount in fen")
    return Rule(
        mti=tuple(_strings(data.get("mti", ()), f"{where}.mti")),
        processing_codes=tuple(
            _strings(data.get("processing_codes", ()), f"{where}.processing_codes")
        ),
        amount_over=amount_over,
        pan_suffixes=tuple(_strings(data.get("pan_suffixes", ()), f"{where}.pan_suffixes")),
        decision=Decision(action=action, response_code=code, delay=float(delay)),
    )


def _strings(value: object, where: str) -> Sequence[str]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise SpecError("<rules>", where, "must be a string or a list of strings")
    return value


@attrs.frozen
class SwitchRules:
    """An ordered list of rules and the decision when none matches."""

    rules: tuple[Rule, ...] = ()
    default: Decision = attrs.field(factory=Decision)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SwitchRules:
        """Build from ``{"rules": [{...}, ...], "default": {...}}``.

        Raises:
            SpecError: naming the rule and key that is wrong.
        """
        rules = data.get("rules", [])
        if not isinstance(rules, list):
            raise SpecError("<rules>", "rules", "must be a list of tables")
        built = tuple(_rule_from_dict(r, f"rules[{i}]") for i, r in enumerate(rules))
        default = _rule_from_dict(data.get("default", {}), "default").decision
        return cls(built, default)

    def decide(self, message: Message) -> Decision:
        """The decision for one request."""
        for rule in self.rules:
            if rule.matches(message):
                return rule.decision
        return self.default

    def with_rule(self, rule: Rule) -> SwitchRules:
        """A copy with ``rule`` tried first (tests change behaviour mid-run)."""
        return attrs.evolve(self, rules=(rule, *self.rules))
