"""Keys and dates: F7 carries no year, so the year is the one putting F7 nearest the time received.

A resend across 31 December / 1 January keeps its key (a duplicate, not a
second debit); a 1 January reversal finds its 31 December original; the
original of a reversal is found from the reversal's field 90 by the
dialect's declared ``[reversal] original_key``, never from the
configured institution nor the reversal's own F32/F33; the settlement date
is the switch's F15 when its answer carries one, else the cutover rule.
"""

from __future__ import annotations

import datetime as dt

import pytest
from engine_helpers import Bench, approve
from hypothesis import example, given
from hypothesis import strategies as st

from sscard_gateway.engine import Send, f7_year, original_key, transaction_key
from sscard_gateway.iso.composite import OriginalData, transmission_time
from sscard_gateway.sim import Kind
from sscard_gateway.store import LegState, OwedKind, TransactionStatus

NEW_YEAR = dt.datetime(2027, 1, 1)


@pytest.fixture
def bench(tmp_path):
    bench = Bench(tmp_path)
    yield bench
    bench.close()


# -- the year of F7 ---------------------------------------------------------------------------


def test_f7_of_the_last_second_of_the_year_received_after_midnight_is_of_the_old_year():
    assert f7_year("1231235959", dt.datetime(2027, 1, 1, 0, 0, 5)) == 2026
    assert f7_year("0101000005", dt.datetime(2026, 12, 31, 23, 59, 59)) == 2027
    assert f7_year("0615100000", dt.datetime(2026, 6, 15, 10, 0, 1)) == 2026
    assert f7_year("1231235959", dt.datetime(2026, 12, 31, 23, 59, 59)) == 2026


@pytest.mark.parametrize("f7", ["", "123123595", "12312359590", "1231x35959", "1332000000"])
def test_an_f7_that_is_no_moment_takes_the_year_received(f7):
    assert f7_year(f7, dt.datetime(2027, 1, 1, 0, 0, 5)) == 2027


_moments = st.datetimes(min_value=dt.datetime(1901, 1, 1), max_value=dt.datetime(2098, 12, 31))
_offsets = st.timedeltas(min_value=dt.timedelta(days=-30), max_value=dt.timedelta(days=30))


@given(_moments, _offsets)
@example(dt.datetime(2027, 1, 1, 0, 0, 5), dt.timedelta(seconds=-6))
@example(dt.datetime(2026, 12, 31, 23, 59, 59), dt.timedelta(seconds=6))
@example(dt.datetime(2028, 3, 1, 0, 0, 0), dt.timedelta(days=-1))  # 29 February
def test_the_inferred_year_is_the_one_that_puts_f7_nearest(received, offset):
    sent = received + offset
    f7 = transmission_time(sent)
    year = f7_year(f7, received)
    assert year == sent.year
    # and no other year puts that F7 nearer the time received
    chosen = abs(sent.replace(microsecond=0) - received)
    for other in (received.year - 1, received.year, received.year + 1):
        try:
            moment = sent.replace(year=other, microsecond=0)
        except ValueError:  # 29 February of a common year
            continue
        assert chosen <= abs(moment - received)


# -- duplicates and reversals across New Year ---------------------------------------------------


def test_a_resend_across_new_year_is_a_duplicate_not_a_second_debit(bench):
    bench.clock.now = dt.datetime(2026, 12, 31, 23, 59, 58)
    request = bench.request("center-110000", Kind.CONTRIBUTION_PAYMENT, "bank", amount=5000)
    assert request[7] == "1231235958"
    first = bench.drive(bench.start("center-110000", request), bench.peers())
    assert first.code == "00"
    resend = request.evolve(mti="0201")
    after_midnight = dt.datetime(2027, 1, 1, 0, 0, 3)
    again = bench.drive(bench.start("center-110000", resend, after_midnight), bench.peers())
    assert again.code == "94" and again.sent == []
    key = first.sent[0].leg.transaction_key
    assert transaction_key(resend, "center-110000", "tx", after_midnight) == key
    assert ":2026:" in key
    assert len(bench.journal.legs(key)) == 1
    assert len(bench.ledgers["cups"].entries()) == 1
    assert bench.journal.statistics(after_midnight.timestamp()).transactions == 1


