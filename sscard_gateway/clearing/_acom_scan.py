"""Scanning a clearing file: validating its lines and cutting their fields, fast.

Why (DOMAIN.md §6): UnionPay's file has a million fixed-width lines a day,
and each one must be checked against the layout (a bad line is reported
with its number, field and problem, never its value) before its fields
are used.

How: a line is valid or not by the *class* of each of its characters
(digit, letter, ``C``/``D``, space, the separator, other printable,
other), so the scanner translates lines to their class strings
(``bytes.translate``) and remembers the class strings ("shapes") already
found valid. Only a line of a new shape is matched against the layout's
regular expression, and only a bad line is examined field by field.

Lines are read in runs: in a block read from the file, the lines that all
have the layout's width (a line end every ``stride`` bytes, found with one
extended slice) are translated together, checked together
(``set.issuperset`` over their shapes, cut with one ``struct``) and cut
together (``struct.iter_unpack``), all in C. A line that breaks the run
(another length, a new shape, a bad line) is taken alone, and the run
starts again after it. A line too long to be one (64 KiB without a line
end) is reported and skipped to its end without being held.
"""

from __future__ import annotations

import hashlib
import operator
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

import attrs

from ._acom_layout import AcomField, AcomLayout

__all__ = ["AcomProblem", "Scanner"]

_MAX_SHAPES = 65_536
_READ_LINES = 2048  # lines of the layout's width read at a time
_MAX_LINE = 65_536  # a longer line is reported without being held
_TOO_LONG = f"is longer than {_MAX_LINE} characters"


@attrs.frozen(kw_only=True)
class AcomProblem:
    """A bad line of a clearing file: where and what, never the value.

    Attributes:
        line: the line number (1-based).
        field: the layout's field name, or ``"line"`` for the whole line.
        problem: what is wrong.
    """

    line: int
    field: str
    problem: str


def _shape_table(separator: str) -> bytes:
    table = bytearray(b"!" * 256)
    for i in range(32, 127):
        table[i] = ord("x")
    for c in b"0123456789":
        table[c] = ord("9")
    for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz":
        table[c] = ord("A")
    for c in b"CD \r\n" + separator.encode("ascii"):
        table[c] = c
    return bytes(table)


def _cutter(fields: tuple[AcomField, ...]) -> struct.Struct:
    fmt, pos = "", 0
    for f in sorted(fields, key=lambda f: f.offset):
        if f.offset > pos:
            fmt += f"{f.offset - pos}x"
        fmt += f"{f.width}s"
        pos = f.offset + f.width
    return struct.Struct(fmt)


