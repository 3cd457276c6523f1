"""Reading and writing UnionPay's acquirer clearing file (``IND<YYMMDD>01ACOM``).

Why a reader that goes on (DOMAIN.md §6): the file is UnionPay's word on
what it cleared, and one bad line must not stop a day's reconciliation.
Each bad line is reported with its line number, the field and the problem
(:class:`AcomProblem`, never the value: it may be a PAN), and the good
lines are read on.

How it stays fast on a million lines: see :mod:`._acom_scan`.

The writer formats lines from the layout, for the switch simulator's
record of the day (:func:`write_acom`). The file carries the PAN in clear,
as UnionPay's does: it is the switch's file, not ours; nothing derived from
it here (problems, ``repr``, reports) shows more than the masked PAN.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Protocol

import attrs

from ..errors import ClearingError
from ..ids import mask_pan
from ._acom_layout import AcomLayout, load_acom_layout
from ._acom_scan import AcomProblem, Scanner
from ._rules import match_key

__all__ = [
    "AcomProblem",
    "AcomReader",
    "AcomRecord",
    "SwitchRecordLike",
    "read_acom",
    "write_acom",
    "write_acom_lines",
]


@attrs.frozen(kw_only=True, repr=False)
class AcomRecord:
    """One good line: the values of its fields, padding removed.

    ``repr`` shows the match key, amount and masked PAN only.

    Attributes:
        line: the line number (1-based).
        values: every field's text by name (the PAN in clear, as in the file).
        settles: whether the line settles, by the layout's rules.
    """

    line: int
    values: Mapping[str, str]
    settles: bool

    def __getitem__(self, name: str) -> str:
        """A field's text."""
        return self.values[name]

    @property
    def amount(self) -> int:
        """The amount in fen."""
        return int(self.values["amount"])

    @property
    def match_key(self) -> str:
        """RRN + F7 + STAN + acquirer (:func:`~sscard_gateway.clearing.match_key`)."""
        v = self.values
        return match_key(v["rrn"], v["transmission_time"], v["stan"], v["acquirer"])

    @property
    def pan_masked(self) -> str:
        """The PAN, masked (first 6 / last 4)."""
        return mask_pan(self.values["pan"])

    def __repr__(self) -> str:
        v = self.values
        return (
            f"AcomRecord(line={self.line}, match_key={self.match_key!r}, mti={v['mti']!r}, "
            f"amount={self.amount}, response_code={v['response_code']!r}, "
            f"pan={self.pan_masked!r})"
        )


