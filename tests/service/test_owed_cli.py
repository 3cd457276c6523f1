"""``sscard-gateway owed``: list, show, retry and resolve the exception queue from gateway.toml.

The journal is seeded as a gateway leaves it: a transaction whose switch leg
timed out, its reversal (a real CUPS 0420) past its expiry in the exception
queue with the leg; a reversal delivered (done); and an item whose leg does
not match it (the journal refuses to move them apart). The commands' clock
is fixed: no test waits on the wall clock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from service_helpers import ROOT, example_config

import sscard_gateway.cli as cli
from sscard_gateway.cli import _owed
from sscard_gateway.config import load_config
from sscard_gateway.iso import load_dialect
from sscard_gateway.iso.jsonio import message_from_dict
from sscard_gateway.service._open import open_journal
from sscard_gateway.store import (
    AddOwed,
    InsertLeg,
    InsertTransaction,
    LegKind,
    LegRecord,
    LegState,
    OwedItem,
    OwedKind,
    OwedStatus,
    TransactionRecord,
    TransactionStatus,
)

PAN = "6225880137654324"
MASKED = "622588******4324"
T0 = datetime(2026, 11, 26, 10, 15, 30, tzinfo=UTC)
NOW = T0 + timedelta(days=4)
EXPIRY = 259200.0  # examples/gateway.toml [store_and_forward] expiry
REASON = "not acknowledged after 7 attempts before its expiry"
STUCK, DONE, ODD = "a" * 32, "b" * 32, "c" * 32


def _key(stan: str) -> str:
    return f"1126101530|{stan}|48020000|48020000"


@pytest.fixture
def config(tmp_path: Path, lab_keys: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An examples-like gateway.toml whose journal holds three owed reversals."""
    path = example_config(
        tmp_path, keys=lab_keys, switch=17000, centers=(17101, 17131), metrics=19108
    )
    dialect = load_dialect("cups")
    sample = json.loads((ROOT / "specs/samples/cups_0200_purchase.json").read_text("utf-8"))
    groups = []
    for id, stan, leg_state, status in (
        (STUCK, "000123", LegState.EXCEPTION, OwedStatus.EXCEPTION),
        (DONE, "000125", LegState.REVERSED, OwedStatus.DONE),
        (ODD, "000127", LegState.REVERSED, OwedStatus.EXCEPTION),
    ):
        request = message_from_dict(dialect, sample).evolve(fields=sample_fields(sample, stan))
        reversal = request.reversal_of({7: "1126103000", 11: f"{int(stan) + 1:06d}"})
        key = _key(stan)
        start = T0.timestamp()
        groups.append(
            [
                InsertTransaction(
                    TransactionRecord(
                        transaction_key=key,
                        kind="purchase",
                        mti="0200",
                        source="center-110000",
                        created_at=start,
                        settlement_date="20261126",
                        destination="cups",
                        stan=stan,
                        pan_masked=MASKED,
                        status=TransactionStatus.TIMED_OUT,
                    )
                ),
                InsertLeg(
                    LegRecord(
                        leg_id=f"{key}#1",
                        transaction_key=key,
                        step=1,
                        kind=LegKind.REQUEST,
                        destination="cups",
                        mti="0200",
                        stan=stan,
                        leg_key=key,
                        amount=12345,
                        payload=dialect.encode(request),
                        created_at=start,
                        updated_at=start + EXPIRY,
                        state=leg_state,
                    )
                ),
                AddOwed(
                    OwedItem(
                        id=id,
                        kind=OwedKind.REVERSAL,
                        destination="cups",
                        transaction_key=key,
                        payload=dialect.encode(reversal),
                        created_at=start,
                        updated_at=start + EXPIRY,
                        expires_at=start + EXPIRY,
                        attempts=7,
                        status=status,
                        last_response_code="00" if status is OwedStatus.DONE else None,
                        leg_id=f"{key}#1",
                        stan=f"{int(stan) + 1:06d}",
                        reason=REASON if status is OwedStatus.EXCEPTION else None,
                    )
                ),
            ]
        )
    with open_journal(load_config(path)) as journal:
        assert all(result.applied for result in journal.apply_groups(groups))
    monkeypatch.setattr(_owed, "_clock", lambda: NOW)
    return path


