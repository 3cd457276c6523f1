"""STAN and RRN of outbound legs; the gateway's institution codes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sscard_gateway.routing import InstitutionCodes, LegCounters


def test_stans_start_at_000001():
    counters = LegCounters()
    assert counters.last_stan == 0
    assert [counters.next_stan() for _ in range(3)] == ["000001", "000002", "000003"]
    assert counters.last_stan == 3


def test_stans_continue_from_the_journal():
    counters = LegCounters(last_stan=456)
    assert counters.next_stan() == "000457"
    assert "last_stan=457" in repr(counters)


def test_stans_wrap_to_000001_never_000000():
    counters = LegCounters(last_stan=999_998)
    assert [counters.next_stan() for _ in range(3)] == ["999999", "000001", "000002"]


@given(st.integers(0, 999_999), st.integers(1, 50))
def test_stans_are_six_digits_never_zero(start, count):
    counters = LegCounters(last_stan=start)
    for _ in range(count):
        stan = counters.next_stan()
        assert len(stan) == 6 and stan.isdigit() and stan != "000000"
        assert int(stan) == counters.last_stan


@pytest.mark.parametrize("bad", [-1, 1_000_000, True])
def test_a_bad_start_is_refused(bad):
    with pytest.raises(ValueError, match="last_stan"):
        LegCounters(last_stan=bad)


def test_the_default_rrn_is_mmddhh_and_the_stan():
    assert LegCounters().rrn(stan="000457", now_f7="1126101530") == "112610000457"


def test_the_rrn_template_is_a_setting():
    counters = LegCounters(rrn_template="{hhmmss}{stan}")
    assert counters.rrn(stan="000457", now_f7="1126101530") == "101530000457"
    node = LegCounters(rrn_template="N1{mmdd}{stan}")  # a node mark for a second gateway
    assert node.rrn(stan="000457", now_f7="1126101530") == "N11126000457"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{mmddhh}{seq}", "unknown parts: seq"),
        ("{stan}", "12 letters and digits"),
        ("{mmdd}-{hh}{stan}", "12 letters and digits"),
        ("N{mmddhh}{stan}", "12 letters and digits"),
    ],
)
def test_bad_rrn_templates_are_refused(template, problem):
    with pytest.raises(ValueError, match=problem):
        LegCounters(rrn_template=template)


@pytest.mark.parametrize(
    ("stan", "now_f7"), [("457", "1126101530"), ("000457", "11261015"), ("000457", "11261015AB")]
)
def test_rrn_inputs_are_checked(stan, now_f7):
    with pytest.raises(ValueError):
        LegCounters().rrn(stan=stan, now_f7=now_f7)


def test_forwarder_defaults_to_acquirer():
    assert InstitutionCodes("48021000") == InstitutionCodes("48021000", "48021000")
    assert InstitutionCodes("48021000", "00010344").forwarder == "00010344"


@pytest.mark.parametrize("bad", ["", "1" * 12, "4802A000", 48021000])
def test_institution_codes_are_checked(bad):
    with pytest.raises(ValueError, match="institution code"):
        InstitutionCodes(bad)
