"""Rewrite the files derived from the registries and the result model, or name the stale ones.

Derived: drills/scenario.schema.json (whole, drills/scenario/schema.py, from the scenario model and the budget
metric registry drills/scenario/metrics.py), drills/checks/result.schema.json (whole, from the result model
drills/checks/result_model.py; its `$defs.budgetMetric` from the metric registry) and the metric and limits
tables of docs/scenario-format.md (between their GENERATED markers, the second from drills/scenario/limits.py;
the rest of that file is written by hand), and the exported-metrics table of docs/dashboards.md (from
drills/checks/exported.py).

    python -m drills.checks.regenerate           # exit 1 and name every stale file
    python -m drills.checks.regenerate --write   # rewrite them
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from drills.checks import result_model
from drills.checks.exported import with_exported_table
from drills.checks.typed_json import schema
from drills.scenario import schema as scenario_schema
from drills.scenario.limits import with_limits_table
from drills.scenario.metrics import METRICS, MetricSpec

COMMAND = "python -m drills.checks.regenerate --write"
ROOT = Path(__file__).resolve().parents[2]
RESULT_SCHEMA = Path(__file__).resolve().with_name("result.schema.json")
SCENARIO_DOC = ROOT / "docs" / "scenario-format.md"
DASHBOARDS_DOC = ROOT / "docs" / "dashboards.md"   # its table of exported metrics, from drills/checks/exported.py

_NOTE = f"GENERATED from drills/scenario/metrics.py by `{COMMAND}`: do not edit by hand"
_BEGIN = f"<!-- BEGIN {_NOTE} -->"
_END = "<!-- END GENERATED metric table -->"
_TABLE = re.compile(r"^<!-- BEGIN GENERATED .*?^<!-- END GENERATED metric table -->$", re.M | re.S)
_ENUM = re.compile(r'^(?P<indent> *)"budgetMetric": \{[^{}]*\}', re.M)


class StaleMarkersError(Exception):
    """A hand-written file lost the markers its generated part sits between: put them back."""


def _row(m: MetricSpec) -> str:
    notes = [m.meaning]
    if m.ops:
        notes.append("`op`: " + ", ".join(f"`{op}`" for op in m.ops))
    if m.whole_run:
        notes.append("whole run: `phase` is `all`")
    if m.per_alert:
        notes.append("`alert`: one expected alert (absent: every one)")
    text = "; ".join(notes).replace("|", "\\|")
    return f"| `{m.name}` | {m.bound} | {m.unit} | {m.kind.replace('_', ' ')} | {text} |"


def metric_table() -> str:
    """The Markdown table of every budget metric, with its markers."""
    rows = [_BEGIN, "| metric | bound | unit | kind | meaning |", "|---|---|---|---|---|"]
    rows += [_row(m) for m in METRICS.values()]
    rows += ["", "*kind*: while the load generator was saturated, a failed availability or alerting budget only "
                 "makes the verdict inconclusive; a failed data-safety budget fails the run whatever the generator "
                 "did."]
    return "\n".join(rows + [_END])


def with_metric_table(doc: str) -> str:
    """`doc` with its generated metric table replaced by the registry's."""
    if not _TABLE.search(doc):
        raise StaleMarkersError(f"{SCENARIO_DOC}: no BEGIN/END GENERATED metric table markers")
    return _TABLE.sub(lambda _: metric_table(), doc, count=1)


def metric_enum(indent: str = "    ") -> str:
    """result.schema.json's `budgetMetric` definition (no braces inside: the writer finds it by them)."""
    names = ", ".join(json.dumps(name) for name in METRICS)
    inner = indent + "  "
    enum = textwrap.fill(names, width=118, initial_indent=f'{inner}"enum": [', subsequent_indent=inner + " " * 9,
                         break_on_hyphens=False)
    return (f'{indent}"budgetMetric": {{\n'
            f'{inner}"$comment": {json.dumps(_NOTE)},\n'
            f'{inner}"description": "a budget metric; what each measures: docs/scenario-format.md#budgets",\n'
            f"{enum}]\n"
            f"{indent}}}")


def with_metric_enum(text: str) -> str:
    """result.schema.json's text with its `budgetMetric` enum replaced by the registry's."""
    found = _ENUM.search(text)
    if found is None:
        raise StaleMarkersError(f'{RESULT_SCHEMA}: no "budgetMetric" definition in $defs')
    return text[:found.start()] + metric_enum(found.group("indent")) + text[found.end():]


WIDTH = 118


def _dump(value: object, indent: int, used: int) -> str:
    """JSON with each value on one line where it fits in WIDTH, lists of plain values wrapped like prose."""
    one = json.dumps(value, ensure_ascii=False)
    if used + len(one) <= WIDTH or not isinstance(value, (dict, list)) or not value:
        return one
    inner = " " * (indent + 2)
    if isinstance(value, dict):
        parts = []
        for k, v in value.items():
            key = json.dumps(k, ensure_ascii=False) + ": "
            parts.append(inner + key + _dump(v, indent + 2, len(inner) + len(key) + 1))
        return "{\n" + ",\n".join(parts) + "\n" + " " * indent + "}"
    if not any(isinstance(v, (dict, list)) for v in value):
        lines: list[str] = []
        line, start = "[", used - 1          # `start`: the column the current line begins at
        for text in (json.dumps(v, ensure_ascii=False) for v in value):
            if line.strip() not in ("[", "") and start + len(line) + len(text) + 3 > WIDTH:
                lines.append(line + ",")
                line, start = " " * used, 0
            elif line.strip() not in ("[", ""):
                line += ", "
            line += text
        return "\n".join(lines + [line + "]"])
    parts = [inner + _dump(v, indent + 2, len(inner) + 1) for v in value]
    return "[\n" + ",\n".join(parts) + "\n" + " " * indent + "]"


def result_schema() -> str:
    """drills/checks/result.schema.json's text: the schema of result_model.Result."""
    doc = schema(result_model.Result, result_model.SCHEMA_HEADER, result_model.OPEN_TYPES)
    return with_metric_enum(_dump(doc, 0, 0) + "\n")


def derived() -> dict[Path, Callable[[str], str]]:
    """Each derived file and how its expected text follows from its current one."""
    out: dict[Path, Callable[[str], str]] = {
        scenario_schema.SCHEMA_FILE: lambda _: scenario_schema.render(),
        RESULT_SCHEMA: lambda _: result_schema(),
    }
    if SCENARIO_DOC.exists():  # a source checkout (an installed package has no docs)
        out[SCENARIO_DOC] = lambda doc: with_limits_table(with_metric_table(doc))
    if DASHBOARDS_DOC.exists():
        out[DASHBOARDS_DOC] = with_exported_table
    return out


def stale() -> list[Path]:
    """The derived files whose text is not what the registry makes of them."""
    out = []
    for path, expected in derived().items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if expected(current) != current:
            out.append(path)
    return out


def write() -> list[Path]:
    """Rewrite every stale derived file; returns them."""
    changed = stale()
    for path in changed:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        path.write_text(derived()[path](current), encoding="utf-8")
    return changed


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        for path in write():
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    paths = stale()
    for path in paths:
        print(f"stale: {path.relative_to(ROOT)} (run `{COMMAND}`)")
    return 1 if paths else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
