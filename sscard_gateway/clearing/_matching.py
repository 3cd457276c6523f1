"""Matching the two sides of a reconciliation, one partition at a time.

Why this shape (DOMAIN.md §6 reconciliation practice): both sides were
split by a hash of the match key into the same partitions
(:mod:`._partition`), each record as ``(key, amount, info)``: the amount in
fen (the file's, or the journal's cash part) when the record settles,
:data:`NOT_SETTLING` when it does not; ``info`` is the file line's number,
or the journal record's transaction key (settling, as UTF-8 bytes) or
``(transaction key, cash part, reason)``.

A clean pair is then simply a key the other side holds with the same
amount, so each partition is paired (:func:`pair`) with a dictionary per
side, in C: every journal key is looked up in the file's
(``map(file.get, keys)``), compared with its own amount
(``map(operator.ne, ...)``) and the odd ones picked out
(``itertools.compress``): short, different or not settling; the same the
other way round gives the file's long or different lines. Only those few
become Python objects and are classified one by one (:class:`Matcher`): a
key on both sides is an amount or status mismatch, a journal-only key is
short (or a record that does not settle), a file-only key is long. Memory
holds one partition at a time. Pairing needs nothing but the partition
files, so the helper process pairs some partitions too
(:mod:`._journal_child`).

A key that occurs more than once on a side (UnionPay lists a line twice)
is paired in order: the n-th journal record with the n-th line; the extra
ones are long or short. The n-th finding of one key is stored under
``KEY#n`` (a clean pair is not stored, so it takes no number). A partition
holding such a key is matched record by record.

Each discrepancy is completed with details for people (the file line's
amount, MTI, processing code, response code and masked PAN, read back by
offset; the journal record's MTI, processing code and masked PAN) and
given its adjustment (:mod:`._results`).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import compress, repeat
from operator import ne
from pathlib import Path
from typing import Any, BinaryIO, Final

from ..ids import format_yuan, mask_pan
from ..store import Journal
from ._acom_layout import AcomLayout
from ._partition import read_columns, read_partition
from ._results import Action, Adjustment, Discrepancy, Outcome

__all__ = ["NOT_SETTLING", "Matcher", "Odd", "Paired", "pair"]

NOT_SETTLING: Final = None
"""The amount of a record that does not settle (both sides)."""
_SETTLES: Final = "settles"
_ABSENT: Final = object()

Line = tuple[bytes, int, bool, int, int]
"""A file line: key, amount (of a settling line), settles, line number, byte offset."""
Entry = tuple[bytes, str, int, bool, str]
"""A journal record: key, transaction key, cash part, settles, reason."""
Finding = tuple[Discrepancy, Adjustment]
Odd = tuple[bytes, int, tuple[Any, int] | None, tuple[Any, Any] | None]
"""Not a clean pair: key, occurrence, the line's (amount, number), the entry's (amount, info)."""
Paired = tuple[int, int, list[Odd]]
"""A partition paired: clean pairs, the file's settled amount, the odd ones."""


def _store_key(key: bytes, occurrence: int) -> str:
    text = key.decode("ascii", "replace")
    return text if occurrence == 1 else f"{text}#{occurrence}"


