"""MACs on every message and working key exchange through the security module."""

from __future__ import annotations

import pytest

from sscard_gateway.crypto import Algorithm, KeyUsage, KeyVersion
from sscard_gateway.errors import KeyCheckError, MacError, SecurityError
from sscard_gateway.iso.composite import SignOnKeys, format_f62_keys
from sscard_gateway.link import (
    FrameRejected,
    KeyConfirmation,
    KeyExchangeFailed,
    KeysChanged,
    LinkConfig,
    LinkKeys,
    LinkProtocol,
    LinkState,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
)

NEW_ZAK = bytes.fromhex("0B1C2D3E4F5A6B7C")


@pytest.fixture
def keyed(h):
    pair = h.Pair(
        client_security=h.zone_module(),
        server_security=h.zone_module(),
        keys=h.ZONE_KEYS,
    )
    pair.sign_on()
    return pair


def test_financial_messages_carry_a_mac_both_ways(h, keyed):
    request_id, data = keyed.client.send_request(h.purchase("000001"), 0.0)
    request = h.CUPS.decode(data)
    assert len(request[128]) == 8 and request[128] != bytes(8)
    received = keyed.to_server(data)[-1]
    assert isinstance(received, RequestReceived)
    reply = keyed.server.send(received.message.response_to("00"))
    assert h.CUPS.decode(reply)[128] != bytes(8)
    assert keyed.to_client(reply) == [ResponseReceived(request_id, h.CUPS.decode(reply))]


def test_request_with_a_bad_mac_is_answered_a0(h, keyed):
    _, data = keyed.client.send_request(h.purchase("000001"), 0.0)
    tampered = data.replace(b"000000012345", b"000000099999")
    (event,) = keyed.to_server(tampered)
    assert isinstance(event, FrameRejected) and isinstance(event.error, MacError)
    reply = h.CUPS.decode(event.reply)
    assert reply.mti == "0210" and reply[39] == "A0" and reply[11] == "000001"


def test_request_without_its_mac_is_answered_a0(h, keyed):
    (event,) = keyed.to_server(h.CUPS.encode(h.purchase("000001")))
    assert isinstance(event.error, MacError) and h.CUPS.decode(event.reply)[39] == "A0"


def test_response_with_a_bad_mac_is_dropped_and_the_request_times_out(h, keyed):
    request_id, data = keyed.client.send_request(h.purchase("000001"), 0.0, 5.0)
    request = keyed.to_server(data)[-1].message
    reply = keyed.server.send(request.response_to("00"))
    (event,) = keyed.to_client(reply.replace(b"000000012345", b"000000099999"))
    assert isinstance(event, FrameRejected) and event.reply is None
    keyed.client.on_tick(5.0)
    assert h.drain(keyed.client) == [RequestTimedOut(request_id)]


def test_network_messages_are_verified_only_when_they_carry_a_mac(h, keyed):
    _, data = keyed.client.echo(0.0)
    assert 128 not in h.CUPS.decode(data)
    assert keyed.to_server(data)[-1].reply is not None


def test_missing_mac_key_is_a_security_error_answered(h):
    module = h.zone_module()
    pair = h.Pair(
        client_security=module,
        server_security=h.zone_module(),
        keys=LinkKeys(mac_key="nope", kek="zmk"),
    )
    pair.sign_on()
    with pytest.raises(SecurityError):
        pair.client.send_request(h.purchase(), 0.0)
    assert pair.client.in_flight == 0


# --- CUPS key reset: 0800 F70 101 ---------------------------------------------------------------


def _peer_with(h, name: str, algorithm: Algorithm, usage: KeyUsage, value: bytes):
    peer = h.zone_module()
    peer.import_components(name + ".new", algorithm, usage, [value])
    cryptogram, kcv = peer.export_key(name + ".new", "zmk")
    return cryptogram, kcv


def _key_reset(h, *, f53: str, f48: str, f96: bytes | None = None, stan: str = "000500"):
    fields = {7: "1126101600", 11: stan, 33: "00010000", 53: f53, 70: "101", 48: f48}
    if f96 is not None:
        fields[96] = f96
    return h.CUPS.encode(h.CUPS.message("0800", fields))


def test_cups_pin_key_reset_is_checked_staged_and_confirmed(h):
    module = h.zone_module()
    pair = h.Pair(client_security=module, server_security=h.zone_module(), keys=h.ZONE_KEYS)
    pair.sign_on()
    old_kcv = module.check_value("zpk")
    new = bytes.fromhex("89ABCDEF0123456789ABCDEF01234567")
    cryptogram, kcv = _peer_with(h, "zpk", Algorithm.TDES_2KEY, KeyUsage.ZONE_PIN, new)
    frame = _key_reset(h, f53="1600000000000000", f48="NK" + (cryptogram + kcv).hex().upper())
    (event,) = pair.to_client(frame)
    assert isinstance(event, KeysChanged)
    assert [(k.name, k.version, k.check_value) for k in event.keys] == [
        ("zpk", KeyVersion.CURRENT, kcv)
    ]
    reply = h.CUPS.decode(event.reply)
    assert reply.mti == "0810" and reply[39] == "00" and reply[70] == "101"
    assert module.check_value("zpk") == kcv
    assert module.check_value("zpk", version=KeyVersion.PREVIOUS) == old_kcv
    assert pair.client.state is LinkState.SIGNED_ON


