"""LinkProtocol without I/O: states, sign-on, matching, deadlines, echo, bad frames."""

from __future__ import annotations

import pytest

from sscard_gateway.errors import (
    DecodeError,
    DuplicateRequest,
    FrameTooLarge,
    LinkClosed,
    ProtocolError,
    RejectedByPeer,
)
from sscard_gateway.iso import CupsHeader, LengthPrefix
from sscard_gateway.link import (
    NEED_DATA,
    TRANSITIONS,
    EchoDue,
    FrameRejected,
    KeepaliveReceived,
    LinkConfig,
    LinkProtocol,
    LinkState,
    NetworkRequestAnswered,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    StanCounter,
    StateChanged,
    Trigger,
    UnmatchedResponse,
)
from sscard_gateway.link._state import next_state

S = LinkState


# --- the transition table ---------------------------------------------------------------


def test_every_row_of_the_table_is_what_next_state_returns():
    for (state, trigger), target in TRANSITIONS.items():
        assert next_state(state, trigger) is target


def test_missing_rows_are_protocol_errors():
    allowed = set(TRANSITIONS)
    for state in LinkState:
        for trigger in Trigger:
            if (state, trigger) not in allowed:
                with pytest.raises(ProtocolError):
                    next_state(state, trigger)
    # every state is reachable and every open state can lose its connection
    assert {target for target in TRANSITIONS.values()} == set(LinkState)
    for state in LinkState:
        assert TRANSITIONS[(state, Trigger.CONNECTION_LOST)] is S.CLOSED


def test_application_requests_need_a_signed_on_link(h, pair):
    with pytest.raises(ProtocolError):
        pair.client.send_request(h.purchase(), 0.0, 5.0)
    pair.connect()
    with pytest.raises(ProtocolError):
        pair.client.send_request(h.purchase(), 0.0, 5.0)
    assert pair.client.in_flight == 0


def test_responses_are_not_requests(h, pair):
    pair.sign_on()
    with pytest.raises(ProtocolError):
        pair.client.send_request(h.purchase().response_to("00"), 0.0)


# --- sign-on and sign-off -----------------------------------------------------------------


def test_cups_sign_on_builds_0820_from_the_dialect_and_signs_on(h, pair):
    pair.connect()
    request_id, data = pair.client.sign_on(0.0)
    assert pair.client.state is S.SIGNING_ON
    sent = h.CUPS.decode(data)
    assert sent.mti == "0820"
    assert sent.fields == {7: "1126101530", 11: "000001", 33: "48020000", 70: "001"}
    events = pair.to_server(data)
    assert [type(e) for e in events] == [StateChanged, NetworkRequestAnswered]
    assert pair.server.state is S.SIGNED_ON
    answered = events[-1]
    assert answered.code == "001"
    assert h.drain(pair.client) == [StateChanged(S.CONNECTED, S.SIGNING_ON, Trigger.SEND_SIGN_ON)]
    client_events = pair.to_client(answered.reply)
    assert client_events == [
        StateChanged(S.SIGNING_ON, S.SIGNED_ON, Trigger.SIGN_ON_APPROVED),
        ResponseReceived(request_id, h.CUPS.decode(answered.reply)),
    ]
    assert pair.client.state is S.SIGNED_ON


def test_refused_sign_on_returns_to_connected(h, pair):
    pair.connect()
    request_id, data = pair.client.sign_on(0.0)
    refusal = h.CUPS.encode(h.CUPS.decode(data).response_to("05"))
    events = pair.to_client(refusal)
    assert pair.client.state is S.CONNECTED
    assert isinstance(events[-1], ResponseReceived) and events[-1].request_id == request_id


def test_sign_on_timeout_returns_to_connected_at_the_deadline(h, pair):
    pair.connect()
    request_id, _ = pair.client.sign_on(0.0)
    h.drain(pair.client)
    assert pair.client.next_deadline() == 10.0
    pair.client.on_tick(9.999)
    assert h.drain(pair.client) == []
    pair.client.on_tick(10.0)
    events = h.drain(pair.client)
    assert events == [
        StateChanged(S.SIGNING_ON, S.CONNECTED, Trigger.SIGN_ON_FAILED),
        RequestTimedOut(request_id),
    ]


