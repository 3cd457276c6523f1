"""``sscard-gateway conformance``: reports written, exit status from the outcome."""

import argparse
import xml.etree.ElementTree as ET

import pytest

from sscard_gateway.cli import _conformance
from sscard_gateway.conformance import CenterResponder
from sscard_gateway.errors import SpecError
from sscard_gateway.link import LinkKeys
from sscard_gateway.sim import Decision, Rule, SwitchRules, SwitchSimulator


def cli(argv):
    parser = argparse.ArgumentParser()
    _conformance.register(parser.add_subparsers())
    args = parser.parse_args(["conformance", *argv])
    return args.run(args)


def junit(path):
    suite = ET.parse(path).getroot().find("testsuite")
    return suite, {c.get("name"): c for c in suite.findall("testcase")}


def test_offline_only_needs_no_peer(tmp_path, capsys):
    status = cli(["--offline-only", "--report", str(tmp_path / "r.txt"),
                  "--junit", str(tmp_path / "r.xml")])  # fmt: skip
    assert status == 0
    out = capsys.readouterr().out
    assert "RESULT: PASS" in out and out == (tmp_path / "r.txt").read_text(encoding="utf-8")
    suite, cases = junit(tmp_path / "r.xml")
    assert len(cases) == 6 and suite.get("failures") == "0"


def test_a_conforming_center_exits_0(tmp_path, keystore, thread_peer, capsys):
    center = CenterResponder(
        security=keystore.hsm,
        keys=LinkKeys(mac_key="center-110000.zak", pin_key="center-110000.zpk",
                      kek="center-110000.zmk"),
    )  # fmt: skip
    with thread_peer(center) as port:
        status = cli([
            "--peer", f"127.0.0.1:{port}", "--role", "center", "--dialect", "center",
            *keystore.cli_args(), "--kek", "center-110000.zmk",
            "--set", "amount=000000000250", "--junit", str(tmp_path / "r.xml"), "--timeout", "3",
        ])  # fmt: skip
    assert status == 0, capsys.readouterr().out
    suite, cases = junit(tmp_path / "r.xml")
    assert int(suite.get("tests")) == 14 and suite.get("failures") == "0"
    assert suite.get("errors") == "0" and suite.get("skipped") == "0"
    assert "center.key-exchange-pin" in cases


def test_a_switch_declining_everything_exits_1(tmp_path, keystore, thread_peer, capsys):
    switch = SwitchSimulator(
        rules=SwitchRules((Rule(mti=("02",), decision=Decision(response_code="05")),)),
        security=keystore.hsm,
        keys=LinkKeys(mac_key="cups.zak", pin_key="cups.zpk"),
    )
    with thread_peer(switch) as port:
        status = cli(["--peer", f"127.0.0.1:{port}", "--role", "switch", *keystore.cli_args(),
                      "--junit", str(tmp_path / "r.xml"), "--timeout", "3"])  # fmt: skip
    assert status == 1
    out = capsys.readouterr().out
    assert "FAILED          switch.approve" in out and "RESULT: FAIL" in out
    suite, cases = junit(tmp_path / "r.xml")
    assert int(suite.get("failures")) >= 1
    failure = cases["switch.approve"].find("failure")
    assert failure is not None and "got '05'" in failure.get("message")
    assert cases["switch.key-exchange-pin"].find("skipped") is not None  # no --kek
    assert "purchase: <- 0210" in cases["switch.approve"].find("system-out").text


def test_usage_mistakes_are_errors():
    with pytest.raises(SpecError, match="--offline-only"):
        cli(["--role", "switch"])
    with pytest.raises(SpecError, match="NAME=VALUE"):
        cli(["--offline-only", "--set", "amount"])
    with pytest.raises(SpecError, match="HOST:PORT"):
        cli(["--peer", "localhost"])
