"""The route table: configuration checks, priority, 15 vs 92, longest prefix."""

import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sscard_gateway.errors import RoutingError, SpecError
from sscard_gateway.iso import load_dialect
from sscard_gateway.routing import (
    DEFAULT_PRIORITY,
    NoRoute,
    Route,
    RouteReason,
    RouteStep,
    RouteTable,
    card_pan,
)

CENTER = load_dialect("center")
CUPS = load_dialect("cups")
PAN_BJ = "6225880137654324"  # 62258801... -> center-110000 by the longer prefix
PAN_SH = "6225880237654323"  # 62258802... -> center-310000
PAN_CMB = "6225889999999999"  # 622588 only -> center-110000

CONFIG = {
    "default": "cups",
    "routes": [
        {
            "destination": "center-110000",
            "bins": ["622588", "62258801"],
            "regions": ["1101"],
            "institutions": ["11010500"],
        },
        {
            "destination": "center-310000",
            "bins": ["62258802"],
            "regions": ["31", "110108"],
            "institutions": ["31000000"],
        },
        {"destination": "center-440000", "institutions": ["44000000"]},
    ],
}
LINKS = {"cups", "center-110000", "center-310000", "center-440000"}


@pytest.fixture(scope="module")
def table():
    return RouteTable.from_config(CONFIG, file="gateway.toml", destinations=LINKS)


def cups(fields):
    return CUPS.message("0200", fields)


def center(fields):
    return CENTER.message("0200", fields)


# -- loading -----------------------------------------------------------------------


def test_the_table_knows_its_destinations(table):
    assert table.destinations == frozenset(LINKS)
    assert table.default == "cups"
    assert table.priority == DEFAULT_PRIORITY
    assert table.region_field == 58
    assert "center-310000" in repr(table)


def test_the_documented_toml_loads():
    doc = Path(__file__).resolve().parents[2] / "docs" / "routing.md"
    block = re.findall(r"```toml\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)[0]
    table = RouteTable.from_config(tomllib.loads(block)["routing"], file="gateway.toml")
    assert table.route(cups({2: PAN_SH}), source="cups").destination == "center-310000"


def test_an_empty_table_routes_nothing():
    table = RouteTable.from_config({})
    result = table.route(cups({3: "300000"}))
    assert result == NoRoute("92", result.problem)


# -- BIN ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pan", "destination", "matched"),
    [
        (PAN_BJ, "center-110000", "62258801"),
        (PAN_SH, "center-310000", "62258802"),
        (PAN_CMB, "center-110000", "622588"),
    ],
)
def test_longest_bin_prefix_wins(table, pan, destination, matched):
    assert table.route(cups({2: pan}), source="cups") == Route(
        destination, RouteReason.BIN, 2, matched
    )
    assert table.route_pan(pan) == Route(destination, RouteReason.BIN, 2, matched)


@pytest.mark.parametrize("separator", ["=", "D"])
def test_the_card_comes_from_track_2_without_field_2(table, separator):
    message = cups({35: PAN_SH + separator + "29122011234567890000"})
    assert card_pan(message) == PAN_SH
    assert table.route(message, source="cups") == Route(
        "center-310000", RouteReason.BIN, 35, "62258802"
    )


def test_field_2_is_preferred_to_track_2(table):
    message = cups({2: PAN_BJ, 35: PAN_SH + "=2912"})
    assert card_pan(message) == PAN_BJ
    assert table.route(message, source="cups").destination == "center-110000"


@pytest.mark.parametrize("fields", [{}, {35: "=2912"}, {2: ""}])
def test_no_card_number(fields):
    assert card_pan(cups(fields)) is None


# -- region and institutions ---------------------------------------------------------


def test_region_prefix_matches_the_home_region(table):
    assert table.route(center({58: "110105"}), source="center-440000") == Route(
        "center-110000", RouteReason.REGION, 58, "1101"
    )
    # a county route is longer than its city's
    assert table.route_region("110108") == Route("center-310000", RouteReason.REGION, 58, "110108")
    assert table.route_region("310104").matched == "31"
    assert table.route_region("120000") is None


@pytest.mark.parametrize(
    ("field", "reason"),
    [(100, RouteReason.INSTITUTION), (33, RouteReason.INSTITUTION), (32, RouteReason.INSTITUTION)],
)
def test_each_institution_field_routes(table, field, reason):
    assert table.route(center({field: "44000000"}), source="cups") == Route(
        "center-440000", reason, field, "44000000"
    )


