"""Case files: the shipped cases load, mistakes are refused by name, offline cases run."""

import textwrap
import xml.etree.ElementTree as ET

import pytest

from sscard_gateway.conformance import (
    Kind,
    Outcome,
    Role,
    load_cases,
    run_conformance,
    select_cases,
)
from sscard_gateway.conformance._live import mutate
from sscard_gateway.errors import SpecError
from sscard_gateway.iso import load_dialect


def test_shipped_cases_cover_every_role():
    cases = load_cases()
    ids = {c.id for c in cases}
    assert {"offline.kcv", "offline.mac", "offline.pinblock", "offline.codec-samples"} <= ids
    for role, dialect, wanted in [
        (Role.SWITCH, "cups", {"sign-on", "echo", "approve", "decline", "duplicate", "bad-mac",
                               "malformed", "key-exchange-pin", "key-exchange-mac"}),
        (Role.GATEWAY, "center", {"sign-on", "echo", "approve", "decline", "duplicate", "bad-mac",
                                  "malformed", "upstream-timeout", "key-exchange-pin"}),
        (Role.CENTER, "center", {"sign-on", "echo", "approve", "decline", "duplicate", "bad-mac",
                                 "malformed", "key-exchange-pin"}),
    ]:  # fmt: skip
        chosen = select_cases(cases, role, dialect)
        live = {c.id.split(".", 1)[1] for c in chosen if c.kind is Kind.LIVE}
        assert live == wanted, role
        assert chosen[0].kind is Kind.OFFLINE  # offline cases first
    assert all(c.kind is Kind.OFFLINE for c in select_cases(cases, "switch", "cups",
                                                            offline_only=True))  # fmt: skip


def test_offline_cases_all_pass():
    report = run_conformance(load_cases(), None, "gateway", settings=None)
    offline = [r for r in report.results if r.kind == "offline"]
    assert len(offline) == 6
    assert all(r.outcome is Outcome.PASSED for r in offline), report.text()
    live = [r for r in report.results if r.kind == "live"]
    assert live and all(r.outcome is Outcome.NOT_APPLICABLE for r in live)
    assert all("no peer" in r.reason for r in live)


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_wrong_vector_fails_its_offline_case(tmp_path):
    (tmp_path / "vectors").mkdir()
    _write(
        tmp_path / "vectors",
        "kcv.toml",
        """
        [[kcv]]
        source = "deliberately wrong"
        algorithm = "3des-2key"
        key = "0123456789ABCDEFFEDCBA9876543210"
        kcv = "08D7B4FC"
        [[kcv]]
        source = "DOMAIN.md"
        algorithm = "3des-2key"
        key = "0123456789ABCDEFFEDCBA9876543210"
        kcv = "08D7B4FB"
    """,
    )
    (tmp_path / "conformance").mkdir()
    cases = _write(
        tmp_path / "conformance",
        "mine.toml",
        """
        [[case]]
        id = "mine.kcv"
        title = "my vectors"
        kind = "offline"
        check = "kcv"
        source = "vectors/kcv.toml"
    """,
    )
    report = run_conformance(load_cases(cases), None, "switch")
    result = report.result("mine.kcv")
    assert result.outcome is Outcome.FAILED
    assert result.reason == "1 of 2 checks failed"
    assert any("deliberately wrong" in line and "08D7B4FB" in line for line in result.log)
    assert not report.ok


LIVE_HEAD = """
    dialects = ["center"]
    [variables]
    amount = "000000000100"
    [session]
    sign_on = "echo"
    [templates.echo]
    mti = "0820"
    fields = { "7" = "{f7}", "11" = "{stan}", "70" = "301" }
"""


