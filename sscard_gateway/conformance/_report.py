"""The conformance report: one outcome per case, as text for people and JUnit XML for CI.

Why two forms: an integrator reads the text report to see what their peer
got wrong (each failure says which step, what was expected and what came
back), and their CI server reads JUnit XML, the one test result format
every CI system imports. A case that could not be run says why ("not
applicable"), so nothing passes silently. No report line holds card data:
steps are described by MTI, STAN and response code only.
"""

from __future__ import annotations

import enum
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime
from pathlib import Path

import attrs

__all__ = ["CaseResult", "Outcome", "Report"]


class Outcome(enum.Enum):
    """How a case ended."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_APPLICABLE = "not applicable"
    ERROR = "error"


@attrs.frozen(kw_only=True)
class CaseResult:
    """The outcome of one case.

    Attributes:
        case_id: the case's id.
        title: its title.
        kind: ``offline`` or ``live``.
        outcome: passed, failed, not applicable or error.
        reason: why it failed, was not applicable or could not run ("" when passed).
        duration: seconds it took.
        log: what was sent and received, one line per message (no card data),
            and notes such as a check the kit could not observe.
    """

    case_id: str
    title: str
    kind: str
    outcome: Outcome
    reason: str = ""
    duration: float = 0.0
    log: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class Report:
    """Every case's outcome and what was tested.

    Attributes:
        results: one per case, in the order run.
        role: what the peer was (``switch``, ``gateway``, ``center``).
        dialect: the dialect spoken.
        peer: the peer's address as given ("" when only offline cases ran).
        started: when the run began (local time).
        duration: seconds the run took.
    """

    results: tuple[CaseResult, ...]
    role: str
    dialect: str
    peer: str = ""
    started: datetime = attrs.field(factory=datetime.now)
    duration: float = 0.0

    def counts(self) -> dict[Outcome, int]:
        """How many cases ended with each outcome."""
        counted = Counter(result.outcome for result in self.results)
        return {outcome: counted.get(outcome, 0) for outcome in Outcome}

    @property
    def ok(self) -> bool:
        """True when no case failed or ended in error (not applicable is not a failure)."""
        return all(r.outcome in (Outcome.PASSED, Outcome.NOT_APPLICABLE) for r in self.results)

    def result(self, case_id: str) -> CaseResult:
        """The result of the case ``case_id``.

        Raises:
            KeyError: no such case in this report.
        """
        for result in self.results:
            if result.case_id == case_id:
                return result
        raise KeyError(case_id)

    def text(self, *, verbose: bool = False) -> str:
        """The report for people: a header, one line per case, failures explained.

        Args:
            verbose: include every case's message log, not only failures'.

        Returns:
            The text, ending with a newline.
        """
        counts = self.counts()
        lines = [
            "sscard-gateway conformance report",
            f"peer: {self.peer or '(none: offline only)'}  role: {self.role}"
            f"  dialect: {self.dialect}",
            f"started: {self.started.isoformat(timespec='seconds')}"
            f"  duration: {self.duration:.2f} s",
            "",
        ]
        width = max((len(r.case_id) for r in self.results), default=10)
        for r in self.results:
            mark = r.outcome.value.upper()
            line = f"{mark:<15} {r.case_id:<{width}}  {r.duration:6.2f} s  {r.title}"
            lines.append(line.rstrip())
            if r.reason:
                lines.append(f"{'':15} {'':<{width}}  -> {r.reason}")
            if r.log and (verbose or r.outcome in (Outcome.FAILED, Outcome.ERROR)):
                lines.extend(f"{'':15} {'':<{width}}     {entry}" for entry in r.log)
        lines.append("")
        summary = ", ".join(f"{n} {o.value}" for o, n in counts.items())
        lines.append(f"{len(self.results)} cases: {summary}")
        lines.append("RESULT: " + ("PASS" if self.ok else "FAIL"))
        return "\n".join(lines) + "\n"

    def junit_xml(self) -> str:
        """The report as JUnit XML (``testsuites/testsuite/testcase``).

        Failed cases carry ``<failure>``, errors ``<error>``, not applicable
        cases ``<skipped>`` with the reason; the message log goes to
        ``<system-out>``.

        Returns:
            The XML document as a string, with an XML declaration.
        """
        counts = self.counts()
        totals = {
            "tests": str(len(self.results)),
            "failures": str(counts[Outcome.FAILED]),
            "errors": str(counts[Outcome.ERROR]),
            "skipped": str(counts[Outcome.NOT_APPLICABLE]),
            "time": f"{self.duration:.3f}",
        }
        suites = ET.Element("testsuites", {"name": "sscard-conformance", **totals})
        suite = ET.SubElement(
            suites,
            "testsuite",
            {
                "name": f"sscard-conformance.{self.role}",
                **totals,
                "timestamp": self.started.isoformat(timespec="seconds"),
            },
        )
        properties = ET.SubElement(suite, "properties")
        for name, value in (("peer", self.peer), ("role", self.role), ("dialect", self.dialect)):
            ET.SubElement(properties, "property", name=name, value=value)
        for r in self.results:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"sscard_conformance.{r.kind}",
                name=r.case_id,
                time=f"{r.duration:.3f}",
            )
            if r.outcome is Outcome.FAILED:
                ET.SubElement(case, "failure", message=r.reason, type="failure").text = r.title
            elif r.outcome is Outcome.ERROR:
                ET.SubElement(case, "error", message=r.reason, type="error").text = r.title
            elif r.outcome is Outcome.NOT_APPLICABLE:
                ET.SubElement(case, "skipped", message=r.reason)
            if r.log:
                ET.SubElement(case, "system-out").text = "\n".join(r.log)
        ET.indent(suites)
        body = ET.tostring(suites, encoding="unicode")
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"

    def write(self, *, text: str | Path | None = None, junit: str | Path | None = None) -> None:
        """Write the text report and/or the JUnit XML to files (UTF-8).

        Raises:
            OSError: a file cannot be written.
        """
        if text is not None:
            Path(text).write_text(self.text(), encoding="utf-8")
        if junit is not None:
            Path(junit).write_text(self.junit_xml(), encoding="utf-8")
