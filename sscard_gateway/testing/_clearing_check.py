"""The day's clearing judged: nets sum to zero, and the switch's clearing file reconciles.

Why a check of its own: money agreement (:mod:`._judge`) compares what the
peers hold with what the requesters were told; clearing is what the
regions actually pay each other the next morning. A journal whose records
disagree with the switch's — a settlement date taken from the wrong
clock, an amount journaled other than sent, a reversal the journal missed
— shows here as a long, short or mismatched item even when every debit is
accounted for. For each settlement date the journal holds, the day is
cleared from the journal (the net positions must sum to zero) and
reconciled against the clearing file the switch writes from its ledger
(``IND<YYMMDD>01ACOM``, the entries it holds with that date's F15). Two
differences are the day's facts, not faults: a short item for an advice the
switch refused for good (it sits in the exception queue for an operator),
and a long item for an original whose reversal the switch refused ``C3``
because the original's date was cut over before the reversal reached it
(reconciliation's adjustment claims it back).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from ..clearing import Outcome, ReconciliationStore, clear, match_key, reconcile, write_acom
from ..sim import Ledger
from ..store import Journal
from ._judge import Violation, refused_advices

__all__ = ["day_clears"]

#: what a ``C3``-refused reversal leaves: the file holds an original the journal reversed
_CLAIMED = frozenset({Outcome.LONG, Outcome.STATUS_MISMATCH})


def day_clears(
    journal: Journal,
    ledger: Ledger,
    folder: Path,
    *,
    upstream: str = "cups",
) -> list[Violation]:
    """Clear and reconcile every settlement date of the journal (module docs).

    Args:
        journal: the gateway's journal.
        ledger: the switch's ledger of the day.
        folder: where the clearing files and the reconciliation store go.
        upstream: the switch's link name.

    Returns:
        The violations found.
    """
    found: list[Violation] = []
    dates = sorted({r.settlement_date for r in journal.transactions() if r.settlement_date})
    held = ledger.held()
    known = {d[4:] for d in dates}
    for entry in held:
        if entry.settlement_date and entry.settlement_date not in known:
            found.append(
                Violation(
                    "clearing",
                    f"the switch holds {entry.rrn} on {entry.settlement_date},"
                    " a date the journal has no record of",
                )
            )
    refused = _refused_advices(journal, upstream)
    claimed = {  # refused C3 at the switch: held in the file, reversed in the journal
        match_key(e.rrn, e.transmission_time, e.stan, e.acquirer)
        for e in held
        if ledger.effects(e.key).next_day
    }
    with ReconciliationStore(folder / "reconciliation.db") as store:
        for date in dates:
            report = clear(journal, date)
            if not report.balanced:
                found.append(Violation("clearing", f"{date}: the nets sum to {report.net_sum}"))
            day = [e for e in held if e.settlement_date == date[4:]]
            acom = write_acom(day, folder, settlement_date=date)
            result = reconcile(
                journal, acom, date, store=store, now=time.time(), parallel=False, workdir=folder
            )
            counts: Counter[Outcome] = Counter(
                d.outcome
                for d in store.discrepancies(date)
                if d.outcome is not Outcome.NEXT_DAY_REVERSAL
                and not (d.outcome in _CLAIMED and d.match_key in claimed)
            )
            counts[Outcome.SHORT] -= refused.get(date, 0)
            if result.malformed_lines:
                found.append(Violation("reconciliation", f"{date}: the file did not read back"))
            for outcome, count in sorted(counts.items(), key=lambda kv: kv[0].value):
                if count > 0:
                    found.append(Violation("reconciliation", f"{date}: {count} {outcome.value}"))
    return found


def _refused_advices(journal: Journal, upstream: str) -> dict[str, int]:
    """Advices to the switch in the exception queue, counted by their settlement date."""
    counts: dict[str, int] = {}
    for item in refused_advices(journal):
        record = journal.get_transaction(item.transaction_key)
        if item.destination == upstream and record is not None:
            date = record.settlement_date or ""
            counts[date] = counts.get(date, 0) + 1
    return counts
