"""``sscard-gateway clear`` and ``reconcile``: keys, reports, exit status, progress."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sscard_gateway.clearing import write_acom_lines
from sscard_gateway.cli import _clearing
from sscard_gateway.errors import SscardError
from sscard_gateway.store import TransactionRecord

DATE = "20241126"
PAN_KEY = bytes(range(32)).hex()
DATA_KEY = bytes(range(32, 64)).hex()


def cli(argv: list[str]) -> int:
    """What ``sscard-gateway`` does once the group is registered."""
    parser = argparse.ArgumentParser(prog="sscard-gateway")
    _clearing.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        status: int = args.run(args)
    except SscardError as exc:
        print(f"sscard-gateway: error: {exc}")
        return 2
    return status


@pytest.fixture
def keys(tmp_path: Path) -> list[str]:
    files = []
    for name, value in (("pan.key", PAN_KEY), ("data.key", DATA_KEY)):
        path = tmp_path / name
        path.write_text(value + "\n")
        path.chmod(0o600)
        files.append(path)
    return ["--pan-key-file", str(files[0]), "--data-key-file", str(files[1])]


@pytest.fixture
def day(
    tmp_path: Path,
    open_journal: Any,
    leg: Callable[..., TransactionRecord],
    line: Callable[..., dict[str, Any]],
) -> tuple[Path, Path]:
    records = [
        leg(1, home_region="110105", treating_region="310104", split=(3000, 0, 1000)),
        leg(2),
    ]
    open_journal(tmp_path / "journal.db", records=records).close()
    acom = tmp_path / "IND24112601ACOM"
    write_acom_lines([line(r) for r in records], acom)
    return tmp_path / "journal.db", acom


def test_clear_prints_and_writes_the_reports(
    tmp_path: Path, day: tuple[Path, Path], keys: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    journal, _ = day
    out = tmp_path / "out"
    argv = ["clear", "--journal", str(journal), "--date", DATE, "--out", str(out), *keys]
    assert cli(argv) == 0
    printed = capsys.readouterr()
    assert "110105 pays 310104" in printed.out and "balanced" in printed.out
    assert printed.err == ""  # no bar: standard error is not a terminal
    assert len(list(out.glob(f"clearing-{DATE}-*"))) == 6
    assert cli([*argv, "--regions", "province"]) == 0
    assert "110000 pays 310000" in capsys.readouterr().out


def test_reconcile_from_the_environment_with_a_progress_bar(
    tmp_path: Path,
    day: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    journal, acom = day
    monkeypatch.setenv(_clearing.PAN_KEY_ENV, PAN_KEY)
    monkeypatch.setenv(_clearing.DATA_KEY_ENV, DATA_KEY)
    argv = [
        "reconcile",
        "--journal",
        str(journal),
        "--date",
        DATE,
        "--file",
        str(acom),
        "--out",
        str(tmp_path / "out"),
        "--progress",
    ]
    assert cli(argv) == 0
    printed = capsys.readouterr()
    assert "matched                         2" in printed.out
    assert "reading file" in printed.err and "100%" in printed.err
    assert len(list((tmp_path / "out").glob(f"reconciliation-{DATE}-*"))) == 4
    # a discrepancy: exit status 1, and the store is the journal's file
    with acom.open("a") as f:
        f.write("not a line\n")
    assert cli([*argv, "--no-progress"]) == 1
    assert "1 malformed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda argv, tmp: [*argv[:2], str(tmp / "absent.db"), *argv[3:]], "no journal at"),
        (lambda argv, tmp: [*argv[:4], "2024-11-26", *argv[5:]], "--date must be YYYYMMDD"),
        (lambda argv, tmp: argv[:-4], "SSCARD_JOURNAL_PAN_KEY"),
    ],
)
def test_errors_name_the_problem(
    tmp_path: Path,
    day: tuple[Path, Path],
    keys: list[str],
    capsys: pytest.CaptureFixture[str],
    change: Any,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(_clearing.PAN_KEY_ENV, raising=False)
    argv = ["clear", "--journal", str(day[0]), "--date", DATE, *keys]
    assert cli(change(argv, tmp_path)) == 2
    assert message in capsys.readouterr().out


def test_a_wrong_key_is_refused(
    tmp_path: Path, day: tuple[Path, Path], keys: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "wrong.key"
    wrong.write_text("00" * 32)
    os.chmod(wrong, 0o600)
    argv = [
        "clear",
        "--journal",
        str(day[0]),
        "--date",
        DATE,
        *keys[:2],
        "--data-key-file",
        str(wrong),
    ]
    assert cli(argv) == 2
    assert "data key" in capsys.readouterr().out
