"""PIN translation between legs: the block the peer gets is ours, and only ours."""

from sscard_gateway.engine import PinRoute, translate_pin
from sscard_gateway.iso import load_dialect
from sscard_gateway.routing import LegCounters, load_mapping
from sscard_gateway.sim import Kind
from sscard_gateway.sim.center import CenterSimulator
from sscard_gateway.sim.lab import CARDS, CENTERS, lab_config, lab_security

CENTER = "center-110000"
TO_SM4 = PinRoute(
    from_key=f"{CENTER}.zpk", from_format="iso0", to_key="cups.zpk.sm4", to_format="sm4"
)
FROM_SM4 = PinRoute(
    from_key="cups.zpk.sm4", from_format="sm4", to_key=f"{CENTER}.zpk", to_format="iso0"
)


def legs():
    """A center request with a PIN, and the CUPS request carrying it as SM4 in field 63."""
    security = lab_security()
    config = lab_config(1, timeout=1.0)
    center = CenterSimulator(CENTERS[CENTER], security=security, pin_key=f"{CENTER}.zpk")
    request = center.build(Kind.CONTRIBUTION_PAYMENT, CARDS[CENTER], amount=250)
    counters = LegCounters()
    to_cups = load_mapping("center_to_cups").request(
        request, counters=counters, now_f7=request[7], institution=config.institution
    )
    to_cups = translate_pin(security, request, to_cups, TO_SM4, load_dialect("cups"))
    return security, config, counters, request, to_cups


def test_a_pin_that_came_in_field_63_does_not_go_on_in_it():
    security, config, counters, request, from_cups = legs()
    assert from_cups[63].startswith("SM") and 52 not in from_cups
    outbound = load_mapping("cups_to_center").request(
        from_cups, counters=counters, now_f7=from_cups[7], institution=config.institution
    )
    assert outbound[63] == from_cups[63]  # the mapping copies field 63 ...
    center = load_dialect("center")
    translated = translate_pin(security, from_cups, outbound, FROM_SM4, center)
    assert 63 not in translated  # ... but the block under the switch's key stays behind
    assert translated[52] == request[52]
    unkeyed = PinRoute(from_key=None, from_format="sm4", to_key=None, to_format="iso0")
    dropped = translate_pin(security, from_cups, outbound, unkeyed, center)
    assert 52 not in dropped and 63 not in dropped
