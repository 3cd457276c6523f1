"""Cutover: settlement dates at exact times, the switch's 201/202, C3, MMDD."""

from __future__ import annotations

import datetime as dt

import pytest

from sscard_gateway.clearing import Cutover, cutover_signal, resolve_mmdd
from sscard_gateway.iso import Message, load_dialect

D = dt.datetime


def test_the_configured_time_closes_the_day() -> None:
    cutover = Cutover(dt.time(23, 0))
    assert cutover.settlement_date(D(2024, 11, 26, 0, 0, 0)) == "20241126"
    assert cutover.settlement_date(D(2024, 11, 26, 22, 59, 59, 999999)) == "20241126"
    assert cutover.settlement_date(D(2024, 11, 26, 23, 0, 0)) == "20241127"
    assert cutover.settlement_date(D(2024, 11, 26, 23, 59, 59)) == "20241127"
    assert cutover.settlement_date(D(2024, 11, 27, 0, 0, 1)) == "20241127"


def test_the_year_turns_at_the_cutover_of_new_years_eve() -> None:
    cutover = Cutover(dt.time(23, 0))
    assert cutover.settlement_date(D(2024, 12, 31, 23, 0)) == "20250101"
    assert cutover.settlement_date(D(2024, 2, 28, 23, 30)) == "20240229"


def test_an_early_201_switches_the_date_when_it_arrives() -> None:
    cutover = Cutover(dt.time(23, 0))
    before = D(2024, 11, 26, 22, 54, 59)
    assert cutover.settlement_date(before) == "20241126"
    event = cutover.on_cutover_begin(D(2024, 11, 26, 22, 55, 0))
    assert event.changed and event.accepted and event.settlement_date == "20241127"
    assert cutover.settlement_date(D(2024, 11, 26, 22, 55, 0)) == "20241127"
    assert cutover.settlement_date(D(2024, 11, 26, 22, 56, 0)) == "20241127"
    # a record stamped before the signal kept its date
    assert cutover.settlement_date(before) == "20241126"
    assert cutover.state().in_progress
    end = cutover.on_cutover_end(D(2024, 11, 26, 23, 2, 0))
    assert not end.changed and end.settlement_date == "20241127"
    state = cutover.state()
    assert not state.in_progress
    assert state.moved == {"20241126": D(2024, 11, 26, 22, 55, 0)}
    # the next day is back to the configured time
    assert cutover.settlement_date(D(2024, 11, 27, 22, 56, 0)) == "20241127"


def test_a_201_after_the_configured_time_changes_nothing() -> None:
    cutover = Cutover(dt.time(23, 0))
    event = cutover.on_cutover_begin(D(2024, 11, 26, 23, 5, 0))
    assert event.accepted and not event.changed
    assert cutover.settlement_date(D(2024, 11, 26, 23, 1, 0)) == "20241127"


def test_waiting_for_the_switch_holds_the_date_until_its_201() -> None:
    cutover = Cutover(dt.time(23, 0), wait_for_switch=True, grace=dt.timedelta(minutes=20))
    assert cutover.settlement_date(D(2024, 11, 26, 23, 10, 0)) == "20241126"
    event = cutover.on_cutover_begin(D(2024, 11, 26, 23, 12, 30))
    assert event.changed and event.settlement_date == "20241127"
    assert cutover.settlement_date(D(2024, 11, 26, 23, 12, 29)) == "20241126"
    assert cutover.settlement_date(D(2024, 11, 26, 23, 12, 30)) == "20241127"


def test_waiting_falls_back_after_the_grace_when_no_201_comes() -> None:
    cutover = Cutover(dt.time(23, 0), wait_for_switch=True, grace=dt.timedelta(minutes=20))
    assert cutover.settlement_date(D(2024, 11, 26, 23, 19, 59)) == "20241126"
    assert cutover.settlement_date(D(2024, 11, 26, 23, 20, 0)) == "20241127"


def test_a_202_whose_201_was_lost_switches_the_date() -> None:
    cutover = Cutover(dt.time(23, 0), wait_for_switch=True)
    event = cutover.on_cutover_end(D(2024, 11, 26, 23, 4, 0))
    assert event.changed and event.settlement_date == "20241127"
    assert cutover.settlement_date(D(2024, 11, 26, 23, 3, 59)) == "20241126"


