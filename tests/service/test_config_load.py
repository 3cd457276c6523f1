"""gateway.toml: the example loads; every mistake names the file, the key path and the problem."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

import pytest
from service_helpers import EXAMPLE

from sscard_gateway.config import (
    InvalidConfig,
    SecretSource,
    ServiceConfig,
    config_from_dict,
    load_config,
)
from sscard_gateway.crypto import KeyUsage
from sscard_gateway.errors import KeyStoreError, SpecError


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def load(data: dict[str, Any]) -> ServiceConfig:
    return config_from_dict(data, file="gateway.toml", base=Path("/srv/gw"))


def errors_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidConfig) as caught:
        load(data)
    return [str(e) for e in caught.value.errors]


def test_the_example_loads_into_a_gateway_config():
    config = load_config(EXAMPLE)
    gw = config.gateway
    assert gw.institution.acquirer == gw.institution.forwarder == "48020000"
    assert (gw.upstream.name, gw.upstream.port, gw.upstream.mac_key) == ("cups", 7000, "cups.zak")
    assert [(c.name, c.port, c.region) for c in gw.centers] == [
        ("center-110000", 7101, "110000"),
        ("center-310000", 7131, "310000"),
    ]
    assert gw.center("center-310000").pin_key == "center-310000.zpk"
    assert len(gw.routes["routes"]) == 2 and gw.routes["default"] == "cups"
    assert gw.journal_batch == 16 and gw.request_timeout == 30.0
    assert config.cutover.time == dt.time(23, 0) and str(config.cutover) == "23:00"
    assert config.metrics is not None and (config.metrics.host, config.metrics.port) == (
        "127.0.0.1",
        9108,
    )
    assert config.logging.level == "info" and config.logging.json is False
    # relative paths are taken from the file's folder
    assert config.journal.path == EXAMPLE.parent / "run" / "journal.db"
    assert config.security.key_store == EXAMPLE.parent / "run" / "keys.store"
    assert config.journal.pan_key == SecretSource(
        where="journal.pan_key", file=EXAMPLE.parent / "run" / "journal-pan.key"
    )
    assert {(k.where, k.name, k.usage) for k in config.keys} >= {
        ("upstream.mac_key", "cups.zak", KeyUsage.ZONE_MAC),
        ("centers[1].pin_key", "center-310000.zpk", KeyUsage.ZONE_PIN),
    }


def test_the_summary_names_centers_routes_and_upstream_but_no_secret():
    summary = load_config(EXAMPLE).summary()
    assert "upstream cups: 127.0.0.1:7000" in summary
    assert "centers (2):" in summary and "center-310000: listens on 127.0.0.1:7131" in summary
    assert "routes: 2, default cups" in summary
    assert "cutover 23:00" in summary and "metrics 127.0.0.1:9108" in summary


def test_defaults_fill_what_the_file_leaves_out():
    data = example()
    for section in ("logging", "metrics", "mappings", "store_and_forward"):
        del data[section]
    del data["upstream"]["backoff"]
    data["gateway"] = {"institution": "48020000"}
    config = load(data)
    assert config.metrics is None
    assert config.logging.json is False and config.drain_timeout == 10.0
    assert config.gateway.saf.expiry == 259200.0
    assert config.gateway.upstream.backoff.maximum == 5.0


def set_in(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value


DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("centers", 1, "port"), 70000, "gateway.toml: centers[1].port: must be 1..65535"),
        (("centers", 0, "port"), "7101", "gateway.toml: centers[0].port: must be 1..65535"),
        (("upstream", "port"), 0, "gateway.toml: upstream.port: must be 1..65535"),
        (("centers", 0, "prot"), 1, "gateway.toml: centers[0].prot: is not a known key"),
        (("gateway", "timeout"), 1, "gateway.toml: gateway.timeout: is not a known key"),
        (("extra",), {}, "gateway.toml: extra: is not a known key"),
        (("cutover", "time"), "24:00", 'cutover.time: must be a time of day "HH:MM"'),
        (("cutover", "time"), "11pm", 'cutover.time: must be a time of day "HH:MM"'),
        (("cutover",), DELETE, "gateway.toml: cutover: is required"),
        (("gateway", "institution"), "4802A", "gateway.institution: an institution code is"),
        (("centers", 0, "region"), "990000", "centers[0].region: '990000' has no known province"),
        (("centers", 0, "region"), "1100", "centers[0].region: a region code is 6 digits"),
        (("centers", 1, "name"), "center-110000", "centers[1].name: 'center-110000' is already"),
        (("centers", 1, "port"), 7101, "centers[1].port: 7101 is already used by centers[0]"),
        (("metrics", "port"), 7131, "metrics.port: 7131 is already used by centers[1].port"),
        (("metrics", "host"), "0.0.0.0", "metrics.host: must be a loopback address"),
        (("logging", "level"), "loud", "logging.level: must be one of debug, info"),
        (("logging", "json"), "yes", "logging.json: must be true or false"),
        (("upstream", "pin_format"), "iso9", "upstream.pin_format: must be one of iso0"),
        (("upstream", "echo_interval"), -1, "upstream.echo_interval: must be a number at least 0"),
        (("upstream", "backoff", "jitter"), 2, "upstream.backoff.jitter: must be a number from 0"),
        (("gateway", "request_timeout"), 0, "gateway.request_timeout: must be a number above 0"),
        (("gateway", "journal_batch"), 0, "gateway.journal_batch: must be 1..10000"),
        (("store_and_forward", "maximum"), 0.5, "store_and_forward.maximum: must be at least"),
        (("upstream", "dialect"), "pos", "upstream.dialect: the gateway speaks 'cups'"),
        (("centers", 0, "dialect"), "nosuch", "centers[0].dialect: no such dialect"),
        (("mappings", "to_cups"), "pos_to_cups", "mappings.to_cups: the gateway translates with"),
        (("journal", "pan_key_env"), "PAN", "journal.pan_key_env: give only one of"),
        (("journal", "data_key_file"), DELETE, "journal.data_key_file: is required (or data_key"),
        (("journal", "pan_key_file"), "", "journal.pan_key_file: must not be empty"),
        (("security", "master_key_env"), "1BAD", "security.master_key_env: must be an environment"),
        (("routing", "routes", 1, "destination"), "center-999", "'center-999' is not a configured"),
        (("routing", "routes", 1, "bins"), ["62258801"], "routing.routes[1].bins[0]: '62258801'"),
        (("upstream", "name"), "center-110000", "upstream.name: is also the name of a center"),
        (("centers",), [], "gateway.toml: centers: needs at least one [[centers]] table"),
        (("upstream", "tls"), {"cert": "a.pem", "key": "a.key"}, "upstream.tls.ca: is required"),
    ],
)
def test_a_mistake_names_its_key_path_and_problem(path, value, message):
    data = example()
    set_in(data, path, value)
    errors = errors_of(data)
    assert any(message in e for e in errors), errors
    assert all(e.startswith("gateway.toml: ") for e in errors)


def test_every_section_reports_its_first_mistake():
    data = example()
    data["centers"][1]["port"] = 0
    data["cutover"]["time"] = "25:00"
    data["logging"]["colour"] = True
    with pytest.raises(InvalidConfig) as caught:
        load(data)
    wheres = [e.where for e in caught.value.errors]
    assert wheres == ["centers[1].port", "cutover.time", "logging.colour"]
    # the first error is the exception's own file/where/problem; str() lists all
    assert caught.value.where == "centers[1].port"
    assert str(caught.value).count("\n") == 2
    assert isinstance(caught.value, SpecError)


def test_a_file_that_is_not_toml_names_the_line(tmp_path):
    path = tmp_path / "gateway.toml"
    path.write_text("[gateway]\ninstitution = \n", encoding="utf-8")
    with pytest.raises(InvalidConfig) as caught:
        load_config(path)
    assert caught.value.where == "syntax" and "line 2" in str(caught.value)


def test_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(InvalidConfig, match="file: cannot read it"):
        load_config(tmp_path / "nope.toml")


def test_tls_tables_become_files_by_link(tmp_path):
    data = example()
    data["upstream"]["tls"] = {
        "cert": "tls/gw.pem",
        "key": "tls/gw.key",
        "ca": "/etc/ca.pem",
        "server_name": "cups.example",
    }
    data["centers"][0]["tls"] = {"cert": "tls/gw.pem", "key": "tls/gw.key", "ca": "tls/ca.pem"}
    config = load(data)
    assert config.upstream_tls is not None
    assert config.upstream_tls.cert == Path("/srv/gw/tls/gw.pem")
    assert config.upstream_tls.ca == Path("/etc/ca.pem")
    assert config.upstream_tls.server_name == "cups.example"
    assert set(config.center_tls) == {"center-110000"}
    assert "(TLS)" in config.summary()


def test_secrets_are_read_from_files_or_the_environment(tmp_path):
    key = tmp_path / "k"
    key.write_text("ab" * 32 + "\n", encoding="ascii")
    key.chmod(0o600)
    assert SecretSource(where="journal.pan_key", file=key).read() == bytes([0xAB]) * 32
    env = SecretSource(where="journal.data_key", env="DATA")
    assert env.read({"DATA": "01" * 32}) == bytes([1]) * 32
    with pytest.raises(KeyStoreError, match=r"journal.data_key \(\$DATA\): .* not set"):
        env.read({})
    with pytest.raises(KeyStoreError, match="64 hex digits"):
        env.read({"DATA": "01" * 16})
    key.chmod(0o644)
    with pytest.raises(KeyStoreError, match="open to group or others"):
        SecretSource(where="journal.pan_key", file=key).read()
    with pytest.raises(ValueError, match="exactly one"):
        SecretSource(where="x", file=key, env="X")
