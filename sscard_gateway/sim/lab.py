"""A whole deployment on loopback: switch simulator, gateway, two regional centers.

``make demo``, the gateway benchmark and the end-to-end tests all need the
same thing: a UnionPay switch simulator, a gateway with a SQLite journal,
and two regional centers (Beijing 110000 and Shanghai 310000) connected to
it, every party with its own keys. :func:`open_lab` starts all of it on
127.0.0.1 and yields a :class:`Lab`; one in-memory security module holds
every party's keys under distinct names, as each party's own module would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio

from ..crypto import Algorithm, KeyUsage, MasterKey, SecurityModule, SoftwareSecurityModule
from ..gateway import CenterLink, Gateway, GatewayConfig, SafPolicy, UpstreamLink
from ..ids import luhn_check_digit
from ..iso import Message, load_dialect
from ..link import Backoff, Link, LinkConfig, LinkKeys, open_link, tcp_connector
from ..routing import InstitutionCodes
from ..store import SQLiteJournal
from .center import CardHolder, CenterIdentity, CenterSimulator
from .switch import SwitchSimulator

__all__ = ["CENTERS", "Lab", "acquirer_purchase", "lab_card", "lab_security", "open_lab"]


def lab_card(prefix: str) -> str:
    """A Luhn-valid 16-digit PAN starting with ``prefix`` (test data)."""
    body = prefix + "0" * (15 - len(prefix))
    return body + luhn_check_digit(body)


CENTERS = {
    "center-110000": CenterIdentity(institution="11010500", region="110105"),
    "center-310000": CenterIdentity(institution="31010400", region="310104"),
}
CARDS = {
    "center-110000": CardHolder(
        pan=lab_card("6225880112"),
        ssn="11010519491231002X",
        card_number="A12345678",
        home_region="110105",
    ),
    "center-310000": CardHolder(
        pan=lab_card("6225880221"),
        ssn="310104198001010017",
        card_number="B23456789",
        home_region="310104",
    ),
}
ROUTES: dict[str, Any] = {
    "default": "cups",
    "routes": [
        {"destination": "center-110000", "bins": ["62258801"], "regions": ["11"]},
        {"destination": "center-310000", "bins": ["62258802"], "regions": ["31"]},
    ],
}


def acquirer_purchase(pan: str, amount: int, *, stan: str, now: str, mti: str = "0200") -> Message:
    """A purchase the switch originates as acquirer (POS at a bank's merchant), CUPS dialect.

    Args:
        pan: the card.
        amount: F4 in fen.
        stan: F11.
        now: F7, ``MMDDhhmmss`` (F12, F13 and the RRN follow from it).
        mti: ``0200``, or ``0201`` for a repeat.
    """
    cups = load_dialect("cups")
    fields: dict[int, str | bytes] = {
        2: pan,
        3: "000000",
        4: f"{amount:012d}",
        7: now,
        11: stan,
        12: now[4:],
        13: now[:4],
        18: "5912",
        22: "021",
        25: "00",
        32: "01020000",
        33: "01020000",
        37: now[:6] + stan,
        41: "POS00001",
        42: "123456789012345",
        49: "156",
    }
    return cups.message(mti, fields, header=cups.default_header())


def lab_security(
    store: Path | None = None, master: MasterKey | None = None
) -> SoftwareSecurityModule:
    """A module with the switch's and both centers' MAC and PIN keys.

    In memory, or in a new key store file ``store`` sealed under ``master``
    (so that another process can open the same keys).
    """
    if store is not None and master is not None:
        hsm = SoftwareSecurityModule.create(store, master)
    else:
        hsm = SoftwareSecurityModule.in_memory()
    hsm.generate_key("cups.zak", Algorithm.DES, KeyUsage.ZONE_MAC)
    hsm.generate_key("cups.zpk", Algorithm.TDES_2KEY, KeyUsage.ZONE_PIN)
    hsm.generate_key("cups.zpk.sm4", Algorithm.SM4, KeyUsage.ZONE_PIN)
    for name in CENTERS:
        hsm.generate_key(f"{name}.zak", Algorithm.TDES_2KEY, KeyUsage.ZONE_MAC)
        hsm.generate_key(f"{name}.zpk", Algorithm.TDES_2KEY, KeyUsage.ZONE_PIN)
    return hsm


def lab_config(
    switch_port: int,
    *,
    timeout: float,
    ports: dict[str, int] | None = None,
    pin_format: str = "iso0",
) -> GatewayConfig:
    """The gateway's configuration in the lab (``pin_format="sm4"``: SM4 PIN blocks to CUPS)."""
    ports = ports or {}
    centers = tuple(
        CenterLink(
            name=name,
            institution=ident.institution,
            region=ident.region[:2] + "0000",
            port=ports.get(name, 0),
            mac_key=f"{name}.zak",
            pin_key=f"{name}.zpk",
        )
        for name, ident in CENTERS.items()
    )
    return GatewayConfig(
        institution=InstitutionCodes(acquirer="48020000"),
        upstream=UpstreamLink(
            port=switch_port,
            mac_key="cups.zak",
            pin_key="cups.zpk.sm4" if pin_format == "sm4" else "cups.zpk",
            pin_format=pin_format,
            echo_interval=None,
            backoff=Backoff(initial=0.05, maximum=0.2),
        ),
        centers=centers,
        routes=ROUTES,
        request_timeout=timeout,
        saf=SafPolicy(initial=0.05, maximum=0.2, attempt_timeout=0.5),
    )


@attrs.define
class Lab:
    """The running deployment (see module docs)."""

    hsm: SoftwareSecurityModule
    switch: SwitchSimulator
    journal: SQLiteJournal
    nursery: trio.Nursery
    timeout: float
    gateway: Gateway | None = None
    links: dict[str, Link] = attrs.field(factory=dict)
    sims: dict[str, CenterSimulator] = attrs.field(factory=dict)
    cards: dict[str, CardHolder] = attrs.field(factory=lambda: dict(CARDS))
    answers: dict[str, str] = attrs.field(factory=dict)
    seen: list[tuple[str, Message]] = attrs.field(factory=list)
    _scope: trio.CancelScope | None = None
    _done: trio.Event | None = None

    async def start_gateway(
        self, ports: dict[str, int] | None = None, *, pin_format: str = "iso0"
    ) -> dict[str, int]:
        """Start a gateway on the lab's journal; returns its listening ports."""
        assert self.switch.port is not None
        gateway = Gateway(
            lab_config(self.switch.port, timeout=self.timeout, ports=ports, pin_format=pin_format),
            security=self.hsm,
            journal=self.journal,
        )
        scope = trio.CancelScope()
        done = trio.Event()

        async def run(task_status: trio.TaskStatus[dict[str, int]]) -> None:
            try:
                with scope:
                    await gateway.run(task_status=task_status)
            finally:
                done.set()

        listening: dict[str, int] = await self.nursery.start(run)
        self.gateway, self._scope, self._done = gateway, scope, done
        with trio.fail_after(5):
            while not gateway.statistics().upstream_ready:
                await trio.sleep(0.01)
        return listening

    async def stop_gateway(self) -> None:
        """Stop the gateway (whatever it owes stays owed in the journal)."""
        if self._scope is not None and self._done is not None:
            self._scope.cancel()
            with trio.fail_after(5):
                await self._done.wait()

    async def restart_gateway(self, *, pin_format: str = "iso0") -> None:
        """Stop the gateway and start a new one on the same ports and journal."""
        assert self.gateway is not None
        ports = dict(self.gateway.ports)
        await self.stop_gateway()
        await self.start_gateway(ports, pin_format=pin_format)
        with trio.fail_after(5):
            while len(self.gateway.centers) < len(CENTERS):
                await trio.sleep(0.01)

    @asynccontextmanager
    async def center_link(self, name: str, port: int) -> AsyncIterator[Link]:
        """A center's client link to the gateway; it answers requests with ``answers``."""

        async def handler(message: Message) -> Message | None:
            self.seen.append((name, message))
            return message.response_to(self.answers.get(name, "00"), {38: "HC0001"})

        async with center_link(self.hsm, name, port, handler=handler) as link:
            yield link


@asynccontextmanager
async def center_link(
    security: SecurityModule,
    name: str,
    port: int,
    *,
    handler: Callable[[Message], Awaitable[Message | None]] | None = None,
) -> AsyncIterator[Link]:
    """A regional center's client link to a gateway on 127.0.0.1:``port``."""
    identity = CENTERS[name]
    async with open_link(
        load_dialect("center"),
        tcp_connector("127.0.0.1", port),
        security=security,
        handler=handler,
        keys=LinkKeys(mac_key=f"{name}.zak", pin_key=f"{name}.zpk"),
        config=LinkConfig(
            echo_interval=None,
            request_timeout=5.0,
            network_fields={32: identity.institution},
        ),
        backoff=Backoff(initial=0.05, maximum=0.2),
        name=f"sim-{name}",
    ) as link:
        yield link


@asynccontextmanager
async def open_lab(
    directory: str | Path,
    *,
    timeout: float = 1.0,
) -> AsyncIterator[Lab]:
    """Start the switch, the gateway (journal in ``directory``) and both centers.

    Args:
        directory: where the SQLite journal lives.
        timeout: the gateway's upstream request timeout in seconds.
    """
    hsm = lab_security()
    switch = SwitchSimulator(security=hsm, keys=LinkKeys(mac_key="cups.zak", pin_key="cups.zpk"))
    journal = SQLiteJournal(Path(directory) / "journal.db", pan_key=b"p" * 32, data_key=b"d" * 32)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(switch.serve)
            lab = Lab(hsm=hsm, switch=switch, journal=journal, nursery=nursery, timeout=timeout)
            ports = await lab.start_gateway()
            async with AsyncExitStack() as stack:
                for name in CENTERS:
                    link = await stack.enter_async_context(lab.center_link(name, ports[name]))
                    lab.links[name] = link
                    lab.sims[name] = CenterSimulator(
                        CENTERS[name], security=hsm, pin_key=f"{name}.zpk"
                    )
                with trio.fail_after(5):
                    for link in lab.links.values():
                        await link.wait_ready()
                yield lab
                await lab.stop_gateway()
            nursery.cancel_scope.cancel()
    finally:
        journal.close()