def test_a_201_far_from_the_configured_time_is_not_accepted() -> None:
    cutover = Cutover(dt.time(23, 0))
    event = cutover.on_cutover_begin(D(2024, 11, 26, 14, 0, 0))
    assert not event.accepted and not event.changed
    assert event.settlement_date == "20241126"
    assert cutover.settlement_date(D(2024, 11, 26, 14, 0, 1)) == "20241126"
    assert not cutover.state().in_progress


def test_timezone_aware_times_work_too() -> None:
    tz = dt.timezone(dt.timedelta(hours=8))
    cutover = Cutover(dt.time(23, 0))
    assert cutover.settlement_date(D(2024, 11, 26, 23, 0, tzinfo=tz)) == "20241127"
    cutover.on_cutover_begin(D(2024, 11, 26, 22, 50, tzinfo=tz))
    assert cutover.settlement_date(D(2024, 11, 26, 22, 51, tzinfo=tz)) == "20241127"


def test_next_day_reversals_are_told() -> None:
    cutover = Cutover(dt.time(23, 0))
    assert not cutover.is_next_day("20241126", D(2024, 11, 26, 22, 59, 59))
    assert cutover.is_next_day("20241126", D(2024, 11, 26, 23, 0, 0))
    assert cutover.is_next_day("20241126", D(2024, 11, 27, 9, 0, 0))


@pytest.mark.parametrize(
    ("at", "grace"),
    [(dt.time(0, 0), dt.timedelta(0)), (dt.time(23, 50), dt.timedelta(minutes=30))],
)
def test_impossible_settings_are_refused(at: dt.time, grace: dt.timedelta) -> None:
    with pytest.raises(ValueError, match="cutover time"):
        Cutover(at, grace=grace)


def test_cutover_messages_are_told_by_the_dialect() -> None:
    cups = load_dialect("cups")

    def network(code: str, mti: str = "0820") -> Message:
        fields: dict[int, str | bytes] = {7: "1126225500", 11: "000001", 33: "00010000", 70: code}
        return cups.message(mti, fields, header=cups.default_header())

    assert cutover_signal(network("201")) == "cutover_begin"
    assert cutover_signal(network("202")) == "cutover_end"
    assert cutover_signal(network("301")) is None
    cutover = Cutover(dt.time(23, 0))
    event = cutover.on_message(network("201"), D(2024, 11, 26, 22, 58))
    assert event is not None and event.changed
    assert cutover.on_message(network("301"), D(2024, 11, 26, 22, 59)) is None


def test_mmdd_settlement_dates_take_the_nearest_year() -> None:
    assert resolve_mmdd("1127", dt.date(2024, 11, 26)) == "20241127"
    assert resolve_mmdd("0101", dt.date(2024, 12, 31)) == "20250101"
    assert resolve_mmdd("1231", dt.date(2025, 1, 1)) == "20241231"
    assert resolve_mmdd("0229", dt.date(2025, 3, 1)) == "20240229"
    for bad in ("1332", "12", "ab12"):
        with pytest.raises(ValueError):
            resolve_mmdd(bad, dt.date(2024, 1, 1))


def test_moved_boundaries_are_saved_and_restored() -> None:
    before = Cutover(dt.time(23, 0))
    before.on_cutover_begin(dt.datetime(2024, 11, 25, 22, 50))
    before.on_cutover_begin(dt.datetime(2024, 11, 26, 22, 55))
    after = Cutover(dt.time(23, 0))
    after.restore(before.saved())
    assert after.state().moved == before.state().moved
    assert after.settlement_date(dt.datetime(2024, 11, 26, 22, 56)) == "20241127"
    assert Cutover(dt.time(23, 0)).saved() == "{}"
    # what is known here already stays
    after.restore('{"20241126": "2024-11-26T22:40:00"}')
    assert after.state().moved["20241126"] == dt.datetime(2024, 11, 26, 22, 55)


@pytest.mark.parametrize(
    "saved",
    [
        "",
        "[]",
        '{"2024": "2024-11-26T22:40:00"}',
        '{"20241126": "soon"}',
        '{"20241126": "2024-11-27T22:40:00"}',
        '{"20241126": 5}',
    ],
)
def test_an_unreadable_saved_state_is_refused(saved: str) -> None:
    with pytest.raises(ValueError, match="not a saved cutover state"):
        Cutover(dt.time(23, 0)).restore(saved)