def sample_fields(sample: dict, stan: str) -> dict:
    fields = {int(n): v for n, v in sample["fields"].items() if n not in ("52", "55", "128")}
    return {**fields, 11: stan}


def journal_of(path: Path):
    return open_journal(load_config(path))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_the_group_is_wired_with_help_on_every_option():
    assert _owed in cli._GROUPS
    parser = cli.build_parser()
    owed = parser._subparsers._group_actions[0].choices["owed"]
    actions = owed._subparsers._group_actions[0]
    assert set(actions.choices) == {"list", "show", "retry", "resolve"}
    assert all(choice.help for choice in actions._choices_actions)
    for name, sub in actions.choices.items():
        for action in sub._actions:
            assert action.help, f"owed {name} {action.dest} has no help"


def test_list_shows_the_exception_queue_and_never_a_payload(config, capsys):
    status, out, err = run(capsys, "owed", "list", "--config", str(config))
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["ID", "KIND", "DESTINATION"]
    assert len(lines) == 3  # the header and the two items in the exception queue
    assert STUCK in lines[1] and REASON in lines[1] and _key("000123") in lines[1]
    assert "reversal" in lines[1] and "exception" in lines[1] and " 7 " in lines[1]
    assert T0.astimezone().isoformat(timespec="seconds") in lines[1]
    assert DONE not in out and PAN not in out
    status, out, _ = run(capsys, "owed", "list", "--config", str(config), "--status", "all")
    assert status == 0 and DONE in out and len(out.splitlines()) == 4


def test_list_json_one_object_a_line_and_filters(config, capsys):
    argv = ["owed", "list", "--config", str(config), "--json", "--status", "all"]
    status, out, _ = run(capsys, *argv, "--limit", "2")
    rows = [json.loads(line) for line in out.splitlines()]
    assert status == 0 and [r["id"] for r in rows] == [STUCK, DONE]
    assert rows[0]["reason"] == REASON and rows[0]["last_response_code"] is None
    assert rows[1]["status"] == "done" and "payload" not in rows[1]
    assert rows[0]["expires_at"] == (T0 + timedelta(seconds=EXPIRY)).astimezone().isoformat()
    _, out, _ = run(capsys, *argv, "--destination", "center-110000")
    assert out == ""
    _, out, _ = run(capsys, "owed", "list", "--config", str(config), "--destination", "x")
    assert out == "no owed items with status exception owed to x\n"


def test_show_decodes_the_reversal_masked_with_its_leg(config, capsys):
    status, out, err = run(capsys, "owed", "show", STUCK, "--config", str(config))
    assert status == 0 and err == ""
    assert PAN not in out and MASKED in out
    assert f"leg {_key('000123')}#1: state exception" in out
    assert "message (cups dialect, masked): MTI 0420" in out
    assert "F11" in out and "000124" in out and "F90" in out
    assert f"reason              {REASON}" in out
    assert "transaction " + _key("000123") + ": status timed_out" in out
    status, out, _ = run(capsys, "owed", "show", STUCK, "--config", str(config), "--json")
    shown = json.loads(out)
    assert status == 0 and PAN not in out
    assert shown["item"]["status"] == "exception" and shown["leg"]["state"] == "exception"
    fields = {f["field"]: f["value"] for f in shown["message"]["fields"]}
    assert fields[2] == MASKED and shown["message"]["mti"] == "0420"
    assert fields[14].startswith("<track wiped")


def test_retry_puts_the_item_and_its_leg_back_in_store_and_forward(config, capsys):
    status, out, err = run(capsys, "owed", "retry", STUCK, "--config", str(config), "--by", "bob")
    assert status == 0 and err == "" and len(out.splitlines()) == 1
    assert out.startswith(f"owed item {STUCK}: retried by bob") and "reversal_owed" in out
    with journal_of(config) as journal:
        item = journal.get_owed(STUCK)
        assert item is not None and item.status is OwedStatus.OWED and item.repeat
        assert item.expires_at == NOW.timestamp() + EXPIRY
        assert item.next_attempt_at == NOW.timestamp()
        assert [leg.state for leg in journal.legs(_key("000123"))] == [LegState.REVERSAL_OWED]
        due = journal.due_owed(NOW.timestamp(), destinations=["cups"])
        assert [i.id for i in due] == [STUCK]  # the next store-and-forward round sends it
    status, _, err = run(capsys, "owed", "retry", STUCK, "--config", str(config))
    assert status == 2 and "it is owed, not in the exception queue" in err


