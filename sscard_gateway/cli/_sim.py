"""``sscard-gateway sim``: the simulators as processes, to drive a running gateway.

``sim keys --out DIR`` writes a lab key set (key store, master key file,
journal key files) with the key names ``examples/gateway.toml`` uses;
``sim switch`` is the UnionPay switch simulator (rules from a TOML file);
``sim center`` connects as a regional center, sends transactions of the
kinds asked for and prints the answers (and with ``--serve`` stays to
answer the gateway's requests); ``sim load`` sends N requests C at a time
and prints throughput and latency percentiles. Together with ``run``
they make a deployment on one machine (docs/operations.md). The
simulators share one key store, as the lab does: each party's keys under
its own names.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import signal
import sys
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from ..crypto import MASTER_KEY_ENV, KeyInfo, MasterKey, SoftwareSecurityModule
from ..errors import KeyStoreError, LinkUnavailable, SpecError, SscardError
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
    CenterResponder,
    CenterSimulator,
    Kind,
    SwitchRules,
    SwitchSimulator,
)
from ..sim.lab import CARDS, CENTERS, lab_security
from ..sim.load import LoadResult, run_load
from ._crypto import KEY_STORE_ENV, load_master_key

__all__ = ["register", "write_lab_keys"]

_KINDS = tuple(k.value for k in Kind)


def register(sub: Any) -> None:
    """Add the ``sim`` command group to ``sub``."""
    sim = sub.add_parser("sim", help="simulators: switch, center, load, lab keys")
    ssub = sim.add_subparsers(dest="sim_command", required=True, metavar="SIMULATOR")

    p = ssub.add_parser("keys", help="write a lab key set for examples/gateway.toml")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to create")
    p.set_defaults(run=_keys)

    p = ssub.add_parser("switch", help="the UnionPay switch simulator (until SIGTERM)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7000, help="0: any free port (printed)")
    p.add_argument("--rules", type=Path, metavar="FILE.toml", help="how to answer")
    p.add_argument("--settlement-date", metavar="MMDD", help="F15 of responses")
    p.add_argument("--mac-key", default="cups.zak")
    p.add_argument("--pin-key", default="cups.zpk")
    _key_options(p)
    p.set_defaults(run=_switch)

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

    p = ssub.add_parser(
        "responder", help="a regional center's answering side, listening (until SIGTERM)"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7200, help="0: any free port (printed)")
    p.add_argument("--mac-key", default="center-110000.zak")
    p.add_argument("--pin-key", default="center-110000.zpk")
    p.add_argument("--decline-over", type=int, default=10_000_000, help="fen; larger: 51")
    _key_options(p)
    p.set_defaults(run=_responder)

    p = ssub.add_parser("load", help="N requests, C in flight, through a gateway")
    _center_options(p)
    p.add_argument("--requests", type=int, default=1000, metavar="N")
    p.add_argument("--concurrency", type=int, default=16, metavar="C")
    p.add_argument("--kind", choices=_KINDS, default=Kind.CONTRIBUTION_PAYMENT.value)
    p.add_argument("--json", action="store_true", help="also print the result as a JSON line")
    p.set_defaults(run=_load)


def _key_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--keys",
        type=Path,
        default=os.environ.get(KEY_STORE_ENV),
        metavar="STORE",
        help=f"key store (default ${KEY_STORE_ENV})",
    )
    p.add_argument(
        "--master-key",
        type=Path,
        metavar="FILE",
        help=f"master key file (default ${MASTER_KEY_ENV})",
    )


def _center_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gateway", type=_address, required=True, metavar="HOST:PORT")
    p.add_argument("--center", required=True, metavar="NAME", help="e.g. center-110000")
    p.add_argument("--institution", help="F32 (default: the lab center's)")
    p.add_argument("--region", help="the center's region (default: the lab center's)")
    p.add_argument("--mac-key", help="default NAME.zak")
    p.add_argument("--pin-key", help="default NAME.zpk")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    p.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to sign on")
    _key_options(p)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


def _quiet_logging() -> None:
    # warnings and errors only, scrubbed like the gateway's (a simulator holds clear PANs)
    from ..config import LoggingSettings
    from ..service import configure_logging

    configure_logging(LoggingSettings(level="warning"))


def _security(args: argparse.Namespace, *, required: bool) -> SoftwareSecurityModule | None:
    if args.keys is None:
        if required:
            raise KeyStoreError(
                "the simulator needs keys: pass --keys STORE and --master-key FILE "
                "(`sscard-gateway sim keys --out DIR` writes a lab set)"
            )
        print("warning: no key store: messages carry no MAC", file=sys.stderr)
        return None
    return SoftwareSecurityModule.open(args.keys, load_master_key(args.master_key))


async def _until_signal() -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            return


async def _serve_until_signal(
    serve: Callable[..., Awaitable[None]], args: argparse.Namespace, what: str
) -> None:
    """Run ``serve`` on ``--host``/``--port``, print where it listens, stop on a signal."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(functools.partial(serve, host=args.host, port=args.port))
            print(f"{what} listening on {args.host}:{port}", flush=True)
            async for _ in signals:
                break
            nursery.cancel_scope.cancel()


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


