"""Log lines: text or JSON, and never a clear PAN or key material in either."""

from __future__ import annotations

import io
import json
import logging

import pytest

from sscard_gateway.config import LoggingSettings
from sscard_gateway.ids import luhn_check_digit
from sscard_gateway.service import SecretFilter, configure_logging, mask_secrets

PAN = "622588013765432" + luhn_check_digit("622588013765432")
MASKED = PAN[:6] + "*" * (len(PAN) - 10) + PAN[-4:]
KEY = "0123456789ABCDEFFEDCBA9876543210"


@pytest.fixture
def capture():
    """Install the service's handler on a string stream; remove it afterwards."""
    streams = []

    def install(*, json_lines: bool, level: str = "debug") -> io.StringIO:
        stream = io.StringIO()
        settings = LoggingSettings(level=level, json=json_lines)
        streams.append(configure_logging(settings, stream=stream))
        return stream

    root = logging.getLogger()
    level = root.level
    yield install
    for handler in streams:
        root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"card {PAN} approved", f"card {MASKED} approved"),
        (f"track2 {PAN}=2512101", f"track2 {MASKED}=2512101"),
        ("13 digits 4222222222222 ok", "13 digits 42*******2222 ok"),
        ("not Luhn 6225880137654320", "not Luhn 6225880137654320"),
        ("stan 000123 f7 1126101530 rrn 1126100457", "stan 000123 f7 1126101530 rrn 1126100457"),
        ("pin_block=0412AC89ABCDEF67", "pin_block=[wiped]"),
        (f"zpk: {KEY}", "zpk: [wiped]"),
        ("F52=1A2B3C4D5E6F7A8B and 55: 9F2608AABBCCDDEEFF", "F52=[wiped] and 55: [wiped]"),
        ("mac 1A2B3C4D", "mac [wiped]"),
        (f"cryptogram {KEY[:16]} kcv 1A2B3C", "cryptogram [wiped] kcv 1A2B3C"),
        (f"unlabelled {KEY}", "unlabelled [wiped]"),
        ("check value ABCD12, id 0123456789ABCDEF", "check value ABCD12, id 0123456789ABCDEF"),
        ("transaction_key=20241126101530000123", "transaction_key=20241126101530000123"),
        ("port 52 1234567890", "port 52 1234567890"),
    ],
)
def test_mask_secrets(text, expected):
    assert mask_secrets(text) == expected


def test_a_text_line_with_a_pan_comes_out_masked(capture):
    stream = capture(json_lines=False)
    logging.getLogger("sscard_gateway.test").warning("declined card %s with %s", PAN, "51")
    line = stream.getvalue()
    assert PAN not in line and f"declined card {MASKED} with 51" in line
    assert " WARNING " in line and "sscard_gateway.test" in line


def test_json_lines_carry_fields_and_extras_all_masked(capture):
    stream = capture(json_lines=True)
    log = logging.getLogger("sscard_gateway.test")
    log.info(
        "answered %s",
        PAN,
        extra={"pan": PAN, "pan_number": int(PAN), "fields": {"2": PAN, "52": f"52={KEY}"}},
    )
    try:
        raise ValueError(f"bad card {PAN}, key={KEY}")
    except ValueError:
        log.exception("failed on %s", PAN)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert PAN not in stream.getvalue() and KEY not in stream.getvalue()
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == f"answered {MASKED}" and first["level"] == "INFO"
    assert first["logger"] == "sscard_gateway.test" and "T" in first["time"]
    assert first["pan"] == MASKED and first["pan_number"] == MASKED
    assert first["fields"] == {"2": MASKED, "52": "52=[wiped]"}
    assert second["level"] == "ERROR" and second["message"] == f"failed on {MASKED}"
    assert f"bad card {MASKED}, key=[wiped]" in second["exception"]


def test_records_of_other_libraries_are_scrubbed_too(capture):
    stream = capture(json_lines=False)
    logging.getLogger("somebody.else").error("%s", {"pan": PAN})
    assert MASKED in stream.getvalue() and PAN not in stream.getvalue()


def test_the_level_filters_and_a_second_call_replaces_the_handler(capture):
    capture(json_lines=False)
    stream = capture(json_lines=False, level="warning")
    root = logging.getLogger()
    assert sum(h.get_name() == "sscard-service" for h in root.handlers) == 1
    logging.getLogger("sscard_gateway.test").info("hidden")
    logging.getLogger("sscard_gateway.test").warning("shown")
    assert "hidden" not in stream.getvalue() and "shown" in stream.getvalue()


def test_a_bad_format_string_still_logs_a_scrubbed_line():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items %s", (PAN,), None)
    assert SecretFilter().filter(record) is True
    assert PAN not in record.getMessage() and MASKED in record.getMessage()
