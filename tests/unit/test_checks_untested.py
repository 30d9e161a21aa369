"""A fault that did not happen, from result.json to the report: its row says the inject failed, the timeline
draws a moment (never an interval left unhealed), and the fault table says "inject failed: <error>"; and a run
is re-judged by the scenario it recorded even when that names a locustfile of its own."""

from __future__ import annotations

import html
import json
from pathlib import Path

import yaml

from drills.checks import write_result
from drills.checks.result import judge_recorded
from drills.report import render_run
from drills.report import timeline as tl
from drills.report.view import build_view
from drills.scenario import default_budgets
from tests.unit.test_checks_builder import Run, at


def refused_kill_run(root: Path) -> Run:
    run = Run(root)
    run.stream(every=0.5)
    run.fault("slow-db", 10.0, 20.0, type="latency", link="api1_db")
    run.events.append({"t": at(30.0), "kind": "fault", "phase": "inject", "fault_id": "kill-leader", "type": "kill",
                       "iteration": 0, "target": None, "targets": [], "link": None, "params": {},
                       "scheduled_s": 29.5, "offset_s": 30.0, "ok": False, "detail": "",
                       "error": "docker: permission denied"})
    run.final_from_history()
    return run


def test_the_timeline_draws_a_failed_inject_as_a_moment(tmp_path: Path) -> None:
    result = refused_kill_run(tmp_path / "run").judge()
    slow, kill = tl.fault_intervals(result)
    assert (slow.start_s, slow.end_s, slow.failed) == (10.0, 20.0, None)
    assert (kill.start_s, kill.end_s, kill.failed) == (30.0, 30.0, "inject failed: docker: permission denied")
    assert kill.row["injected_s"] is None and kill.row["late_ms"] is None


def test_the_report_says_inject_failed_and_not_that_it_may_still_be_in_place(tmp_path: Path) -> None:
    run = refused_kill_run(tmp_path / "run")
    write_result(run.write(), run.judge())
    view = build_view(run.dir)
    assert view.verdict is not None and view.result["verdict"] == "inconclusive"
    assert not [n for n in view.notes if "still be in place" in n]
    page = html.unescape(render_run(run.dir)[0].read_text())
    table = page[page.index('id="faults"'):]
    table = table[:table.index("</section>")]
    assert "inject failed: docker: permission denied" in table
    assert "never healed" not in table and "not healed" not in page
    assert 'data-start-s="30.000" data-end-s="30.000"><title>fault kill-leader #0: kill —, 30 s, inject failed: ' \
           "docker: permission denied</title>" in page
    assert ">kill-leader (inject failed)</text>" in page


def test_an_older_row_without_the_flag_is_drawn_as_before(tmp_path: Path) -> None:
    result = refused_kill_run(tmp_path / "run").judge()
    row = result["faults"][1]
    del row["inject_failed"], row["attempted_s"]
    row["injected_s"] = 30.0
    (kill,) = tl.fault_intervals({**result, "faults": [row]})
    assert (kill.start_s, kill.end_s, kill.failed) == (30.0, None, None)


# -- re-judging a run by the scenario it recorded ------------------------------------------------------------------

SCENARIO = {
    "description": "a shop of our own",
    "load": {"locustfile": "load/shop.py", "user_classes": ["Shopper"],
             "profile": {"type": "arrival_rate", "rate": 20, "max_users": 10}},
    "budgets": [{"metric": "success_ratio", "min": 0.5, "op": "purchase"}],
}


def test_a_run_with_its_own_locustfile_is_rejudged_by_its_own_budgets(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(every=0.5)
    run.final_from_history()
    run.meta["scenario"] = "shop-drill"
    run.write()
    (run.dir / "scenario.yaml").write_text(yaml.safe_dump(SCENARIO))   # load/shop.py stayed with the scenario
    result = judge_recorded(run.dir)
    assert [b["metric"] for b in result["budgets"]] == ["success_ratio"]
    assert [b["name"] for b in result["budgets"]] != [b.display for b in default_budgets()]
    assert result["scenario"] == "shop-drill" and result["description"] == "a shop of our own"
    assert not [n for n in result["notes"] if "default budgets" in n]
    json.dumps(result)


def test_a_recorded_scenario_keeps_its_own_name_and_still_must_be_valid(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(every=0.5)
    run.write()
    (run.dir / "scenario.yaml").write_text(yaml.safe_dump({**SCENARIO, "name": "named-in-file"}))
    assert judge_recorded(run.dir)["scenario"] == "named-in-file"
    broken = {**SCENARIO, "budgets": [{"metric": "no_such_metric", "max": 1}]}
    (run.dir / "scenario.yaml").write_text(yaml.safe_dump(broken))
    result = judge_recorded(run.dir)
    assert "default budgets" in result["notes"][0] and "no_such_metric" in result["notes"][0]
    assert [b["name"] for b in result["budgets"]] == [b.display for b in default_budgets()]