def test_stan_and_wallclock_are_injected(h):
    seen = iter(["000777", "000778"])
    proto = LinkProtocol(
        h.CUPS,
        config=LinkConfig(network_fields={33: "1"}),
        stan=lambda: next(seen),
        wallclock=h.wallclock,
    )
    proto.connect(0.0)
    first = h.CUPS.decode(proto.sign_on(0.0)[1])
    assert first[11] == "000777" and first[7] == "1126101530"
    no_clock = LinkProtocol(h.CUPS)
    no_clock.connect(0.0)
    with pytest.raises(ProtocolError):
        no_clock.sign_on(0.0)


def test_stan_counter_wraps_and_skips_zero():
    counter = StanCounter(999_998)
    assert [counter() for _ in range(3)] == ["999998", "999999", "000001"]
    with pytest.raises(ValueError):
        StanCounter(0)


def test_sign_off_refuses_new_requests_and_ends_connected(h, pair):
    pair.sign_on()
    _request_id, data = pair.client.sign_off(1.0)
    assert pair.client.state is S.SIGNING_OFF
    with pytest.raises(ProtocolError):
        pair.client.send_request(h.purchase(), 1.0)
    events = pair.to_server(data)
    assert pair.server.state is S.CONNECTED
    events = pair.to_client(events[-1].reply)
    assert pair.client.state is S.CONNECTED
    assert isinstance(events[-1], ResponseReceived)


def test_sign_off_timeout_ends_connected(pair):
    pair.sign_on()
    pair.client.sign_off(1.0)
    pair.client.on_tick(6.0)
    assert pair.client.state is S.CONNECTED


def test_link_without_sign_on(h):
    proto = LinkProtocol(h.CUPS, config=LinkConfig(sign_on=False))
    proto.connect(0.0)
    proto.skip_sign_on()
    assert proto.state is S.SIGNED_ON
    proto.send_request(h.purchase(), 0.0)
    assert proto.in_flight == 1


def test_inbound_sign_on_and_requests_can_go_to_the_handler(h):
    pair = h.Pair(server=LinkConfig(echo_interval=None, answer_network=False))
    pair.connect()
    _, data = pair.client.sign_on(0.0)
    events = pair.to_server(data)
    assert isinstance(events[-1], RequestReceived)
    assert pair.server.state is S.CONNECTED
    reply = pair.server.send(events[-1].message.response_to("00"))
    assert pair.server.state is S.SIGNED_ON
    pair.to_client(reply)
    assert pair.client.state is S.SIGNED_ON


# --- matching -----------------------------------------------------------------------------------


def test_response_reaches_its_request(h, pair):
    pair.sign_on()
    first, data1 = pair.client.send_request(h.purchase("000001"), 0.0, 5.0)
    second, data2 = pair.client.send_request(h.purchase("000002"), 0.0, 5.0)
    requests = [pair.to_server(data)[-1].message for data in (data2, data1)]
    assert all(isinstance(r, type(requests[0])) for r in requests)
    replies = [pair.server.send(r.response_to("00")) for r in requests]
    events = pair.to_client(replies[0]) + pair.to_client(replies[1])
    assert [(e.request_id, e.message[11]) for e in events] == [
        (second, "000002"),
        (first, "000001"),
    ]
    assert pair.client.in_flight == 0


def test_duplicate_key_is_refused(h, pair):
    pair.sign_on()
    pair.client.send_request(h.purchase("000001"), 0.0, 5.0)
    with pytest.raises(DuplicateRequest) as info:
        pair.client.send_request(h.purchase("000001"), 0.0, 5.0)
    assert info.value.response_code == "94"
    # another F7, or another MTI class, is another exchange
    pair.client.send_request(h.purchase("000001", f7="1126101531"), 0.0, 5.0)
    advice = h.purchase("000001").evolve(mti="0220")
    pair.client.send_request(advice, 0.0, 5.0)
    assert pair.client.in_flight == 3


