"""CI-native output: GitHub annotations parsed back, the job summary file, `--json` documents, the webhook posted
to a loopback server (`drill run` and the pytest plugin share one home for it)."""

from __future__ import annotations

import json
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from drills.cli import main
from drills.errors import ExitCode
from drills.report import github
from drills.report.digest import markdown, run_digest
from drills.runner.notify import payload, webhook_problem

RUNS = Path(__file__).resolve().parent / "fixtures" / "runs"
CI_ENV = {"GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": "team/shop", "GITHUB_RUN_ID": "42"}
CI_URL = "https://github.example/team/shop/actions/runs/42"
COMMAND = re.compile(r"^::(?P<level>error|warning|notice)(?: (?P<props>[^:]*))?::(?P<message>.*)$")


def parse_command(line: str) -> dict[str, str]:
    """A workflow command read back as the runner reads it: properties split on ',' and '=', then unescaped."""
    found = COMMAND.match(line)
    assert found, f"not a workflow command: {line!r}"
    props = dict(p.split("=", 1) for p in found["props"].split(",")) if found["props"] else {}
    return {"level": found["level"], "message": github.unescape(found["message"]),
            **{k: github.unescape(v) for k, v in props.items()}}


# ---- annotations ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("message, file", [
    ("plain", "scenarios/x.yaml"),
    ("100% broken\r\nsecond line ::error::forged", "dir,with:odd%chars/x.yaml"),
    ("a: b, c", "x.yaml"),
])
def test_an_annotation_is_one_line_and_reads_back_to_what_was_said(message, file):
    line = github.annotation("error", message, file, 3, 7, "invalid scenario")
    assert "\n" not in line and "\r" not in line and line.startswith("::error file=")  # one command, one line
    back = parse_command(line)
    assert back == {"level": "error", "message": message, "file": file, "line": "3", "col": "7",
                    "title": "invalid scenario"}


def test_escaping_follows_the_toolkit_rules():
    assert github.escape_data("50%\r\n: ,") == "50%25%0D%0A: ,"
    assert github.escape_property("50%\r\n: ,") == "50%25%0D%0A%3A %2C"


BAD = "name: bad\nfaults:\n  - {type: kil, target: {role: leader}, at: 5s, duration: 2s}\n"


def test_validate_format_github_prints_one_parsable_error_per_problem(tmp_path, capsys):
    bad = tmp_path / "b,a:d.yaml"
    bad.write_text(BAD + "phases: {steady: nonsense}\n")
    good = Path(__file__).resolve().parents[2] / "scenarios" / "leader-kill.yaml"
    assert main(["validate", "--format", "github", str(bad), str(good)]) == ExitCode.INVALID_SCENARIO
    lines = capsys.readouterr().out.splitlines()
    parsed = [parse_command(line) for line in lines]
    assert len(parsed) == 2 and {p["file"] for p in parsed} == {str(bad)}
    kil = next(p for p in parsed if "kil" in p["message"])
    assert (kil["line"], kil["col"]) == ("3", "12") and "did you mean 'kill'" in kil["message"]
    assert all(p["level"] == "error" and p["title"] == "invalid scenario" for p in parsed)


def test_validate_json_lists_every_file_and_issue(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    good = Path(__file__).resolve().parents[2] / "scenarios" / "leader-kill.yaml"
    assert main(["validate", "--json", str(bad), str(good)]) == ExitCode.INVALID_SCENARIO
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] is False
    files = {f["file"]: f for f in doc["files"]}
    assert files[str(good)] == {"file": str(good), "valid": True, "issues": []}
    [issue] = files[str(bad)]["issues"]
    assert issue["line"] == 3 and issue["suggestion"] == "kill" and issue["path"] == "faults[0].type"
    assert main(["validate", "--json", str(good)]) == ExitCode.PASS
    assert json.loads(capsys.readouterr().out)["valid"] is True


# ---- the job summary -----------------------------------------------------------------------------------------------

def test_the_run_url_needs_all_three_variables():
    assert github.run_url(CI_ENV) == CI_URL
    for key in CI_ENV:
        assert github.run_url({**CI_ENV, key: ""}) is None


def test_the_digest_is_the_result_in_a_few_facts():
    d = run_digest(RUNS / "fail")
    result = json.loads((RUNS / "fail" / "result.json").read_text())
    assert d["verdict"] == "fail" and d["ok"] is False and d["exit_code"] == 1
    assert [b["name"] for b in d["budgets"]] == [b["name"] for b in result["budgets"]]
    lost = next(b for b in d["budgets"] if b["metric"] == "lost")
    assert lost["passed"] is False and lost["observed"] == result["audit"]["lost"] and lost["limit"] == {
        "min": None, "max": 0}
    assert json.loads(json.dumps(d)) == d   # plain JSON data


def test_a_missing_result_is_said_not_raised(tmp_path):
    d = run_digest(tmp_path)
    assert d["verdict"] is None and d["ok"] is False and "missing" in d["problem"]


