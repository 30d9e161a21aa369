"""Marks on the team's dashboards (issue 18, item 6): Grafana annotations and Prometheus metrics from a run.

A stub Grafana on 127.0.0.1 records what it receives; the textfile is parsed back with prometheus_client's own
parser. The real Pushgateway is in tests/integration/test_pushgateway.py.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from drills.checks import judge
from drills.checks.exported import BASE_LABELS, EXPORTED, NOT_EXPORTED, with_exported_table
from drills.checks.regenerate import DASHBOARDS_DOC
from drills.checks.result import write_result
from drills.cli import main
from drills.errors import ExitCode
from drills.report import grafana, openmetrics
from drills.runner import publish
from drills.scenario.metrics import METRICS
from tests.unit.test_checks_builder import Run, scenario

TOKEN = "glsa_test_token"


class Recorder:
    """A stub HTTP service on a free loopback port that records every request and answers `status`."""

    def __init__(self, status: int = 200, body: dict | None = None) -> None:
        self.requests: list[dict] = []
        self.status = status
        self.body = body if body is not None else {"id": 1, "message": "Annotation added"}
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                recorder.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                          "body": raw})
                payload = json.dumps(recorder.body).encode()
                self.send_response(recorder.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_PUT = do_GET = _record

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def json_bodies(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture()
def grafana_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(publish.GRAFANA_TOKEN_ENV, TOKEN)
    return TOKEN


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    """A judged run with three injections: a kill, a Toxiproxy link twice (a repeat), and result.json."""
    run = Run(tmp_path / "run")
    run.stream(end=60.0, every=0.5)
    run.fault("kill-leader", 12.345, 24.5)
    run.fault("slow-link", 30.0, 35.25, type="latency", link="api1_db")
    run.fault("slow-link", 40.0, 45.0, type="latency", link="api1_db", iteration=1)
    run.final_from_history()
    path = run.write()
    result = judge(path, scenario())
    result["run_id"] = "t-20251126-000000-abcdef"
    write_result(path, result)
    return path


def _events(path: Path, phase: str) -> list[dict]:
    lines = [json.loads(x) for x in (path / "events.jsonl").read_text().splitlines()]
    return [e for e in lines if e.get("kind") == "fault" and e.get("phase") == phase]


# Grafana ---------------------------------------------------------------------------------------------------------

def test_a_stub_grafana_receives_one_region_per_fault_at_the_recorded_times(run_dir: Path, grafana_token: str):
    with Recorder() as stub:
        assert main(["annotate", str(run_dir), "--grafana-url", stub.url]) == ExitCode.PASS
    assert {r["path"] for r in stub.requests} == {"/api/annotations"}
    assert all(r["method"] == "POST" and r["headers"]["Authorization"] == f"Bearer {TOKEN}" for r in stub.requests)
    bodies = stub.json_bodies()
    regions = [b for b in bodies if "timeEnd" in b]
    injects, heals = _events(run_dir, "inject"), _events(run_dir, "heal")
    assert len(regions) == len(injects) == 3
    for inject, heal, region in zip(injects, heals, regions, strict=True):
        assert abs(region["time"] - inject["t"] * 1000) <= 100
        assert abs(region["timeEnd"] - heal["t"] * 1000) <= 100
        assert "drills" in region["tags"] and "scenario:t" in region["tags"]
        assert f"fault:{inject['fault_id']}" in region["tags"] and f"type:{inject['type']}" in region["tags"]
    assert "target:pg1" in regions[0]["tags"] and "target:api1_db" in regions[1]["tags"]
    points = [b for b in bodies if "timeEnd" not in b]
    assert len(points) == 1 and "verdict:pass" in points[0]["tags"] and "PASS" in points[0]["text"]


def test_grafana_is_spoken_to_directly_whatever_proxy_the_environment_names(run_dir: Path, grafana_token: str,
                                                                           monkeypatch: pytest.MonkeyPatch):
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")   # nothing listens there: a proxied request would fail
    monkeypatch.setenv("NO_PROXY", "")
    with Recorder() as stub:
        assert main(["annotate", str(run_dir), "--grafana-url", stub.url]) == ExitCode.PASS
    assert len(stub.requests) == 4


def test_a_grafana_that_refuses_is_a_warning_and_the_verdict_stands(run_dir: Path, grafana_token: str, capsys):
    with Recorder(status=401, body={"message": "invalid API key"}) as stub:
        assert main(["annotate", str(run_dir), "--grafana-url", stub.url]) == ExitCode.PASS
    err = capsys.readouterr().err
    assert "warning: Grafana: 0 of 4 annotation(s) sent" in err and "HTTP 401: invalid API key" in err
    assert len(stub.requests) == 1   # a wrong token refuses them all: it stops at the first
    assert json.loads((run_dir / "result.json").read_text())["verdict"] == "pass"


def test_a_grafana_that_does_not_answer_is_a_warning(run_dir: Path, grafana_token: str, capsys):
    stub = Recorder()
    url = stub.url
    stub.server.server_close()   # the port is free again: nothing answers
    assert main(["annotate", str(run_dir), "--grafana-url", url]) == ExitCode.PASS
    assert "did not answer" in capsys.readouterr().err


def test_a_fault_never_healed_and_a_failed_inject_are_marked_as_such(tmp_path: Path):
    run = Run(tmp_path / "run")
    run.fault("frozen", 10.0, None, type="freeze")
    run.fault("broken", 20.0, None, type="kill", ok=False)
    path = run.write()
    marks, notes = grafana.run_annotations(path, {"scenario": "t", "verdict": "error", "finished": None}, "r1")
    assert notes == []
    unhealed, failed, verdict = marks
    assert "unhealed" in unhealed.tags and unhealed.end is not None and unhealed.end >= unhealed.start
    assert "inject_failed" in failed.tags and failed.end is None and "boom" in failed.text
    assert verdict.end is None and "verdict:error" in verdict.tags


def test_a_truncated_events_file_still_gives_the_complete_marks_and_says_why(tmp_path: Path):
    run = Run(tmp_path / "run")
    run.fault("kill-leader", 10.0, 20.0)
    path = run.write(truncate_last="events.jsonl")   # the load_stopped line is cut in half
    marks, notes = grafana.run_annotations(path, {"scenario": "t", "verdict": "pass", "finished": 1.0}, "r1")
    assert [m.end is not None for m in marks] == [True, False]
    assert any("truncated" in n for n in notes)


@pytest.mark.parametrize("argv, words", [
    (["--grafana-url", "http://grafana.example.com:3000"], "not loopback"),
    (["--grafana-url", "https://127.0.0.1:3000"], "scheme"),
    (["--pushgateway", "http://10.0.0.1:9091"], "not loopback"),
    (["--metrics-textfile", "drills.txt"], "must end in .prom"),
    (["--metrics-textfile", "no/such/folder/drills.prom"], "does not exist"),
    ([], "nothing to send"),
])
def test_bad_targets_are_usage_errors(run_dir: Path, grafana_token: str, argv: list[str], words: str, capsys):
    assert main(["annotate", str(run_dir), *argv]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_a_grafana_url_without_a_token_in_the_environment_is_a_usage_error(run_dir: Path, capsys,
                                                                         monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(publish.GRAFANA_TOKEN_ENV, raising=False)
    assert main(["annotate", str(run_dir), "--grafana-url", "http://127.0.0.1:3000"]) == ExitCode.USAGE
    assert publish.GRAFANA_TOKEN_ENV in capsys.readouterr().err


def test_drill_run_refuses_bad_targets_before_anything_starts(tmp_path: Path, capsys):
    scenario_file = Path(__file__).resolve().parents[2] / "scenarios" / "leader-kill.yaml"
    assert main(["run", str(scenario_file), "--pushgateway", "http://example.com:9091"]) == ExitCode.USAGE
    assert "--pushgateway" in capsys.readouterr().err


def test_annotate_needs_a_run_directory(tmp_path: Path, grafana_token: str, capsys):
    assert main(["annotate", str(tmp_path), "--grafana-url", "http://127.0.0.1:3000"]) == ExitCode.USAGE


# Prometheus metrics ---------------------------------------------------------------------------------------------

def _families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_the_textfile_parses_back_with_every_known_number_and_no_unknown_one(run_dir: Path, tmp_path: Path):
    out = tmp_path / "textfile" / "drills.prom"
    out.parent.mkdir()
    out.write_text("old content\n")
    assert main(["annotate", str(run_dir), "--metrics-textfile", str(out)]) == ExitCode.PASS
    assert [p.name for p in out.parent.iterdir()] == ["drills.prom"]   # replaced by a rename: no temporary left
    families = _families(out.read_text())
    result = json.loads((run_dir / "result.json").read_text())
    base = {"scenario": "t", "run_id": "t-20251126-000000-abcdef"}
    verdicts = {s.labels["verdict"]: s.value for s in families["drills_verdict"].samples}
    assert verdicts == {"pass": 1.0, "fail": 0.0, "aborted": 0.0, "error": 0.0, "inconclusive": 0.0}
    lost = families["drills_lost_acknowledged"]          # the parser names a counter's family without _total
    assert lost.type == "counter"
    assert [(s.name, s.labels, s.value) for s in lost.samples] == [("drills_lost_acknowledged_total", base, 0.0)]
    assert families["drills_success_ratio"].samples[0].value == pytest.approx(result["availability"]["success_ratio"])
    assert families["drills_success_ratio"].samples[0].labels == {**base, "op": "purchase"}
    p99 = [s for s in families["drills_latency_seconds"].samples if s.labels["quantile"] == "0.99"]
    assert p99[0].value == pytest.approx(result["availability"]["latency_ms"]["p99"] / 1000)
    assert families["drills_faults_injected"].samples[0].value == 3
    assert result["availability"]["failover_s"] is None and "drills_failover_seconds" not in families  # unknown
    for family in families.values():
        for sample in family.samples:
            assert {k: sample.labels[k] for k in BASE_LABELS} == base


def test_a_textfile_that_cannot_be_written_is_a_warning(run_dir: Path, tmp_path: Path):
    warnings: list[str] = []
    where = publish.Targets(metrics_textfile=tmp_path / "gone" / "drills.prom")   # its folder vanished
    assert publish.publish(run_dir, where, log=lambda _m: None, warn=warnings.append) == warnings
    assert len(warnings) == 1 and "cannot write" in warnings[0]


def test_a_push_goes_to_the_scenarios_group_directly(run_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    with Recorder() as stub:
        assert main(["annotate", str(run_dir), "--pushgateway", stub.url]) == ExitCode.PASS
    (request,) = stub.requests
    assert request["method"] == "PUT" and request["path"] == "/metrics/job/drills/scenario/t"
    families = _families(request["body"].decode())
    assert families["drills_verdict"].samples[0].labels["run_id"] == "t-20251126-000000-abcdef"


def test_a_pushgateway_that_refuses_is_a_warning(run_dir: Path, capsys):
    with Recorder(status=400, body={"error": "bad"}) as stub:
        assert main(["annotate", str(run_dir), "--pushgateway", stub.url]) == ExitCode.PASS
    assert "warning: Pushgateway at" in capsys.readouterr().err


def test_exported_names_follow_prometheus_conventions():
    for name, row in EXPORTED.items():
        assert name.startswith("drills_") and name == name.lower(), name
        assert name.endswith("_total") == (row.type == "counter"), name
        assert not set(row.labels) & set(BASE_LABELS), name
    for name in ("drills_verdict", "drills_failover_seconds", "drills_lost_acknowledged_total"):
        assert name in EXPORTED


def test_a_row_exporting_a_budget_metric_says_what_the_registry_says():
    meanings = [m.meaning for m in METRICS.values()]
    assert any(meaning in EXPORTED["drills_failover_seconds"].help for meaning in meanings)
    assert METRICS["lost"].meaning in EXPORTED["drills_lost_acknowledged_total"].help


def test_the_docs_table_is_generated_from_the_rows():
    doc = DASHBOARDS_DOC.read_text()
    assert with_exported_table(doc) == doc, "run `python -m drills.checks.regenerate --write`"
    for name in EXPORTED:
        assert f"`{name}`" in doc


def test_an_empty_result_exports_nothing_it_does_not_know():
    text = openmetrics.exposition({"scenario": "x"}, "r").decode()
    assert _families(text).keys() == {"drills_faults_injected"}   # 0 injections is known; nothing else is


def test_drill_run_sends_after_the_run_and_keeps_its_exit_code_when_grafana_refuses(
        run_dir: Path, grafana_token: str, monkeypatch: pytest.MonkeyPatch, capsys):
    import drills.runner.drill as drill_module

    class FakeRun:   # the drill itself needs Docker: what matters here is what the CLI does after it returns
        def __init__(self, *_args: object, **_kwargs: object) -> None:
            self.run_dir = run_dir

        def run(self) -> int:
            return int(ExitCode.BUDGET_FAILED)

    monkeypatch.setattr(drill_module, "DrillRun", FakeRun)
    scenario_file = Path(__file__).resolve().parents[2] / "scenarios" / "leader-kill.yaml"
    with Recorder(status=500, body={"message": "database is locked"}) as stub:
        code = main(["run", str(scenario_file), "--grafana-url", stub.url])
    assert code == ExitCode.BUDGET_FAILED
    assert len(stub.requests) == 1 and "database is locked" in capsys.readouterr().err


def test_every_budget_metric_is_exported_or_says_why_not():
    covered = {metric for row in EXPORTED.values() for metric in row.covers}
    assert not covered & set(NOT_EXPORTED)
    missing = set(METRICS) - covered - set(NOT_EXPORTED)
    assert not missing, (f"budget metrics neither exported nor in NOT_EXPORTED: {sorted(missing)}; add a row to "
                         "drills/checks/exported.py (or a reason), then `python -m drills.checks.regenerate --write`")
    assert set(NOT_EXPORTED) <= set(METRICS)


def test_the_slowest_time_to_fire_of_each_alert_is_exported():
    result = {"scenario": "s", "alerting": {"expected": [
        {"alert": "PatroniNoLeader", "time_to_fire_s": 12.5}, {"alert": "PatroniNoLeader", "time_to_fire_s": 30.0},
        {"alert": "ApiDown", "time_to_fire_s": None}, "garbage"]}}
    families = _families(openmetrics.exposition(result, "r").decode())
    assert [(s.labels["alert"], s.value) for s in families["drills_time_to_fire_seconds"].samples] == [
        ("PatroniNoLeader", 30.0)]
