"""``sscard-gateway sim``: the simulators as processes, to drive a running gateway.

``sim keys --out DIR`` writes a lab key set (key store, master key file,
journal key files) with the key names ``examples/gateway.toml`` uses;
``sim switch`` is the UnionPay switch simulator (rules from a TOML file;
with ``--record FILE`` its record of the day survives a restart, and with
``--acom-out DIR`` it writes its clearing file when it stops);
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
import json
import os
import random
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

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
    Kind,
)
from ..sim.lab import CARDS, CENTERS, lab_security
from ..sim.load import LoadResult, run_load
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
    p.add_argument("--kind", choices=_KINDS, default=Kind.CONTRIBUTION_PAYMENT.value)
    p.add_argument("--json", action="store_true", help="also print the result as a JSON line")
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


async def _until_signal() -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
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
                print("serving the gateway's requests until SIGTERM", flush=True)
                await _until_signal()

    trio.run(main)
    return 1 if failures else 0


def _load(args: argparse.Namespace) -> int:
    quiet_logging()
    security = open_security(args, required=True)
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
