"""`load.operations`: a custom locustfile's own operation names are budget ops (issue 15: no dummy `mix`)."""

from __future__ import annotations

from pathlib import Path

from drills.scenario.loader import parse_yaml
from drills.scenario.validate import build_scenario

BASE = """
name: t
stack: {attach: {api_url: "http://127.0.0.1:18080", containers: {app: app-1}}}
load:
  locustfile: lf.py
{ops}
budgets:
  - {metric: success_ratio, op: list_orders, min: 0.9}
"""


def _problems(tmp_path: Path, ops: str) -> list[str]:
    (tmp_path / "lf.py").write_text("from locust import HttpUser\n")
    file = tmp_path / "s.yaml"
    _, problems = build_scenario(parse_yaml(BASE.replace("{ops}", ops), str(file)), str(file), file)
    return [f"{p.path}: {p.message}" for p in problems]


def test_declared_operations_are_budget_ops(tmp_path):
    assert _problems(tmp_path, "  operations: [create_order, list_orders]") == []


def test_an_undeclared_op_is_refused_with_the_declared_ones_listed(tmp_path):
    (problem,) = _problems(tmp_path, "  operations: [create_order]")
    assert "budgets[0].op" in problem and "create_order" in problem and "list_orders" in problem


def test_operations_need_a_custom_locustfile_and_distinct_real_names(tmp_path):
    (problem,) = _problems(tmp_path, "  operations: [list_orders, list_orders]")
    assert "load.operations" in problem and "repeat" in problem
    problem, *_ = _problems(tmp_path, "  operations: [all]")   # (and list_orders is then undeclared)
    assert "load.operations" in problem and "'all'" in problem