def test_resolve_keeps_who_and_why_and_ends_item_and_leg(config, capsys):
    argv = ["owed", "resolve", STUCK, "--config", str(config)]
    status, out, err = run(capsys, *argv, "--by", "alice", "--why", "refunded by hand, T-4711")
    assert status == 0 and err == "" and len(out.splitlines()) == 1
    assert "resolved (alice: refunded by hand, T-4711)" in out
    with journal_of(config) as journal:
        item = journal.get_owed(STUCK)
        assert item is not None and item.status is OwedStatus.RESOLVED
        assert item.resolution == "alice: refunded by hand, T-4711"
        assert [leg.state for leg in journal.legs(_key("000123"))] == [LegState.RESOLVED]
    _, out, _ = run(capsys, "owed", "list", "--config", str(config), "--status", "resolved")
    assert "alice: refunded by hand, T-4711" in out


def one_line_error(status: int, out: str, err: str) -> str:
    assert status == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("sscard-gateway: ")
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("action", ["retry", "resolve"])
def test_items_outside_the_exception_queue_and_unknown_ids_are_refused(config, capsys, action):
    extra = ["--by", "alice", "--why", "done twice"] if action == "resolve" else []
    err = one_line_error(*run(capsys, "owed", action, DONE, "--config", str(config), *extra))
    assert f"owed item {DONE}: it is done, not in the exception queue" in err
    err = one_line_error(*run(capsys, "owed", action, "f" * 32, "--config", str(config), *extra))
    assert "no such item in the journal" in err
    with journal_of(config) as journal:
        item = journal.get_owed(DONE)
        assert item is not None and item.status is OwedStatus.DONE


def test_a_refused_group_changes_nothing(config, capsys):
    err = one_line_error(*run(capsys, "owed", "retry", ODD, "--config", str(config)))
    assert f"not retried: its leg {_key('000127')}#1 is reversed, not exception" in err
    assert "nothing was changed" in err
    with journal_of(config) as journal:
        item = journal.get_owed(ODD)
        assert item is not None and item.status is OwedStatus.EXCEPTION and not item.repeat


def test_show_of_an_unknown_id_and_a_bad_config(config, capsys, tmp_path):
    err = one_line_error(*run(capsys, "owed", "show", "nope", "--config", str(config)))
    assert "owed item nope: no such item" in err
    bad = tmp_path / "bad.toml"
    bad.write_text('[gateway]\ninstitution = "x"\n', encoding="utf-8")
    err = one_line_error(*run(capsys, "owed", "list", "--config", str(bad)))
    assert str(bad) in err and "check-config" in err
    missing = tmp_path / "missing.toml"
    one_line_error(*run(capsys, "owed", "list", "--config", str(missing)))


def test_a_missing_journal_is_not_created(tmp_path, lab_keys, capsys):
    path = example_config(
        tmp_path, keys=lab_keys, switch=17000, centers=(17101, 17131), metrics=19108
    )
    err = one_line_error(*run(capsys, "owed", "list", "--config", str(path)))
    assert "journal.path: no journal at" in err
    assert not (lab_keys / "journal.db").exists()


def test_resolve_needs_who_and_why_without_card_data(config, capsys):
    for extra in ([], ["--by", "alice"], ["--by", "alice", "--why", " "]):
        with pytest.raises(SystemExit) as caught:
            cli.main(["owed", "resolve", STUCK, "--config", str(config), *extra])
        assert caught.value.code == 2
    with pytest.raises(SystemExit):
        cli.main(["owed", "resolve", STUCK, "--config", str(config), "--by", "a", "--why", PAN])
    err = capsys.readouterr().err
    assert "must not carry a card number" in err and PAN not in err
