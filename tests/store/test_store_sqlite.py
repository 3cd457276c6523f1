"""SQLiteJournal: every field round trips, duplicates across restarts, owed queue, keys."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sscard_gateway.errors import JournalClosed, JournalError, JournalKeyError
from sscard_gateway.ids import AmountSplit
from sscard_gateway.store import (
    AddOwed,
    Duplicate,
    InsertLeg,
    InsertTransaction,
    Journal,
    JournalStatistics,
    LegKind,
    LegRecord,
    LegState,
    NotFound,
    OwedItem,
    OwedKind,
    OwedStatus,
    Refused,
    SetSetting,
    Setting,
    SQLiteJournal,
    TransactionRecord,
    TransactionStatus,
    UpdateLeg,
    UpdateOwed,
    UpdateTransaction,
    _schema,
    _sqlite_ops,
)

Record = Callable[..., TransactionRecord]
Item = Callable[..., OwedItem]
Opener = Callable[..., SQLiteJournal]
PAN_KEY = bytes(range(32))
DATA_KEY = bytes(range(32, 64))


def full_record() -> TransactionRecord:
    """A record with every field set to a value different from its default."""
    return TransactionRecord(
        transaction_key="1126101530123456000480200004802",
        kind="medical_settlement",
        mti="0200",
        source="center-110105",
        created_at=1_732_600_000.25,
        settlement_date="20241126",
        updated_at=1_732_600_001.5,
        destination="cups",
        dialect="center-beijing",
        processing_code="000000",
        stan="123456",
        rrn="433110123456",
        transmission_time="1126101530",
        acquirer="04802000",
        forwarder="04802001",
        terminal="TERM0001",
        merchant="110105806200001",
        authorization_code="A1B2C3",
        home_region="110105",
        treating_region="310101",
        insurance_kind="310",
        amount=AmountSplit.from_parts(fund=12_345, personal_account=6_789, cash=1_011),
        currency="840",
        pan_masked="622588******4324",
        pan_hash="ab" * 32,
        status=TransactionStatus.APPROVED,
        response_code="00",
        responded_at=1_732_600_002.0,
        upstream_stan="654321",
        upstream_rrn="433110654321",
        upstream_key="112610153065432100010000",
        original_key="1126101000111111000480200004802",
    )


def test_the_full_record_sets_every_field() -> None:
    defaults = TransactionRecord(
        transaction_key="x",
        kind="k",
        mti="0100",
        source="",
        created_at=0,
        settlement_date="20000101",
    )
    full = full_record()
    for field in attrs.fields(TransactionRecord):
        assert getattr(full, field.name) != getattr(defaults, field.name), field.name


def test_a_record_round_trips_every_field_and_type(journal: SQLiteJournal) -> None:
    record = full_record()
    assert journal.apply([InsertTransaction(record)]) == [record]
    stored = journal.get_transaction(record.transaction_key)
    assert stored == record
    assert stored is not None
    for field in attrs.fields(TransactionRecord):
        assert type(getattr(stored, field.name)) is type(getattr(record, field.name)), field.name
    assert list(journal.transactions()) == [record]
    assert journal.get_transaction("absent") is None


texts = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12)
times = st.floats(min_value=0, max_value=4e9, allow_nan=False) | st.integers(0, 2**33)
digits = st.integers(0, 10**12 - 1)


@st.composite
def records(draw: st.DrawFn) -> TransactionRecord:
    return TransactionRecord(
        transaction_key=draw(texts.filter(bool)),
        kind=draw(st.sampled_from(["purchase", "refund", "medical_settlement", "reversal"])),
        mti=draw(st.sampled_from(["0200", "0220", "0420", "0100"])),
        source=draw(texts),
        created_at=draw(times),
        settlement_date=draw(st.dates().map(lambda d: d.strftime("%Y%m%d").zfill(8))),
        updated_at=draw(times),
        destination=draw(texts),
        stan=draw(texts),
        home_region=draw(st.sampled_from(["", "110105", "310101"])),
        amount=AmountSplit.from_parts(fund=draw(digits), personal_account=draw(digits), cash=0),
        pan_hash=draw(st.sampled_from(["", "0" * 64, "f" * 64])),
        status=draw(st.sampled_from(TransactionStatus)),
        response_code=draw(st.none() | st.sampled_from(["00", "51", "A0"])),
        responded_at=draw(st.none() | times),
        upstream_key=draw(st.none() | texts),
        original_key=draw(st.none() | texts),
    )


@given(records())
def test_any_record_round_trips(record: TransactionRecord) -> None:
    with SQLiteJournal(":memory:", pan_key=PAN_KEY, data_key=DATA_KEY) as journal:
        journal.apply([InsertTransaction(record)])
        assert journal.get_transaction(record.transaction_key) == record


def test_duplicates_in_one_batch_and_across_reopen(
    tmp_path: Path, open_journal: Opener, record: Record
) -> None:
    path = tmp_path / "journal.db"
    first = record("K1")
    again = record("K1", kind="purchase", created_at=9)
    journal = open_journal(path)
    results = journal.apply([InsertTransaction(first), InsertTransaction(again)])
    assert results == [first, Duplicate(first)]
    journal.close()

    reopened = open_journal(path)
    assert reopened.apply([InsertTransaction(again)]) == [Duplicate(first)]
    assert reopened.apply([InsertTransaction(record("K2"))]) == [record("K2")]
    assert reopened.statistics(0).transactions == 2


def test_updates_change_only_what_is_given(journal: SQLiteJournal, record: Record) -> None:
    journal.apply([InsertTransaction(record("K1", destination=""))])
    routed = UpdateTransaction(
        transaction_key="K1", updated_at=2e9, destination="cups", upstream_stan="000042"
    )
    answered = UpdateTransaction(
        transaction_key="K1",
        updated_at=2e9 + 1,
        expect=TransactionStatus.PENDING,
        status=TransactionStatus.APPROVED,
        response_code="00",
        responded_at=2e9 + 1,
        settlement_date="20241127",
        rrn="433110000042",
        authorization_code="123456",
        upstream_rrn="433110000042",
        upstream_key="UPKEY",
    )
    after_route, after_answer, missing = journal.apply(
        [routed, answered, UpdateTransaction(transaction_key="K9", updated_at=1)]
    )
    assert missing == NotFound("K9")
    assert isinstance(after_route, TransactionRecord)
    assert (after_route.destination, after_route.upstream_stan) == ("cups", "000042")
    assert after_route.status is TransactionStatus.PENDING
    expected = attrs.evolve(
        record("K1"),
        updated_at=2e9 + 1,
        destination="cups",
        upstream_stan="000042",
        status=TransactionStatus.APPROVED,
        response_code="00",
        responded_at=2e9 + 1,
        settlement_date="20241127",
        rrn="433110000042",
        authorization_code="123456",
        upstream_rrn="433110000042",
        upstream_key="UPKEY",
    )
    assert after_answer == expected == journal.get_transaction("K1")
    assert isinstance(after_answer, TransactionRecord)
    assert type(after_answer.created_at) is float


def test_owed_items_survive_reopen_and_come_back_due_in_order(
    tmp_path: Path, open_journal: Opener, item: Item
) -> None:
    path = tmp_path / "journal.db"
    late = item("K1", id="late", created_at=10, next_attempt_at=30)
    early = item("K2", id="early", created_at=20, next_attempt_at=15, expires_at=100)
    tie = item("K3", id="tie", created_at=25, next_attempt_at=30, kind=OwedKind.ADVICE)
    journal = open_journal(path)
    assert journal.apply([AddOwed(late), AddOwed(early), AddOwed(tie)]) == [late, early, tie]
    assert journal.apply([AddOwed(attrs.evolve(late, destination="x"))]) == [Duplicate(late)]
    journal.close()

    journal = open_journal(path)
    assert journal.next_due_at() == 15.0
    assert journal.due_owed(14) == []
    assert journal.due_owed(15) == [early]
    assert journal.due_owed(30) == [early, late, tie]  # by next attempt, then as journaled
    assert journal.due_owed(30, limit=2) == [early, late]
    assert journal.get_owed("tie") == tie and journal.get_owed("nope") is None

    first_try = UpdateOwed(id="early", updated_at=16, attempts=1, next_attempt_at=40)
    answered = UpdateOwed(
        id="late",
        updated_at=31,
        attempts=1,
        expect=OwedStatus.OWED,
        status=OwedStatus.DONE,
        last_response_code="00",
    )
    results = journal.apply([first_try, answered, UpdateOwed(id="gone", updated_at=1)])
    assert results == [
        attrs.evolve(early, updated_at=16, attempts=1, next_attempt_at=40),
        attrs.evolve(
            late, updated_at=31, attempts=1, status=OwedStatus.DONE, last_response_code="00"
        ),
        NotFound("gone"),
    ]
    journal.close()

    journal = open_journal(path)
    assert journal.due_owed(30) == [tie]
    assert [i.id for i in journal.due_owed(40)] == ["tie", "early"]
    assert journal.next_due_at() == 30.0
    assert [i.id for i in journal.owed_items()] == ["early", "tie"]
    assert [i.id for i in journal.owed_items(status=OwedStatus.DONE)] == ["late"]
    assert [i.id for i in journal.owed_items(status=None)] == ["late", "early", "tie"]
    assert [i.id for i in journal.owed_items(status=None, transaction_key="K2")] == ["early"]
    assert [i.id for i in journal.owed_items(status=None, limit=1)] == ["late"]
    assert journal.get_owed("early") == attrs.evolve(
        early, updated_at=16, attempts=1, next_attempt_at=40
    )


def test_statistics(journal: SQLiteJournal, record: Record, item: Item) -> None:
    empty = journal.statistics(1000)
    assert empty == JournalStatistics(
        transactions=0,
        pending=0,
        owed=0,
        due=0,
        oldest_owed_age=0.0,
        done=0,
        exceptions=0,
        resolved=0,
        legs=dict.fromkeys(LegState, 0),
    )
    journal.apply(
        [InsertTransaction(record(f"K{i}")) for i in range(5)]
        + [
            UpdateTransaction(
                transaction_key="K0",
                updated_at=1,
                expect=TransactionStatus.PENDING,
                status=TransactionStatus.APPROVED,
            ),
            UpdateTransaction(
                transaction_key="K1",
                updated_at=1,
                expect=TransactionStatus.PENDING,
                status=TransactionStatus.DECLINED,
            ),
            UpdateTransaction(  # refused: already declined
                transaction_key="K1",
                updated_at=2,
                expect=TransactionStatus.PENDING,
                status=TransactionStatus.DECLINED,
            ),
        ]
        + [
            AddOwed(item(f"K{i}", id=f"o{i}", created_at=100 + i, next_attempt_at=200 + i))
            for i in range(6)
        ]
        + [
            UpdateOwed(id="o0", updated_at=1, expect=OwedStatus.OWED, status=OwedStatus.DONE),
            UpdateOwed(id="o1", updated_at=1, expect=OwedStatus.OWED, status=OwedStatus.EXCEPTION),
            UpdateOwed(id="o2", updated_at=1, expect=OwedStatus.OWED, status=OwedStatus.EXCEPTION),
            UpdateOwed(
                id="o2", updated_at=1, expect=OwedStatus.EXCEPTION, status=OwedStatus.RESOLVED
            ),
        ]
    )
    assert journal.statistics(204) == JournalStatistics(
        transactions=5,
        pending=3,
        owed=3,
        due=2,
        oldest_owed_age=101.0,
        done=1,
        exceptions=1,
        resolved=1,
        legs=dict.fromkeys(LegState, 0),
    )


def test_a_failing_batch_stores_nothing(
    journal: SQLiteJournal, record: Record, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = _sqlite_ops._apply_one
    calls = 0

    def flaky(conn: sqlite3.Connection, op: object, sealed: object, codec: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise sqlite3.OperationalError("disk I/O error")
        return original(conn, op, sealed, codec)  # type: ignore[arg-type]

    monkeypatch.setattr(_sqlite_ops, "_apply_one", flaky)
    with pytest.raises(JournalError, match="disk I/O error"):
        journal.apply([InsertTransaction(record(f"K{i}")) for i in range(4)])
    monkeypatch.undo()
    assert journal.statistics(0).transactions == 0
    assert list(journal.transactions()) == []
    assert journal.apply([InsertTransaction(record("K0"))]) == [record("K0")]


def test_a_group_stops_at_its_first_refusal_and_the_others_go_on(
    journal: SQLiteJournal, record: Record, item: Item
) -> None:
    journal.apply([InsertTransaction(record("K1"))])
    approve = UpdateTransaction(
        transaction_key="K1",
        updated_at=2,
        expect=TransactionStatus.PENDING,
        status=TransactionStatus.APPROVED,
    )
    reverse = UpdateTransaction(
        transaction_key="K1",
        updated_at=3,
        expect={TransactionStatus.PENDING, TransactionStatus.APPROVED},
        status=TransactionStatus.REVERSED,
    )
    owe = AddOwed(item("K1", id="rev1"))
    first, second = journal.apply_groups([[reverse, owe], [InsertTransaction(record("K2"))]])
    assert first.applied and second.applied
    late = journal.apply_groups([[AddOwed(item("K1", id="late")), approve]])[0]
    assert not late.applied and late.stopped_at == 1 and late.results == ()
    assert isinstance(late.stopper, Refused)
    assert late.stopper.current.status is TransactionStatus.REVERSED
    assert journal.get_owed("late") is None  # the group's first op was undone
    again = journal.apply_groups([[InsertTransaction(record("K2")), owe]])[0]
    assert isinstance(again.stopper, Duplicate) and again.stopped_at == 0
    missing = journal.apply_groups([[UpdateTransaction(transaction_key="nope", updated_at=1)]])
    assert missing[0].stopper == NotFound("nope")
    record_k1 = journal.get_transaction("K1")
    assert record_k1 is not None and record_k1.status is TransactionStatus.REVERSED


def test_legs_are_sealed_ordered_and_compare_and_set(
    tmp_path: Path, open_journal: Opener, record: Record
) -> None:
    journal = open_journal(tmp_path / "legs.db")

    def leg(step: int, **changes: object) -> LegRecord:
        values: dict[str, object] = dict(
            leg_id=f"K1#{step}",
            transaction_key="K1",
            step=step,
            kind=LegKind.REQUEST,
            destination="cups",
            mti="0200",
            stan=f"{step:06d}",
            leg_key=f"1126101530|{step:06d}|48020000|48020000",
            amount=1500,
            payload=b"the leg as sent " + bytes([step]),
            created_at=10.0 + step,
        )
        values.update(changes)
        return LegRecord(**values)  # type: ignore[arg-type]

    journal.apply_groups([[InsertTransaction(record("K1")), InsertLeg(leg(2)), InsertLeg(leg(1))]])
    assert [x.leg_id for x in journal.legs("K1")] == ["K1#1", "K1#2"]
    assert journal.legs("K1")[0] == leg(1)
    assert journal.last_stan() == 1  # the latest journaled
    answered = UpdateLeg(
        leg_id="K1#1",
        updated_at=20,
        expect=LegState.SENT,
        state=LegState.ANSWERED,
        response_code="00",
    )
    assert journal.apply([answered]) == [
        attrs.evolve(leg(1), updated_at=20.0, state=LegState.ANSWERED, response_code="00")
    ]
    refused = journal.apply([answered])[0]
    assert isinstance(refused, Refused) and refused.current.state is LegState.ANSWERED
    assert journal.legs_in({LegState.SENT}) == [leg(2)]
    assert journal.statistics(0).legs[LegState.ANSWERED] == 1
    with sqlite3.connect(journal.path) as conn:
        raw = conn.execute("SELECT payload FROM legs").fetchall()
    conn.close()
    assert all(b"the leg as sent" not in bytes(r[0]) for r in raw)


def test_apply_refuses_what_is_not_an_operation(journal: SQLiteJournal, record: Record) -> None:
    with pytest.raises(TypeError, match="not a journal operation"):
        journal.apply([record("K1")])  # type: ignore[list-item]
    assert journal.apply([]) == []


def test_closed_journal(journal: SQLiteJournal, record: Record) -> None:
    journal.close()
    journal.close()
    assert "closed" in repr(journal)
    with pytest.raises(JournalClosed):
        journal.apply([InsertTransaction(record("K1"))])
    with pytest.raises(JournalClosed):
        journal.get_transaction("K1")
    with pytest.raises(JournalClosed):
        journal.statistics(0)
    with pytest.raises(JournalClosed):
        next(journal.transactions())


def test_keys_are_checked_on_open(tmp_path: Path, open_journal: Opener) -> None:
    path = tmp_path / "journal.db"
    open_journal(path).close()
    with pytest.raises(JournalKeyError, match="created with PAN key") as info:
        open_journal(path, pan_key=bytes(32))
    assert PAN_KEY.hex() not in str(info.value)
    with pytest.raises(JournalKeyError, match="created with data key"):
        open_journal(path, data_key=bytes(32))
    with pytest.raises(JournalKeyError, match="32 bytes"):
        open_journal(path, data_key=b"short")
    open_journal(path).close()


def test_file_settings_and_schema(tmp_path: Path, open_journal: Opener) -> None:
    path = tmp_path / "journal.db"
    journal = open_journal(path)
    assert journal.path == str(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"transactions_settlement", "owed_due", "legs_state"} <= names
    conn.close()
    synchronous = journal._conn.execute("PRAGMA synchronous").fetchone()[0]  # type: ignore[union-attr]
    assert synchronous == 2  # FULL


def test_a_newer_schema_is_refused(tmp_path: Path, open_journal: Opener) -> None:
    path = tmp_path / "journal.db"
    open_journal(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE schema_version SET version = ?", (_schema.SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(JournalError, match="newer than this library"):
        open_journal(path)


def test_not_a_database(tmp_path: Path, open_journal: Opener) -> None:
    path = tmp_path / "journal.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalError, match="cannot open"):
        open_journal(path)


def test_sqlite_journal_is_a_journal(journal: SQLiteJournal) -> None:
    typed: Journal = journal
    assert typed.pan_hasher.key_id == journal.pan_hasher.key_id


def test_settings_are_kept_across_reopen_apart_from_the_key_ids(
    tmp_path: Path, open_journal: Opener, record: Record
) -> None:
    path = tmp_path / "journal.db"
    journal = open_journal(path)
    assert journal.setting("cutover.moved") is None
    results = journal.apply(
        [
            SetSetting("cutover.moved", '{"a": 1}'),
            InsertTransaction(record("K1")),
            SetSetting("cutover.moved", '{"a": 2}'),  # the last value wins
            SetSetting("pan_key_id", "mine"),  # a setting, not the key identifier
        ]
    )
    assert results[0] == Setting("cutover.moved", '{"a": 1}')
    journal.close()
    journal = open_journal(path)  # the key identifiers still check out
    assert journal.setting("cutover.moved") == '{"a": 2}'
    assert journal.setting("pan_key_id") == "mine"
    journal.close()


@pytest.mark.parametrize("name", ["", "Cutover", "a b", "x" * 65, "1st"])
def test_a_setting_needs_a_plain_name(name: str) -> None:
    with pytest.raises(ValueError):
        SetSetting(name, "v")


def test_a_version_1_file_is_upgraded_in_place(tmp_path: Path, open_journal: Opener) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for statement in _schema.MIGRATIONS[1]:
        conn.execute(statement)
    conn.execute("INSERT INTO schema_version (version) VALUES (1)")
    owed = (
        "INSERT INTO owed (id, kind, destination, transaction_key, payload, created_at,"
        " updated_at, next_attempt_at, expires_at, attempts, status, last_response_code)"
        " VALUES (?, 'reversal', 'cups', 'K1', x'00', 1, 1, 1, NULL, 50, ?, NULL)"
    )
    conn.execute(owed, ("a", "abandoned"))
    conn.execute(owed, ("b", "owed"))
    conn.close()
    journal = open_journal(path)
    stats = journal.statistics(0)
    assert (stats.owed, stats.exceptions) == (1, 1)
    with sqlite3.connect(path) as check:
        rows = check.execute("SELECT id, status, reason, repeat FROM owed ORDER BY id").fetchall()
        version = check.execute("SELECT version FROM schema_version").fetchone()[0]
    check.close()
    assert rows == [
        ("a", "exception", "a version 1 gateway marked it abandoned", 0),
        ("b", "owed", None, 0),
    ]
    assert version == _schema.SCHEMA_VERSION
    assert journal.legs("K1") == [] and journal.last_stan() == 0