def test_response_of_another_class_does_not_match(h, pair):
    pair.sign_on()
    pair.client.send_request(h.purchase("000001"), 0.0, 5.0)
    wrong = h.purchase("000001").evolve(mti="0100").response_to("00")
    (event,) = pair.to_client(h.CUPS.encode(wrong))
    assert isinstance(event, UnmatchedResponse) and not event.late
    assert event.message.fields == wrong.fields
    assert pair.client.in_flight == 1


def test_network_messages_match_without_f32(h, pair):
    """CUPS match rule for the network class: F7 + F11 + F33 (no F32 on an 0820)."""
    pair.sign_on()
    request_id, data = pair.client.echo(1.0)
    reply = pair.to_server(data)[-1].reply
    assert 32 not in h.CUPS.decode(reply)
    assert pair.to_client(reply)[-1].request_id == request_id


def test_pos_match_key_is_stan_and_terminal(h):
    pair = h.Pair(h.POS)
    pair.connect()
    _, data = pair.client.sign_on(0.0)
    pair.to_client(pair.to_server(data)[-1].reply)
    assert pair.client.state is S.SIGNED_ON
    request_id, data = pair.client.send_request(h.purchase("000010", dialect=h.POS), 0.0)
    request = pair.to_server(data)[-1].message
    other_terminal = request.response_to("00").with_fields({41: "TERM0002"})
    assert isinstance(pair.to_client(h.POS.encode(other_terminal))[-1], UnmatchedResponse)
    events = pair.to_client(pair.server.send(request.response_to("00")))
    assert events[-1].request_id == request_id


def test_timeout_then_late_response_goes_to_unmatched_never_to_a_newer_request(h, pair):
    pair.sign_on()
    request_id, data = pair.client.send_request(h.purchase("000001"), 0.0, 5.0)
    request = pair.to_server(data)[-1].message
    assert pair.client.next_deadline() == 5.0
    pair.client.on_tick(5.0)
    assert h.drain(pair.client) == [RequestTimedOut(request_id)]
    with pytest.raises(DuplicateRequest):
        pair.client.send_request(h.purchase("000001"), 6.0, 5.0)
    pair.now = 7.0
    late = pair.server.send(request.response_to("00"))
    events = pair.to_client(late)
    assert len(events) == 1 and isinstance(events[0], UnmatchedResponse) and events[0].late
    # the late answer ended the quarantine: the key may be used again
    pair.client.send_request(h.purchase("000001"), 8.0, 5.0)
    assert pair.client.statistics().timeouts == 1


def test_quarantine_ends_after_the_late_window(h):
    pair = h.Pair(client=LinkConfig(network_fields=h.CLIENT_FIELDS, late_window=10.0))
    pair.sign_on()
    pair.client.send_request(h.purchase("000001"), 0.0, 5.0)
    pair.client.on_tick(5.0)
    with pytest.raises(DuplicateRequest):
        pair.client.send_request(h.purchase("000001"), 14.0, 5.0)
    pair.client.send_request(h.purchase("000001"), 15.0, 5.0)


def test_abandoned_request_gets_no_event_and_its_answer_is_late(h, pair):
    pair.sign_on()
    request_id, data = pair.client.send_request(h.purchase("000001"), 0.0, 5.0)
    request = pair.to_server(data)[-1].message
    pair.client.abandon(request_id, 1.0)
    pair.client.on_tick(100.0)
    assert not [e for e in h.drain(pair.client) if not isinstance(e, EchoDue)]
    events = pair.to_client(pair.server.send(request.response_to("00")))
    assert isinstance(events[0], UnmatchedResponse)


def test_unknown_response(h, pair):
    pair.sign_on()
    stray = h.purchase("000999").response_to("00")
    (event,) = pair.to_client(h.CUPS.encode(stray))
    assert isinstance(event, UnmatchedResponse) and not event.late
    assert event.message.fields == stray.fields


