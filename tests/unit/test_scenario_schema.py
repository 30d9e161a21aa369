"""drills/scenario.schema.json agrees with the validator and the model, so editors and `drill validate` agree."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import jsonschema
import pytest
import yaml

from drills.scenario import SCHEMA_PATH, model
from drills.scenario.fault_types import FAULTS
from drills.scenario.schema import render
from drills.scenario.validate import PHASE_KEYS, SLO_KEYS, TOP_KEYS
from drills.scenario.validate_budgets import ABORT_KEYS, BUDGET_KEYS
from drills.scenario.validate_faults import AFTER_KEYS, FAULT_KEYS, TARGET_KEYS
from drills.scenario.validate_load import LOAD_KEYS, PROFILE_KEYS, STAGE_KEYS
from drills.scenario.validate_stack import ATTACH_KEYS, REFERENCE_KEYS, STACK_KEYS

CORPUS = Path(__file__).resolve().parent / "scenario_corpus"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _props(*path: str) -> dict:
    node = SCHEMA
    for step in path:
        node = node[step]
        if "anyOf" in node and "properties" not in node:  # nullable wrapper
            node = node["anyOf"][0]
    return node["properties"]


def schema_errors(data: object) -> list[str]:
    return [e.message for e in VALIDATOR.iter_errors(data)]


def test_the_checked_in_schema_is_current():
    assert SCHEMA_PATH.read_text() == render(), "run: .venv/bin/python -m drills.scenario.schema --write"


def test_it_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("keys, fields_of, ignore", [
    (TOP_KEYS, model.Scenario, {"path"}),
    (REFERENCE_KEYS, model.ReferenceStack, set()),
    (ATTACH_KEYS, model.AttachedStack, set()),
    (PHASE_KEYS, model.Phases, set()),
    (LOAD_KEYS, model.LoadSection, set()),
    (PROFILE_KEYS, model.LoadProfile, set()),
    (STAGE_KEYS, model.Stage, set()),
    (FAULT_KEYS, model.Fault, {"source"}),
    (TARGET_KEYS, model.Target, set()),
    (AFTER_KEYS, model.After, set()),
    (BUDGET_KEYS, model.Budget, {"source"}),
    (ABORT_KEYS, model.AbortCondition, set()),
    (SLO_KEYS, model.SLO, set()),
])
def test_validator_keys_are_exactly_the_model_fields(keys, fields_of, ignore):
    """A field added to model.py without a validator (and schema) entry fails here."""
    assert set(keys) == {f.name for f in fields(fields_of)} - ignore


def test_schema_keys_match_the_validator():
    assert set(SCHEMA["properties"]) == set(TOP_KEYS)
    assert set(_props("properties", "stack")) == set(STACK_KEYS)
    assert set(_props("properties", "stack", "properties", "reference")) == set(REFERENCE_KEYS)
    assert set(_props("properties", "stack", "properties", "attach")) == set(ATTACH_KEYS)
    assert set(_props("properties", "phases")) == set(PHASE_KEYS)
    assert set(_props("properties", "load")) == set(LOAD_KEYS)
    assert set(_props("properties", "load", "properties", "profile")) == set(PROFILE_KEYS)
    assert set(_props("properties", "load", "properties", "profile", "properties", "stages", "items")) == \
        set(STAGE_KEYS)
    fault = SCHEMA["properties"]["faults"]["items"]
    assert set(fault["properties"]) == set(FAULT_KEYS)
    assert set(fault["properties"]["target"]["properties"]) == set(TARGET_KEYS)
    assert set(fault["properties"]["after"]["oneOf"][1]["properties"]) == set(AFTER_KEYS)
    assert set(SCHEMA["$defs"]["budget"]["properties"]) == set(BUDGET_KEYS)
    assert set(SCHEMA["properties"]["abort"]["items"]["properties"]) == set(ABORT_KEYS)
    assert set(_props("properties", "slo")) == set(SLO_KEYS)
    for name, spec in FAULTS.items():
        assert set(SCHEMA["$defs"][f"params_{name}"]["properties"]) == set(spec.params), name


def test_schema_enums_match_the_model():
    fault = SCHEMA["properties"]["faults"]["items"]["properties"]
    assert tuple(fault["type"]["enum"]) == tuple(FAULTS)
    role = fault["target"]["properties"]["role"]   # an attached system's own roles too; the reference stack's only
    assert tuple(role["anyOf"][0]["enum"]) == model.TARGET_ROLES
    assert tuple(SCHEMA["else"]["properties"]["faults"]["items"]["properties"]["target"]["properties"]["role"]
                 ["enum"]) == model.TARGET_ROLES
    budget = SCHEMA["$defs"]["budget"]["properties"]
    assert tuple(budget["metric"]["enum"]) == model.BUDGET_METRICS
    assert tuple(budget["phase"]["enum"]) == model.PHASES
    assert tuple(budget["op"]["enum"]) == model.OPERATIONS


@pytest.mark.parametrize("path", sorted((CORPUS / "good").glob("*.yaml")), ids=lambda p: p.name)
def test_valid_scenarios_pass_the_schema(path: Path):
    assert schema_errors(yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("name", [
    "unknown_key", "wrong_type", "negative_duration", "unknown_fault_type", "unknown_role", "missing_at_after",
    "budget_wrong_direction", "attach_non_loopback", "toxic_with_target", "stack_both", "unknown_metric",
    "unknown_op", "arrival_rate_without_rate", "param_out_of_range", "unknown_param", "several_errors",
    "limit_nan_inf", "limit_timeouts", "limit_latency", "limit_bytes_and_rates", "duration_signs",
    "duration_unicode_digits", "attach_userinfo", "attach_strict_urls", "signal_refused", "locustfile_absolute",
    "locustfile_escape",
])
def test_bad_scenarios_the_schema_can_see_fail_it_too(name: str):
    data = yaml.safe_load((CORPUS / "bad" / f"{name}.yaml").read_text())
    assert schema_errors(data)


@pytest.mark.parametrize("where", [
    (), ("stack", "reference"), ("phases",), ("load",), ("load", "profile"), ("slo",),
])
def test_unknown_keys_fail_the_schema(where: tuple[str, ...]):
    data: dict = {"name": "x", "stack": {"reference": {}}, "phases": {}, "load": {"profile": {}}, "slo": {}}
    node = data
    for step in where:
        node = node[step]
    node["surprise"] = 1
    assert any("surprise" in e for e in schema_errors(data))


@pytest.mark.parametrize("fault", [
    {"type": "kill", "target": {"role": "leader"}, "at": 1, "typo": 1},
    {"type": "kill", "target": {"role": "leader", "typo": 1}, "at": 1},
    {"type": "kill", "target": {"role": "leader"}, "at": 1, "params": {"typo": 1}},
    {"type": "kill", "target": {"role": "leader"}, "after": {"fault": "x", "typo": 1}},
    {"type": "latency", "link": "api1_db", "at": 1, "params": {"latency_ms": 5, "typo": 1}},
])
def test_unknown_fault_keys_fail_the_schema(fault: dict):
    assert schema_errors({"name": "x", "faults": [fault]})


def test_schema_durations_follow_the_validator():
    def ok(value: object) -> bool:
        return not schema_errors({"name": "x", "phases": {"warmup": value}})

    assert all(ok(v) for v in (0, 1.5, "30s", "2m", "500ms", "1m30s", "1m 30s", "1h2m3s4ms", "90", 86400))
    assert not any(ok(v) for v in (-1, "", "ms", "30x", "2m30", "fast", True, "+5s", "+-5s", "٣٠s", "1_0s", 86401))


def test_schema_urls_and_locustfiles_follow_the_validator():
    def url_ok(url: str) -> bool:
        return not schema_errors({"name": "x", "stack": {"attach": {"api_url": url}}})

    assert url_ok("http://127.0.0.1:8080") and url_ok("http://localhost:8474/api/")
    assert not any(url_ok(u) for u in ("http://localhost:8474@evil.com", "http://localhost:８４７４",
                                       "http://127.0.0.1:80 ", "http://127.0.0.1:80/?x=1", "http://127.0.0.1:80/ä"))

    def locust_ok(path: str) -> bool:
        return not schema_errors({"name": "x", "load": {"locustfile": path}})

    assert all(locust_ok(p) for p in ("builtin", "shop.py", "dir/shop.py", "a..b.py"))
    assert not any(locust_ok(p) for p in ("/etc/passwd", "~/x.py", "../x.py", "a/../x.py", "a/..", "x\x00.py"))


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_scenarios_pass_the_schema(path: Path):
    assert schema_errors(yaml.safe_load(path.read_text())) == []