def test_cups_key_reset_with_a_wrong_check_value_keeps_the_old_key(h):
    module = h.zone_module()
    pair = h.Pair(client_security=module, server_security=h.zone_module(), keys=h.ZONE_KEYS)
    pair.sign_on()
    old_kcv = module.check_value("zpk")
    new = bytes.fromhex("89ABCDEF0123456789ABCDEF01234567")
    cryptogram, _ = _peer_with(h, "zpk", Algorithm.TDES_2KEY, KeyUsage.ZONE_PIN, new)
    frame = _key_reset(h, f53="1600000000000000", f48="NK" + (cryptogram + b"BAD!").hex())
    (event,) = pair.to_client(frame)
    assert isinstance(event, KeyExchangeFailed) and isinstance(event.error, KeyCheckError)
    assert h.CUPS.decode(event.reply)[39] == "A8"
    assert module.check_value("zpk") == old_kcv
    assert not [k for k in module.list_keys() if k.version is KeyVersion.PENDING]


def test_cups_key_reset_with_a_malformed_key_field_is_a_format_error(h):
    pair = h.Pair(client_security=h.zone_module(), keys=h.ZONE_KEYS)
    pair.sign_on()
    (event,) = pair.to_client(_key_reset(h, f53="1600000000000000", f48="NK00"))
    assert isinstance(event, KeyExchangeFailed)
    assert h.CUPS.decode(event.reply)[39] == "30"


def test_cups_mac_key_reset_confirmed_when_the_peer_uses_it(h):
    """F96 carries the new MAC key, F48 NK its check value [assumed]; ON_PEER_USE policy."""
    client_module = h.zone_module()
    server_module = h.zone_module()
    keys = LinkKeys(mac_key="zak", pin_key="zpk", kek="zmk", confirm=KeyConfirmation.ON_PEER_USE)
    pair = h.Pair(client_security=client_module, server_security=server_module, keys=keys)
    pair.sign_on()
    cryptogram, kcv = _peer_with(h, "zak", Algorithm.DES, KeyUsage.ZONE_MAC, NEW_ZAK)
    frame = _key_reset(h, f53="2000000000000000", f48="NK" + kcv.hex(), f96=cryptogram)
    (event,) = pair.to_client(frame)
    assert isinstance(event, KeysChanged)
    assert [(k.name, k.version) for k in event.keys] == [("zak", KeyVersion.PENDING)]
    assert h.CUPS.decode(event.reply)[39] == "00"
    # our MACs still use the old key: the server (old key) accepts them
    _, data = pair.client.send_request(h.purchase("000001"), 1.0)
    request = pair.to_server(data)[-1].message
    # the peer switches; its first MAC under the new key confirms it
    server_module.import_components("zak", Algorithm.DES, KeyUsage.ZONE_MAC, [NEW_ZAK])
    events = pair.to_client(pair.server.send(request.response_to("00")))
    assert isinstance(events[0], KeysChanged)
    assert [(k.name, k.version, k.check_value) for k in events[0].keys] == [
        ("zak", KeyVersion.CURRENT, kcv)
    ]
    assert isinstance(events[1], ResponseReceived)
    assert client_module.check_value("zak") == kcv


def test_key_exchange_without_a_module_is_refused_a7(h, pair):
    pair.sign_on()
    (event,) = pair.to_client(_key_reset(h, f53="1600000000000000", f48="NK" + "00" * 20))
    assert isinstance(event, KeyExchangeFailed) and h.CUPS.decode(event.reply)[39] == "A7"


def test_previous_key_is_retired_after_the_grace_time(h):
    module = h.zone_module()
    keys = LinkKeys(mac_key="zak", pin_key="zpk", kek="zmk", retire_after=60.0)
    pair = h.Pair(client_security=module, server_security=h.zone_module(), keys=keys)
    pair.sign_on()
    new = bytes.fromhex("89ABCDEF0123456789ABCDEF01234567")
    cryptogram, kcv = _peer_with(h, "zpk", Algorithm.TDES_2KEY, KeyUsage.ZONE_PIN, new)
    pair.now = 10.0
    pair.to_client(_key_reset(h, f53="1600000000000000", f48="NK" + (cryptogram + kcv).hex()))
    assert pair.client.next_deadline() == 40.0  # the echo, 30 s after the last frame
    pair.client.on_tick(69.0)
    assert module.check_value("zpk", version=KeyVersion.PREVIOUS)
    pair.client.on_tick(70.0)
    with pytest.raises(SecurityError):
        module.check_value("zpk", version=KeyVersion.PREVIOUS)


# --- POS sign-on: F62 key blocks ------------------------------------------------------------