class AcomReader:
    """Iterate the good records of a clearing file; problems are collected.

    Args:
        path: the file.
        layout: the layout (``specs/formats/cups_acom.toml`` by default).
        max_problems: problems kept in :attr:`problems` (all are counted
            in :attr:`problem_count`).

    Attributes (complete once iterated):
        lines: lines read; bad_lines: lines with a problem.
        problems: the first ``max_problems`` problems; problem_count: all.
        sha256: hex digest of the file's bytes.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        layout: AcomLayout | None = None,
        max_problems: int = 1000,
    ) -> None:
        self.path = Path(path)
        self.layout = layout or load_acom_layout()
        self.max_problems = max_problems
        self.problems: list[AcomProblem] = []
        self.problem_count = 0
        self.lines = 0
        self.bad_lines = 0
        self.sha256 = ""

    def _report(self, problem: AcomProblem) -> None:
        self.problem_count += 1
        if len(self.problems) < self.max_problems:
            self.problems.append(problem)

    def __iter__(self) -> Iterator[AcomRecord]:
        """Read the file once, yielding its good records in order.

        Raises:
            ClearingError: the file cannot be opened or read.
        """
        layout = self.layout
        names = tuple(f.name for f in layout.fields)
        scanner = Scanner(layout, names)
        for number, _offset, raw in _scan_file(self.path, scanner, self._report):
            values = {
                name: v.decode("ascii").rstrip(" ") for name, v in zip(names, raw, strict=True)
            }
            if values["amount"].strip() == "":
                values["amount"] = "0"
            settles = layout.settles(
                values["mti"], values["processing_code"], values["response_code"]
            )
            yield AcomRecord(line=number, values=values, settles=settles)
        self.lines, self.bad_lines = scanner.lines, scanner.bad_lines
        self.sha256 = scanner.digest.hexdigest()


def _scan_file(
    path: Path, scanner: Scanner, report: Callable[[AcomProblem], None]
) -> Iterator[tuple[int, int, tuple[bytes, ...]]]:
    try:
        with path.open("rb", buffering=1 << 20) as stream:
            yield from scanner.scan(stream, report)
    except OSError as exc:
        raise ClearingError(f"cannot read the clearing file {path.name}: {exc.strerror}") from None


def read_acom(
    path: str | os.PathLike[str], *, layout: AcomLayout | None = None
) -> tuple[list[AcomRecord], list[AcomProblem]]:
    """Read a whole (small) clearing file: its good records and every problem.

    Args:
        path: the file.
        layout: the layout (the shipped one by default).

    Returns:
        The records in file order, and the problems.

    Raises:
        ClearingError: the file cannot be read.
    """
    reader = AcomReader(path, layout=layout, max_problems=1 << 62)
    records = list(reader)
    return records, reader.problems


def write_acom_lines(
    rows: Iterable[Mapping[str, str | int | None]],
    path: str | os.PathLike[str],
    *,
    layout: AcomLayout | None = None,
) -> int:
    """Write lines from field values (the file appears whole, or not at all).

    Args:
        rows: values by field name (see :meth:`AcomLayout.format_line`).
        path: the file to write.
        layout: the layout (the shipped one by default).

    Returns:
        The number of lines written.

    Raises:
        AcomFormatError: a value does not fit its field (nothing is written).
        ClearingError: the file cannot be written.
    """
    layout = layout or load_acom_layout()
    target = Path(path)
    temporary = target.with_name(target.name + ".partial")
    count = 0
    try:
        with temporary.open("w", encoding="ascii", newline="") as out:
            for row in rows:
                out.write(layout.format_line(row))
                count += 1
        temporary.replace(target)
    except OSError as exc:
        raise ClearingError(f"cannot write {target.name}: {exc.strerror}") from None
    finally:
        if temporary.exists():
            temporary.unlink()
    return count


class SwitchRecordLike(Protocol):
    """What :func:`write_acom` reads of a switch record (``sim.SwitchRecord``)."""

    @property
    def mti(self) -> str: ...
    @property
    def processing_code(self) -> str: ...
    @property
    def pan(self) -> str: ...
    @property
    def amount(self) -> int: ...
    @property
    def stan(self) -> str: ...
    @property
    def transmission_time(self) -> str: ...
    @property
    def acquirer(self) -> str: ...
    @property
    def forwarder(self) -> str: ...
    @property
    def rrn(self) -> str: ...
    @property
    def authorization(self) -> str: ...
    @property
    def response_code(self) -> str: ...
    @property
    def terminal(self) -> str: ...
    @property
    def merchant(self) -> str: ...
    @property
    def reversed(self) -> bool: ...


def write_acom(
    records: Iterable[SwitchRecordLike],
    path: str | os.PathLike[str],
    *,
    settlement_date: str,
    layout: AcomLayout | None = None,
    receiving: str = "00010000",
    switching_fee: Callable[[SwitchRecordLike], int] | None = None,
) -> Path:
    """Write the switch's clearing file of a day from its records.

    Only what UnionPay clears is written: approved, unreversed financial
    records that are not inquiries (the layout's ``[settlement]`` rules).
    Declined ones, inquiries and reversed originals (with their reversals)
    are left out. Give it ``SwitchSimulator.records.values()`` or
    ``SwitchSimulator.approved_records()``.

    Args:
        records: the switch's records of the day.
        path: the file, or a folder to write ``IND<YYMMDD>01ACOM`` into.
        settlement_date: ``YYYYMMDD``, for the file name.
        layout: the layout (the shipped one by default).
        receiving: the receiving institution written on every line.
        switching_fee: fen per record (negative: a debit ``D`` to the
            acquirer); none by default.

    Returns:
        The path written.

    Raises:
        AcomFormatError: a record's value does not fit its field.
        ClearingError: the file cannot be written.
    """
    layout = layout or load_acom_layout()
    target = Path(path)
    if target.is_dir():
        target = target / layout.file_name(settlement_date)

    def rows() -> Iterator[dict[str, str | int | None]]:
        for r in records:
            if r.reversed or not layout.settles(r.mti, r.processing_code, r.response_code):
                continue
            yield {
                "acquirer": r.acquirer,
                "forwarder": r.forwarder,
                "stan": r.stan,
                "transmission_time": r.transmission_time,
                "pan": r.pan,
                "amount": r.amount,
                "mti": r.mti,
                "processing_code": r.processing_code,
                "terminal": r.terminal,
                "merchant": r.merchant,
                "rrn": r.rrn,
                "authorization": r.authorization,
                "receiving": receiving,
                "response_code": r.response_code,
                "switching_fee": switching_fee(r) if switching_fee else 0,
            }

    write_acom_lines(rows(), target, layout=layout)
    return target
