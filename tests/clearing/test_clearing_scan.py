"""The file scanner's runs agree with reading line by line, whatever the file holds."""

from __future__ import annotations

import hashlib
import io
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sscard_gateway.clearing import load_acom_layout
from sscard_gateway.clearing._acom_scan import AcomProblem, Scanner

LAYOUT = load_acom_layout()
WANTED = ("rrn", "amount", "stan", "acquirer", "pan")  # not in file order


def good(n: int, *, pan: str = "6225880137654321", rrn: str | None = None) -> bytes:
    values: dict[str, Any] = {
        "acquirer": "48020000",
        "stan": f"{n % 1_000_000:06d}",
        "transmission_time": "1126200224",
        "pan": pan,
        "amount": n,
        "mti": "0200",
        "processing_code": "000000",
        "rrn": rrn if rrn is not None else f"R{n}",
        "response_code": "00",
    }
    return LAYOUT.format_line(values).encode("ascii")


def reference(data: bytes) -> tuple[list[tuple[int, int, tuple[bytes, ...]]], list[int]]:
    """Line by line, with the layout's regular expression: what the runs must give."""
    fields = [LAYOUT.by_name[n] for n in WANTED]
    rows, bad, offset = [], [], 0
    for number, raw in enumerate(data.splitlines(keepends=True), 1):
        if LAYOUT.line_regex.fullmatch(raw) is None:
            bad.append(number)
        else:
            rows.append((number, offset, tuple(raw[f.offset : f.offset + f.width] for f in fields)))
        offset += len(raw)
    return rows, bad


PIECES = st.one_of(
    st.integers(0, 10**6).map(good),
    st.integers(0, 10**6).map(lambda n: good(n, pan="6225880137654321123")),  # another shape
    st.integers(0, 10**6).map(lambda n: good(n, rrn="A B")),  # and another
    st.integers(0, 10**6).map(lambda n: good(n)[:-1] + b"\r\n"),  # CRLF, last separator lost
    st.integers(0, 10**6).map(lambda n: good(n)[:-2] + b"\r\n"),  # CRLF, full width
    st.just(b"not a clearing line\n"),
    st.just(b"\n"),
    st.integers(0, 10**6).map(lambda n: good(n).replace(b"0200", b"02X0", 1)),  # same width
    st.integers(0, 10**6).map(lambda n: good(n)[:150] + good(n)),  # two lines in one
)


@given(
    pieces=st.lists(PIECES, max_size=40),
    last_end=st.booleans(),
    read_lines=st.integers(1, 5),
)
def test_runs_give_what_reading_line_by_line_gives(
    pieces: list[bytes], last_end: bool, read_lines: int
) -> None:
    data = b"".join(pieces)
    if not last_end and data.endswith(b"\n"):
        data = data[:-1]  # the last line without its line end
    problems: list[AcomProblem] = []
    scanner = Scanner(LAYOUT, WANTED, read_lines=read_lines)  # runs often cut by reads
    got = list(scanner.scan(io.BytesIO(data), problems.append))
    rows, bad = reference(data)
    assert got == rows
    assert sorted({p.line for p in problems}) == bad
    assert scanner.bad_lines == len(bad)
    assert scanner.lines == len(data.splitlines())
    assert scanner.digest.hexdigest() == hashlib.sha256(data).hexdigest()


def test_a_run_is_cut_by_a_line_of_another_length() -> None:
    data = good(1) + good(2) + b"short\n" + good(3) + good(4) + good(5)
    runs = [
        (first, offset, stride, len(list(rows)))
        for first, offset, stride, rows in Scanner(LAYOUT, WANTED).runs(
            io.BytesIO(data), lambda p: None
        )
    ]
    width = LAYOUT.line_width + 1
    # the first line is taken alone (a shape not seen yet), then runs resume
    assert runs == [
        (1, 0, width, 1),
        (2, width, width, 1),
        (4, 2 * width + 6, width, 3),
    ]


def test_a_line_too_long_to_hold_is_reported_once_and_skipped() -> None:
    data = good(1) + b"x" * 200_000 + b"\n" + good(2) + b"y" * 100_000
    problems: list[AcomProblem] = []
    scanner = Scanner(LAYOUT, WANTED, read_lines=3)
    got = [number for number, _, _ in scanner.scan(io.BytesIO(data), problems.append)]
    assert got == [1, 3]
    assert [(p.line, p.field) for p in problems] == [(2, "line"), (4, "line")]
    assert problems[0].problem == "is longer than 65536 characters"
    assert scanner.lines == 4 and scanner.bad_lines == 2
