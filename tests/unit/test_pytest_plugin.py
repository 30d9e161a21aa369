"""The pytest plugin collects scenarios as tests, turns tags into markers and reports invalid files."""

from __future__ import annotations

import json
import textwrap

import pytest

from drills.pytest_plugin import failure_text

pytest_plugins = ["pytester"]

GOOD = textwrap.dedent("""\
    name: quick
    tags: [smoke, failover]
    faults:
      - {type: kill, target: {role: leader}, at: 20s, duration: 10s}
    budgets:
      - {metric: lost, max: 0}
""")


def test_scenarios_are_collected_with_tags_as_markers(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"scenarios/quick": GOOD, "scenarios/other": GOOD.replace("quick", "other")
                                  .replace("smoke, ", "")})
    pytester.makefile(".yaml", **{"elsewhere/not_a_drill": "key: value\n"})
    result = pytester.runpytest("--collect-only", "-q", "-m", "smoke", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["scenarios/quick.yaml::quick", "*1/2 tests collected*"])
    assert "not_a_drill" not in result.stdout.str()


def test_an_invalid_scenario_fails_with_file_line_column(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"scenarios/bad": "name: bad\nfaults:\n  - {type: kil, at: 5s}\n"})
    result = pytester.runpytest("-q", "-p", "no:cacheprovider", "--drill-seed", "3", "--host", "http://x")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*invalid scenario*", "*bad.yaml:3:*did you mean 'kill'*"])


def test_failure_text_shows_the_budget_table(tmp_path) -> None:
    (tmp_path / "result.json").write_text(json.dumps({
        "verdict": "fail", "expected": "pass",
        "budgets": [{"name": "lost[purchase,all]", "limit": {"max": 0}, "observed": 3, "passed": False,
                     "detail": "3 acknowledged purchases missing"}]}))
    text = failure_text(tmp_path)
    assert "verdict: fail (expected: pass)" in text
    assert "lost[purchase,all]" in text and "FAIL" in text and "3 acknowledged purchases missing" in text
    assert "report.html" in text


def test_webhook_payload_names_each_failed_drill(tmp_path) -> None:
    from drills.pytest_plugin import webhook_payload

    (tmp_path / "result.json").write_text(json.dumps({"verdict": "fail"}))
    payload = webhook_payload([("leader-kill", tmp_path, 1), ("lb-restart", tmp_path, 0)])
    assert "1 of 2 drill(s) failed" in payload["text"]
    assert "leader-kill: fail (exit 1)" in payload["text"] and "lb-restart" not in payload["text"]


def test_webhook_is_posted_when_a_drill_fails(tmp_path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from types import SimpleNamespace

    from drills import pytest_plugin

    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.handle_request, daemon=True).start()
    stash = pytest.Stash()
    stash[pytest_plugin._RESULTS] = [("leader-kill", tmp_path, 1)]
    config = SimpleNamespace(stash=stash,
                             getoption=lambda name, default=None: f"http://127.0.0.1:{server.server_port}/hook")
    pytest_plugin.pytest_sessionfinish(SimpleNamespace(config=config), 1)
    server.server_close()
    assert received and "leader-kill" in received[0]["text"]


def test_failure_text_says_why_a_drill_errored_and_quotes_its_log(tmp_path) -> None:
    (tmp_path / "result.json").write_text(json.dumps({
        "verdict": "error", "expected": "pass",
        "verdict_reasons": ["error in harness: the stack did not become healthy in 180 s"], "budgets": []}))
    (tmp_path / "drill.log").write_text("".join(f"12:{i:04d} line {i}\n" for i in range(100)))
    text = failure_text(tmp_path)
    assert "why: error in harness: the stack did not become healthy in 180 s" in text
    assert "line 99" in text and "line 0\n" not in text  # the tail, not the whole log


def test_failure_text_of_a_failed_budget_has_no_log(tmp_path) -> None:
    (tmp_path / "result.json").write_text(json.dumps({"verdict": "fail", "verdict_reasons": ["x"], "budgets": []}))
    (tmp_path / "drill.log").write_text("noise\n")
    assert "noise" not in failure_text(tmp_path) and "why:" not in failure_text(tmp_path)
