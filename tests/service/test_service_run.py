"""The service in process: metrics scraped over HTTP, graceful stop, start-up checks."""

from __future__ import annotations

import functools
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import pytest
import trio
import trio.testing
from prometheus_client.parser import text_string_to_metric_families
from service_helpers import example_config, free_port

from sscard_gateway.config import InvalidConfig, ServiceConfig, load_config
from sscard_gateway.crypto import MasterKey, SoftwareSecurityModule
from sscard_gateway.errors import SpecError
from sscard_gateway.link import LinkKeys
from sscard_gateway.service import Service, last_stan
from sscard_gateway.sim import CenterSimulator, Kind, SwitchRules, SwitchSimulator
from sscard_gateway.sim.lab import CARDS, CENTERS, center_link
from sscard_gateway.store import SQLiteJournal, TransactionStatus

BEIJING = "center-110000"


def open_keys(folder: Path) -> SoftwareSecurityModule:
    return SoftwareSecurityModule.open(
        folder / "keys.store", MasterKey.from_file(folder / "master.key")
    )


def open_journal(config: ServiceConfig) -> SQLiteJournal:
    return SQLiteJournal(
        config.journal.path,
        pan_key=config.journal.pan_key.read(),
        data_key=config.journal.data_key.read(),
    )


@asynccontextmanager
async def running(
    tmp_path: Path, keys: Path, *, rules: SwitchRules | None = None, **edits: str
) -> AsyncIterator[tuple[Service, SoftwareSecurityModule, trio.Nursery]]:
    """The switch simulator, and a service on an examples-like configuration."""
    hsm = open_keys(keys)
    switch = SwitchSimulator(
        rules=rules, security=hsm, keys=LinkKeys(mac_key="cups.zak", pin_key="cups.zpk")
    )
    async with trio.open_nursery() as nursery:
        switch_port = await nursery.start(switch.serve)
        path = example_config(
            tmp_path,
            keys=keys,
            switch=switch_port,
            centers=(free_port(), free_port()),
            metrics=free_port(),
            extra={"interval = 5.0": "interval = 0.05", **edits},
        )
        service = Service(load_config(path))
        done = trio.Event()

        async def run(task_status: trio.TaskStatus[dict[str, int]]) -> None:
            try:
                await service.run(handle_signals=False, task_status=task_status)
            finally:
                done.set()

        await nursery.start(run)
        assert service.gateway is not None
        with trio.fail_after(5):
            while not service.gateway.statistics().upstream_ready:
                await trio.sleep(0.01)
        yield service, hsm, nursery
        if not service.stopping:
            service.stop()
        with trio.fail_after(10):
            await done.wait()
        nursery.cancel_scope.cancel()


def request_factory(hsm: SoftwareSecurityModule) -> functools.partial[object]:
    sim = CenterSimulator(CENTERS[BEIJING], security=hsm, pin_key=f"{BEIJING}.zpk")
    return functools.partial(sim.build, Kind.CONTRIBUTION_PAYMENT, CARDS[BEIJING])


