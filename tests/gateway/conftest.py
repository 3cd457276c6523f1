"""End-to-end harness: switch simulator + gateway + two regional centers on loopback.

Everything runs on 127.0.0.1 with Trio's real clock and short, bounded
timeouts; one in-memory security module holds every party's keys under
distinct names (as each party's own module would).
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import attrs
import pytest
import trio

from sscard_gateway.crypto import Algorithm, KeyUsage, SoftwareSecurityModule
from sscard_gateway.gateway import CenterLink, Gateway, GatewayConfig, SafPolicy, UpstreamLink
from sscard_gateway.ids import luhn_check_digit
from sscard_gateway.iso import load_dialect
from sscard_gateway.link import Backoff, LinkConfig, LinkKeys, open_link, tcp_connector
from sscard_gateway.routing import InstitutionCodes
from sscard_gateway.sim import CardHolder, CenterIdentity, CenterSimulator, SwitchSimulator
from sscard_gateway.store import SQLiteJournal


def pan(prefix: str) -> str:
    body = prefix + "0" * (15 - len(prefix))
    return body + luhn_check_digit(body)


BEIJING = CenterIdentity(institution="11010500", region="110105")
SHANGHAI = CenterIdentity(institution="31010400", region="310104")
BEIJING_CARD = CardHolder(
    pan=pan("6225880112"),
    ssn="11010519491231002X",
    card_number="A12345678",
    home_region="110105",
)
SHANGHAI_CARD = CardHolder(
    pan=pan("6225880221"),
    ssn="31010419800101001X",
    card_number="B23456789",
    home_region="310104",
)
ROUTES = {
    "default": "cups",
    "routes": [
        {"destination": "center-110000", "bins": ["62258801"], "regions": ["11"]},
        {"destination": "center-310000", "bins": ["62258802"], "regions": ["31"]},
    ],
}


def security() -> SoftwareSecurityModule:
    hsm = SoftwareSecurityModule.in_memory()
    hsm.generate_key("cups.zak", Algorithm.DES, KeyUsage.ZONE_MAC)
    hsm.generate_key("cups.zpk", Algorithm.TDES_2KEY, KeyUsage.ZONE_PIN)
    for name in ("center-110000", "center-310000"):
        hsm.generate_key(f"{name}.zak", Algorithm.TDES_2KEY, KeyUsage.ZONE_MAC)
        hsm.generate_key(f"{name}.zpk", Algorithm.TDES_2KEY, KeyUsage.ZONE_PIN)
    return hsm


@attrs.define
class World:
    hsm: SoftwareSecurityModule
    switch: SwitchSimulator
    gateway: Gateway
    journal: SQLiteJournal
    links: dict
    sims: dict
    nursery: trio.Nursery
    answers: dict = attrs.field(factory=dict)
    cards: dict = attrs.field(factory=lambda: {"beijing": BEIJING_CARD, "shanghai": SHANGHAI_CARD})

    async def stop_gateway(self):
        self.gateway_scope.cancel()
        with trio.fail_after(5):
            await self.gateway_done.wait()

    async def restart_gateway(self):
        """Stop the gateway (with whatever it owes) and start a new one on the same journal."""
        ports = dict(self.gateway.ports)
        await self.stop_gateway()
        await start_gateway(self, self.journal, ports=ports)
        with trio.fail_after(5):
            while len(self.gateway.centers) < 2:
                await trio.sleep(0.01)

    gateway_scope: trio.CancelScope | None = None
    gateway_done: trio.Event | None = None


def gateway_config(switch_port: int, *, timeout: float = 1.0, ports=None) -> GatewayConfig:
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
        for name, ident in (("center-110000", BEIJING), ("center-310000", SHANGHAI))
    )
    return GatewayConfig(
        institution=InstitutionCodes(acquirer="48020000"),
        upstream=UpstreamLink(
            port=switch_port,
            mac_key="cups.zak",
            pin_key="cups.zpk",
            echo_interval=None,
            backoff=Backoff(initial=0.05, maximum=0.2),
        ),
        centers=centers,
        routes=ROUTES,
        request_timeout=timeout,
        saf=SafPolicy(initial=0.05, maximum=0.2, attempt_timeout=0.5),
    )


@asynccontextmanager
async def center_link(hsm, name, identity, port, answers):
    async def handler(message):
        answers.setdefault("seen", []).append((name, message))
        return message.response_to(answers.get(name, "00"), {38: "HC0001"})

    async with open_link(
        load_dialect("center"),
        tcp_connector("127.0.0.1", port),
        security=hsm,
        handler=handler,
        keys=LinkKeys(mac_key=f"{name}.zak", pin_key=f"{name}.zpk"),
        config=LinkConfig(
            echo_interval=None, request_timeout=5.0, network_fields={32: identity.institution}
        ),
        backoff=Backoff(initial=0.05, maximum=0.2),
        name=f"sim-{name}",
    ) as link:
        yield link


async def start_gateway(world: World, journal, *, ports=None, timeout: float = 1.0):
    config = gateway_config(world.switch.port, timeout=timeout, ports=ports)
    gateway = Gateway(config, security=world.hsm, journal=journal)
    scope = trio.CancelScope()
    done = trio.Event()

    async def run(task_status=trio.TASK_STATUS_IGNORED):
        try:
            with scope:
                await gateway.run(task_status=task_status)
        finally:
            done.set()

    gateway_ports = await world.nursery.start(run)
    world.gateway = gateway
    world.gateway_scope = scope
    world.gateway_done = done
    with trio.fail_after(5):
        while not gateway.statistics().upstream_ready:
            await trio.sleep(0.01)
    return gateway_ports


@pytest.fixture
async def world(tmp_path, nursery):
    hsm = security()
    switch = SwitchSimulator(security=hsm, keys=LinkKeys(mac_key="cups.zak", pin_key="cups.zpk"))
    await nursery.start(switch.serve)
    journal = SQLiteJournal(tmp_path / "journal.db", pan_key=b"p" * 32, data_key=b"d" * 32)
    w = World(
        hsm=hsm, switch=switch, gateway=None, journal=journal, links={}, sims={}, nursery=nursery
    )
    ports = await start_gateway(w, journal)
    async with (
        center_link(hsm, "center-110000", BEIJING, ports["center-110000"], w.answers) as bj,
        center_link(hsm, "center-310000", SHANGHAI, ports["center-310000"], w.answers) as sh,
    ):
        w.links = {"beijing": bj, "shanghai": sh}
        w.sims = {
            "beijing": CenterSimulator(BEIJING, security=hsm, pin_key="center-110000.zpk"),
            "shanghai": CenterSimulator(SHANGHAI, security=hsm, pin_key="center-310000.zpk"),
        }
        with trio.fail_after(5):
            await bj.wait_ready()
            await sh.wait_ready()
        yield w
        await w.stop_gateway()
    journal.close()