# -- sim switch ------------------------------------------------------------------------------


def _rules(path: Path | None) -> SwitchRules:
    if path is None:
        return SwitchRules()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(str(path), "file", f"cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(str(path), "syntax", str(exc)) from None
    try:
        return SwitchRules.from_dict(data)
    except SpecError as exc:
        raise SpecError(str(path), exc.where, exc.problem) from None


def _switch(args: argparse.Namespace) -> int:
    _quiet_logging()
    rules = _rules(args.rules)
    security = _security(args, required=False)
    keys = LinkKeys(mac_key=args.mac_key, pin_key=args.pin_key) if security else None
    date = args.settlement_date
    switch = SwitchSimulator(
        rules=rules,
        security=security,
        keys=keys,
        settlement_date=(lambda: date) if date else None,
    )
    trio.run(_serve_until_signal, switch.serve, args, "switch simulator")
    stats = switch.statistics()
    print(
        f"switch simulator stopped: {stats.requests} requests, {stats.approved} approved, "
        f"{stats.declined} declined, {stats.reversals} reversals",
        flush=True,
    )
    return 0


def _responder(args: argparse.Namespace) -> int:
    _quiet_logging()
    security = _security(args, required=False)
    keys = LinkKeys(mac_key=args.mac_key, pin_key=args.pin_key) if security else None
    responder = CenterResponder(security=security, keys=keys, decline_over=args.decline_over)
    trio.run(_serve_until_signal, responder.serve, args, "center responder")
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
    _quiet_logging()
    security = _security(args, required=True)
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
                print("serving the gateway's requests until SIGTERM", flush=True)
                await _until_signal()

    trio.run(main)
    return 1 if failures else 0


def _load(args: argparse.Namespace) -> int:
    _quiet_logging()
    security = _security(args, required=True)
    assert security is not None
    if args.requests < 1 or args.concurrency < 1:
        raise SscardError("--requests and --concurrency must be at least 1")
    identity = _identity(args)
    card = _card(args)
    sim = _simulator(args, security, identity)
    kind = Kind(args.kind)

    def make(i: int) -> Message:
        return _build(sim, kind, card, 100 + i % 900)

    async def main() -> LoadResult:
        async with _center_link(args, security, identity) as link:

            async def request(message: Message) -> Message:
                # fail fast once the gateway is gone, rather than wait a timeout per request
                if link.state is not LinkState.SIGNED_ON:
                    raise LinkUnavailable("not signed on to the gateway")
                return await link.request(message, timeout=args.timeout)

            return await run_load(
                request,
                make,
                total=args.requests,
                concurrency=args.concurrency,
            )

    result = trio.run(main)
    print(result.table(f"load through {args.gateway[0]}:{args.gateway[1]} ({kind.value})"))
    if args.json:
        print(
            json.dumps(
                {
                    "requests": result.requests,
                    "completed": result.completed,
                    "concurrency": result.concurrency,
                    "seconds": round(result.seconds, 3),
                    "throughput": round(result.throughput, 1),
                    "p50_ms": round(result.percentile(50), 3),
                    "p90_ms": round(result.percentile(90), 3),
                    "p99_ms": round(result.percentile(99), 3),
                    "codes": result.codes,
                    "errors": result.errors,
                }
            ),
            flush=True,
        )
    return 1 if result.errors else 0
