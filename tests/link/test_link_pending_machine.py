"""A Hypothesis state machine over the pending table of a LinkProtocol.

Interleaves requests (with colliding keys), answers in any order, late
answers to timed-out requests, unknown responses, time passing and lost
connections, and checks after every step that:

* every request ends exactly once (response, timeout or connection failure);
* a response reaches only the caller whose request it answers (each request
  carries a unique F37 that the answer echoes);
* a request is refused as a duplicate exactly when its key is in flight or
  quarantined after a timeout.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sscard_gateway.errors import DuplicateRequest
from sscard_gateway.iso import Message, load_dialect
from sscard_gateway.link import (
    NEED_DATA,
    LinkConfig,
    LinkProtocol,
    RequestFailed,
    RequestTimedOut,
    ResponseReceived,
    StateChanged,
    UnmatchedResponse,
)

CUPS = load_dialect("cups")


def request(stan: int, rrn: int) -> Message:
    fields = {2: "6225880137654324", 3: "000000", 4: "000000000100", 7: "1126101530"}
    fields.update({11: f"{stan:06d}", 32: "48020000", 33: "48020000", 37: f"{rrn:012d}"})
    return CUPS.message("0200", fields)


class PendingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        config = LinkConfig(sign_on=False, echo_interval=None)
        self.proto = LinkProtocol(CUPS, config=config)
        self.now = 0.0
        self.rrn = 0
        self.live: dict[int, Message] = {}  # request id -> request, not ended yet
        self.owed: dict[int, int] = {}  # request id -> late answers it took over
        self.ended: set[int] = set()
        self.unanswered: dict[int, Message] = {}  # sent on this connection, peer not answered
        self.quarantine: dict[str, tuple[Message, int]] = {}  # STAN -> (request, answers owed)
        self._open()

    def _open(self) -> None:
        self.proto.connect(self.now)
        self.proto.skip_sign_on()
        self._drain()

    def _drain(self) -> None:
        while (event := self.proto.next_event()) is not NEED_DATA:
            if isinstance(event, ResponseReceived):
                owed = self.owed.pop(event.request_id)
                sent = self._end(event.request_id)
                assert event.message[37] == sent[37], "response reached the wrong caller"
                if owed:
                    self.quarantine[sent.text(11)] = (sent, owed)
            elif isinstance(event, RequestTimedOut):
                owed = self.owed.pop(event.request_id)
                sent = self._end(event.request_id)
                self.quarantine[sent.text(11)] = (sent, owed + 1)
            elif isinstance(event, RequestFailed):
                self.owed.pop(event.request_id)
                self._end(event.request_id)
            elif isinstance(event, UnmatchedResponse):
                stan = event.message.text(11)
                late = self.quarantine.pop(stan, None)
                assert event.late == (late is not None)
                if late is not None and late[1] > 1:
                    self.quarantine[stan] = (late[0], late[1] - 1)
            else:
                assert isinstance(event, StateChanged)

    def _end(self, request_id: int) -> Message:
        assert request_id not in self.ended, "a request ended twice"
        assert request_id in self.live, "an unknown request ended"
        self.ended.add(request_id)
        return self.live.pop(request_id)

    @rule(stan=st.integers(1, 4), timeout=st.integers(1, 8))
    def send(self, stan: int, timeout: int) -> None:
        self.rrn += 1
        message = request(stan, self.rrn)
        key = f"{stan:06d}"
        in_flight = any(m.text(11) == key for m in self.live.values())
        quarantined = key in self.quarantine
        try:
            request_id, _ = self.proto.send_request(message, self.now, float(timeout))
        except DuplicateRequest:
            assert in_flight or quarantined
            return
        assert not (in_flight or quarantined)
        self.quarantine.pop(key, None)
        self.live[request_id] = message
        self.owed[request_id] = 0
        self.unanswered[request_id] = message
        self._drain()

    @precondition(lambda self: self.quarantine)
    @rule(data=st.data())
    def repeat(self, data: st.DataObject) -> None:
        """A repeat (0201) of a timed-out request takes over its key and its late answer."""
        stan = data.draw(st.sampled_from(sorted(self.quarantine)))
        original, owed = self.quarantine[stan]
        if any(m.text(11) == stan for m in self.live.values()):
            return
        request_id, _ = self.proto.send_request(original.evolve(mti="0201"), self.now, 5.0)
        del self.quarantine[stan]
        self.live[request_id] = original
        self.owed[request_id] = owed
        self.unanswered[request_id] = original
        self._drain()

    @precondition(lambda self: self.unanswered)
    @rule(data=st.data(), code=st.sampled_from(["00", "05", "51"]))
    def answer(self, data: st.DataObject, code: str) -> None:
        """The peer answers one request it saw (in time or late), once."""
        request_id = data.draw(st.sampled_from(sorted(self.unanswered)))
        message = self.unanswered.pop(request_id)
        reply = CUPS.encode(message.response_to(code))
        cut = data.draw(st.integers(0, len(reply)))
        self.proto.receive_data(reply[:cut], self.now)
        self._drain()
        self.proto.receive_data(reply[cut:], self.now)
        self._drain()

    @rule(stan=st.integers(500, 510))
    def unknown_response(self, stan: int) -> None:
        self.proto.receive_data(CUPS.encode(request(stan, 0).response_to("00")), self.now)
        self._drain()

    @rule(dt=st.sampled_from([0.5, 1.0, 3.0, 7.0, 25.0]))
    def advance(self, dt: float) -> None:
        self.now += dt
        deadline = self.proto.next_deadline()
        self.proto.on_tick(self.now)
        self._drain()
        if deadline is not None and deadline <= self.now:
            assert self.proto.next_deadline() is None or self.proto.next_deadline() > self.now

    @rule()
    def disconnect(self) -> None:
        self.proto.connection_lost()
        self._drain()
        assert not self.live
        self.unanswered.clear()
        self.quarantine.clear()
        self._open()

    @invariant()
    def table_matches_the_model(self) -> None:
        assert self.proto.in_flight == len(self.live)

    def teardown(self) -> None:
        self.proto.connection_lost()
        self._drain()
        assert not self.live, "a request never ended"


PendingMachine.TestCase.settings = settings(max_examples=50, stateful_step_count=30, deadline=None)
test_pending_table = PendingMachine.TestCase
