"""The kit's connection: it answers the peer's own requests and reads what it is sent."""

import re
from pathlib import Path

import trio
import trio.testing

from sscard_gateway.conformance import Outcome, RunSettings, load_cases, run_cases
from sscard_gateway.iso import FrameDecoder, load_dialect

DOCS = Path(__file__).resolve().parents[2] / "docs" / "conformance.md"


async def test_the_kit_answers_the_peers_echo_and_ignores_garbage(nursery):
    cups = load_dialect("cups")
    kit_end, peer_end = trio.testing.memory_stream_pair()
    answers = []

    async def peer():
        decoder = FrameDecoder(cups.spec.prefix, max_length=cups.spec.max_length)

        async def next_message():
            while (payload := decoder.next_frame()) is None:
                decoder.receive_data(await peer_end.receive_some())
            return cups.decode_payload(payload)

        sign_on = await next_message()
        echo = cups.message("0820", {7: "1126101530", 11: "424242", 33: "00010000", 70: "301"})
        await peer_end.send_all(cups.encode(echo))
        answers.append(await next_message())
        await peer_end.send_all(b"0004JUNK")  # a frame that does not decode
        await peer_end.send_all(cups.encode(sign_on.response_to("00")))
        while True:  # echo and sign-off
            await peer_end.send_all(cups.encode((await next_message()).response_to("00")))

    nursery.start_soon(peer)

    async def connect():
        return kit_end

    cases = [c for c in load_cases() if c.id == "switch.echo"]
    with trio.fail_after(5):
        report = await run_cases(cases, connect, "switch")
    assert report.result("switch.echo").outcome is Outcome.PASSED, report.text()
    assert report.peer == "(stream)"
    (answer,) = answers
    assert (answer.mti, answer[39], answer[11]) == ("0830", "00", "424242")


def test_the_documented_case_file_loads(tmp_path):
    text = DOCS.read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```toml\n(.*?)```", text, re.S) if "[[case]]" in b)
    (tmp_path / "mine.toml").write_text(block, encoding="utf-8")
    (case,) = load_cases(tmp_path / "mine.toml")
    assert case.id == "mine.duplicate" and [s.id for s in case.steps] == ["first", "again"]
    assert case.steps[1].repeat_of == "first"


async def test_an_answer_with_another_stan_is_no_answer(nursery):
    center = load_dialect("center")
    kit_end, peer_end = trio.testing.memory_stream_pair()

    async def peer():
        decoder = FrameDecoder(center.spec.prefix, max_length=center.spec.max_length)
        while True:
            while (payload := decoder.next_frame()) is None:
                decoder.receive_data(await peer_end.receive_some())
            answer = center.decode_payload(payload).response_to("00")
            await peer_end.send_all(center.encode(answer.with_fields({11: "999999"})))

    nursery.start_soon(peer)

    async def connect():
        return kit_end

    cases = [c for c in load_cases() if c.id == "center.sign-on"]
    report = await run_cases(cases, connect, "gateway", settings=RunSettings(timeout=0.2))
    result = report.result("center.sign-on")
    assert result.outcome is Outcome.FAILED
    assert result.reason == (
        "step 'sign-on': no answer within 0.2 s;"
        " answers matching no request: 0830 F11=999999 F70=001 F39=00"
    )
