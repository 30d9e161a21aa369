"""A run in a few facts, for machines and CI: `drill run --json`, the job summary, the chat webhook.

The facts are read from result.json (the checks' numbers, never recomputed) and worded by the same helpers as
the console (drills.report.fmt, drills.report.headline), so the job summary says what the terminal says.
Where a link to the run is wanted, a CI run's URL is used when there is one (the run directory is on the
runner's disk, not the reader's), else the local path of report.html.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from drills.checks.result_model import DATA_LOSS_COUNTS
from drills.checks.verdict import exit_code
from drills.report.fmt import as_float, dict_at, limit_text, observed_text, passed_word, percent
from drills.report.headline import describe
from drills.report.quote import clip
from drills.report.resultfile import read_result_file
from drills.rundir import files
from drills.rundir.tolerant import Problems, read_json

HEADLINE = ("success_ratio", "longest_outage_s", "failover_s", "recovery_s")
_CELL_MAX = 300   # characters of one table cell: a long `detail` must not make the summary unreadable


def run_digest(run_dir: Path, code: int | None = None) -> dict[str, Any]:
    """The run's verdict, budgets (limit and observed), headline numbers and paths as plain JSON data.

    `code` is the exit code the drill returned; without it, the one its result implies. Never raises on a
    damaged or missing result.json: `problem` says what is wrong and the verdict is null."""
    run_dir = Path(run_dir)
    state = read_result_file(run_dir)
    doc = read_json(run_dir / files.RESULT, Problems())   # even a damaged one: say what it does say
    result: Mapping[str, Any] = doc if isinstance(doc, Mapping) else {}
    shown = describe(result)
    budgets = [b for b in result.get("budgets") or [] if isinstance(b, Mapping)]
    code = int(code) if code is not None else (exit_code(result) if result else 3)
    return {
        "scenario": result.get("scenario") or run_dir.name,
        "verdict": result.get("verdict"),
        "expected": shown.expected,
        "ok": code == 0,           # what CI acts on: 0 is a pass, or a self-test that failed as expected
        "title": shown.title,
        "exit_code": code,
        "reasons": [str(r) for r in result.get("verdict_reasons") or []],
        "budgets": [{
            "name": b.get("name"), "metric": b.get("metric"), "op": b.get("op"), "phase": b.get("phase"),
            "limit": b.get("limit"), "observed": b.get("observed"), "passed": b.get("passed"),
            "censored": bool(b.get("censored")), "limit_text": limit_text(b), "observed_text": observed_text(b),
        } for b in budgets],
        "availability": {k: dict_at(result, "availability").get(k) for k in HEADLINE},
        "audit": {k: v for k, v in dict_at(result, "audit").items() if k in ("acknowledged",) + DATA_LOSS_COUNTS},
        "run_dir": str(run_dir),
        "report": str(run_dir / files.REPORT),
        "result": str(run_dir / files.RESULT),
        "problem": state.problem,
    }


def where(digest: Mapping[str, Any], ci_url: str | None) -> str:
    """Where a reader finds the run: the CI run's page when there is one, else the local report."""
    return ci_url or str(digest.get("report"))


def markdown(digests: Iterable[Mapping[str, Any]], ci_url: str | None, title: str = "drills") -> str:
    """The job summary: one section per run with its verdict, its budgets (measured against the limit) and
    where to find the report."""
    runs = list(digests)
    failed = sum(1 for d in runs if not d.get("ok"))
    head = f"## {_md(title)}: " + (f"{failed} of {len(runs)} drill(s) failed" if failed
                                   else f"{len(runs)} drill(s) passed")
    out = [head, ""]
    for d in runs:
        mark = "✅" if d.get("ok") else "❌"
        out += [f"### {mark} {_md(d.get('scenario'))}: {_md(d.get('title'))}", ""]
        out.append(f"verdict `{_code(d.get('verdict'))}` (expected `{_code(d.get('expected'))}`), "
                   f"exit code {_md(d.get('exit_code'))}")
        out += [f"- {_md(reason)}" for reason in d.get("reasons") or []]
        if d.get("problem"):
            out.append(f"- {_md(d['problem'])}")
        out.append("")
        budgets = d.get("budgets") or []
        if budgets:
            out += ["| budget | limit | measured | result |", "|---|---:|---:|---|"]
            out += [f"| {_md(b.get('name'))} | {_md(b.get('limit_text'))} | {_md(b.get('observed_text'))} | "
                    f"{'**FAIL**' if b.get('passed') is False else passed_word(b.get('passed'))} |" for b in budgets]
            out.append("")
        a = d.get("availability") or {}
        if any(v is not None for v in a.values()):
            out += [f"success {_md(percent(a.get('success_ratio')))} · longest outage "
                    f"{_md(_seconds(a.get('longest_outage_s')))} · failover {_md(_seconds(a.get('failover_s')))} · "
                    f"recovery {_md(_seconds(a.get('recovery_s')))}", ""]
        out += [f"run: {_md(d.get('run_dir'))}" + (f" · [CI run]({ci_url})" if ci_url else
                                                    f" · report: {_md(d.get('report'))}"), ""]
    return "\n".join(out)


def _seconds(value: object) -> str:
    f = as_float(value)
    return "—" if f is None else f"{f:.3g} s"


_SPECIAL = re.compile(r"([\\`*_\[\]{}#+!|~])")
_SPACE = re.compile(r"\s+")


def _md(value: object) -> str:
    """Text from result.json as inert Markdown on one line: no markup, no HTML, no table cell break."""
    text = _SPACE.sub(" ", clip(str(value if value is not None else "—"), _CELL_MAX)).strip()
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text)


def _code(value: object) -> str:
    """A short word shown as code: only letters, digits and `_-`."""
    return re.sub(r"[^A-Za-z0-9_-]", "?", str(value))[:40]