def test_a_resend_across_new_year_while_the_first_is_in_flight_sends_no_second_leg(bench):
    bench.clock.now = dt.datetime(2026, 12, 31, 23, 59, 58)
    request = bench.request("center-110000", Kind.CONTRIBUTION_PAYMENT, "bank", amount=5000)
    first = bench.stepper(bench.start("center-110000", request), bench.peers())
    first.until(lambda d: isinstance(d, Send))
    after_midnight = dt.datetime(2027, 1, 1, 0, 0, 3)
    again = bench.drive(
        bench.start("center-110000", request.evolve(mti="0201"), after_midnight), bench.peers()
    )
    assert again.code == "94" and again.sent == []
    assert first.finish().code == "00"
    assert len(bench.ledgers["cups"].entries()) == 1


def test_a_new_year_reversal_of_a_new_years_eve_transaction_finds_its_original(bench):
    bench.clock.now = dt.datetime(2026, 12, 31, 23, 59, 50)
    original = bench.request("center-110000", Kind.CONTRIBUTION_PAYMENT, "bank", amount=5000)
    first = bench.drive(bench.start("center-110000", original), bench.peers())
    assert first.code == "00"
    bench.clock.now = dt.datetime(2027, 1, 1, 0, 0, 20)
    reversal = bench.sims["center-110000"].reversal(original)
    assert reversal[7] == "0101000020" and reversal[90][10:20] == "1231235950"
    run = bench.drive(bench.start("center-110000", reversal))
    assert run.code == "00"
    key = first.sent[0].leg.transaction_key
    assert bench.journal.get_transaction(key).status is TransactionStatus.REVERSED
    ((item, _message, verdict),) = bench.deliver(bench.clock())
    assert item.kind is OwedKind.REVERSAL and verdict == "done"
    (entry,) = bench.ledgers["cups"].entries()
    assert entry.reversed
    assert [leg.state for leg in bench.journal.legs(key)] == [LegState.REVERSED]


def test_a_new_year_cups_reversal_of_a_purchase_forwarded_to_a_home_center_finds_it(bench):
    bench.clock.now = dt.datetime(2026, 12, 31, 23, 59, 59)
    purchase = bench.purchase("center-310000", amount=1500)
    assert bench.drive(bench.start("cups", purchase), bench.peers()).code == "00"
    bench.clock.now = dt.datetime(2027, 1, 1, 0, 0, 4)
    run = bench.drive(bench.start("cups", bench.cups_reversal(purchase)))
    assert run.code == "00"
    ((item, _, verdict),) = bench.deliver(bench.clock())
    assert item.destination == "center-310000" and verdict == "done"
    assert bench.ledgers["center-310000"].entries()[0].reversed


def test_a_reversal_resent_across_new_year_is_its_repeat(bench):
    bench.clock.now = dt.datetime(2026, 12, 31, 23, 59, 40)
    original = bench.request("center-110000", Kind.CONTRIBUTION_PAYMENT, "bank", amount=5000)
    assert bench.drive(bench.start("center-110000", original), bench.peers()).code == "00"
    bench.clock.now = dt.datetime(2026, 12, 31, 23, 59, 59)
    reversal = bench.sims["center-110000"].reversal(original)
    assert bench.drive(bench.start("center-110000", reversal)).code == "00"
    key = transaction_key(original, "center-110000", "tx", bench.clock())
    (item,) = bench.journal.owed_items(transaction_key=key)
    resent_at = dt.datetime(2027, 1, 1, 0, 0, 9)
    run = bench.drive(bench.start("center-110000", reversal.evolve(mti="0421"), resent_at))
    assert run.code == "00"
    ((_write, result),) = run.writes
    assert not result.applied and result.stopped_at == 0  # the same reversal, journaled once
    assert bench.journal.owed_items(transaction_key=key) == [item]


# -- the original of a reversal: from F90, by the dialect's declared key -----------------------