def test_connection_lost_fails_every_request_once(h, pair):
    pair.sign_on()
    ids = [pair.client.send_request(h.purchase(f"00000{i}"), 0.0, 5.0)[0] for i in range(3)]
    pair.client.connection_lost()
    events = h.drain(pair.client)
    failed = [e for e in events if isinstance(e, RequestFailed)]
    assert [e.request_id for e in failed] == ids
    assert all(isinstance(e.error, LinkClosed) for e in failed)
    assert events[-1] == StateChanged(S.SIGNED_ON, S.CLOSED, Trigger.CONNECTION_LOST)
    pair.client.connection_lost()
    pair.client.on_tick(100.0)
    assert h.drain(pair.client) == []
    assert pair.client.next_deadline() is None
    # a new connection starts clean: the old keys are free again
    pair.client.connect(100.0)
    assert pair.client.state is S.CONNECTED


def test_response_fed_whole_byte_by_byte_and_with_trailing_bytes(h, pair):
    pair.sign_on()
    request_id, data = pair.client.send_request(h.purchase("000001"), 0.0, 5.0)
    reply = pair.server.send(pair.to_server(data)[-1].message.response_to("00"))
    for i in range(len(reply) - 1):
        pair.client.receive_data(reply[i : i + 1])
        assert pair.client.next_event() is NEED_DATA
    request2, data2 = pair.client.send_request(h.purchase("000002"), 0.0, 5.0)
    reply2 = pair.server.send(pair.to_server(data2)[-1].message.response_to("00"))
    events = pair.to_client(reply[-1:] + reply2[:10])
    assert [e.request_id for e in events] == [request_id]
    assert [e.request_id for e in pair.to_client(reply2[10:])] == [request2]


# --- echo and keepalive -----------------------------------------------------------------------


def test_echo_due_after_the_idle_time_once(h, pair):
    pair.sign_on()
    assert pair.client.next_deadline() == 30.0
    pair.client.on_tick(29.0)
    assert h.drain(pair.client) == []
    pair.client.on_tick(30.0)
    assert h.drain(pair.client) == [EchoDue()]
    pair.client.on_tick(60.0)
    assert h.drain(pair.client) == []
    request_id, data = pair.client.echo(60.0)
    assert pair.client.next_deadline() == 70.0
    pair.now = 61.0
    reply = pair.to_server(data)[-1].reply
    assert pair.to_client(reply)[-1].request_id == request_id
    assert pair.client.next_deadline() == 91.0


def test_inbound_echo_is_answered(h, pair):
    pair.sign_on()
    _, data = pair.client.echo(0.0)
    events = pair.to_server(data)
    assert isinstance(events[-1], NetworkRequestAnswered) and events[-1].code == "301"
    assert h.CUPS.decode(events[-1].reply)[39] == "00"


@pytest.mark.parametrize("answer", [False, True])
def test_keepalive_answered_only_when_configured(h, answer):
    proto = LinkProtocol(h.CUPS, config=LinkConfig(answer_keepalive=answer))
    proto.connect(0.0)
    h.drain(proto)
    proto.receive_data(b"0000")
    assert h.drain(proto) == [KeepaliveReceived(b"0000" if answer else None)]


# --- bad input -------------------------------------------------------------------------------


def _corrupt_f41(frame: bytes) -> bytes:
    """Replace the 8-character F41 ``HOSP0001`` by one with a control character."""
    assert frame.count(b"HOSP0001") == 1
    return frame.replace(b"HOSP0001", b"HOSP\x01001")


def test_malformed_request_gets_a_format_error_when_its_key_is_readable(h, pair):
    pair.sign_on()
    bad = _corrupt_f41(h.CUPS.encode(h.purchase("000042")))
    events = pair.to_server(bad)
    assert len(events) == 1 and isinstance(events[0], FrameRejected)
    assert isinstance(events[0].error, DecodeError) and not events[0].close
    reply = h.CUPS.decode(events[0].reply)
    assert reply.mti == "0210" and reply[39] == "30"
    assert [reply[n] for n in (7, 11, 32, 33)] == ["1126101530", "000042", "48020000", "48020000"]
    assert 2 in reply  # fields read before the bad one are echoed
    # the link carries on
    _request_id, data = pair.client.send_request(h.purchase("000043"), 0.0)
    assert isinstance(pair.to_server(data)[-1], RequestReceived)


def test_malformed_request_is_answered_to_the_waiting_client(h, pair):
    pair.sign_on()
    request_id, data = pair.client.send_request(h.purchase("000042"), 0.0)
    reply = pair.to_server(_corrupt_f41(data))[0].reply
    events = pair.to_client(reply)
    assert events[-1].request_id == request_id and events[-1].message[39] == "30"


