"""``sscard-gateway sim``: the simulators as processes, to drive a running gateway.

``sim keys --out DIR`` writes a lab key set (key store, master key file,
journal key files) with the key names ``examples/gateway.toml`` uses;
``sim switch`` is the UnionPay switch simulator (rules from a TOML file;
with ``--record FILE`` its record of the day survives a restart, and with
``--acom-out DIR`` it writes its clearing file when it stops);
``sim center`` connects as a regional center, sends transactions of the
kinds asked for and prints the answers (and with ``--serve`` stays to
answer the gateway's requests); ``sim load`` sends N requests C at a time
and prints throughput and latency percentiles (with ``--unique-cards
--record FILE --reverse-unknown`` it is a center a crash test can judge:
a card per request, its record written before each message leaves, the
unknown reversed until acknowledged; :mod:`sscard_gateway.sim._load_record`).
Together with ``run`` they make a deployment on one machine
(docs/operations.md). The simulators share one key store, as the lab
does: each party's keys under its own names.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio

from ..crypto import KeyInfo, MasterKey, SoftwareSecurityModule
from ..errors import KeyStoreError, LinkUnavailable, SscardError
from ..ids import AmountSplit, mask_pan
from ..iso import Message, load_dialect
from ..link import (
    Backoff,
    Link,
    LinkConfig,
    LinkKeys,
    LinkState,
    StanCounter,
    open_link,
    tcp_connector,
)
from ..sim import (
    CardHolder,
    CenterIdentity,
    CenterSimulator,
    HomeCenter,
    Kind,
)
from ..sim.lab import CARDS, CENTERS, lab_security
from ..sim.load import (
    MIXED_KINDS,
    LoadRecord,
    LoadResult,
    Planned,
    RecordingRequester,
    ReversalResult,
    UniqueWorkload,
    expected_ledgers,
    reverse_unknown,
    run_load,
)
from ._sim_listen import add_responder, add_switch, key_options, open_security, quiet_logging

__all__ = ["register", "write_lab_keys"]

_KINDS = tuple(k.value for k in Kind)


def register(sub: Any) -> None:
    """Add the ``sim`` command group to ``sub``."""
    sim = sub.add_parser("sim", help="simulators: switch, center, load, lab keys")
    ssub = sim.add_subparsers(dest="sim_command", required=True, metavar="SIMULATOR")

    p = ssub.add_parser("keys", help="write a lab key set for examples/gateway.toml")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to create")
    p.set_defaults(run=_keys)

    add_switch(ssub)

    p = ssub.add_parser("center", help="a regional center: send transactions, print answers")
    _center_options(p)
    p.add_argument(
        "--kind", action="append", choices=_KINDS, help="kind to send (repeatable; default all)"
    )
    p.add_argument("--count", type=int, default=1, help="transactions of each kind")
    p.add_argument("--amount", type=int, default=1500, help="amount in fen (cash part)")
    p.add_argument("--card-of", choices=tuple(CARDS), help="use this center's card")
    p.add_argument(
        "--serve", action="store_true", help="then stay connected and answer (until SIGTERM)"
    )
    p.add_argument("--answer", default="00", help="F39 given to the gateway's requests")
    p.set_defaults(run=_center)

    add_responder(ssub)

    p = ssub.add_parser("load", help="N requests, C in flight, through a gateway")
    _center_options(p)
    p.add_argument("--requests", type=int, default=1000, metavar="N")
    p.add_argument("--concurrency", type=int, default=16, metavar="C")
    p.add_argument(
        "--kind",
        choices=(*_KINDS, "mixed"),
        default=Kind.CONTRIBUTION_PAYMENT.value,
        help="mixed: medical settlements, contribution payments and benefit payouts in turn",
    )
    p.add_argument("--json", action="store_true", help="also print the result as a JSON line")
    _record_options(p)
    p.set_defaults(run=_load)


def _center_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gateway", type=_address, required=True, metavar="HOST:PORT")
    p.add_argument("--center", required=True, metavar="NAME", help="e.g. center-110000")
    p.add_argument("--institution", help="F32 (default: the lab center's)")
    p.add_argument("--region", help="the center's region (default: the lab center's)")
    p.add_argument("--mac-key", help="default NAME.zak")
    p.add_argument("--pin-key", help="default NAME.zpk")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    p.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to sign on")
    key_options(p)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


async def _until_signal(announce: str) -> None:
    """Print ``announce`` once a SIGTERM or SIGINT would be caught, then wait for one."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        print(announce, flush=True)
        async for _ in signals:
            return