class Scanner:
    """Validates lines and cuts the wanted fields (shared by reader and reconciliation).

    Lines are read in runs (:meth:`runs`): where the lines are all of the
    layout's width (the usual case), a whole run is checked and cut with a
    few C-level calls; a line that breaks the run (another length, a shape
    not seen yet, a bad line) is taken alone.

    Args:
        layout: the file's layout.
        wanted: the fields to cut, in the order wanted.
        read_lines: how many lines' worth of bytes to read at a time.
    """

    def __init__(
        self, layout: AcomLayout, wanted: tuple[str, ...], *, read_lines: int = _READ_LINES
    ) -> None:
        self.layout = layout
        self.read_lines = read_lines
        self.fields = tuple(layout.by_name[n] for n in wanted)
        order = sorted(range(len(wanted)), key=lambda i: self.fields[i].offset)
        restore = tuple(order.index(i) for i in range(len(wanted)))
        self._reorder = (
            operator.itemgetter(*restore)
            if len(restore) > 1 and restore != tuple(range(len(restore)))
            else None
        )
        self._cut = _cutter(self.fields)
        self._table = _shape_table(layout.separator)
        self._shapes: set[tuple[bytes]] = set()
        self._structs: dict[int, tuple[struct.Struct, struct.Struct]] = {}
        self.lines = 0
        self.bad_lines = 0
        self.digest = hashlib.sha256()

    def scan(
        self, stream: BinaryIO, report: Callable[[AcomProblem], None]
    ) -> Iterator[tuple[int, int, tuple[bytes, ...]]]:
        """Yield ``(line, offset, values)`` of good lines; report the bad ones."""
        for number, offset, stride, rows in self.runs(stream, report):
            for values in rows:
                yield number, offset, values
                number += 1
                offset += stride

    def runs(
        self, stream: BinaryIO, report: Callable[[AcomProblem], None]
    ) -> Iterator[tuple[int, int, int, Iterable[tuple[bytes, ...]]]]:
        """Yield runs of good lines as ``(first line, its offset, stride, rows)``; report bad lines.

        The lines of a run follow each other, ``stride`` bytes each: the
        ``i``-th row is line ``first + i`` at ``offset + i * stride``. Rows
        are the wanted fields' values; consume them before the next run.
        """
        lw = self.layout.line_width
        table, shapes, update = self._table, self._shapes, self.digest.update
        stride = lw + 1
        longest = max(_MAX_LINE, 4 * (lw + 2))
        buf, base, number = b"", 0, 0
        more, overlong = True, False
        while more:
            data = stream.read(self.read_lines * (lw + 2))
            more = bool(data)
            if more:
                update(data)
                buf = buf + data if buf else data
            pos, end = 0, len(buf)
            if overlong:  # the rest of a line too long to hold: up to its end
                nl = buf.find(b"\n")
                pos = end if nl < 0 else nl + 1
                overlong = nl < 0
            while pos < end:
                n = (end - pos) // stride
                aligned = n - len(buf[pos + stride - 1 : pos + n * stride : stride].lstrip(b"\n"))
                limit = pos + 1  # one line alone, unless a run is found
                if aligned:
                    values, shape = self._structs_for(stride)
                    run = buf[pos : pos + aligned * stride]
                    if shapes.issuperset(shape.iter_unpack(run.translate(table))):
                        rows = values.iter_unpack(run)
                        yield (
                            number + 1,
                            base + pos,
                            stride,
                            (rows if self._reorder is None else map(self._reorder, rows)),
                        )
                        number += aligned
                        pos += aligned * stride
                        continue
                    limit = pos + aligned * stride  # a shape not seen: line by line
                while pos < limit:
                    nl = buf.find(b"\n", pos)
                    if nl < 0 and more and end - pos > longest:
                        number += 1  # not held whole: reported, and skipped to its end
                        self.bad_lines += 1
                        report(AcomProblem(line=number, field="line", problem=_TOO_LONG))
                        pos, overlong = end, True
                        break
                    if nl < 0:
                        if more:
                            break  # a part of a line: read on
                        nl = end - 1  # the last line has no line end
                    raw = buf[pos : nl + 1]
                    number += 1
                    line = self._line(raw, number, report)
                    if line is not None:
                        yield number, base + pos, len(raw), (line,)
                        if len(raw) in (lw + 1, lw + 2) and raw.endswith(b"\n"):
                            stride = len(raw)
                    pos = nl + 1
                if pos < limit:
                    break
            buf = buf[pos:]
            base += pos
        self.lines = number

    def _structs_for(self, stride: int) -> tuple[struct.Struct, struct.Struct]:
        found = self._structs.get(stride)
        if found is None:
            cut = self._cut
            values = struct.Struct(f"{cut.format}{stride - cut.size}x")
            found = self._structs[stride] = (values, struct.Struct(f"{stride}s"))
        return found

    def _line(
        self, raw: bytes, number: int, report: Callable[[AcomProblem], None]
    ) -> tuple[bytes, ...] | None:
        shape = (raw.translate(self._table),)
        if shape not in self._shapes:
            if self.layout.line_regex.fullmatch(raw) is None:
                self.bad_lines += 1
                for problem in self.diagnose(raw, number):
                    report(problem)
                return None
            if len(self._shapes) < _MAX_SHAPES:
                self._shapes.add(shape)
        values = self._cut.unpack_from(raw)
        return values if self._reorder is None else self._reorder(values)

    def diagnose(self, raw: bytes, number: int) -> list[AcomProblem]:
        """Every problem of a bad line, field by field."""
        layout = self.layout
        text = raw.rstrip(b"\r\n")
        if not text:
            return [AcomProblem(line=number, field="line", problem="is empty")]
        if len(text) not in (layout.line_width, layout.line_width - 1):
            return [
                AcomProblem(
                    line=number,
                    field="line",
                    problem=f"has {len(text)} characters; the layout needs {layout.line_width}",
                )
            ]
        problems = []
        sep = layout.separator.encode("ascii")
        for f in layout.fields:
            value = text[f.offset : f.offset + f.width]
            if re.fullmatch(f.pattern().encode("ascii"), value) is None:
                problems.append(AcomProblem(line=number, field=f.name, problem=f.problem()))
            after = text[f.offset + f.width : f.offset + f.width + 1]
            if after not in (sep, b"") or (after == b"" and f is not layout.fields[-1]):
                problems.append(
                    AcomProblem(
                        line=number,
                        field=f.name,
                        problem=f"must be followed by the separator {layout.separator!r}",
                    )
                )
        return problems or [
            AcomProblem(line=number, field="line", problem="does not match the layout")
        ]