def test_malformed_frame_without_readable_key_is_dropped(h, pair):
    pair.sign_on()
    frame = h.CUPS.encode(h.purchase("000042"))
    body_start = 4 + 46
    garbage = frame[: body_start + 4] + b"\xff" * 8 + frame[body_start + 12 :]
    events = pair.to_server(garbage)
    assert len(events) == 1 and events[0].reply is None
    # a bad header cannot be answered either
    events = pair.to_server(b"0010" + b"x" * 10)
    assert len(events) == 1 and events[0].reply is None
    # a malformed response is dropped
    response = h.CUPS.encode(h.purchase("000042").response_to("00"))
    events = pair.to_client(response.replace(b"HOSP0001", b"HOSP\x01001"))
    assert len(events) == 1 and events[0].reply is None


def test_frame_over_the_maximum_closes_the_connection(h, pair):
    pair.sign_on()
    request_id, _ = pair.client.send_request(h.purchase("000001"), 0.0)
    events = pair.to_client(b"9999" + b"x" * 10)
    assert isinstance(events[0], FrameRejected) and events[0].close
    assert isinstance(events[0].error, FrameTooLarge)
    assert events[1] == RequestFailed(request_id, events[1].error)
    assert pair.client.state is S.CLOSED
    pair.client.receive_data(b"more")  # discarded
    assert h.drain(pair.client) == []
    pair.client.connection_lost()
    assert h.drain(pair.client) == []


def test_rejected_by_the_switch_fails_the_request(h, pair):
    pair.sign_on()
    request_id, data = pair.client.send_request(h.purchase("000001"), 0.0)
    payload = data[4:]
    rejected = CupsHeader(reject_code="00045").encode(len(payload)) + payload
    events = pair.to_client(LengthPrefix.ASCII4.encode(len(rejected)) + rejected)
    assert len(events) == 1 and events[0].request_id == request_id
    assert isinstance(events[0].error, RejectedByPeer) and events[0].error.reject_code == "00045"
    again = pair.to_client(LengthPrefix.ASCII4.encode(len(rejected)) + rejected)
    assert isinstance(again[0], FrameRejected)


def test_statistics_snapshot(h, pair):
    pair.sign_on()
    pair.client.send_request(h.purchase("000001"), 0.0, 5.0)
    stats = pair.client.statistics()
    assert stats.state is S.SIGNED_ON and stats.in_flight == 1 and stats.requests_sent == 2


def test_a_repeat_takes_over_a_quarantined_key_and_gets_the_late_answer(h, pair):
    pair.sign_on()
    original = h.purchase("000001").evolve(mti="0420")
    first, data = pair.client.send_request(original, 0.0, 5.0)
    request = pair.to_server(data)[-1].message
    pair.client.on_tick(5.0)
    assert h.drain(pair.client) == [RequestTimedOut(first)]
    with pytest.raises(DuplicateRequest):
        pair.client.send_request(original, 6.0, 5.0)
    repeat, _ = pair.client.send_request(original.evolve(mti="0421"), 6.0, 5.0)
    with pytest.raises(DuplicateRequest):  # the repeat is in flight now
        pair.client.send_request(original.evolve(mti="0421"), 6.0, 5.0)
    events = pair.to_client(pair.server.send(request.response_to("00")))
    assert [(type(e), e.request_id) for e in events] == [(ResponseReceived, repeat)]
    assert events[0].message.mti == "0430"


def test_key_reset_request_and_cutover_are_network_requests(h, pair):
    pair.sign_on()
    _request_id, data = pair.client.key_reset_request(1.0)
    sent = h.CUPS.decode(data)
    assert sent.mti == "0820" and sent[70] == "101"
    cutover = pair.client.build_network("cutover_begin")
    assert cutover[70] == "201"
    # the peer's link hands requests it does not answer itself to the handler
    assert isinstance(pair.to_server(h.CUPS.encode(cutover))[-1], RequestReceived)
    with pytest.raises(ProtocolError):
        LinkProtocol(h.POS).build_network("cutover_begin")
