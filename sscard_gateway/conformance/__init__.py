"""The protocol conformance kit: cases as data, a runner against any live peer, reports.

Cases live in ``specs/conformance/*.toml`` (:func:`load_cases`): offline
ones check this installation's codec and cryptography against the published
vectors; live ones connect to a switch, a gateway or a center and check
sign-on, echo, approvals and declines, duplicates (``94``), bad MACs
(``A0``), malformed frames (``30``, the link staying up), the upstream
timeout and its reversal, and key exchange with check values.
:func:`run_cases` runs them and returns a :class:`Report` (text and JUnit
XML). See ``docs/conformance.md``.
"""

from ..sim.responder import CenterResponder as CenterResponder
from ._cases import Case as Case
from ._cases import CaseFile as CaseFile
from ._cases import Expect as Expect
from ._cases import FieldExpectation as FieldExpectation
from ._cases import Kind as Kind
from ._cases import KitKeys as KitKeys
from ._cases import Role as Role
from ._cases import Step as Step
from ._cases import Template as Template
from ._controls import SwitchSimulatorControl as SwitchSimulatorControl
from ._controls import UpstreamControl as UpstreamControl
from ._loader import default_cases_dir as default_cases_dir
from ._loader import load_cases as load_cases
from ._report import CaseResult as CaseResult
from ._report import Outcome as Outcome
from ._report import Report as Report
from ._runner import DEFAULT_DIALECTS as DEFAULT_DIALECTS
from ._runner import Peer as Peer
from ._runner import RunSettings as RunSettings
from ._runner import run_cases as run_cases
from ._runner import run_conformance as run_conformance
from ._runner import select_cases as select_cases

__all__ = [
    "DEFAULT_DIALECTS",
    "Case",
    "CaseFile",
    "CaseResult",
    "CenterResponder",
    "Expect",
    "FieldExpectation",
    "Kind",
    "KitKeys",
    "Outcome",
    "Peer",
    "Report",
    "Role",
    "RunSettings",
    "Step",
    "SwitchSimulatorControl",
    "Template",
    "UpstreamControl",
    "default_cases_dir",
    "load_cases",
    "run_cases",
    "run_conformance",
    "select_cases",
]