class Matcher:
    """Joins the partitions and turns discrepancies into findings, counting as it goes.

    Args:
        folder: the work folder holding the partitions.
        journal: for the details of journal records.
        acom: UnionPay's file, for the details of its lines.
        layout: its layout.
        settlement_date: ``YYYYMMDD``.
        runs: the file's runs of lines, ``(first line, offset, stride)`` in
            order (:meth:`~._acom_scan.Scanner.runs`), to find a line by number.
    """

    def __init__(
        self,
        folder: Path,
        journal: Journal,
        acom: Path,
        layout: AcomLayout,
        settlement_date: str,
        runs: list[tuple[int, int, int]],
    ) -> None:
        self.folder, self.journal, self.acom = folder, journal, acom
        self.layout, self.date = layout, settlement_date
        self.counts: Counter[str] = Counter()
        self.not_settling: Counter[str] = Counter()
        self.adjustments_total = 0
        self.claims_total = 0
        self.file_settled = 0
        self._runs = runs
        self._firsts = [r[0] for r in runs]
        self._wanted = tuple(
            f
            for f in layout.fields
            if f.name in ("mti", "processing_code", "response_code", "pan", "amount")
        )

    def findings(self, paired: Iterable[Paired]) -> Iterator[Finding]:
        """Every discrepancy with its adjustment (a generator: consume it once).

        Args:
            paired: every partition's :func:`pair`, in any order.
        """
        with self.acom.open("rb") as stream:
            for matched, settled, odd in paired:
                self.counts[Outcome.MATCHED.value] += matched
                self.file_settled += settled
                for key, occurrence, line, entry in odd:
                    found = self._finding(
                        stream,
                        _store_key(key, occurrence),
                        None if line is None else self._line(key, *line),
                        None if entry is None else _entry(key, *entry),
                    )
                    if found is not None:
                        yield found
        yield from self._next_day_reversals()

    def _line(self, key: bytes, amount: int | None, number: int) -> Line:
        """A file line's record, with its byte offset found from its number."""
        first, offset, stride = self._runs[bisect.bisect_right(self._firsts, number) - 1]
        settles = amount is not NOT_SETTLING
        return (key, amount or 0, settles, number, offset + (number - first) * stride)

    def _finding(
        self, stream: BinaryIO, key: str, line: Line | None, entry: Entry | None
    ) -> Finding | None:
        f_settled = line[1] if line is not None and line[2] else 0
        j_settled = entry[2] if entry is not None and entry[3] else 0
        if line is None:
            assert entry is not None
            if not entry[3]:
                self.not_settling[entry[4]] += 1
                return None
            outcome, action = Outcome.SHORT, Action.CLAIM
            note = "approved in the journal, not in UnionPay's file: claim it or reverse it"
        elif entry is None:
            outcome, action = Outcome.LONG, Action.BOOK_OR_DISPUTE
            note = f"UnionPay cleared line {line[3]}, which the journal does not hold"
        elif line[2] != entry[3]:
            outcome = Outcome.STATUS_MISMATCH
            action = Action.BOOK_OR_DISPUTE if line[2] else Action.CLAIM
            note = (
                f"UnionPay settled it; the journal says {entry[4]}"
                if line[2]
                else "the journal settled it; UnionPay's line does not settle"
            )
        else:
            outcome, action = Outcome.AMOUNT_MISMATCH, Action.ADJUST_AMOUNT
            note = f"journal {format_yuan(entry[2])}, UnionPay {format_yuan(line[1])}"
        self.counts[outcome.value] += 1
        amount = f_settled - j_settled
        self.adjustments_total += amount
        values: dict[str, Any] = {}
        if entry is not None:
            values.update(transaction_key=entry[1], journal_amount=entry[2])
            values["journal_treatment"] = entry[4]
            record = self.journal.get_transaction(entry[1])
            if record is not None:
                values.update(mti=record.mti, processing_code=record.processing_code)
                values["pan_masked"] = record.pan_masked
        if line is not None:
            detail = self._file_detail(stream, line[4])
            values.update(file_line=line[3], file_amount=_fen(detail["amount"]))
            values.update(mti=detail["mti"], processing_code=detail["processing_code"])
            values["file_response_code"] = detail["response_code"]
            values.setdefault("pan_masked", mask_pan(detail["pan"]))
        return (
            Discrepancy(settlement_date=self.date, match_key=key, outcome=outcome, **values),
            Adjustment(
                settlement_date=self.date,
                match_key=key,
                outcome=outcome,
                action=action,
                amount=amount,
                note=note,
            ),
        )

    def _file_detail(self, stream: BinaryIO, offset: int) -> dict[str, str]:
        stream.seek(offset)
        text = stream.readline().decode("ascii", "replace")
        return {f.name: text[f.offset : f.offset + f.width].rstrip(" ") for f in self._wanted}

    def _next_day_reversals(self) -> Iterator[Finding]:
        c3 = (r for part in ("c3", "c3b") for r in read_partition(self.folder, part, 0, 4))
        for tkey, okey, cash, own in c3:
            self.claims_total -= cash
            record = self.journal.get_transaction(tkey)
            yield (
                Discrepancy(
                    settlement_date=self.date,
                    match_key=okey,
                    outcome=Outcome.NEXT_DAY_REVERSAL,
                    transaction_key=tkey,
                    journal_amount=own,
                    journal_treatment=Outcome.NEXT_DAY_REVERSAL.value,
                    mti=record.mti if record else "",
                    processing_code=record.processing_code if record else "",
                    pan_masked=record.pan_masked if record else "",
                ),
                Adjustment(
                    settlement_date=self.date,
                    match_key=okey,
                    outcome=Outcome.NEXT_DAY_REVERSAL,
                    action=Action.CLAIM_REFUND,
                    amount=-cash,
                    note=f"reversed after cutover; UnionPay answers C3: claim "
                    f"{format_yuan(cash)} back",
                ),
            )


