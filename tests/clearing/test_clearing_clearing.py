"""Clearing a settlement date: what settles, totals, the matrix, net settlement."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sscard_gateway.clearing import (
    MatrixCell,
    NetInstruction,
    RegionLevel,
    Treatment,
    clear,
    net_settlement,
)
from sscard_gateway.ids import AmountSplit
from sscard_gateway.store import (
    InsertTransaction,
    SQLiteJournal,
    TransactionRecord,
    TransactionStatus,
    UpdateTransaction,
)

DATE = "20241126"
BJ, BJ2, SH = "110105", "110108", "310104"
Rec = Callable[..., TransactionRecord]


def a_day(record: Rec) -> list[TransactionRecord]:
    approved = TransactionStatus.APPROVED
    return [
        # local settlement in Beijing
        record("local", home_region=BJ, treating_region=BJ, split=(5000, 100, 0)),
        # a Beijing card treated in Shanghai, twice; a Shanghai card in Beijing
        record("bj-in-sh-1", home_region=BJ, treating_region=SH, split=(30000, 2000, 1500)),
        record("bj-in-sh-2", home_region=BJ, treating_region=SH, split=(1000, 0, 0)),
        record("sh-in-bj", home_region=SH, treating_region=BJ, split=(10000, 500, 0)),
        # a refund of a Beijing card's settlement in Shanghai: money back
        record(
            "refund",
            kind="refund",
            mti="0220",
            home_region=BJ,
            treating_region=SH,
            split=(400, 0, 0),
        ),
        # what does not settle
        record("inquiry", kind="balance_inquiry", split=(0, 0, 0)),
        record("declined", status=TransactionStatus.DECLINED, response_code="51"),
        record("timed-out", status=TransactionStatus.TIMED_OUT, response_code="68"),
        record("failed", status=TransactionStatus.FAILED, response_code="91"),
        record("pending", status=TransactionStatus.PENDING, response_code=None),
        record("reversed", status=TransactionStatus.REVERSED, split=(7000, 0, 0)),
        record(
            "reversal",
            kind="reversal",
            mti="0420",
            original_key="reversed",
            status=approved,
            split=(7000, 0, 0),
        ),
        # another day's records are not read
        record("yesterday", settlement_date="20241125", split=(99, 0, 0)),
    ]


def test_a_day_is_totalled_matrixed_and_netted(open_journal: Any, record: Rec) -> None:
    report = clear(open_journal(records=a_day(record)), DATE)
    assert report.records == 12
    assert report.treatments == {
        "declined": 1,
        "failed": 1,
        "inquiry": 1,
        "pending": 1,
        "reversal": 1,
        "reversed": 1,
        "settles": 5,
        "timed_out": 1,
    }
    assert report.settling == 5
    totals = {(t.region, t.kind): t for t in report.totals}
    assert set(totals) == {(BJ, "medical_settlement"), (SH, "medical_settlement"), (SH, "refund")}
    sh = totals[(SH, "medical_settlement")]
    assert (sh.count, sh.total, sh.fund, sh.personal_account, sh.cash) == (
        2,
        34500,
        31000,
        2000,
        1500,
    )
    bj = totals[(BJ, "medical_settlement")]
    assert (bj.count, bj.total, bj.fund, bj.personal_account) == (2, 15600, 15000, 600)
    assert report.matrix == (
        MatrixCell(treating=BJ, home=SH, count=1, fund=10000, personal_account=500),
        MatrixCell(treating=SH, home=BJ, count=3, fund=30600, personal_account=2000),
    )
    # Beijing owes Shanghai 32600, Shanghai owes Beijing 10500: one instruction
    assert report.net == (
        NetInstruction(payer=BJ, payee=SH, amount=22100, fund=20600, personal_account=1500),
    )
    assert [(p.region, p.net) for p in report.positions] == [(BJ, -22100), (SH, 22100)]
    assert report.net_sum == 0 and report.balanced


def test_regions_aggregate_by_province(open_journal: Any, record: Rec) -> None:
    records = [
        record("a", home_region=BJ, treating_region=BJ2, split=(100, 0, 0)),
        record("b", home_region=BJ2, treating_region=SH, split=(200, 0, 0)),
    ]
    full = clear(open_journal(records=records), DATE)
    assert {(c.treating, c.home) for c in full.matrix} == {(BJ2, BJ), (SH, BJ2)}
    province = clear(open_journal(records=records), DATE, region_level=RegionLevel.PROVINCE)
    assert province.matrix == (
        MatrixCell(treating="310000", home="110000", count=1, fund=200, personal_account=0),
    )
    assert {t.region for t in province.totals} == {"110000", "310000"}
    city = clear(open_journal(records=records), DATE, region_level=RegionLevel.CITY)
    assert {t.region for t in city.totals} == {"110100", "310100"}


def test_a_next_day_reversal_settles_negative_on_its_own_date(
    open_journal: Any, record: Rec
) -> None:
    original = record("orig", settlement_date="20241125", split=(30000, 2000, 1500))
    journal: SQLiteJournal = open_journal(records=[original])
    before = clear(journal, "20241125")
    assert before.net[0].amount == 32000
    # after cutover the center reverses it: the gateway marks it reversed
    reversal = record(
        "rev", kind="reversal", mti="0420", original_key="orig", split=(30000, 2000, 1500)
    )
    journal.apply(
        [
            InsertTransaction(reversal),
            UpdateTransaction(
                transaction_key="orig",
                updated_at=1_732_700_000.0,
                expect=TransactionStatus.APPROVED,
                status=TransactionStatus.REVERSED,
            ),
        ]
    )
    # the closed date does not change ...
    assert clear(journal, "20241125") == before
    # ... and the reversal's date carries the negative adjustment
    today = clear(journal, DATE)
    assert today.treatments == {Treatment.NEXT_DAY_REVERSAL.value: 1}
    [row] = today.totals
    assert (row.kind, row.count, row.total, row.fund, row.cash) == (
        "reversal",
        1,
        -33500,
        -30000,
        -1500,
    )
    assert today.matrix == (
        MatrixCell(treating=SH, home="110105", count=1, fund=-30000, personal_account=-2000),
    )
    assert today.net == (
        NetInstruction(payer=SH, payee="110105", amount=32000, fund=30000, personal_account=2000),
    )
    assert today.balanced


def test_an_original_reversed_in_flight_settles_on_no_date_and_claims_nothing(
    open_journal: Any, record: Rec
) -> None:
    # reversed while its leg was in flight: never answered approved (no response code)
    original = record(
        "orig",
        settlement_date="20241125",
        status=TransactionStatus.REVERSED,
        response_code=None,
        split=(30000, 2000, 1500),
    )
    reversal = record(
        "rev", kind="reversal", mti="0420", original_key="orig", split=(30000, 2000, 1500)
    )
    journal: SQLiteJournal = open_journal(records=[original, reversal])
    assert clear(journal, "20241125").treatments == {Treatment.REVERSED.value: 1}
    after = clear(journal, DATE)
    assert after.treatments == {Treatment.REVERSAL.value: 1}
    assert after.net == () and after.balanced


def test_a_reversal_whose_original_is_unknown_does_not_settle(
    open_journal: Any, record: Rec
) -> None:
    lone = record("rev", kind="reversal", mti="0420", original_key="nowhere")
    assert clear(open_journal(records=[lone]), DATE).treatments == {"reversal": 1}


def test_an_empty_date_is_balanced(open_journal: Any) -> None:
    report = clear(open_journal(), DATE)
    assert report.records == 0 and report.net == () and report.balanced


REGIONS = st.sampled_from(["110105", "110108", "310104", "440106", "510107"])
STATUSES = st.sampled_from(list(TransactionStatus))
KINDS = st.sampled_from(["medical_settlement", "refund", "balance_inquiry", "purchase"])


@st.composite
def days(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(0, 30))
    rows = []
    for i in range(n):
        rows.append(
            {
                "transaction_key": f"k{i}",
                "kind": draw(KINDS),
                "status": draw(STATUSES),
                "home_region": draw(REGIONS),
                "treating_region": draw(REGIONS),
                "split": (
                    draw(st.integers(0, 10**6)),
                    draw(st.integers(0, 10**5)),
                    draw(st.integers(0, 10**4)),
                ),
                "settlement_date": draw(st.sampled_from([DATE, DATE, DATE, "20241125"])),
            }
        )
    return rows


@given(rows=days(), level=st.sampled_from(list(RegionLevel)))
def test_nets_sum_to_zero_and_every_record_counts_once(
    rows: list[dict[str, Any]], level: RegionLevel, record: Rec
) -> None:
    records = [record(r.pop("transaction_key"), **r) for r in rows]
    with SQLiteJournal(":memory:", pan_key=bytes(32), data_key=bytes(32)) as journal:
        if records:
            journal.apply([InsertTransaction(r) for r in records])
        report = clear(journal, DATE, region_level=level)
    day = [r for r in records if r.settlement_date == DATE]
    assert report.records == len(day) == sum(report.treatments.values())
    assert report.net_sum == 0 and report.balanced
    # the matrix, by a plain oracle
    oracle: Counter[tuple[str, str, str]] = Counter()
    for r in day:
        t, h = level.of(r.treating_region), level.of(r.home_region)
        settles = r.status is TransactionStatus.APPROVED and r.kind != "balance_inquiry"
        settles = settles or (
            r.status is TransactionStatus.REVERSED and r.kind != "balance_inquiry"
        )
        if settles and t != h:
            sign = -1 if r.kind == "refund" else 1
            oracle[(t, h, "fund")] += sign * r.amount.fund
            oracle[(t, h, "pa")] += sign * r.amount.personal_account
    got: Counter[tuple[str, str, str]] = Counter()
    for c in report.matrix:
        got[(c.treating, c.home, "fund")] += c.fund
        got[(c.treating, c.home, "pa")] += c.personal_account
    assert +got == +oracle and -got == -oracle
    # one instruction per pair, never negative, parts add up
    pairs = [frozenset((n.payer, n.payee)) for n in report.net]
    assert len(pairs) == len(set(pairs))
    for n in report.net:
        assert n.amount >= 0 and n.fund + n.personal_account == n.amount


def test_net_settlement_of_a_three_region_cycle() -> None:
    cells = [
        MatrixCell(treating="B", home="A", count=1, fund=100, personal_account=0),
        MatrixCell(treating="C", home="B", count=1, fund=100, personal_account=0),
        MatrixCell(treating="A", home="C", count=1, fund=100, personal_account=0),
        MatrixCell(treating="A", home="B", count=1, fund=30, personal_account=10),
    ]
    net, positions = net_settlement(cells)
    assert net == (
        NetInstruction(payer="A", payee="B", amount=60, fund=70, personal_account=-10),
        NetInstruction(payer="B", payee="C", amount=100, fund=100, personal_account=0),
        NetInstruction(payer="C", payee="A", amount=100, fund=100, personal_account=0),
    )
    assert sum(p.net for p in positions) == 0
    assert {p.region: p.net for p in positions} == {"A": 40, "B": -40, "C": 0}


def test_amount_split_is_what_records_carry(record: Rec) -> None:
    assert record("x").amount == AmountSplit(10000, 8000, 1500, 500)
