"""The README's scenario example must stay valid: users copy it first."""

import re
from pathlib import Path

import yaml

from drills.scenario import scenario_from_dict

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_scenario_example_validates():
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)
    scenarios = [yaml.safe_load(b) for b in blocks if "faults:" in b]
    assert scenarios, "the README lost its scenario example"
    for data in scenarios:
        scenario = scenario_from_dict(data)
        assert scenario.faults and scenario.budgets


def test_readme_mentions_both_commands_and_every_cli_command():
    text = README.read_text()
    assert "make demo" in text and "make test" in text
    for command in ("drill validate", "drill run", "drill report", "drill compare", "drill clean",
                    "drill stack up", "drill stack status", "drill stack down"):
        assert command in text, command
