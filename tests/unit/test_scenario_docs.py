"""docs/scenario-format.md documents every key, fault type, parameter and metric, and its examples are valid."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from drills.scenario import default_budgets, scenario_from_dict
from drills.scenario.fault_types import FAULTS
from drills.scenario.metrics import ABORT_METRICS, ABORT_PROBES, METRICS
from drills.scenario.validate import PHASE_KEYS, SLO_KEYS, TOP_KEYS
from drills.scenario.validate_budgets import ABORT_KEYS, BUDGET_KEYS
from drills.scenario.validate_faults import AFTER_KEYS, FAULT_KEYS, TARGET_KEYS
from drills.scenario.validate_load import LOAD_KEYS, PROFILE_KEYS, STAGE_KEYS
from drills.scenario.validate_stack import ATTACH_KEYS, REFERENCE_KEYS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "scenario-format.md").read_text()
YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC, re.S)


@pytest.mark.parametrize("name", sorted({
    *TOP_KEYS, *REFERENCE_KEYS, *ATTACH_KEYS, *PHASE_KEYS, *LOAD_KEYS, *PROFILE_KEYS, *STAGE_KEYS, *FAULT_KEYS,
    *TARGET_KEYS, *AFTER_KEYS, *BUDGET_KEYS, *ABORT_KEYS, *SLO_KEYS, *FAULTS, *METRICS, *ABORT_METRICS,
    *ABORT_PROBES, *(p for spec in FAULTS.values() for p in spec.params),
}))
def test_every_name_is_documented(name: str):
    assert f"`{name}" in DOC or f".{name}`" in DOC, f"{name} is not in docs/scenario-format.md"


def test_every_default_budget_is_documented():
    for budget in default_budgets():
        assert f"`{budget.display}`" in DOC


@pytest.mark.parametrize("index", range(len(YAML_BLOCKS)))
def test_yaml_examples_in_the_doc_are_valid(index: int):
    data = yaml.safe_load(YAML_BLOCKS[index])
    if data is None:  # the editor modeline alone
        return
    assert scenario_from_dict(data).name