async def scrape(
    port: int, path: str = "/metrics"
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    def get() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            assert answer.headers["Content-Type"].startswith("text/plain")
            return str(answer.read().decode("utf-8"))

    text = await trio.to_thread.run_sync(get)
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_are_scraped_over_http_after_traffic(tmp_path, lab_keys):
    async with running(tmp_path, lab_keys) as (service, hsm, _):
        build = request_factory(hsm)
        ports = service.gateway.ports
        async with center_link(hsm, BEIJING, ports[BEIJING]) as link:
            for amount in range(100, 105):
                response = await link.request(build(amount=amount), timeout=5)
                assert response[39] == "00"
            assert service.metrics_port is not None
            with trio.fail_after(5):  # the journal is read every 0.05 s
                while (await scrape(service.metrics_port)).get(
                    ("sscard_journal_transactions", ())
                ) != 5:
                    await trio.sleep(0.02)
            metrics = await scrape(service.metrics_port)
        kind = (("code", "00"), ("kind", "contribution_payment"))
        assert metrics[("sscard_transactions_total", kind)] == 5
        assert metrics[("sscard_request_duration_seconds_count", (("link", BEIJING),))] == 5
        assert metrics[("sscard_link_up", (("link", "cups"),))] == 1
        assert metrics[("sscard_link_up", (("link", BEIJING),))] == 1
        assert metrics[("sscard_link_up", (("link", "center-310000"),))] == 0
        assert metrics[("sscard_journal_pending", ())] == 0
        assert metrics[("sscard_saf_depth", ())] == 0
        assert metrics[("sscard_saf_owed", (("kind", "reversal"),))] == 0
        assert metrics[("sscard_requests_in_flight", ())] == 0
    journal = open_journal(service.config)
    try:
        stans = [int(r.upstream_stan or 0) for r in journal.transactions()]
        assert last_stan(journal, datetime.now()) == max(stans) == stans[-1]
    finally:
        journal.close()


async def raw_http(port: int, request: bytes) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(request)
        answer = b""
        while chunk := await stream.receive_some(4096):
            answer += chunk
    return answer


async def test_the_metrics_endpoint_answers_only_get_metrics(tmp_path, lab_keys):
    async with running(tmp_path, lab_keys) as (service, _, _):
        port = service.metrics_port
        assert port is not None
        head = await raw_http(port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(b"\r\n\r\n")
        other = await raw_http(port, b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
        assert other.startswith(b"HTTP/1.1 404 ")
        post = await raw_http(port, b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert post.startswith(b"HTTP/1.1 405 ")
        garbage = await raw_http(port, b"\x16\x03\x01 hello\r\n\r\n")
        assert garbage.startswith(b"HTTP/1.1 400 ")


async def test_a_stop_drains_requests_in_flight_and_refuses_new_ones(tmp_path, lab_keys):
    slow = SwitchRules.from_dict({"default": {"delay": 0.5}})
    async with running(tmp_path, lab_keys, rules=slow) as (service, hsm, _):
        gateway = service.gateway
        build = request_factory(hsm)
        codes: list[str] = []
        async with center_link(hsm, BEIJING, gateway.ports[BEIJING]) as link:

            async def one(amount: int) -> None:
                codes.append((await link.request(build(amount=amount), timeout=5))[39])

            async with trio.open_nursery() as requests:
                for amount in range(200, 208):
                    requests.start_soon(one, amount)
                with trio.fail_after(5):
                    while gateway.in_flight < 8:
                        await trio.sleep(0.01)
                service.stop()
                await trio.testing.wait_all_tasks_blocked()  # the service is draining
                refused = await link.request(build(amount=999), timeout=5)
            assert refused[39] == "91"
            assert codes == ["00"] * 8  # every request in flight was answered
    journal = open_journal(service.config)
    try:
        stats = journal.statistics(0.0)
        records = list(journal.transactions())
    finally:
        journal.close()
    assert (stats.transactions, stats.pending, stats.owed) == (8, 0, 0)
    assert {r.status for r in records} == {TransactionStatus.APPROVED}
    assert sorted(int(r.amount.total) for r in records) == list(range(200, 208))


def unstarted_config(tmp_path: Path, keys: Path, extra: dict[str, str] | None = None) -> Path:
    """An examples-like configuration on free ports, for services that must not start."""
    return example_config(
        tmp_path,
        keys=keys,
        switch=free_port(),
        centers=(free_port(), free_port()),
        metrics=free_port(),
        extra=extra,
    )


async def test_a_key_missing_from_the_store_stops_the_start(tmp_path, lab_keys):
    path = unstarted_config(
        tmp_path,
        lab_keys,
        {
            'mac_key = "center-110000.zak"': 'mac_key = "center-110000.nokey"',
            'pin_key = "center-310000.zpk"': 'pin_key = "center-310000.zak"',
        },
    )
    with pytest.raises(InvalidConfig) as caught:
        await Service(load_config(path)).run(handle_signals=False)
    assert [str(e).split(": ", 1)[1] for e in caught.value.errors] == [
        "centers[0].mac_key: key 'center-110000.nokey' is not in the key store "
        f"{lab_keys / 'keys.store'}",
        "centers[1].pin_key: key 'center-310000.zak' is a zone-mac key; a zone-pin key is needed",
    ]
    assert not (lab_keys / "journal.db").exists()  # nothing was opened


async def test_a_wrong_master_key_names_the_key_store(tmp_path, lab_keys):
    other = tmp_path / "other.key"
    MasterKey.generate().write_file(other)
    path = unstarted_config(
        tmp_path, lab_keys, {f'"{lab_keys.as_posix()}/master.key"': f'"{other.as_posix()}"'}
    )
    with pytest.raises(SpecError, match=r"security\.key_store: .*another master key"):
        await Service(load_config(path)).run(handle_signals=False)


async def test_an_unreadable_journal_key_names_its_setting(tmp_path, lab_keys):
    (lab_keys / "journal-pan.key").unlink()
    path = unstarted_config(tmp_path, lab_keys)
    with pytest.raises(SpecError, match=r"journal\.pan_key: .*cannot read the key file"):
        await Service(load_config(path)).run(handle_signals=False)