def test_institution_codes_match_exactly(table):
    assert table.route_institution("4400000") is None
    assert table.route_institution("044000000") is None


# -- priority ------------------------------------------------------------------------


def test_receiving_institution_beats_the_card(table):
    message = center({100: "44000000", 2: PAN_BJ, 58: "310104"})
    assert table.route(message, source="cups").reason is RouteReason.INSTITUTION


def test_bin_beats_home_region(table):
    message = center({2: PAN_SH, 58: "110105"})
    assert table.route(message, source="cups").destination == "center-310000"


def test_home_region_beats_sender_institutions(table):
    message = center({58: "310104", 33: "44000000", 32: "11010500"})
    assert table.route(message, source="cups").destination == "center-310000"


def test_forwarding_beats_acquiring(table):
    message = center({33: "44000000", 32: "11010500"})
    assert table.route(message, source="cups").field == 33


def test_an_unknown_receiving_institution_falls_through(table):
    message = center({100: "48021000", 2: PAN_SH})
    assert table.route(message, source="cups").destination == "center-310000"


def test_an_unknown_bin_falls_through_to_the_region(table):
    message = center({2: "4000000000000002", 58: "310104"})
    assert table.route(message, source="cups").reason is RouteReason.REGION


def test_priority_is_configurable():
    config = dict(CONFIG, priority=["region", "bin"])
    table = RouteTable.from_config(config)
    message = center({2: PAN_SH, 58: "110105", 100: "44000000"})
    assert table.priority == (RouteStep.REGION, RouteStep.BIN)
    assert table.route(message, source="cups").destination == "center-110000"
    # a step left out is never used: only the default remains for an institution
    assert table.route(center({100: "44000000"})).reason is RouteReason.DEFAULT


# -- the sender is never the destination ------------------------------------------------


def test_a_center_s_own_card_goes_to_the_default(table):
    message = center({2: PAN_BJ, 58: "110105", 32: "11010500"})
    assert table.route(message, source="center-110000") == Route("cups", RouteReason.DEFAULT)


def test_a_passed_over_step_gives_way_to_the_next(table):
    message = center({2: PAN_BJ, 58: "310104"})
    assert table.route(message, source="center-110000").destination == "center-310000"


def test_without_a_source_a_message_may_route_anywhere(table):
    assert table.route(center({2: PAN_BJ})).destination == "center-110000"


# -- no route: 15 or 92 ------------------------------------------------------------------


def test_unknown_bin_answers_15(table):
    result = table.route(cups({2: "4000000000000002"}), source="cups")
    assert isinstance(result, NoRoute) and result.response_code == "15"
    assert "400000" in result.problem and "4000000000000002" not in result.problem


def test_unknown_bin_without_default_answers_15():
    table = RouteTable.from_config({"routes": CONFIG["routes"]})
    result = table.route(cups({35: "4000000000000002=2912"}))
    assert isinstance(result, NoRoute) and result.response_code == "15"


def test_no_card_and_unknown_institution_answers_92(table):
    result = table.route(cups({3: "300000", 100: "99999999"}), source="cups")
    assert isinstance(result, NoRoute) and result.response_code == "92"


def test_own_card_without_default_answers_92():
    table = RouteTable.from_config({"routes": CONFIG["routes"]})
    result = table.route(center({2: PAN_BJ}), source="center-110000")
    assert isinstance(result, NoRoute) and result.response_code == "92"
    assert "center-110000" in result.problem
    assert PAN_BJ not in result.problem


def test_no_route_becomes_a_routing_error():
    error = NoRoute("15", "no route knows the card's BIN 400000").error()
    assert isinstance(error, RoutingError)
    assert (error.response_code, str(error)) == ("15", "no route knows the card's BIN 400000")


# -- configuration errors name the key path --------------------------------------------


def _with_route(**route):
    return {"routes": [{"destination": "center-110000", "bins": ["622588"]}, route]}


