"""The regression gate of `drill compare BASELINE RUN --fail-on-regression`: did RUN get worse than BASELINE?

Three things make a regression, each said in words: a gated key number (drills/report/keynumbers.py) worse
by more than its tolerance, a budget that held in the baseline and fails now, and a verdict that was good
(CI green) and is not any more. A number known on one side only is listed as unknown, not as a regression:
a run that lost its numbers has lost its verdict too, and the verdict rule catches it.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from typing import Any

from drills.report.fmt import limit_text, observed_text
from drills.report.headline import describe
from drills.report.keynumbers import GATED, KeyNumber, Tolerance, default_tolerance, worse_by
from drills.scenario.metrics import METRICS

_EPS = 1e-9
_TOLERANCE = re.compile(r"(?P<metric>[a-z0-9_]+)=(?P<value>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<percent>%?)")


def tolerance_arg(text: str) -> tuple[str, Tolerance]:
    """`--tolerance METRIC=VALUE` (in the metric's unit; a ratio as a fraction, 0.02) or `METRIC=PERCENT%` (of
    the baseline); anything else is a usage error that says what was expected."""
    found = _TOLERANCE.fullmatch(text.strip())
    if found is None:
        raise argparse.ArgumentTypeError(f"expected METRIC=VALUE or METRIC=PERCENT%, e.g. failover_s=3 or "
                                         f"latency_p99_ms=20%, got {text!r}")
    metric, value = found["metric"], float(found["value"])
    if metric not in GATED:
        raise argparse.ArgumentTypeError(f"{metric!r} is not a gated metric; expected one of {', '.join(GATED)}")
    if found["percent"]:
        return metric, Tolerance(relative=value / 100)
    if METRICS[metric].unit == "ratio" and value > 1:
        raise argparse.ArgumentTypeError(f"{metric} is a ratio: its tolerance is a fraction (0.02 is 2 points) or "
                                         f"a percentage of the baseline ({value:g}%), got {value:g}")
    return metric, Tolerance(absolute=value)


def _number_check(key: KeyNumber, a: Mapping[str, Any], b: Mapping[str, Any], tol: Tolerance) -> dict | None:
    va, vb = key.value(a), key.value(b)
    if va is None and vb is None:
        return None
    row: dict[str, Any] = {"key": key.key, "metric": key.metric, "label": key.label, "baseline": va, "value": vb,
                           "worse_by": None, "allowed": None, "tolerance": tol.text(key.metric)}
    if va is None or vb is None:
        side = "the baseline" if vb is None else "this run"
        return {**row, "status": "unknown", "text": f"{key.label}: known only in {side} ({key.shown(va)} → "
                                                    f"{key.shown(vb)})"}
    worse, allowed = worse_by(key, va, vb), tol.allowed(va)
    status = ("regression" if worse > allowed + _EPS else "same" if abs(worse) < _EPS
              else "better" if worse < 0 else "within")
    how = {"regression": f"worse by {key.shown_change(worse)}, more than the tolerance ({tol.text(key.metric)})",
           "within": f"worse by {key.shown_change(worse)}, within the tolerance ({tol.text(key.metric)})",
           "better": f"better by {key.shown_change(-worse)}", "same": "the same"}[status]
    return {**row, "worse_by": round(worse, 9), "allowed": round(allowed, 9), "status": status,
            "text": f"{key.label} {key.shown(va)} → {key.shown(vb)}: {how}"}


def _budget_checks(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict]:
    """Budgets of the same name on both sides whose result changed; pass → fail is a regression."""
    before = {x.get("name"): x for x in a.get("budgets") or [] if isinstance(x, Mapping)}
    out = []
    for y in b.get("budgets") or []:
        if not isinstance(y, Mapping) or y.get("name") not in before:
            continue
        was, now = before[y.get("name")].get("passed"), y.get("passed")
        if was is True and now is False:
            status, text = "regression", (f"budget {y.get('name')} held in the baseline and fails now "
                                          f"(observed {observed_text(y)}, limit {limit_text(y)})")
        elif was is False and now is True:
            status, text = "fixed", f"budget {y.get('name')} failed in the baseline and holds now"
        else:
            continue
        out.append({"budget": y.get("name"), "passed_before": was, "passed_now": now, "status": status,
                    "text": text})
    return out


def gate(a: Mapping[str, Any], b: Mapping[str, Any], tolerances: Mapping[str, Tolerance] | None = None) -> dict:
    """The gate's findings for results `a` (baseline) and `b` (this run) as plain data (what `--json` prints):
    `regressed`, the `regressions` in words, every number `checks`ed, the `budgets` that changed, the
    `verdict`s and the `tolerances` used."""
    tolerances = dict(tolerances or {})
    used = {m: tolerances.get(m) or default_tolerance(m) for m in GATED}
    checks = [row for key in GATED.values() if (row := _number_check(key, a, b, used[key.metric])) is not None]
    budgets = _budget_checks(a, b)
    va, vb = describe(a), describe(b)
    verdict = {"baseline": va.verdict, "run": vb.verdict, "baseline_ok": va.ok, "run_ok": vb.ok,
               "status": "regression" if va.ok and not vb.ok else "same" if va.ok == vb.ok else "fixed"}
    regressions = [r["text"] for r in checks if r["status"] == "regression"]
    regressions += [r["text"] for r in budgets if r["status"] == "regression"]
    if verdict["status"] == "regression":
        regressions.append(f"verdict {va.title} in the baseline, {vb.title} now")
    return {"regressed": bool(regressions), "regressions": regressions, "checks": checks, "budgets": budgets,
            "verdict": verdict, "tolerances": {m: t.text(m) for m, t in used.items()},
            "tolerances_given": sorted(tolerances)}


def gate_lines(g: Mapping[str, Any]) -> list[str]:
    """The gate's outcome in a few lines for a terminal (plain text; the caller makes it safe)."""
    regressions = list(g.get("regressions") or [])
    if not regressions:
        unknown = sum(1 for r in g.get("checks") or [] if r.get("status") == "unknown")
        return ["no regression: every gated number is within its tolerance"
                + (f" ({unknown} known on one side only)" if unknown else "")]
    return [f"{len(regressions)} regression(s) against the baseline:"] + [f"  - {r}" for r in regressions]