@pytest.mark.parametrize(
    ("body", "where", "problem"),
    [
        ('[[case]]\nid = "a"\ntitle = "t"\nkind = "live"\ncolour = "red"\n'
         '[[case.step]]\nid = "s"\nsend = "echo"\n', "case[0].colour", "not a known key"),
        ('[[case]]\nid = "a"\ntitle = "t"\nkind = "live"\n'
         '[[case.step]]\nid = "s"\nsend = "nope"\n', "case[0].step[0].send", "no template"),
        ('[[case]]\nid = "a"\ntitle = "t"\nkind = "live"\n'
         '[[case.step]]\nid = "s"\nsend = "echo"\nfields = { "4" = "{amont}" }\n',
         "case[0].step[0]", "placeholder {amont}"),
        ('[[case]]\nid = "a"\ntitle = "t"\nkind = "live"\n'
         '[[case.step]]\nid = "s"\nrepeat_of = "later"\n', "case[0].step[0].repeat_of",
         "no earlier step"),
        ('[[case]]\nid = "a"\ntitle = "t"\nkind = "live"\n'
         '[[case.step]]\nid = "s"\nsend = "echo"\nexpect = { "39" = "00" }\n',
         "case[0].step[0].expect.39", "must be a list"),
        ('[[case]]\nid = "a"\ntitle = "t"\nkind = "live"\n'
         '[[case.step]]\nid = "s"\nsend = "echo"\nframe = "garbage"\n',
         "case[0].step[0].frame", "malformed:field<N>-letter"),
        ('[[case]]\nid = "a"\ntitle = "t"\nkind = "sometimes"\n', "case[0].kind",
         "offline or live"),
        ('[[case]]\nid = "a"\ntitle = "t"\nkind = "offline"\ncheck = "tea"\nsource = "x"\n',
         "case[0].check", "known checks"),
        ('[[case]]\nid = "a"\ntitle = "t"\nkind = "live"\ndialects = []\n'
         '[[case.step]]\nid = "s"\nsend = "echo"\n', "case[0].dialects", "names its roles"),
    ],
)  # fmt: skip
def test_mistakes_are_refused_naming_file_place_and_problem(tmp_path, body, where, problem):
    path = _write(tmp_path, "bad.toml", LIVE_HEAD)
    path.write_text(path.read_text() + body)
    with pytest.raises(SpecError) as info:
        load_cases(path)
    assert info.value.file == "bad.toml"
    assert info.value.where == where
    assert problem in info.value.problem


def test_two_cases_with_one_id_are_refused(tmp_path):
    case = '[[case]]\nid = "same"\ntitle = "t"\nkind = "offline"\ncheck = "kcv"\nsource = "x"\n'
    _write(tmp_path, "a.toml", case)
    _write(tmp_path, "b.toml", case)
    with pytest.raises(SpecError, match=r"already used in a\.toml"):
        load_cases(tmp_path)
    with pytest.raises(SpecError, match="no such case file"):
        load_cases(tmp_path / "missing")


@pytest.mark.parametrize("dialect", ["cups", "center"])
def test_mutation_puts_a_letter_at_the_start_of_field_3(dialect):
    spoken = load_dialect(dialect)
    message = spoken.message("0200", {3: "210000", 4: "000000000100", 7: "1126101530",
                                      11: "000123", 32: "11010500"})  # fmt: skip
    frame = spoken.encode(message)
    bad = mutate(spoken, frame, 3)
    assert len(bad) == len(frame)
    assert [i for i in range(len(frame)) if frame[i] != bad[i]] == [frame.index(b"210000")]
    with pytest.raises(ValueError, match="field 2"):
        mutate(spoken, frame, 2)


def test_report_text_and_junit(tmp_path):
    report = run_conformance(load_cases(), None, "switch")
    text = report.text()
    assert "PASSED          offline.kcv" in text and "RESULT: PASS" in text
    assert "NOT APPLICABLE  switch.approve" in text
    report.write(text=tmp_path / "r.txt", junit=tmp_path / "r.xml")
    assert (tmp_path / "r.txt").read_text(encoding="utf-8") == text
    root = ET.parse(tmp_path / "r.xml").getroot()
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == len(report.results) == int(suite.get("tests"))
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert len(skipped) == int(suite.get("skipped")) == 9
    assert suite.find("properties/property[@name='role']").get("value") == "switch"
