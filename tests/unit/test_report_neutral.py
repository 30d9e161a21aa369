"""The console and the report speak of the system that was drilled: a user's own service (its own operations,
no leader, a declared audit) gets no "no leader" lane, no failover card, no seat or credential rows, and when
its final read failed, the reason instead of a bare "unknown"; the reference stack's run keeps all of it."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import yaml
from rich.console import Console

from drills.checks import write_result
from drills.checks.finalstate import Collection, FinalState, write_final_state
from drills.checks.result import judge_recorded
from drills.report import LiveView, print_summary, render_run
from drills.report.relevance import audit_counts, audit_unknown_reasons, has_leader
from tests.unit.test_checks_builder import Run, at

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "runs"
READ_ERROR = "orders: GET http://127.0.0.1:18080/orders?cursor=100 answered HTTP 404 (4 attempts): read incomplete"
SCENARIO = {
    "name": "primary-partition",
    "stack": {"attach": {"api_url": "http://127.0.0.1:18080", "compose_project": "drills-example"}},
    "load": {"locustfile": "locustfile.py"},
    "phases": {"warmup": "10s", "steady": "40s", "recovery": "10s"},
    "budgets": [{"metric": "success_ratio", "op": "create_order", "min": 0.9},
                {"metric": "lost", "op": "create_order", "max": 0}],
    "audit": {"writes": {"create_order": {"id": "key"}},
              "read": {"orders": {"http": {"url": "/orders", "items": "items", "next": "next",
                                           "cursor_param": "cursor"}, "fields": {"id": "id"}}},
              "models": [{"model": "set", "collection": "orders", "id": "id"}]},
}


def attached_run(root: Path, read: str) -> dict:
    """A run of one's own order service: create_order writes keyed o1, o2, ..., a partition of redis-a, probes
    that name no leader; the final read `failed` (a 404 on page 2), or `lost` ten acknowledged orders."""
    run = Run(root)
    run.stream("create_order", every=0.2, outcome=lambda t: "info" if 20 <= t < 25 else "ok")
    for n, line in enumerate(run.history, 1):
        line["key"] = f"o{n}"
    run.stream("list_orders", every=0.5)
    for t in range(60):
        nodes = {name: {"container": "running", "role": role}
                 for name, role in (("redis-a", "database"), ("redis-b", "database"), ("orders", "api"))}
        run.probes.append({"t": at(t), "leader": None, "nodes": nodes, "cut_off": ["redis-a"] if 20 <= t < 30 else [],
                           "faults_active": []})
        run.stat(t)
    run.fault("partition-leader", 20.0, 30.0, type="partition",
              target={"service": "redis-a", "container": "drills-example_redis-a_1", "role": "leader"})
    run.meta["scenario"] = "primary-partition"
    run.write()
    acked = [x["key"] for x in run.history if x["op"] == "create_order" and x["outcome"] == "ok"]
    if read == "failed":
        orders = Collection({"id": acked[:100]}, 100, False, "HTTP 404 on page 2", "GET /orders")
        state = FinalState(read_at=at(65), declared=True, complete=False, collections={"orders": orders},
                           errors=[READ_ERROR])
    else:
        kept = acked[:100] + acked[110:]
        state = FinalState(read_at=at(65), declared=True, collections={"orders": Collection({"id": kept}, len(kept),
                                                                                             True, None, "GET")})
    write_final_state(root, state)
    (root / "scenario.yaml").write_text(yaml.safe_dump(SCENARIO, sort_keys=False))
    result = judge_recorded(root)
    write_result(root, result)
    return result


def summary(result: dict) -> str:
    buf = io.StringIO()
    print_summary(Console(file=buf, width=400), result)
    return buf.getvalue()


def page(root: Path) -> str:
    return html.unescape(render_run(root)[0].read_text())


def section(text: str, ident: str) -> str:
    start = text.index(f'id="{ident}"')
    return text[start:text.index("</section>", start)]


def test_a_failed_final_read_shows_its_reason_in_the_console_and_the_report(tmp_path: Path) -> None:
    result = attached_run(tmp_path / "run", "failed")
    assert result["verdict"] == "inconclusive"
    assert READ_ERROR in audit_unknown_reasons(result)
    out = summary(result)
    assert f"audit unknown: {READ_ERROR}" in out
    assert "lost —" in out and "INCONCLUSIVE" in out
    assert re.search(r"- lost\[create_order,all\]: unknown \(final state incomplete: orders: GET", out)
    text = page(tmp_path / "run")
    audit = section(text, "audit")
    assert 'data-audit-unknown="yes"' in audit and READ_ERROR in audit and "never 0 lost" in audit
    assert 'data-model="set orders.id"' in audit and "HTTP 404 on page 2" in audit
    card = text[text.index('data-card="anomalies"'):]
    card = card[:card.index('<div class="card"') if '<div class="card"' in card else 2000]
    assert f"unknown: {READ_ERROR}" in card and ">unknown</span>" in card   # the data-loss budget is not "pass"


def test_a_system_without_a_leader_or_seats_is_not_shown_them(tmp_path: Path) -> None:
    result = attached_run(tmp_path / "run", "lost")
    assert not has_leader(result)
    shown = dict(audit_counts(result))
    assert shown["lost"] == 10 and "oversold" not in shown and "credential_changes_lost" not in shown
    out = summary(result)
    assert "failover" not in out and "oversold" not in out and "credential" not in out and "audit unknown" not in out
    assert "lost 10" in out and "10 acknowledged" not in out and "acknowledged create_order writes" in out
    text = page(tmp_path / "run")
    assert "no leader" not in text and "purchase" not in section(text, "audit")
    assert 'data-card="failover_s"' not in text and "What clients saw" in text and "buyers" not in text
    roles = text[text.index('id="chart-roles"'):]
    roles = roles[:roles.index("</figure>")]
    assert "names the leader" not in roles
    audit = section(text, "audit")
    assert 'data-anomaly="lost" class="failed"' in audit and 'data-anomaly="oversold"' not in audit
    assert 'data-samples="lost"' in audit and ">o101<" in audit.replace('"', "")   # the lost writes by id


def test_the_reference_stacks_run_keeps_its_leader_failover_and_seats(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(FIXTURES / "fail", tmp_path / "run")
    result = __import__("json").loads((tmp_path / "run" / "result.json").read_text())
    assert has_leader(result)
    out = summary(result)
    assert "failover" in out and "oversold 1" in out
    text = page(tmp_path / "run")
    assert 'data-card="failover_s"' in text and 'data-anomaly="oversold"' in text
    roles = text[text.index('id="chart-roles"'):]
    assert "names the leader" in roles[:roles.index("</figure>")]


def test_the_live_view_shows_a_leader_only_once_there_is_one() -> None:
    buf = io.StringIO()
    live = LiveView(Console(file=buf, force_terminal=False, width=200), quiet=True, total_s=60, clock=lambda: 0.0)
    live.update("steady", 1.0, 10.0, 0.0, 5.0, [], None)
    assert "leader" not in live.plain_line()
    live.update("steady", 2.0, 10.0, 0.0, 5.0, [], "pg1")
    assert "leader pg1" in live.plain_line()
    live.update("steady", 3.0, 10.0, 0.0, 5.0, [], None)
    assert "leader none" in live.plain_line()