def test_the_step_summary_is_appended_with_verdict_budgets_and_the_ci_link(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    digests = [run_digest(RUNS / "pass"), run_digest(RUNS / "fail")]
    assert github.append_step_summary(markdown(digests, CI_URL, "game day"),
                                      {github.SUMMARY_VAR: str(summary)}) == summary
    text = summary.read_text()
    assert text.startswith("earlier step\n## game day: 1 of 2 drill(s) failed")
    fail = json.loads((RUNS / "fail" / "result.json").read_text())
    passed = json.loads((RUNS / "pass" / "result.json").read_text())
    assert "### ❌ leader-kill-async: FAIL" in text and "### ✅" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| budget")]
    assert len(rows) == len(fail["budgets"]) + len(passed["budgets"])   # one row per budget
    lost = next(r for r in rows if r.startswith("| lost") and "FAIL" in r)
    assert f"| ≤ 0 | {fail['audit']['lost']} | **FAIL** |" in lost   # limit, then what was measured
    assert "| **FAIL** |" in text and f"[CI run]({CI_URL})" in text


def test_no_summary_outside_actions(tmp_path):
    assert github.append_step_summary("x", {}) is None


def test_hostile_text_in_the_result_stays_inert_markdown(tmp_path):
    shutil.copytree(RUNS / "fail", tmp_path / "run")
    path = tmp_path / "run" / "result.json"
    doc = json.loads(path.read_text())
    doc["scenario"] = "x | <script>alert(1)</script>\n## [click](http://evil)"
    doc["budgets"][0]["name"] = "a|b"
    path.write_text(json.dumps(doc))
    text = markdown([run_digest(tmp_path / "run")], None)
    assert "<script>" not in text and "\n## " not in text.split("### ")[1] and "[click](http" not in text
    assert "| a\\|b |" in text


# ---- the webhook ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, ok", [("https://hooks.example.com/services/T/B/x", True),
                                     ("http://127.0.0.1:9/hook", True), ("ftp://x/y", False), ("hooks", False),
                                     ("https://exa mple.com/", False), ("http://x:99999/", False)])
def test_a_webhook_is_a_plain_http_url(url, ok):
    assert (webhook_problem(url) is None) is ok


def test_the_message_links_the_ci_run_instead_of_a_local_path():
    digests = [run_digest(RUNS / "fail"), run_digest(RUNS / "pass")]
    local = payload(digests, None)["text"]
    assert "1 of 2 drill(s) failed" in local and str(RUNS / "fail" / "report.html") in local
    ci = payload(digests, CI_URL)["text"]
    assert CI_URL in ci and str(RUNS) not in ci
    assert "2 drill(s) passed" in payload([digests[1], digests[1]], None)["text"]


class Hook:
    """A loopback HTTP server that keeps what is POSTed to it."""

    def __init__(self, status: int = 200) -> None:
        self.received: list[dict] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T0/B0/secret-token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Hook:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def no_ci(monkeypatch):
    for key in (*CI_ENV, github.SUMMARY_VAR):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def fake_drill(monkeypatch, tmp_path):
    """`drill run` without Docker: the drill 'runs' by copying a judged fixture run into its run directory."""
    import drills.runner.drill as drill

    class FakeRun:
        def __init__(self, scenario, path, out, seed, keep_stack, quiet, log, console=None):
            self.run_dir = tmp_path / "reports" / scenario.name
            self.console = console

        def run(self) -> int:
            shutil.copytree(RUNS / "fail", self.run_dir)
            self.console.print("live view and summary go here")
            return 1

    monkeypatch.setattr(drill, "DrillRun", FakeRun)
    return tmp_path


SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "leader-kill.yaml"


def test_drill_run_json_prints_the_summary_alone_on_stdout(fake_drill, no_ci, capsys):
    assert main(["run", str(SCENARIO), "--json"]) == 1
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["verdict"] == "fail" and doc["exit_code"] == 1 and doc["run_dir"].endswith("leader-kill")
    assert "live view" in out.err


def test_drill_run_posts_to_the_webhook_and_appends_the_job_summary(fake_drill, monkeypatch, capsys):
    summary = fake_drill / "summary.md"
    for key, value in {**CI_ENV, github.SUMMARY_VAR: str(summary)}.items():
        monkeypatch.setenv(key, value)
    with Hook() as hook:
        assert main(["run", str(SCENARIO), "--webhook", hook.url]) == 1
    [message] = hook.received
    assert "1 of 1 drill(s) failed" in message["text"] and CI_URL in message["text"]
    assert "leader-kill" in summary.read_text() and f"[CI run]({CI_URL})" in summary.read_text()


def test_a_refused_post_is_one_line_without_the_secret(fake_drill, no_ci, capsys):
    with Hook(status=500) as hook:
        assert main(["run", str(SCENARIO), "--webhook", hook.url]) == 1
    err = capsys.readouterr().err
    assert "answered HTTP 500" in err and "secret-token" not in err and "Traceback" not in err


def test_a_bad_webhook_url_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", str(SCENARIO), "--webhook", "ftp://x"])
    assert exc.value.code == ExitCode.USAGE
    assert "expected an http:// or https:// URL" in capsys.readouterr().err


def test_the_pytest_plugin_posts_and_summarises_through_the_same_home(tmp_path, monkeypatch):
    from drills import pytest_plugin

    summary = tmp_path / "summary.md"
    monkeypatch.setenv(github.SUMMARY_VAR, str(summary))
    for key, value in CI_ENV.items():
        monkeypatch.setenv(key, value)
    stash = pytest.Stash()
    stash[pytest_plugin._RESULTS] = [("leader-kill-async", RUNS / "fail", 1), ("leader-kill", RUNS / "pass", 0)]
    with Hook() as hook:
        config = SimpleNamespace(stash=stash, getoption=lambda name, default=None: hook.url)
        pytest_plugin.pytest_sessionfinish(SimpleNamespace(config=config), 1)
    [message] = hook.received
    assert "1 of 2 drill(s) failed" in message["text"] and CI_URL in message["text"]
    text = summary.read_text()
    assert "1 of 2 drill(s) failed" in text and "leader-kill-async" in text and "| **FAIL** |" in text


def test_a_dry_run_has_no_json_result(capsys):
    assert main(["run", str(SCENARIO), "--dry-run", "--json"]) == ExitCode.USAGE
    assert "a dry run has none" in capsys.readouterr().err
