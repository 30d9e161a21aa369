"""Scenarios: YAML drill files loaded, validated and turned into the typed model (drills.scenario.model).

    load_scenario(path) -> Scenario          raises ScenarioInvalid listing every problem
    validate_files(paths) -> {path: [Issue]} for `drill validate`; empty lists mean valid
    scenario_from_dict(data) -> Scenario     for tests and the pytest plugin

The format is described in docs/scenario-format.md and drills/scenario.schema.json.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from drills.scenario.budgets_default import default_budgets
from drills.scenario.durations import DurationError, parse_duration
from drills.scenario.issues import Issue, ScenarioInvalid
from drills.scenario.loader import load_yaml
from drills.scenario.model import Scenario
from drills.scenario.nodes import from_python
from drills.scenario.validate import build_scenario

__all__ = ["load_scenario", "validate_files", "scenario_from_dict", "check_file", "Issue", "ScenarioInvalid",
           "default_budgets", "parse_duration", "DurationError", "SCHEMA_PATH"]

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "scenario.schema.json"


def check_file(path: str | Path) -> tuple[Scenario | None, list[Issue]]:
    """The scenario and no issues, or None and every issue (a file that is not YAML gives exactly one)."""
    try:
        root = load_yaml(path)
    except ScenarioInvalid as exc:
        return None, exc.issues
    return build_scenario(root, str(path), Path(path))


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario file; raises ScenarioInvalid (exit code 4) listing every problem."""
    scenario, issues = check_file(path)
    if scenario is None:
        raise ScenarioInvalid(issues)
    return scenario


def validate_files(paths: Iterable[str | Path]) -> dict[str, list[Issue]]:
    """Every problem of every file, keyed by the path as given; valid files map to an empty list."""
    return {str(path): check_file(path)[1] for path in paths}


def scenario_from_dict(data: object, file: str = "<dict>", base_dir: str | Path | None = None) -> Scenario:
    """Validate plain data (as yaml.safe_load would give); positions are unknown, paths inside it are not.

    `base_dir` is where a relative locustfile is looked for; without it the file is not checked.
    """
    scenario, issues = build_scenario(from_python(data), file,
                                      base_dir=Path(base_dir) if base_dir is not None else None)
    if scenario is None:
        raise ScenarioInvalid(issues)
    return scenario