# -- sim keys ------------------------------------------------------------------------------


def _write_secret(path: Path) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise KeyStoreError(f"{path}: cannot create the key file ({exc.strerror})") from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(os.urandom(32).hex() + "\n")


def write_lab_keys(out: Path) -> list[KeyInfo]:
    """Write a lab key set in ``out``: what ``examples/gateway.toml`` names under ``run/``.

    ``keys.store`` (the lab keys of :func:`~sscard_gateway.sim.lab.lab_security`:
    the switch's and both centers' MAC and PIN keys), ``master.key`` (its
    master key), ``journal-pan.key`` and ``journal-data.key`` (the journal's
    keys), all mode 0600, and a ``.gitignore`` that keeps them out of git.

    Args:
        out: the folder (created if needed).

    Returns:
        The keys in the store (names, usages and check values).

    Raises:
        KeyStoreError: one of the files exists already (nothing is overwritten).
    """
    out.mkdir(parents=True, exist_ok=True)
    for name in ("master.key", "keys.store", "journal-pan.key", "journal-data.key"):
        if (out / name).exists():
            raise KeyStoreError(f"{out / name} exists; choose an empty folder")
    ignore = out / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# lab keys and journals: never commit\n*\n", encoding="ascii")
    master = MasterKey.generate()
    master.write_file(out / "master.key")
    module = lab_security(out / "keys.store", master)
    for name in ("journal-pan.key", "journal-data.key"):
        _write_secret(out / name)
    return module.list_keys()


def _keys(args: argparse.Namespace) -> int:
    out: Path = args.out
    infos = write_lab_keys(out)
    print(f"wrote a lab key set in {out} (test keys only, never for production):")
    print(f"  keys.store        the key store ({len(infos)} keys):")
    for info in infos:
        print(f"                      {info}")
    print("  master.key        its master key")
    print("  journal-pan.key   the journal's PAN hash key")
    print("  journal-data.key  the journal's payload key")
    return 0


# -- sim center and sim load -------------------------------------------------------------


def _identity(args: argparse.Namespace) -> CenterIdentity:
    lab = CENTERS.get(args.center)
    institution = args.institution or (lab.institution if lab else None)
    region = args.region or (lab.region if lab else None)
    if institution is None or region is None:
        raise SscardError(f"{args.center} is not a lab center: pass --institution and --region")
    return CenterIdentity(institution=institution, region=region)


def _card(args: argparse.Namespace) -> CardHolder:
    owner = getattr(args, "card_of", None) or args.center
    if owner not in CARDS:
        raise SscardError(f"no lab card for {owner}: pass --card-of one of {', '.join(CARDS)}")
    return CARDS[owner]


@asynccontextmanager
async def _center_link(
    args: argparse.Namespace,
    security: SoftwareSecurityModule,
    identity: CenterIdentity,
    handler: Callable[[Message], Awaitable[Message | None]] | None = None,
) -> AsyncIterator[Link]:
    host, port = args.gateway
    name = args.center
    async with open_link(
        load_dialect("center"),
        tcp_connector(host, port),
        security=security,
        handler=handler,
        keys=LinkKeys(mac_key=args.mac_key or f"{name}.zak", pin_key=args.pin_key or f"{name}.zpk"),
        config=LinkConfig(
            echo_interval=None,
            request_timeout=args.timeout,
            network_fields={32: identity.institution},
        ),
        backoff=Backoff(initial=0.05, maximum=1.0),
        name=f"sim-{name}",
    ) as link:
        with trio.move_on_after(args.connect_timeout) as waiting:
            await link.wait_ready()
        if waiting.cancelled_caught:
            raise SscardError(
                f"{name}: not signed on to the gateway at {host}:{port} "
                f"within {args.connect_timeout:g} s"
            )
        yield link


