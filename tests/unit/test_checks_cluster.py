"""result.json's `cluster`: what the probes saw, as spans of node states and of leadership."""

from __future__ import annotations

from drills.checks.cluster import PROBE_GAP_S, node_state, timeline
from drills.checks.window import RunWindow

T0 = 1764150000.0


def probe(t: float, pg1: dict, cut: list) -> dict:
    return {"t": T0 + t, "leader": "pg1" if pg1.get("role") == "leader" else None, "nodes": {"pg1": pg1},
            "cut_off": cut}


def test_spans_merge_agreeing_probes_and_show_gaps_as_no_data() -> None:
    leader = {"container": "running", "role": "leader", "patroni_state": "running"}
    probes = [probe(0, leader, []), probe(0.5, leader, []), probe(1.0, {"container": "paused", "role": "leader"}, []),
              probe(1.5, {"container": "exited"}, []), probe(2.0, leader, ["pg1"]), probe(10.0, leader, ["pg1"]),
              {"t": T0 + 11, "error": "ConnectionError: the probe failed"}]
    out = timeline(probes, RunWindow(T0, T0 + 12))
    assert out["nodes"]["pg1"] == [
        {"start_s": 0.0, "end_s": 1.0, "state": "leader", "cut_off": False},
        {"start_s": 1.0, "end_s": 1.5, "state": "frozen", "cut_off": False},
        {"start_s": 1.5, "end_s": 2.0, "state": "down", "cut_off": False},
        {"start_s": 2.0, "end_s": 2.0 + PROBE_GAP_S, "state": "leader", "cut_off": True},   # a long gap: no data
        {"start_s": 10.0, "end_s": 10.5, "state": "leader", "cut_off": True}]
    assert [(s["start_s"], s["end_s"], s["leader"]) for s in out["leader"]] == [
        (0.0, 1.5, "pg1"), (1.5, 2.0, None), (2.0, 4.0, "pg1"), (10.0, 10.5, "pg1")]


def test_no_probes_no_spans() -> None:
    assert timeline([], RunWindow(T0, T0 + 1)) == {"nodes": {}, "leader": []}


def test_node_states_in_one_word() -> None:
    assert node_state({"container": "running", "role": "leader", "protected": False}) == "leader_unprotected"
    assert node_state({"container": "running", "role": "api", "lb": "DOWN"}) == "lb_down"
    assert node_state({"container": "running", "role": "unknown", "patroni_state": "stopped"}) == "unknown"
    assert node_state({"container": "running", "role": "etcd"}) == "up"
