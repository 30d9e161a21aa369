"""junit.xml: each budget and the verdict as a test case, so CI shows which budget broke and by how much.

In a self-test (`expect: fail`) an exceeded budget is the expected outcome, so it is reported as passing
(with the observation in system-out); the verdict test case then says whether the self-test passed.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

from drills.checks.result_model import BudgetRow
from drills.report.fmt import limit_text, meaning, observed_text
from drills.report.quote import cut_note, within_section
from drills.report.view import ReportView

# What XML 1.0 cannot hold (most C0 controls, lone surrogates, U+FFFE/FFFF): a CI parser rejects the whole file.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def budget_message(budget: BudgetRow) -> str:
    """'observed X vs limit Y (detail)' with units, as in the HTML table."""
    msg = f"observed {observed_text(budget)} vs limit {limit_text(budget)}"
    return f"{msg} ({budget['detail']})" if budget["detail"] else msg


def render_junit(view: ReportView) -> str:
    """The JUnit XML document for one run."""
    r, v = view.result, view.verdict
    classname = view.scenario_name
    suite = ET.Element("testsuite", name=classname)
    stamp = _timestamp(r["started"])
    if stamp is not None:
        suite.set("timestamp", stamp)
    suite.set("hostname", socket.gethostname())
    props = ET.SubElement(suite, "properties")
    for key, value in (("run_id", r["run_id"]), ("seed", r["seed"]), ("verdict", r["verdict"]),
                       ("expected", r["expected"]), ("self_test_passed", r["self_test_passed"])):
        if value is not None:
            ET.SubElement(props, "property", name=key, value=str(value))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    self_test = v.expected == "fail"
    for b in r["budgets"]:
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=classname, name=b["name"], time="0")
        message = budget_message(b)
        if b["passed"] is None:
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=f"unknown: {b['detail'] or 'not enough evidence'}")
        elif b["passed"] is False and not self_test:
            counts["failures"] += 1
            el = ET.SubElement(case, "failure", message=message, type="budget_exceeded")
            what = meaning(b["metric"])
            el.text = f"{message}\n{b['metric']}: {what}" if what else message
        else:
            out = ET.SubElement(case, "system-out")
            out.text = ("exceeded as the self-test expects: " if b["passed"] is False else "held: ") + message
    counts["tests"] += 1
    case = ET.SubElement(suite, "testcase", classname=classname, name="verdict",
                         time=f"{r['duration_s']:.3f}")
    text = f"{v.title}: {v.explanation}"
    if v.verdict in ("error", "none", "aborted"):
        counts["errors"] += 1
        reasons = "; ".join(r["verdict_reasons"])
        el = ET.SubElement(case, "error", message=f"{v.title}" + (f": {reasons}" if reasons else ""), type=v.verdict)
        notes, left, left_bytes = within_section(view.notes)
        el.text = "\n".join([text] + notes + ([cut_note(left, left_bytes, "notes")] if left else []))
    elif not v.ok:
        counts["failures"] += 1
        el = ET.SubElement(case, "failure", message=v.title, type=v.verdict)
        el.text = text
    else:
        ET.SubElement(case, "system-out").text = text
    for k, n in counts.items():
        suite.set(k, str(n))
    suite.set("time", f"{r['duration_s']:.3f}")
    root = ET.Element("testsuites", {"name": "drills", **{k: str(n) for k, n in counts.items()}})
    root.set("time", suite.get("time", "0"))
    root.append(suite)
    ET.indent(root)
    xml = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + _NOT_XML.sub("\ufffd", xml) + "\n"


def _timestamp(started: float | None) -> str | None:
    """The run's start for JUnit; None for a stamp no calendar holds (a damaged result.json)."""
    if started is None:
        return None
    try:
        return datetime.fromtimestamp(started, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return None
