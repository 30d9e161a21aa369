"""What is wrong with a run's result.json, in words, so no reader is told "missing" about a corrupt file.

Missing means the run did not reach its checks (`drill report` judges and writes it); corrupt means the file
is there but is not JSON, not an object, or not a result (and says where): it is left as it is, and the
report shows the recorded files judged again. The runs index reads only the headline (quick with many runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from drills.checks.result_model import ResultHeadline
from drills.checks.typed_json import conform
from drills.report.quote import clip
from drills.rundir import files
from drills.rundir.tolerant import Problems, read_json


@dataclass(frozen=True)
class ResultFile:
    headline: ResultHeadline | None
    missing: bool = False
    problem: str | None = None      # None: readable; else 'result.json is missing…' / 'result.json is corrupt: …'
    document: dict | None = None    # the whole document when its headline reads (the trend picks numbers in it)


def read_result_file(run_dir: Path) -> ResultFile:
    """result.json's headline and what is wrong with it (as JSON, or in its headline); never raises. Damage
    deeper in the document is found by the full read (drills.checks.stored), which words it likewise."""
    problems = Problems()
    doc = read_json(Path(run_dir) / files.RESULT, problems)
    if doc is None:
        if files.RESULT in problems.missing_files:
            return ResultFile(None, True, f"{files.RESULT} is missing: the run did not reach its checks")
        why = "; ".join(d.removeprefix(f"{files.RESULT}: ").removesuffix("; ignored") for d in problems.damaged)
        if why.startswith("cannot be read"):   # there, but not readable (permissions): not corrupt
            return ResultFile(None, problem=clip(f"{files.RESULT} {why}"))
        return ResultFile(None, problem=_corrupt(why or "it cannot be read"))
    if not isinstance(doc, dict):
        return ResultFile(None, problem=_corrupt("not a JSON object"))
    headline, notes = conform(ResultHeadline, doc)
    if headline is None:
        return ResultFile(None, problem=_corrupt(notes[-1] if notes else "not a result"))
    return ResultFile(headline, document=doc)


def _corrupt(why: str) -> str:
    return clip(f"{files.RESULT} is corrupt: {why}")
