"""Clearing and reconciliation with UnionPay (DOMAIN.md §1, §6).

Cutover decides the settlement date of every transaction; clearing totals a
settlement date from the journal and nets the cross-region debts into one
instruction per region pair; reconciliation matches the journal against
UnionPay's acquirer clearing file (``IND<YYMMDD>01ACOM``). See
``docs/clearing.md``.
"""

from __future__ import annotations

from ._acom import AcomProblem as AcomProblem
from ._acom import AcomReader as AcomReader
from ._acom import AcomRecord as AcomRecord
from ._acom import SwitchRecordLike as SwitchRecordLike
from ._acom import read_acom as read_acom
from ._acom import write_acom as write_acom
from ._acom import write_acom_lines as write_acom_lines
from ._acom_layout import AcomField as AcomField
from ._acom_layout import AcomLayout as AcomLayout
from ._acom_layout import load_acom_layout as load_acom_layout
from ._clearing import ClearingReport as ClearingReport
from ._clearing import MatrixCell as MatrixCell
from ._clearing import NetInstruction as NetInstruction
from ._clearing import Position as Position
from ._clearing import TotalRow as TotalRow
from ._clearing import clear as clear
from ._clearing import net_settlement as net_settlement
from ._cutover import Cutover as Cutover
from ._cutover import CutoverEvent as CutoverEvent
from ._cutover import CutoverState as CutoverState
from ._cutover import cutover_signal as cutover_signal
from ._cutover import resolve_mmdd as resolve_mmdd
from ._demo import LAB_REGIONS as LAB_REGIONS
from ._demo import clearing_demo as clearing_demo
from ._progress import Progress as Progress
from ._progress import StderrProgress as StderrProgress
from ._reconcile import reconcile as reconcile
from ._reports import clearing_summary as clearing_summary
from ._reports import reconciliation_summary as reconciliation_summary
from ._reports import write_clearing_reports as write_clearing_reports
from ._reports import write_reconciliation_reports as write_reconciliation_reports
from ._results import Action as Action
from ._results import Adjustment as Adjustment
from ._results import Discrepancy as Discrepancy
from ._results import Outcome as Outcome
from ._results import ReconciliationReport as ReconciliationReport
from ._results import StoreChanges as StoreChanges
from ._rules import ClearingRules as ClearingRules
from ._rules import RegionLevel as RegionLevel
from ._rules import Treatment as Treatment
from ._rules import bank_match_key as bank_match_key
from ._rules import leg_match_key as leg_match_key
from ._rules import match_key as match_key
from ._rules import treatment as treatment
from ._rules import treatment_of as treatment_of
from ._store import ReconciliationStore as ReconciliationStore
from ._svg import net_settlement_svg as net_settlement_svg

__all__ = [
    "AcomField",
    "AcomLayout",
    "AcomProblem",
    "AcomReader",
    "AcomRecord",
    "Action",
    "Adjustment",
    "ClearingReport",
    "ClearingRules",
    "Cutover",
    "CutoverEvent",
    "CutoverState",
    "Discrepancy",
    "LAB_REGIONS",
    "MatrixCell",
    "NetInstruction",
    "Outcome",
    "Position",
    "Progress",
    "ReconciliationReport",
    "ReconciliationStore",
    "RegionLevel",
    "StderrProgress",
    "StoreChanges",
    "SwitchRecordLike",
    "TotalRow",
    "Treatment",
    "bank_match_key",
    "clear",
    "clearing_demo",
    "clearing_summary",
    "cutover_signal",
    "leg_match_key",
    "load_acom_layout",
    "match_key",
    "net_settlement",
    "net_settlement_svg",
    "read_acom",
    "reconcile",
    "reconciliation_summary",
    "resolve_mmdd",
    "treatment",
    "treatment_of",
    "write_acom",
    "write_acom_lines",
    "write_clearing_reports",
    "write_reconciliation_reports",
]
