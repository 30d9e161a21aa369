"""The LIMITS table: each kind of number has one documented maximum, enforced by the validator at file:line,
stated in the JSON schema and listed in docs/scenario-format.md (generated from the same table)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.scenario import SCHEMA_PATH, ScenarioInvalid, load_scenario, scenario_from_dict
from drills.scenario.fault_types import FAULTS
from drills.scenario.limits import LIMITS, LimitsMarkersMissing, limits_table, with_limits_table
from drills.scenario.model import AttachedStack, ReferenceStack
from drills.scenario.topology import most_nodes, topology_of

DOC = (Path(__file__).resolve().parents[2] / "docs" / "scenario-format.md").read_text()
SCHEMA = json.loads(SCHEMA_PATH.read_text())
DAY, HOUR = 86400.0, 3600.0


def problems(data: dict) -> list[str]:
    try:
        scenario_from_dict(data)
    except ScenarioInvalid as exc:
        return [str(i) for i in exc.issues]
    return []


def fault(**f: object) -> dict:
    return {"name": "l", "phases": {"warmup": 10, "steady": 60}, "faults": [f]}


def test_the_maxima_are_the_documented_ones():
    assert {k: lim.cap() for k, lim in LIMITS.items()} == {
        "duration": DAY, "phase_total": DAY, "timeout": HOUR, "latency": 600.0, "bytes": 2.0 ** 30,
        "bandwidth": 2.0 ** 20, "rate": 10_000.0, "users": 100_000.0, "repetitions": 10_000.0, "targets": 100.0,
        "alert_delay": HOUR, "alerts": 100.0}
    assert LIMITS["latency"].cap("ms") == 600_000 and LIMITS["latency"].cap("us") == 600_000_000
    with pytest.raises(ValueError):
        LIMITS["bytes"].cap("ms")


def test_the_docs_table_is_generated_from_the_table():
    assert with_limits_table(DOC) == DOC, "run: python -m drills.checks.regenerate --write"
    assert all(f"| {kind} | {lim.shown} |" in limits_table() for kind, lim in LIMITS.items())
    with pytest.raises(LimitsMarkersMissing):
        with_limits_table("# no table here\n")


def test_the_schema_states_the_same_maxima():
    defs = SCHEMA["$defs"]
    assert defs["duration"]["anyOf"][0]["maximum"] == DAY
    assert defs["positive_timeout"]["anyOf"][0]["maximum"] == HOUR
    for name, spec in FAULTS.items():
        for param, p in spec.params.items():
            if p.kind in ("int", "number"):
                assert defs[f"params_{name}"]["properties"][param]["maximum"] == p.maximum, (name, param)
    target = SCHEMA["properties"]["faults"]["items"]["properties"]["target"]["properties"]
    assert target["count"]["maximum"] == LIMITS["targets"].cap()


def test_every_numeric_fault_parameter_has_a_maximum():
    assert all(p.maximum is not None for s in FAULTS.values() for p in s.params.values()
               if p.kind in ("int", "number"))


@pytest.mark.parametrize("data, where, words", [
    ({"name": "l", "phases": {"steady": "10000000h"}}, "phases.steady", "at most 24 h"),
    ({"name": "l", "phases": {"warmup": "10h", "steady": "10h", "recovery": "5h"}}, "phases: ", "25 h"),
    ({"name": "l", "load": {"request_timeout": "1e300"}}, "load.request_timeout", "timeout of at most 1 h"),
    ({"name": "l", "stack": {"reference": {"archive_timeout": "2h"}}}, "archive_timeout", "1 h"),
    ({"name": "l", "stack": {"reference": {"backup_interval": "25h"}}}, "backup_interval", "24 h"),
    ({"name": "l", "stack": {"reference": {"maximum_lag_on_failover": 2**31}}}, "maximum_lag", "1 GiB"),
    ({"name": "l", "load": {"profile": {"users": 10**6}}}, "profile.users", "users"),
    ({"name": "l", "load": {"profile": {"spawn_rate": 1e9}}}, "profile.spawn_rate", "rate"),
    ({"name": "l", "load": {"profile": {"type": "arrival_rate", "rate": 1e9}}}, "profile.rate", "10000"),
    ({"name": "l", "load": {"profile": {"type": "stages", "stages": [{"duration": "13h", "users": 1}] * 2}}},
     "profile.stages", "26 h"),
    ({"name": "l", "abort": [{"metric": "p99_ms", "above": 1e23}]}, "abort[0].above", "10 min"),
    ({"name": "l", "abort": [{"metric": "error_ratio", "above": 0.5, "window": "2d"}]}, "window", "duration"),
    ({"name": "l", "budgets": [{"metric": "latency_p99_ms", "max": 1e23}]}, "budgets[0].max", "latency"),
    ({"name": "l", "budgets": [{"metric": "longest_outage_s", "max": "48h"}]}, "budgets[0].max", "24 h"),
    (fault(type="kill", target={"role": "leader"}, at=1e300), "faults[0].at", "24 h"),
    (fault(type="kill", target={"role": "leader"}, at=1, repeat_every=1e9, duration=5), "repeat_every", "24 h"),
    (fault(type="kill", target={"role": "leader"}, at=1, duration=5, repeat_every=10, repeat_count=10**6),
     "repeat_count", "10000"),
    (fault(type="stop", target={"role": "leader"}, at=1, duration=5, params={"timeout": "61m"}), "timeout", "1 h"),
    (fault(type="restore_cluster", at=1, params={"timeout": "2h"}), "params.timeout", "1 h"),
    (fault(type="latency", link="api1_db", at=1, params={"latency_ms": 10**23}), "latency_ms", "10 min"),
    (fault(type="latency", link="api1_db", at=1, params={"latency_ms": 1, "jitter_ms": 600_001}), "jitter_ms",
     "600000"),
    (fault(type="slicer", link="api1_db", at=1, params={"delay_us": 10**12}), "delay_us", "600000000"),
    (fault(type="slow_close", link="api1_db", at=1, params={"delay_ms": 10**9}), "delay_ms", "latency"),
    (fault(type="timeout", link="api1_db", at=1, params={"timeout_ms": 10**9}), "timeout_ms", "timeout"),
    (fault(type="limit_data", link="api1_db", at=1, params={"bytes": 10**15}), "params.bytes", "byte count"),
    (fault(type="bandwidth", link="api1_db", at=1, params={"rate_kbps": 10**9}), "rate_kbps", "bandwidth"),
])
def test_each_kind_of_value_is_refused_above_its_maximum(data, where, words):
    (found,) = problems(data)
    assert where in found and words in found, found


@pytest.mark.parametrize("data", [
    {"name": "l", "phases": {"warmup": "1h", "steady": "22h", "recovery": "1h"}},
    {"name": "l", "load": {"request_timeout": "1h", "profile": {"users": 100_000, "spawn_rate": 10_000}}},
    fault(type="latency", link="api1_db", at=1, params={"latency_ms": 600_000, "jitter_ms": 600_000}),
    fault(type="limit_data", link="api1_db", at=1, params={"bytes": 2**30}),
    {"name": "l", "budgets": [{"metric": "longest_outage_s", "max": "24h"}]},
])
def test_values_at_their_maximum_are_fine(data):
    assert problems(data) == []


@pytest.mark.parametrize("replicas, target, most", [
    (3, {"role": "api"}, 3), (2, {"role": "api"}, 2), (3, {"role": "replica"}, 2), (3, {"role": "leader"}, 1),
    (3, {"role": "postgres"}, 3), (3, {"role": "etcd"}, 3), (3, {"service": "pg1"}, 1),
    (3, {"role": "lb"}, 2), (3, {"role": "lb_active"}, 1), (1, {"role": "lb"}, 1),   # zones 3 (1 with 1 replica)
])
def test_count_is_at_most_the_nodes_a_target_can_have(replicas, target, most):
    def data(count: int) -> dict:
        return {"name": "c", "stack": {"reference": {"api_replicas": replicas}},
                "faults": [{"type": "kill", "target": {**target, "count": count}, "at": 5, "duration": 5}]}

    assert problems(data(most)) == []
    (found,) = problems(data(most + 1))
    assert "faults[0].target.count" in found and f"at most {most}" in found


def test_count_on_a_label_is_only_capped_by_the_table():
    data = {"name": "c", "faults": [{"type": "kill", "target": {"label": "a=b", "count": 50}, "at": 5}]}
    assert problems(data) == []
    data["faults"][0]["target"]["count"] = 101
    assert "between 1 and 100" in problems(data)[0]


def test_attached_stack_sizes_follow_what_it_declares():
    attach = AttachedStack(api_url="http://127.0.0.1:1", containers={"db1": "a", "db2": "b", "web1": "c"},
                           roles={"web1": "api"}, patroni_urls={"db1": "http://127.0.0.1:8008"})
    topo = topology_of(attach)
    assert most_nodes(topo, None, "api") == (1, "the attached stack has at most 1 api node")
    assert most_nodes(topo, None, "replica")[0] == 2 and most_nodes(topo, None, "leader")[0] == 1
    assert most_nodes(topology_of(AttachedStack(api_url="x", label_selector="a=b")), None, "api") is None
    assert most_nodes(topology_of(ReferenceStack(api_replicas=5)), None, "api")[0] == 5


def test_the_good_corpus_and_shipped_scenarios_stay_within_the_limits():
    root = Path(__file__).resolve().parents[2]
    for path in [*(root / "tests/unit/scenario_corpus/good").glob("*.yaml"), *(root / "scenarios").glob("*.yaml")]:
        assert load_scenario(path).phases.total <= LIMITS["phase_total"].cap()