def test_a_cups_reversal_finds_its_original_by_the_acquirer_its_f90_names(bench):
    """CUPS's acquirer (01020000) is not the gateway's institution (48020000): the original's key
    comes from the reversal's field 90 by ``[reversal] original_key``."""
    purchase = bench.purchase("center-310000", amount=1500)
    assert purchase[32] == "01020000" != bench.config.institution.acquirer
    assert bench.drive(bench.start("cups", purchase), bench.peers()).code == "00"
    reversal = bench.cups_reversal(purchase)
    now = bench.clock()
    data = OriginalData.parse(reversal[90])
    expected = transaction_key(purchase, "cups", "tx", now)
    assert original_key(reversal, "cups", data, now) == expected
    # the reversal's own F32/F33 do not enter: only its field 90 does
    own = reversal.with_fields({32: "48020000", 33: "48020000", 11: "777777", 7: "0101000000"})
    assert original_key(own, "cups", data, now) == expected
    run = bench.drive(bench.start("cups", own))
    assert run.code == "00"
    assert bench.journal.get_transaction(expected).status is TransactionStatus.REVERSED


def test_a_reversal_whose_f90_names_another_acquirer_does_not_find_the_original(bench):
    purchase = bench.purchase("center-310000", amount=1500)
    assert bench.drive(bench.start("cups", purchase), bench.peers()).code == "00"
    reversal = bench.cups_reversal(purchase)
    data = OriginalData.parse(reversal[90])
    other = OriginalData(data.mti, data.stan, data.transmission_time, "00048020000",
                         data.forwarder).format()  # fmt: skip
    run = bench.drive(bench.start("cups", reversal.with_fields({90: other})))
    assert run.code == "25"
    key = transaction_key(purchase, "cups", "tx", bench.clock())
    assert bench.journal.get_transaction(key).status is TransactionStatus.APPROVED


def test_the_center_key_declares_no_forwarder_so_f90s_forwarder_does_not_enter(bench):
    original = bench.request("center-110000", Kind.BENEFIT_PAYOUT, "bank", amount=8800)
    assert bench.drive(bench.start("center-110000", original), bench.peers()).code == "00"
    spec = bench.center.spec
    assert spec.transaction_key == (7, 11, 32) and 33 not in spec.original_key
    reversal = bench.sims["center-110000"].reversal(original)
    data = OriginalData.parse(reversal[90])
    forwarded = OriginalData(data.mti, data.stan, data.transmission_time, data.acquirer,
                             "00099999999")  # fmt: skip
    now = bench.clock()
    key = transaction_key(original, "center-110000", "tx", now)
    assert original_key(reversal, "center-110000", forwarded, now) == key
    run = bench.drive(bench.start("center-110000", reversal.with_fields({90: forwarded.format()})))
    assert run.code == "00"
    assert bench.journal.get_transaction(key).status is TransactionStatus.REVERSED


# -- the settlement date ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "f15", "expected"),
    [
        (dt.datetime(2026, 6, 15, 10, 0), "0616", "20260616"),  # the switch already cut over
        (dt.datetime(2026, 12, 31, 22, 30), "0101", "20270101"),  # across New Year, before 23:00
        (dt.datetime(2027, 1, 1, 0, 10), "1231", "20261231"),  # the switch not yet cut over
        (dt.datetime(2026, 6, 15, 10, 0), None, "20260615"),  # no F15: the cutover rule
        (dt.datetime(2026, 6, 15, 23, 30), None, "20260616"),  # after the 23:00 cutover
        (dt.datetime(2026, 6, 15, 10, 0), "1399", "20260615"),  # no date: the cutover rule
    ],
)
def test_the_settlement_date_is_the_switchs_f15_when_its_answer_carries_one(
    bench, received, f15, expected
):
    bench.clock.now = received
    request = bench.request("center-110000", Kind.CONTRIBUTION_PAYMENT, "bank", amount=5000)
    answer = approve(F15=f15) if f15 else approve()
    run = bench.drive(bench.start("center-110000", request), answer)
    assert run.code == "00"
    record = bench.journal.get_transaction(run.sent[0].leg.transaction_key)
    assert record.settlement_date == expected