@pytest.mark.parametrize(
    ("config", "where", "problem"),
    [
        ({"route": []}, "routing.route", "is not a known key"),
        ({"routes": {}}, "routing.routes", "must be a list"),
        ({"routes": ["x"]}, "routing.routes[0]", "must be a table"),
        (_with_route(destination="a", bin=["1"]), "routing.routes[1].bin", "not a known key"),
        (_with_route(bins=["1"]), "routing.routes[1].destination", "is required"),
        (_with_route(destination="", bins=["1"]), "routing.routes[1].destination", "empty"),
        (_with_route(destination=7, bins=["1"]), "routing.routes[1].destination", "a string"),
        (_with_route(destination="a"), "routing.routes[1]", "at least one of"),
        (_with_route(destination="a", bins=["62A588"]), "routing.routes[1].bins[0]", "digits"),
        (_with_route(destination="a", bins=["1" * 13]), "routing.routes[1].bins[0]", "1 to 12"),
        (_with_route(destination="a", bins=[622588]), "routing.routes[1].bins[0]", "a string"),
        (
            _with_route(destination="a", bins=["622588"]),
            "routing.routes[1].bins[0]",
            "already routed at routing.routes[0].bins[0]",
        ),
        (_with_route(destination="a", regions=["110"]), "routing.routes[1].regions[0]", "2, 4"),
        (_with_route(destination="a", regions=["99"]), "routing.routes[1].regions[0]", "province"),
        (
            _with_route(destination="a", institutions=["1" * 12]),
            "routing.routes[1].institutions[0]",
            "1 to 11",
        ),
        ({"default": ""}, "routing.default", "empty"),
        ({"default": ["cups"]}, "routing.default", "a string"),
        ({"priority": ["bin", "card"]}, "routing.priority[1]", "must be one of"),
        ({"priority": ["bin", "bin"]}, "routing.priority[1]", "named twice"),
        ({"region_field": 200}, "routing.region_field", "field number"),
        ({"region_field": True}, "routing.region_field", "an integer"),
    ],
)
def test_configuration_errors_name_the_key_path(config, where, problem):
    with pytest.raises(SpecError) as info:
        RouteTable.from_config(config, file="gateway.toml")
    assert (info.value.file, info.value.where) == ("gateway.toml", where)
    assert problem in info.value.problem


def test_unknown_destination_is_refused_when_links_are_known():
    with pytest.raises(SpecError) as info:
        RouteTable.from_config(CONFIG, file="gateway.toml", destinations={"cups"})
    assert info.value.where == "routing.routes[0].destination"
    assert "'center-110000' is not a configured link" in str(info.value)
    with pytest.raises(SpecError) as info:
        RouteTable.from_config({"default": "cupz"}, destinations={"cups"})
    assert info.value.where == "routing.default"


def test_a_table_at_the_top_of_a_file_has_bare_key_paths():
    with pytest.raises(SpecError) as info:
        RouteTable.from_config({"routes": [{"destination": 1}]}, file="routes.toml", where="")
    assert info.value.where == "routes[0].destination"


# -- longest prefix against a brute-force model -------------------------------------------

_prefixes = st.text("0126", min_size=1, max_size=8)
_destinations = st.sampled_from(["a", "b", "c", "d"])


@given(
    bins=st.dictionaries(_prefixes, _destinations, max_size=30),
    pans=st.lists(st.text("0126", min_size=0, max_size=19), min_size=1, max_size=20),
)
def test_longest_prefix_equals_brute_force(bins, pans):
    table = RouteTable(bins=bins)
    for pan in pans:
        matches = [p for p in bins if pan.startswith(p)]
        expected = None
        if matches:
            best = max(matches, key=len)
            expected = Route(bins[best], RouteReason.BIN, 2, best)
        assert table.route_pan(pan) == expected
        routed = table.route(cups({2: pan})) if pan else None
        if pan and expected is not None:
            assert routed == expected
        elif pan:
            assert routed == NoRoute("15", routed.problem)


_regions = st.sampled_from(["11", "31", "44"]).flatmap(
    lambda p: st.sampled_from([p, p + "01", p + "0105", p + "02", p + "0201"])
)


@given(
    regions=st.dictionaries(_regions, _destinations, max_size=12),
    codes=st.lists(_regions.filter(lambda r: len(r) == 6), min_size=1, max_size=10),
)
def test_longest_region_prefix_equals_brute_force(regions, codes):
    table = RouteTable(regions=regions)
    for code in codes:
        matches = [p for p in regions if code.startswith(p)]
        got = table.route(center({58: code}))
        if matches:
            best = max(matches, key=len)
            assert got == Route(regions[best], RouteReason.REGION, 58, best)
        else:
            assert got == NoRoute("92", got.problem)