def _pos_pair(h, module):
    keys = LinkKeys(mac_key="tak", pin_key="tpk", kek="tmk", mac_classes=("financial",))
    return h.Pair(h.POS, client_security=module, keys=keys)


def _pos_keys(h, *, bad_mac_kcv: bool = False):
    host = h.terminal_module()
    host.generate_key("tpk", Algorithm.TDES_2KEY, KeyUsage.TERMINAL_PIN)
    host.generate_key("tak", Algorithm.TDES_2KEY, KeyUsage.TERMINAL_MAC)
    pin = host.export_key("tpk", "tmk")
    mac = host.export_key("tak", "tmk")
    from sscard_gateway.iso.composite import KeyBlock

    mac_kcv = b"\x00\x00\x00\x00" if bad_mac_kcv else mac[1]
    blocks = SignOnKeys(KeyBlock(pin[0], pin[1]), KeyBlock(mac[0], mac_kcv))
    return host, format_f62_keys(blocks, "003")


def test_pos_sign_on_builds_f60_and_applies_f62_keys(h):
    module = h.terminal_module()
    pair = _pos_pair(h, module)
    pair.connect()
    request_id, data = pair.client.sign_on(0.0)
    request = h.POS.decode(data)
    assert request.mti == "0800" and request[60] == "00000001003"
    assert request[41] == "TERM0001" and request[11] == "000001"
    host, f62 = _pos_keys(h)
    reply = h.POS.encode(request.response_to("00", {62: f62}))
    events = pair.to_client(reply)
    changed = [e for e in events if isinstance(e, KeysChanged)]
    assert [(k.name, k.version) for k in changed[0].keys] == [
        ("tpk", KeyVersion.CURRENT),
        ("tak", KeyVersion.CURRENT),
    ]
    assert pair.client.state is LinkState.SIGNED_ON
    assert module.check_value("tak") == host.check_value("tak")
    assert isinstance(events[-1], ResponseReceived) and events[-1].request_id == request_id
    # traffic now carries F64 under the new TAK, which the host verifies
    _, data = pair.client.send_request(h.purchase("000002", dialect=h.POS), 1.0)
    sent = h.POS.decode(data)
    assert host.verify_mac("tak", "pos-ecb", h.POS.mac_block(sent), sent[64], "hex4")


def test_pos_sign_on_with_a_bad_check_value_fails(h):
    module = h.terminal_module()
    pair = _pos_pair(h, module)
    pair.connect()
    _, data = pair.client.sign_on(0.0)
    _, f62 = _pos_keys(h, bad_mac_kcv=True)
    events = pair.to_client(h.POS.encode(h.POS.decode(data).response_to("00", {62: f62})))
    failed = [e for e in events if isinstance(e, KeyExchangeFailed)]
    assert isinstance(failed[0].error, KeyCheckError) and failed[0].error.response_code == "A9"
    assert pair.client.state is LinkState.CONNECTED
    assert {k.name for k in module.list_keys()} <= {"tmk", "tpk"}


def test_pos_sign_on_again_stages_then_confirms_keeping_the_old_keys(h):
    module = h.terminal_module()
    pair = _pos_pair(h, module)
    for attempt in range(2):
        pair.client.connection_lost()
        pair.client.connect(float(attempt))
        h.drain(pair.client)
        _, data = pair.client.sign_on(float(attempt))
        host, f62 = _pos_keys(h)
        pair.to_client(h.POS.encode(h.POS.decode(data).response_to("00", {62: f62})))
        assert pair.client.state is LinkState.SIGNED_ON
    versions = {(k.name, k.version) for k in module.list_keys()}
    assert ("tak", KeyVersion.PREVIOUS) in versions and ("tak", KeyVersion.CURRENT) in versions
    assert module.check_value("tak") == host.check_value("tak")


def test_a_module_without_key_names_means_no_macs(h):
    proto = LinkProtocol(h.CUPS, config=LinkConfig(sign_on=False), security=h.zone_module())
    proto.connect(0.0)
    proto.skip_sign_on()
    _, data = proto.send_request(h.purchase(), 0.0)
    assert 128 not in h.CUPS.decode(data)


def test_operator_confirms_a_staged_mac_key(h):
    module = h.zone_module()
    keys = LinkKeys(mac_key="zak", pin_key="zpk", kek="zmk", confirm=KeyConfirmation.ON_PEER_USE)
    pair = h.Pair(client_security=module, server_security=h.zone_module(), keys=keys)
    pair.sign_on()
    cryptogram, kcv = _peer_with(h, "zak", Algorithm.DES, KeyUsage.ZONE_MAC, NEW_ZAK)
    pair.to_client(_key_reset(h, f53="2000000000000000", f48="NK" + kcv.hex(), f96=cryptogram))
    assert module.check_value("zak", version=KeyVersion.PENDING) == kcv
    pair.client.confirm_keys(5.0)
    (event,) = h.drain(pair.client)
    assert isinstance(event, KeysChanged) and event.keys[0].version is KeyVersion.CURRENT
    assert module.check_value("zak") == kcv
    pair.client.confirm_keys(6.0)
    assert h.drain(pair.client) == []
