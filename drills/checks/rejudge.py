"""`drill judge RUN_DIR [--scenario FILE]`: a stored run judged again, by other budgets or by this drills'
checks, written beside its original judgement and never over it.

History first, verdicts later: the checks are pure functions of the run directory, so a run judged last month
can be judged now with stricter budgets (another scenario file: its budgets, SLO and expectation; the phases
are the ones events.jsonl recorded) or with newer checkers (the recorded scenario.yaml, exactly as `drill
report` judges a crashed run: drills.checks.result.judge_recorded). The new result goes to
rejudged-<UTC stamp>.json (drills.rundir.files.rejudged_name); result.json stays as it was, whatever state it
is in, and its verdict is read back only to say what changed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from drills import __version__
from drills.checks.result import judge, judge_recorded
from drills.checks.result_model import Result, read_headline
from drills.checks.writing import replace_file
from drills.rundir import files
from drills.rundir.tolerant import Problems, read_json
from drills.scenario import load_scenario


@dataclass(frozen=True)
class Recorded:
    """What result.json says, as far as it can be read: its whole document when its headline reads."""

    document: dict | None
    problem: str | None        # why it could not be read (missing, not JSON, not a result), else None


@dataclass(frozen=True)
class Rejudged:
    result: Result
    path: Path                 # the re-judgement's file in the run directory
    recorded: Recorded         # result.json, untouched
    by: str                    # what judged it, in words


def read_recorded(run_dir: Path) -> Recorded:
    """result.json as recorded, for comparison only: never judged, never repaired, never raises."""
    problems = Problems()
    doc = read_json(Path(run_dir) / files.RESULT, problems)
    if doc is None:
        if files.RESULT in problems.missing_files:
            return Recorded(None, f"{files.RESULT} is missing (the run did not reach its checks)")
        return Recorded(None, "; ".join(problems.damaged) or f"{files.RESULT} cannot be read")
    if not isinstance(doc, dict) or read_headline(doc) is None:
        return Recorded(None, f"{files.RESULT} is corrupt: not a result")
    return Recorded(doc, None)


def _stamp(now: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))


def _new_path(run_dir: Path, now: float) -> Path:
    """rejudged-<stamp>.json, with -2, -3 … when that second already has one (never over an earlier one)."""
    base = files.rejudged_name(_stamp(now))
    path = run_dir / base
    n = 1
    while path.exists() or path.is_symlink():
        n += 1
        path = run_dir / base.replace(".json", f"-{n}.json")
    return path


def rejudge(run_dir: Path, scenario_file: Path | None = None, now: float | None = None) -> Rejudged:
    """Judge `run_dir` again — by `scenario_file`'s budgets when given (raises ScenarioInvalid naming the file
    when it is not a valid scenario), else by its recorded scenario.yaml — and write the result beside
    result.json. Raises OSError when the run directory cannot be written."""
    run_dir = Path(run_dir)
    now = time.time() if now is None else now
    if scenario_file is not None:
        scenario = load_scenario(scenario_file)
        result, by = judge(run_dir, scenario), f"the budgets of {scenario_file}"
    else:
        result, by = judge_recorded(run_dir), f"its recorded {files.SCENARIO}"
    result["notes"].insert(0, f"Judged again {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(now))} by "
                              f"drills {__version__} with {by}; the run's original judgement is {files.RESULT}.")
    recorded = read_recorded(run_dir)
    path = _new_path(run_dir, now)
    text = json.dumps(result, indent=1, allow_nan=False) + "\n"
    replace_file(path, lambda f: f.write(text))
    return Rejudged(result, path, recorded, by)


def _word(passed: object) -> str:
    return {True: "pass", False: "FAIL"}.get(passed, "unknown")  # type: ignore[call-overload]


def changes(recorded: Recorded, result: Result) -> list[str]:
    """What the new judgement says differently from result.json, in words: the verdict, then each budget whose
    outcome changed, appeared or went."""
    if recorded.document is None:
        return [f"verdict now {result['verdict']} ({recorded.problem})"]
    doc = recorded.document
    out = []
    if doc.get("verdict") != result["verdict"]:
        out.append(f"verdict {doc.get('verdict')} → {result['verdict']}")
    before = {b.get("name"): b for b in doc.get("budgets") or [] if isinstance(b, dict)}
    now = {b["name"]: b for b in result["budgets"]}
    for name, b in now.items():
        if name not in before:
            out.append(f"budget {name}: new, {_word(b['passed'])}")
        elif before[name].get("passed") != b["passed"]:
            out.append(f"budget {name}: {_word(before[name].get('passed'))} → {_word(b['passed'])}")
    out += [f"budget {name}: no longer judged" for name in before if name not in now]
    return out