def _simulator(
    args: argparse.Namespace, security: SoftwareSecurityModule, identity: CenterIdentity
) -> CenterSimulator:
    return CenterSimulator(
        identity,
        security=security,
        pin_key=args.pin_key or f"{args.center}.zpk",
        stan=StanCounter(start=random.randint(1, 999_999)),  # noqa: S311 - test traffic
    )


def _build(sim: CenterSimulator, kind: Kind, card: CardHolder, amount: int) -> Message:
    if kind is Kind.MEDICAL_SETTLEMENT:
        split = AmountSplit.from_parts(fund=3 * amount, personal_account=amount, cash=amount)
        return sim.build(kind, card, split=split)
    return sim.build(kind, card, amount=amount)


def _center(args: argparse.Namespace) -> int:
    quiet_logging()
    security = open_security(args, required=True)
    assert security is not None
    identity = _identity(args)
    card = _card(args)
    sim = _simulator(args, security, identity)
    kinds = [Kind(k) for k in (args.kind or _KINDS)]
    masked = mask_pan(card.pan)
    failures = 0

    async def answer(message: Message) -> Message:
        print(f"request from the gateway: {message.mti} F3 {message.text(3)}", flush=True)
        return message.response_to(args.answer, {38: "SIM001"} if args.answer == "00" else None)

    async def main() -> None:
        nonlocal failures
        async with _center_link(args, security, identity, answer) as link:
            for kind in kinds:
                for _ in range(args.count):
                    message = _build(sim, kind, card, args.amount)
                    try:
                        response = await link.request(message, timeout=args.timeout)
                    except SscardError as exc:
                        failures += 1
                        print(f"{kind.value:<22} {masked}  {type(exc).__name__}")
                        continue
                    auth = response.text(38)
                    print(
                        f"{kind.value:<22} {masked}  {response.text(39)}"
                        + (f"  auth {auth}" if auth else ""),
                        flush=True,
                    )
            if args.serve:
                await _until_signal("serving the gateway's requests until SIGTERM")

    trio.run(main)
    return 1 if failures else 0


def _record_options(p: argparse.ArgumentParser) -> None:
    """``sim load``'s options for a load that keeps a requester's record (crash tests)."""
    p.add_argument(
        "--unique-cards",
        action="store_true",
        help="a lab card of its own per request: own-region, other-region and bank cards in turn",
    )
    p.add_argument(
        "--first-card",
        type=int,
        metavar="SERIAL",
        help="the card serial of request 0 with --unique-cards (default: 1000000 for "
        "center-110000, 2000000 for center-310000)",
    )
    p.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="the center's record (JSON lines, holds clear PANs, mode 0600; messages in "
        "FILE.messages): what it sent, was told and reversed, written before it leaves",
    )
    p.add_argument(
        "--home-record",
        type=Path,
        metavar="FILE",
        help="answer the gateway's requests as the home center, its record of the day in FILE "
        "(JSON lines, mode 0600; in memory with --unique-cards alone)",
    )
    p.add_argument(
        "--reverse-unknown",
        action="store_true",
        help="reverse at once a request not answered, and after the load every request of "
        "--record whose outcome is unknown, resending (0421) until acknowledged",
    )
    p.add_argument(
        "--reverse-for",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long --reverse-unknown keeps resending (default 60)",
    )
    p.add_argument(
        "--serve",
        action="store_true",
        help="then stay connected and answer the gateway's requests (until SIGTERM)",
    )


def _first_card(args: argparse.Namespace) -> int:
    if args.first_card is not None:
        return int(args.first_card)
    names = list(CENTERS)
    return 1_000_000 * (names.index(args.center) + 1) if args.center in names else 0


