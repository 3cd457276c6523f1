"""Running one live case: connect, sign on, play the steps, judge each answer.

Why this shape: a case is data (:mod:`._cases`), so this module is the
only interpreter of the step language — build the message from its
template and placeholders (or take an earlier step's frame again), put a
key exchange's cryptogram and check value in, encode it with a valid, wrong
or missing MAC, mutate the frame, send it, wait for the answer with the
same STAN, and compare MTI, field values and the answer's MAC with what
the step expects. The first step that does not get what it expects fails
the case with a reason naming the step; a case whose prerequisites the kit
lacks (a KEK, a MAC key, control of the upstream) is not applicable, with
the reason. Each case has a connection of its own, so one case's damage
cannot fail the next.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

import attrs
import trio

from ..crypto import SecurityModule
from ..errors import SscardError
from ..iso import Dialect, FieldValue, Message
from ..iso.jsonio import message_from_dict
from ..link import transmission_time
from ._cases import PLACEHOLDER, Case, KeyExchange, KitKeys, Step
from ._controls import UpstreamControl
from ._report import Outcome
from ._session import Connector, Inbound, PeerGone, Session, open_session

__all__ = ["LiveContext", "run_live"]


@attrs.frozen(kw_only=True)
class LiveContext:
    """What a live case runs with (built by the runner)."""

    connect: Connector
    dialect: Dialect
    security: SecurityModule | None
    keys: KitKeys
    variables: Mapping[str, str]
    stan: Callable[[], str]
    clock: Callable[[], datetime] = datetime.now
    control: UpstreamControl | None = None
    assume_silent_upstream: bool = False
    timeout: float = 10.0
    reversal_timeout: float = 30.0


class _Failed(Exception):
    """The peer did not answer as the case expects."""


class _Error(Exception):
    """The case could not be carried out (connection, sign-on, a bad case file)."""


def _missing(case: Case, ctx: LiveContext) -> str | None:
    """Why the kit cannot run ``case``, or ``None``."""
    needs = set(case.requires)
    if any(step.mac in ("bad", "none") for step in case.steps):
        needs.add("mac-key")
    if any(step.key_exchange is not None for step in case.steps):
        needs.add("kek")
    if any(step.upstream == "silent" for step in case.steps):
        needs.add("upstream-control")
    if "mac-key" in needs and (ctx.security is None or ctx.keys.mac_key is None):
        return "the kit has no MAC key (--keys, --mac-key): it cannot tell a wrong MAC from none"
    if "kek" in needs and (ctx.security is None or ctx.keys.kek is None):
        return (
            "no key-encrypting key shared with the peer was given (--kek NAME):"
            " the kit cannot send a key the peer can check"
        )
    if "upstream-control" in needs and ctx.control is None and not ctx.assume_silent_upstream:
        return (
            "the kit cannot make the peer's upstream stay silent: pass an UpstreamControl"
            " (Python, pytest), or configure the upstream to ignore the amount"
            f" {ctx.variables.get('silent_amount', '?')} and pass --upstream-silent"
        )
    return None


def _fill(text: str, values: Mapping[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def _dynamic(ctx: LiveContext) -> dict[str, str]:
    now = ctx.clock()
    stan = ctx.stan()
    return {
        "stan": stan,
        "f7": transmission_time(now),
        "time": now.strftime("%H%M%S"),
        "date": now.strftime("%m%d"),
        "rrn": now.strftime("%m%d%H") + stan,
    }


def _build(
    ctx: LiveContext, case: Case, template_name: str, step_fields: Mapping[str, str]
) -> Message:
    template = case.file.templates[template_name]
    values = {**ctx.variables, **_dynamic(ctx)}
    fields = {**template.fields, **step_fields}
    data: dict[str, object] = {
        "mti": template.mti,
        "fields": {k: _fill(v, values) for k, v in fields.items()},
    }
    if template.header:
        data["header"] = {k: _fill(v, values) for k, v in template.header.items()}
    return message_from_dict(ctx.dialect, data)


def _key_fields(ctx: LiveContext, exchange: KeyExchange) -> dict[int, FieldValue]:
    network = ctx.dialect.spec.network
    spec = network.key_exchange if network is not None else None
    if spec is None or spec.pin_key_field is None or spec.pin_key_usage is None:
        raise _Error(f"dialect {ctx.dialect.name!r} defines no key exchange fields")
    assert ctx.security is not None and ctx.keys.kek is not None
    name = ctx.keys.pin_key if exchange.key == "pin" else ctx.keys.mac_key
    if name is None:
        raise _Error(f"the kit has no {exchange.key} key name to send")
    cryptogram, kcv = ctx.security.export_key(name, ctx.keys.kek)
    if exchange.check_value == "bad":
        kcv = bytes([kcv[0] ^ 0xFF]) + kcv[1:]
    usage = spec.pin_key_usage
    if exchange.key == "pin":
        return {spec.pin_key_field: usage + (cryptogram + kcv).hex().upper()}
    if spec.mac_key_field is None:
        raise _Error(f"dialect {ctx.dialect.name!r} has no MAC key field")
    return {spec.mac_key_field: cryptogram, spec.pin_key_field: usage + kcv.hex().upper()}


def mutate(dialect: Dialect, frame: bytes, field: int) -> bytes:
    """``frame`` with the first character of ``field``'s data replaced by ``X``.

    Raises:
        SscardError: the frame does not decode.
        ValueError: the field is not in the frame.
    """
    decoded = dialect.decode(frame)
    assert decoded.wire is not None and decoded.body is not None
    offset = len(frame) - len(decoded.body)
    for key, part in decoded.wire.items():
        if key == str(field):
            at = offset + len(part["len"])
            data = part["data"]
            if not data or frame[at : at + len(data)] != data:
                break
            return frame[:at] + b"X" + frame[at + 1 :]
        offset += len(part["len"]) + len(part["data"])
    raise ValueError(f"field {field} cannot be located in the frame")


def _show(value: FieldValue | None) -> str:
    return "-" if value is None else value if isinstance(value, str) else "<binary>"


def _describe(message: Message) -> str:
    parts = [message.mti, f"F11={_show(message.fields.get(11))}"]
    for number in (70, 39):
        if number in message.fields:
            parts.append(f"F{number}={_show(message.fields[number])}")
    return " ".join(parts)


async def _exchange(
    session: Session,
    ctx: LiveContext,
    step: Step,
    message: Message,
    frame: bytes,
    log: list[str],
) -> Inbound:
    note = f" (MAC {step.mac})" if step.mac != "valid" else ""
    if step.frame is not None:
        note += f" (field {step.frame.field} made malformed)"
    silenced = ctx.control if step.upstream == "silent" else None
    if silenced is not None:
        await silenced.silence()
    try:
        started = trio.current_time()
        try:
            await session.send(frame)
        except PeerGone as exc:
            raise _Failed(f"step {step.id!r}: {exc}") from None
        log.append(f"{step.id}: -> {_describe(message)}{note}")
        timeout = step.timeout or ctx.timeout
        answer = await session.response_to(message, timeout)
    finally:
        if silenced is not None:
            await silenced.restore()
    if answer is None:
        why = f"step {step.id!r}: no answer within {timeout:g} s"
        if session.closed:
            why += f" ({session.closed})"
        if session.problems:
            why += f"; {session.problems[-1]}"
        stray = session.unmatched()
        if stray:
            shown = ", ".join(_describe(m) for m in stray[-3:])
            why += f"; answers matching no request: {shown}"
        raise _Failed(why)
    elapsed = (trio.current_time() - started) * 1000
    log.append(f"{step.id}: <- {_describe(answer.message)} in {elapsed:.0f} ms")
    return answer


def _judge(session: Session, step: Step, answer: Inbound) -> None:
    if answer.reject_code is not None:
        raise _Failed(
            f"step {step.id!r}: the peer rejected the message (reject code {answer.reject_code})"
        )
    problems: list[str] = []
    expect = step.expect
    if expect is not None:
        if expect.mti is not None and answer.message.mti != expect.mti:
            problems.append(f"MTI {answer.message.mti}, expected {expect.mti}")
        for field in expect.fields:
            problem = field.problem(answer.message.fields.get(field.field))
            if problem is not None:
                problems.append(problem)
    mac = session.mac_problem(answer.message)
    if mac is not None:
        problems.append(mac)
    if problems:
        raise _Failed(f"step {step.id!r}: " + "; ".join(problems))


async def _step(
    session: Session,
    ctx: LiveContext,
    case: Case,
    step: Step,
    sent: dict[str, tuple[Message, bytes]],
    log: list[str],
) -> None:
    if step.repeat_of is not None:
        message, frame = sent[step.repeat_of]
    else:
        assert step.send is not None
        message = _build(ctx, case, step.send, step.fields)
        if step.key_exchange is not None:
            message = message.with_fields(_key_fields(ctx, step.key_exchange))
        frame = session.encode(message, step.mac)
        if step.frame is not None:
            frame = mutate(ctx.dialect, frame, step.frame.field)
    sent[step.id] = (message, frame)
    answer = await _exchange(session, ctx, step, message, frame, log)
    _judge(session, step, answer)
    if step.wait_for_reversal:
        if ctx.control is None:
            log.append(
                f"{step.id}: note: the kit cannot see the upstream; check that it received"
                f" a reversal (0420) of amount {_show(message.fields.get(4))}"
            )
            return
        if not await ctx.control.reversal_delivered(message, ctx.reversal_timeout):
            raise _Failed(
                f"step {step.id!r}: no reversal of the unanswered leg reached the upstream"
                f" within {ctx.reversal_timeout:g} s"
            )
        log.append(f"{step.id}: the upstream received the reversal")


async def _network(
    session: Session, ctx: LiveContext, case: Case, name: str, timeout: float
) -> Inbound | None:
    message = _build(ctx, case, name, {})
    await session.send(session.encode(message))
    return await session.response_to(message, timeout)


async def run_live(case: Case, ctx: LiveContext) -> tuple[Outcome, str, tuple[str, ...]]:
    """Run one live case against the peer.

    Args:
        case: a live case.
        ctx: the connection, keys, variables and hooks.

    Returns:
        The outcome, its reason ("" when passed) and the message log.
    """
    missing = _missing(case, ctx)
    if missing is not None:
        return Outcome.NOT_APPLICABLE, missing, ()
    log: list[str] = []
    try:
        async with open_session(
            ctx.connect, ctx.dialect, security=ctx.security, keys=ctx.keys
        ) as session:
            # outcomes are values before they leave the session's nursery
            outcome, reason = await _play(session, case, ctx, log)
    except OSError as exc:
        return Outcome.ERROR, f"cannot connect to the peer ({exc})", tuple(log)
    return outcome, reason, tuple(log)


async def _play(
    session: Session, case: Case, ctx: LiveContext, log: list[str]
) -> tuple[Outcome, str]:
    try:
        if case.sign_on and case.file.sign_on is not None:
            answer = await _network(session, ctx, case, case.file.sign_on, ctx.timeout)
            code = None if answer is None else answer.message.fields.get(39)
            if answer is None or code not in ctx.dialect.spec.approved:
                got = "no answer" if answer is None else f"F39={_show(code)}"
                raise _Error(f"sign-on before the steps was not approved ({got})")
            log.append(f"signed on: {_describe(answer.message)}")
        sent: dict[str, tuple[Message, bytes]] = {}
        for step in case.steps:
            await _step(session, ctx, case, step, sent, log)
        if case.file.sign_off is not None:
            await _network(session, ctx, case, case.file.sign_off, min(ctx.timeout, 2.0))
    except _Failed as exc:
        return Outcome.FAILED, str(exc)
    except _Error as exc:
        return Outcome.ERROR, str(exc)
    except PeerGone as exc:
        return Outcome.ERROR, f"connection lost: {exc}"
    except (SscardError, ValueError) as exc:
        return Outcome.ERROR, f"the kit could not build a message: {exc}"
    return Outcome.PASSED, ""