def pair(folder: Path, partition: int) -> Paired:
    """Pair one partition's file lines with its journal records.

    Args:
        folder: the work folder.
        partition: which one.

    Returns:
        ``(clean pairs, the file's settled amount, the odd ones)``: each odd
        one is ``(key, occurrence, line, entry)``, with ``line`` the file's
        ``(amount, line number)`` and ``entry`` the journal's ``(amount,
        info)``, either ``None`` when that side has none.
    """
    fk, fa, fn = read_columns(folder, ("f",), partition, 3)
    jk, ja, ji = read_columns(folder, ("j", "jb"), partition, 3)
    settled = sum(filter(None, fa))  # NOT_SETTLING is None
    file, journal = dict(zip(fk, fa, strict=True)), dict(zip(jk, ja, strict=True))
    if len(file) < len(fk) or len(journal) < len(jk):  # a key twice: in order
        matched, odd = _pair_in_order(fk, fa, fn, jk, ja, ji)
        return matched, settled, odd
    # clean pairs, in C: the other side holds the key with the same amount
    absent = repeat(_ABSENT)  # not None: that is NOT_SETTLING
    bad_journal = compress(range(len(jk)), map(ne, map(file.get, jk, absent), ja))
    bad_file = compress(range(len(fk)), map(ne, map(journal.get, fk, absent), fa))
    # the rest differ: a key on both sides is a mismatch, on one side long or short
    lines = {fk[i]: (fa[i], fn[i]) for i in bad_file}
    entries = {jk[j]: (ja[j], ji[j]) for j in bad_journal}
    matched = len(jk) - len(entries)
    odd = [(k, 1, lines.get(k), entries.get(k)) for k in sorted(lines.keys() | entries.keys())]
    return matched, settled, odd


def _pair_in_order(
    fk: list[bytes], fa: list[Any], fn: list[int], jk: list[bytes], ja: list[Any], ji: list[Any]
) -> tuple[int, list[Odd]]:
    """The n-th journal record of a key with its n-th line (a key twice somewhere)."""
    waiting: dict[bytes, list[int]] = {}
    for i, key in enumerate(fk):
        waiting.setdefault(key, []).append(i)
    used: dict[bytes, int] = {}  # occurrences of a key among the odd ones
    odd: list[Odd] = []
    matched = 0
    for j, key in enumerate(jk):
        lines = waiting.get(key)
        line = None
        if lines:
            i = lines.pop(0)
            if fa[i] == ja[j]:
                matched += 1
                continue
            line = (fa[i], fn[i])
        n = used[key] = used.get(key, 0) + 1
        odd.append((key, n, line, (ja[j], ji[j])))
    for key, lines in waiting.items():
        for i in lines:
            n = used[key] = used.get(key, 0) + 1
            odd.append((key, n, (fa[i], fn[i]), None))
    return matched, odd


def _fen(text: str) -> int:
    return int(text) if text.strip() else 0


def _entry(key: bytes, amount: int | None, info: bytes | tuple[str, int, str]) -> Entry:
    if isinstance(info, bytes):  # settles: the amount is its cash part
        return (key, info.decode("utf-8"), amount or 0, True, _SETTLES)
    tkey, cash, reason = info
    return (key, tkey, cash, reason == _SETTLES, reason)