def _load(args: argparse.Namespace) -> int:
    quiet_logging()
    security = open_security(args, required=True)
    assert security is not None
    if args.concurrency < 1 or args.requests < 0:
        raise SscardError("--requests and --concurrency must be at least 1")
    if args.requests < 1 and not args.reverse_unknown:
        raise SscardError("--requests must be at least 1 (0 only with --reverse-unknown)")
    if args.reverse_unknown and args.record is None:
        raise SscardError("--reverse-unknown needs --record FILE")
    identity = _identity(args)
    sim = _simulator(args, security, identity)
    kinds = MIXED_KINDS if args.kind == "mixed" else (Kind(args.kind),)
    title = "mixed" if args.kind == "mixed" else kinds[0].value
    workload = (
        UniqueWorkload(sim, center=args.center, kinds=kinds, first_serial=_first_card(args))
        if args.unique_cards
        else None
    )
    card = None if workload is not None else _card(args)
    record = LoadRecord(args.record, load_dialect("center")) if args.record else None
    home = HomeCenter(record=args.home_record) if args.home_record or workload else None

    def plan(i: int) -> Planned:
        if workload is not None:
            return workload.plan(i)
        assert card is not None
        kind, amount = kinds[i % len(kinds)], 100 + i % 900
        cash = amount if kind is Kind.MEDICAL_SETTLEMENT else 0
        owner = getattr(args, "card_of", None) or args.center
        expects = expected_ledgers(kind, center=args.center, card_home=owner, cash=cash)
        return Planned(_build(sim, kind, card, amount), kind, expects)

    async def main() -> tuple[LoadResult, ReversalResult | None]:
        handler = home.handle if home is not None else None
        async with _center_link(args, security, identity, handler) as link:

            async def fail_fast(message: Message) -> Message:
                # fail fast once the gateway is gone, rather than wait a timeout per request
                if link.state is not LinkState.SIGNED_ON:
                    raise LinkUnavailable("not signed on to the gateway")
                return await link.request(message, timeout=args.timeout)

            request: Callable[[Message], Awaitable[Message]] = fail_fast
            make: Callable[[int], Message] = lambda i: plan(i).message  # noqa: E731
            recorder = None
            if record is not None:
                recorder = RecordingRequester(
                    link,
                    record,
                    sim,
                    timeout=args.timeout,
                    connect_timeout=args.connect_timeout,
                    reverse_at_once=args.reverse_unknown,
                )
                request, make = recorder.request, lambda i: recorder.expect(plan(i))
            result = await run_load(
                request, make, total=args.requests, concurrency=args.concurrency
            )
            reversals = None
            if recorder is not None and args.reverse_unknown:
                reversals = await reverse_unknown(
                    recorder.record,
                    recorder.send,
                    recorder.reversal_of,
                    concurrency=args.concurrency,
                    bound=args.reverse_for,
                )
            _report(args, result, reversals, title)
            if args.serve:
                await _until_signal("serving the gateway's requests until SIGTERM")
            return result, reversals

    try:
        result, reversals = trio.run(main)
    finally:
        if record is not None:
            record.close()
        if home is not None:
            home.ledger.close()
    return 1 if result.errors or (reversals is not None and reversals.open) else 0


def _report(
    args: argparse.Namespace, result: LoadResult, reversals: ReversalResult | None, title: str
) -> None:
    print(result.table(f"load through {args.gateway[0]}:{args.gateway[1]} ({title})"))
    if reversals is not None:
        print(
            f"  reversed {reversals.acknowledged} of {reversals.unknown} requests of unknown "
            f"outcome ({reversals.open} still open) in {reversals.rounds} round(s), "
            f"{reversals.sends} sends",
            flush=True,
        )
    if args.json:
        line = result.summary()
        if reversals is not None:
            line["reversals"] = attrs.asdict(reversals)
        print(json.dumps(line), flush=True)
