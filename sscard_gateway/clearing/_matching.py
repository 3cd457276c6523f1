"""Matching the two sides of a reconciliation, one partition at a time.

Why this shape (DOMAIN.md §6 reconciliation practice): both sides were
split by a hash of the match key into the same partitions
(:mod:`._partition`). Each partition's file lines go into a dictionary by
key, then the partition's journal records are looked up in it: found is a
pair (clean, or an amount or status mismatch), not found is short (or a
record that does not settle); what is left in the dictionary is long.
Memory holds one partition at a time. A clean pair is only counted; only
discrepancies become objects.

A key that occurs more than once on a side (UnionPay lists a line twice)
is paired in order: the n-th journal record with the n-th line; the extra
ones are long or short. The n-th finding of one key is stored under
``KEY#n`` (a clean pair is not stored, so it takes no number).

Each discrepancy is completed with details for people (the file line's
MTI, processing code, response code and masked PAN, read back by offset;
the journal record's MTI, processing code and masked PAN) and given its
adjustment (:mod:`._results`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..ids import format_yuan, mask_pan
from ..store import Journal
from ._acom_layout import AcomLayout
from ._partition import PARTITIONS, read_chunks, read_partition
from ._results import Action, Adjustment, Discrepancy, Outcome

__all__ = ["Matcher"]

Line = tuple[bytes, int, bool, int, int]
"""A file line: key, amount, settles, line number, byte offset."""
Entry = tuple[bytes, str, int, bool, str]
"""A journal record: key, transaction key, cash part, settles, reason."""
Finding = tuple[Discrepancy, Adjustment]


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
    """

    def __init__(
        self, folder: Path, journal: Journal, acom: Path, layout: AcomLayout, settlement_date: str
    ) -> None:
        self.folder, self.journal, self.acom = folder, journal, acom
        self.layout, self.date = layout, settlement_date
        self.counts: Counter[str] = Counter()
        self.not_settling: Counter[str] = Counter()
        self.adjustments_total = 0
        self.claims_total = 0
        self._wanted = tuple(
            f for f in layout.fields if f.name in ("mti", "processing_code", "response_code", "pan")
        )

    def findings(self) -> Iterator[Finding]:
        """Every discrepancy with its adjustment (a generator: consume it once)."""
        matched = 0
        folder = self.folder
        with self.acom.open("rb") as stream:
            for partition in range(PARTITIONS):
                lines: dict[bytes, Line] = {}
                extra: dict[bytes, list[Line]] = {}  # a key's second and later lines (rare)
                for chunk in read_chunks(folder, "f", partition):
                    for record in chunk:
                        first = lines.setdefault(record[0], record)
                        if first is not record:
                            extra.setdefault(record[0], []).append(record)
                used: dict[bytes, int] = {}  # occurrences of a key among findings
                for chunk in (
                    c for part in ("j", "jb") for c in read_chunks(folder, part, partition)
                ):
                    for entry in chunk:
                        key = entry[0]
                        line = lines.pop(key, None)
                        if line is not None:
                            if extra and key in extra:
                                more = extra[key]
                                lines[key] = more.pop(0)
                                if not more:
                                    del extra[key]
                            if line[2] == entry[3] and (not line[2] or line[1] == entry[2]):
                                matched += 1  # clean: counted, nothing more
                                continue
                        n = used[key] = used.get(key, 0) + 1
                        found = self._finding(stream, _store_key(key, n), line, entry)
                        if found is not None:
                            yield found
                leftovers = [*lines.values(), *(x for more in extra.values() for x in more)]
                for line in leftovers:
                    n = used[line[0]] = used.get(line[0], 0) + 1
                    found = self._finding(stream, _store_key(line[0], n), line, None)
                    if found is not None:
                        yield found
        self.counts[Outcome.MATCHED.value] += matched
        yield from self._next_day_reversals()

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
            values.update(file_line=line[3], file_amount=line[1])
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
        c3 = (r for part in ("c3", "c3b") for r in read_partition(self.folder, part, 0))
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
