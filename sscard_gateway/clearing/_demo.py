"""The end of the demo day: the switch's clearing file, clearing, reconciliation.

Why here: ``make demo`` runs a day through the lab
(:func:`~sscard_gateway.sim.lab.open_lab`, :func:`~sscard_gateway.sim.day.run_day`);
closing that day shows the whole of DOMAIN.md §6 at work. The switch
simulator writes its ``IND<YYMMDD>01ACOM`` file from its record of the day,
the gateway's journal is cleared (cross-region totals, net settlement) and
reconciled against that file, and both summaries come back as text. The
lab's type is only named for the type checker: this module does not import
the simulators.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ClearingError
from ._acom import write_acom
from ._clearing import clear
from ._reconcile import reconcile
from ._reports import (
    clearing_summary,
    reconciliation_summary,
    write_clearing_reports,
    write_reconciliation_reports,
)
from ._store import ReconciliationStore

if TYPE_CHECKING:
    from ..sim.lab import Lab

__all__ = ["LAB_REGIONS", "clearing_demo"]

#: Display names of the lab's regions, for the chart.
LAB_REGIONS = {"110105": "Beijing Chaoyang", "310104": "Shanghai Xuhui"}


def clearing_demo(
    lab: Lab,
    folder: str | os.PathLike[str],
    *,
    settlement_date: str | None = None,
    now: float | None = None,
) -> str:
    """Close the lab's day: write the ACOM file, clear, reconcile, report.

    Call it at the end of the day, with the lab still open (it reads the
    lab's journal and the switch simulator's records). It blocks while it
    runs (a lab day is small); from Trio, ``trio.to_thread.run_sync`` keeps
    the loop free.

    Args:
        lab: the running lab.
        folder: where the ACOM file, ``reconciliation.db`` and the
            ``reports/`` folder are written.
        settlement_date: ``YYYYMMDD``; by default the latest date in the
            lab's journal (today's).
        now: epoch seconds for the stored results (the wall clock by default).

    Returns:
        The clearing summary and the reconciliation summary, as text.

    Raises:
        ClearingError: the lab's journal is empty, or a file cannot be written.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    if settlement_date is None:
        dates = {r.settlement_date for r in lab.journal.transactions()}
        if not dates:
            raise ClearingError("the lab's journal is empty: nothing to clear")
        settlement_date = max(dates)
    acom = write_acom(lab.switch.records.values(), out, settlement_date=settlement_date)
    reports = out / "reports"
    clearing = clear(lab.journal, settlement_date)
    write_clearing_reports(clearing, reports, labels=LAB_REGIONS)
    with ReconciliationStore(out / "reconciliation.db") as store:
        reconciliation = reconcile(
            lab.journal,
            acom,
            settlement_date,
            store=store,
            now=time.time() if now is None else now,
        )
        write_reconciliation_reports(reconciliation, store, reports)
    return (
        f"UnionPay's clearing file (switch simulator): {acom.name}\n\n"
        + clearing_summary(clearing)
        + "\n\n"
        + reconciliation_summary(reconciliation)
        + f"\n\nreports in {reports}"
    )
