"""The commands: check-config, run's refusals, sim keys, and the simulators' argument errors."""

from __future__ import annotations

import stat
import tomllib

import pytest
from service_helpers import EXAMPLE, example_config, free_port

import sscard_gateway.cli as cli
from sscard_gateway.cli import _run, _sim
from sscard_gateway.config import load_config


@pytest.fixture
def main(monkeypatch):
    """``sscard_gateway.cli.main`` with the service's command groups in it."""
    groups = tuple(cli._GROUPS)
    monkeypatch.setattr(cli, "_GROUPS", groups + tuple(g for g in (_run, _sim) if g not in groups))
    return cli.main


def test_the_command_groups_are_wired():
    assert _run in cli._GROUPS and _sim in cli._GROUPS


def test_check_config_prints_ok_and_a_summary(main, capsys):
    assert main(["check-config", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{EXAMPLE}: OK\n")
    assert "centers (2):" in out and "routes: 2" in out and "upstream cups: 127.0.0.1:7000" in out


def test_check_config_prints_every_mistake_and_exits_2(main, capsys, tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("port = 7131", "port = 70000").replace('time = "23:00"', 'time = "late"')
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{path}: centers[1].port: must be 1..65535",
        f'{path}: cutover.time: must be a time of day "HH:MM" (00:00 to 23:59)',
    ]


def test_check_config_keys_opens_the_key_store(main, capsys, tmp_path, lab_keys):
    ports = {"switch": free_port(), "centers": (free_port(), free_port()), "metrics": free_port()}
    path = example_config(tmp_path, keys=lab_keys, **ports)
    assert main(["check-config", str(path), "--keys"]) == 0
    assert "keys: all 6 key names found" in capsys.readouterr().out
    (lab_keys / "keys.store").unlink()
    assert main(["check-config", str(path), "--keys"]) == 2
    assert "security.key_store: " in capsys.readouterr().err


def test_run_refuses_a_bad_file_before_starting(main, capsys, tmp_path):
    path = tmp_path / "gateway.toml"
    path.write_text('[gateway]\ninstitution = "48020000"\n', encoding="utf-8")
    assert main(["run", str(path)]) == 2
    assert f"{path}: upstream: is required" in capsys.readouterr().err


def test_sim_keys_writes_the_set_the_example_names(main, capsys, tmp_path):
    out = tmp_path / "run"
    assert main(["sim", "keys", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for name in ("keys.store", "master.key", "journal-pan.key", "journal-data.key"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name
    assert (out / ".gitignore").read_text(encoding="ascii").endswith("*\n")
    names = {k.name for k in load_config(EXAMPLE).keys}
    assert all(name in printed for name in names)
    assert main(["sim", "keys", "--out", str(out)]) == 2  # never overwrites
    assert "exists" in capsys.readouterr().err


def test_the_example_paths_are_under_run():
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    paths = [data["security"]["key_store"], data["security"]["master_key_file"]]
    paths += [data["journal"][k] for k in ("path", "pan_key_file", "data_key_file")]
    assert all(p.startswith("run/") for p in paths)


def test_sim_switch_names_the_rules_file_and_key(main, capsys, tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rules]]\naction = "explode"\n', encoding="utf-8")
    assert main(["sim", "switch", "--rules", str(rules)]) == 2
    assert f"{rules}: rules[0].action: must be respond, silent or drop" in capsys.readouterr().err


def test_sim_load_needs_keys(main, capsys, monkeypatch):
    monkeypatch.delenv("SSCARD_KEY_STORE", raising=False)
    assert main(["sim", "load", "--gateway", "127.0.0.1:1", "--center", "center-110000"]) == 2
    assert "the simulator needs keys" in capsys.readouterr().err


def test_sim_gateway_address_must_be_host_port(main, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["sim", "center", "--gateway", "localhost", "--center", "center-110000"])
    assert exited.value.code == 2
    assert "is not HOST:PORT" in capsys.readouterr().err
