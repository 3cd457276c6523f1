"""Value types: checked when built, no clear PAN, no payload in repr, queries."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest

from sscard_gateway.errors import JournalKeyError, ValidationError
from sscard_gateway.ids import AmountSplit
from sscard_gateway.store import (
    LEG_TRANSITIONS,
    OWED_TRANSITIONS,
    TRANSACTION_TRANSITIONS,
    LegState,
    OwedItem,
    OwedKind,
    OwedStatus,
    PanHasher,
    PayloadSealer,
    TransactionQuery,
    TransactionRecord,
    TransactionStatus,
    UpdateLeg,
    UpdateOwed,
    UpdateTransaction,
    allowed,
)

PAN = "6225880137654324"
Record = Callable[..., TransactionRecord]
Item = Callable[..., OwedItem]


def test_defaults_and_time_conversion(record: Record) -> None:
    r = record("K1", created_at=100)
    assert r.created_at == 100.0 and isinstance(r.created_at, float)
    assert r.updated_at == 100.0 and isinstance(r.updated_at, float)
    assert r.status is TransactionStatus.PENDING
    assert r.response_code is None and r.responded_at is None
    assert r.upstream_key is None and r.original_key is None
    assert r.currency == "156"
    assert record("K2", created_at=5, updated_at=7).updated_at == 7.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("transaction_key", ""),
        ("kind", ""),
        ("mti", "200"),
        ("settlement_date", "2024112"),
        ("settlement_date", "2024-11-2"),
        ("home_region", "11010"),
        ("treating_region", "ABCDEF"),
        ("transmission_time", "112610153"),
        ("currency", "CNY"),
        ("response_code", "000"),
        ("created_at", -1.0),
        ("created_at", float("nan")),
        ("created_at", True),
        ("created_at", "1000"),
        ("responded_at", float("inf")),
        ("pan_hash", "ABC"),
        ("pan_hash", "G" * 64),
        ("amount", 100),
        ("amount", AmountSplit.from_parts(fund=10**15, personal_account=0, cash=0)),
        ("status", "pending"),
        ("merchant", "商户"),
        ("upstream_key", 7),
    ],
)
def test_bad_values_are_refused_with_96(record: Record, field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        record("K1", **{field: value})
    assert info.value.response_code == "96"
    assert field in info.value.what


@pytest.mark.parametrize("value", [PAN, "6225880137654324000", "622588 0137654324"])
def test_a_clear_pan_is_refused(record: Record, value: str) -> None:
    with pytest.raises(ValidationError, match="clear PAN") as info:
        record("K1", pan_masked=value)
    assert PAN not in str(info.value)


def test_masked_pans_are_accepted(record: Record) -> None:
    for masked in ("", "622588******4324", "62258801*******4324", "****"):
        assert record("K1", pan_masked=masked).pan_masked == masked


def test_pan_hasher_masks_hashes_and_hides_its_key() -> None:
    hasher = PanHasher(bytes(32))
    protected = hasher.protect(PAN)
    assert protected.masked == "622588******4324"
    assert protected.hash == hasher.hash(PAN)
    assert len(protected.hash) == 64
    assert hasher.hash(PAN) != PanHasher(bytes(31) + b"\x01").hash(PAN)
    assert hasher.protect(None) == hasher.protect("") == type(protected)("", "")
    assert bytes(32).hex() not in repr(hasher)
    assert repr(hasher) == f"PanHasher(key_id={hasher.key_id})"
    assert PanHasher(bytes(32), mask_first=4).protect(PAN).masked == "6225********4324"
    with pytest.raises(ValueError, match="ASCII"):
        hasher.hash("")


@pytest.mark.parametrize("key", [b"", bytes(16), bytes(33), "0" * 32])
def test_keys_must_be_32_bytes(key: object) -> None:
    with pytest.raises(JournalKeyError, match="32 bytes"):
        PanHasher(key)  # type: ignore[arg-type]
    with pytest.raises(JournalKeyError, match="32 bytes"):
        PayloadSealer(key)  # type: ignore[arg-type]


def test_sealer_round_trip_and_binding() -> None:
    sealer = PayloadSealer(bytes(32))
    blob = sealer.seal(b"payload " + PAN.encode(), b"row 1")
    assert PAN.encode() not in blob
    assert len(blob) == len(b"payload " + PAN.encode()) + 37
    assert sealer.unseal(blob, b"row 1") == b"payload " + PAN.encode()
    assert sealer.seal(b"x", b"a") != sealer.seal(b"x", b"a")  # fresh nonce
    with pytest.raises(JournalKeyError, match="tampered with or moved"):
        sealer.unseal(blob, b"row 2")
    with pytest.raises(JournalKeyError, match="tampered with or moved"):
        sealer.unseal(blob[:-1] + bytes([blob[-1] ^ 1]), b"row 1")
    with pytest.raises(JournalKeyError, match="sealed under data key"):
        PayloadSealer(bytes(31) + b"\x01").unseal(blob, b"row 1")
    with pytest.raises(JournalKeyError, match="truncated"):
        sealer.unseal(blob[:20], b"row 1")
    assert bytes(32).hex() not in repr(sealer)


def test_owed_item_defaults_and_repr(item: Item) -> None:
    it = item("K1", created_at=50)
    assert it.updated_at == it.next_attempt_at == 50.0
    assert it.attempts == 0 and it.status is OwedStatus.OWED and it.expires_at is None
    assert len(it.id) == 32 and it.id != item("K1").id
    assert PAN not in repr(it) and "payload" not in repr(it).replace("payload=<", "")
    assert f"payload=<{len(it.payload)} bytes>" in repr(it)
    with pytest.raises(ValidationError):
        item("K1", kind="reversal")
    with pytest.raises(ValidationError):
        item("K1", attempts=-1)
    with pytest.raises(ValidationError):
        item("K1", destination="")


def test_updates_are_checked_when_built() -> None:
    with pytest.raises(ValidationError):
        UpdateTransaction(transaction_key="K1", updated_at=1, status="approved")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        UpdateTransaction(transaction_key="K1", updated_at=1, settlement_date="2024")
    with pytest.raises(ValidationError):
        UpdateOwed(id="x", updated_at=1, attempts=2**31)
    assert UpdateOwed(id="x", updated_at=1, next_attempt_at=5).next_attempt_at == 5.0


def test_a_state_change_names_its_expected_states_and_follows_the_table() -> None:
    approved = TransactionStatus.APPROVED
    with pytest.raises(ValidationError, match="must name the states it expects"):
        UpdateTransaction(transaction_key="K1", updated_at=1, status=approved)
    with pytest.raises(ValidationError, match="reversed -> approved is not in the transition"):
        UpdateTransaction(
            transaction_key="K1",
            updated_at=1,
            expect={TransactionStatus.PENDING, TransactionStatus.REVERSED},
            status=approved,
        )
    with pytest.raises(ValidationError, match="must name at least one state"):
        UpdateLeg(leg_id="L", updated_at=1, expect=frozenset())
    with pytest.raises(ValidationError, match="answered -> reversed is not in the transition"):
        UpdateLeg(leg_id="L", updated_at=1, expect=LegState.ANSWERED, state=LegState.REVERSED)
    with pytest.raises(ValidationError, match="done -> owed"):
        UpdateOwed(id="x", updated_at=1, expect=OwedStatus.DONE, status=OwedStatus.OWED)
    guard = UpdateTransaction(transaction_key="K1", updated_at=1, expect=TransactionStatus.PENDING)
    assert guard.status is None and guard.expect == {TransactionStatus.PENDING}


def test_every_state_is_in_its_table_and_finals_lead_nowhere() -> None:
    for table, kind in (
        (TRANSACTION_TRANSITIONS, TransactionStatus),
        (LEG_TRANSITIONS, LegState),
        (OWED_TRANSITIONS, OwedStatus),
    ):
        assert set(table) == set(kind)
        for old, news in table.items():
            assert old not in news
            assert all(allowed(table, old, new) for new in news)
    assert not TRANSACTION_TRANSITIONS[TransactionStatus.REVERSED]
    assert TransactionStatus.APPROVED not in TRANSACTION_TRANSITIONS[TransactionStatus.REVERSED]


def test_records_are_frozen(record: Record) -> None:
    r = record("K1")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        r.status = TransactionStatus.APPROVED  # type: ignore[misc]


def test_query_matches(record: Record) -> None:
    r = record("K1", kind="purchase", created_at=100, status=TransactionStatus.APPROVED)
    assert TransactionQuery().matches(r)
    assert TransactionQuery(kinds="purchase").kinds == frozenset({"purchase"})
    assert TransactionQuery(settlement_date="20241126", kinds=["purchase"]).matches(r)
    assert TransactionQuery(statuses=[TransactionStatus.APPROVED]).matches(r)
    assert not TransactionQuery(statuses=[TransactionStatus.PENDING]).matches(r)
    assert TransactionQuery(created_from=100, created_before=101).matches(r)
    assert not TransactionQuery(created_before=100).matches(r)
    assert not TransactionQuery(home_region="310101").matches(r)
    assert not TransactionQuery(kinds=[]).matches(r)
    with pytest.raises(ValidationError):
        TransactionQuery(settlement_date="2024")


def test_owed_kind_values() -> None:
    assert [k.value for k in OwedKind] == ["reversal", "advice"]
