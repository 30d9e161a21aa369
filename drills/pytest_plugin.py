"""pytest plugin: every scenario YAML is a test. `pytest scenarios/ -m smoke --junitxml=out.xml`.

A drill's verdict decides the test: pass (or an `expect: fail` drill that failed as expected) passes; a
broken budget fails with the budget table; aborted / error / inconclusive fail with the reason. Scenario
tags become markers. Options are prefixed `--drill-` so they never clash with Locust's own pytest plugin
(which adds `--host`).
"""

from __future__ import annotations

import fnmatch
import json
import os
from pathlib import Path

import pytest
from _pytest._code.code import TerminalRepr

from drills.errors import ExitCode
from drills.rundir import files

DEFAULT_GLOBS = ["scenarios/*.yaml", "scenarios/*.yml"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("drills", "failover drills")
    group.addoption("--drill-out", default="reports", metavar="DIR",
                    help="where run directories go (default: reports/)")
    group.addoption("--drill-seed", type=int, default=None, metavar="N", help="override every scenario's seed")
    group.addoption("--drill-keep-stack", action="store_true", help="leave each drill's stack running")
    group.addoption("--drill-webhook", default=os.environ.get("DRILLS_WEBHOOK_URL"), metavar="URL",
                    help="POST a Slack-compatible summary here when a drill fails (default $DRILLS_WEBHOOK_URL)")
    parser.addini("drill_scenarios", type="linelist", default=DEFAULT_GLOBS,
                  help="globs (relative to rootdir) of the YAML files collected as drills")


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    config = parent.config
    inside = file_path.is_relative_to(config.rootpath)
    rel = file_path.relative_to(config.rootpath).as_posix() if inside else str(file_path)
    if any(glob_matches(rel, pattern) for pattern in config.getini("drill_scenarios")):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def glob_matches(rel: str, pattern: str) -> bool:
    """A glob the way a shell means it: `*` stays inside one folder (fnmatch alone lets `scenarios/*.yml` match
    `scenarios/rules/x.yml`, a scenario's own rule file); `**` matches across folders."""
    if "**" in pattern:
        return fnmatch.fnmatch(rel, pattern)
    parts, pats = rel.split("/"), pattern.split("/")
    return len(parts) == len(pats) and all(fnmatch.fnmatch(a, b) for a, b in zip(parts, pats, strict=True))


class ScenarioFile(pytest.File):
    def collect(self):
        from drills.scenario import ScenarioInvalid, load_scenario

        try:
            scenario = load_scenario(self.path)
        except ScenarioInvalid as exc:
            yield InvalidScenario.from_parent(self, name=self.path.stem, problem=str(exc))
            return
        item = DrillItem.from_parent(self, name=scenario.name, scenario=scenario)
        for tag in scenario.tags:
            self.config.addinivalue_line("markers", f"{tag}: scenario tag")
            item.add_marker(tag)
        yield item


class DrillFailed(Exception):
    """The drill's verdict was not what the scenario expects."""


class InvalidScenario(pytest.Item):
    def __init__(self, *, problem: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.problem = problem

    def runtest(self) -> None:
        raise DrillFailed(self.problem)

    def repr_failure(self, excinfo, style=None):  # str, or pytest's own TerminalRepr for other errors
        return f"invalid scenario:\n{excinfo.value}"

    def reportinfo(self):
        return self.path, None, f"scenario {self.name} (invalid)"


class DrillItem(pytest.Item):
    def __init__(self, *, scenario, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.run_dir: Path | None = None

    def runtest(self) -> None:
        from drills.runner.drill import DrillRun

        out_root = Path(self.config.getoption("--drill-out"))
        if not out_root.is_absolute():
            out_root = self.config.rootpath / out_root
        run = DrillRun(self.scenario, self.path, None, self.config.getoption("--drill-seed"),
                       self.config.getoption("--drill-keep-stack"), quiet=True, log=lambda m: None,
                       reports_root=out_root)
        self.run_dir = run.run_dir
        code = run.run()
        self.user_properties.append(("run_dir", str(self.run_dir)))
        self.config.stash.setdefault(_RESULTS, []).append((self.name, self.run_dir, code))
        if run.interrupted:  # Ctrl-C / SIGTERM: the drill healed and stopped; so does the game day
            pytest.exit(f"drill {self.name} stopped by {run.interrupted} (every fault healed): {self.run_dir}",
                        returncode=ExitCode.INTERRUPTED)
        if code != 0:
            raise DrillFailed(code)

    def repr_failure(self, excinfo, style=None) -> str | TerminalRepr:
        if not isinstance(excinfo.value, DrillFailed) or self.run_dir is None:
            return super().repr_failure(excinfo)
        return failure_text(self.run_dir)

    def reportinfo(self):
        return self.path, None, f"drill {self.name}"


_RESULTS = pytest.StashKey[list]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Game days: the job summary in GitHub Actions, and a chat message when a drill failed (Slack-compatible
    incoming-webhook JSON, linking the CI run). One home with `drill run`: drills.runner.notify."""
    from drills.runner.notify import notify

    results = session.config.stash.get(_RESULTS, [])
    if not results:
        return
    url = session.config.getoption("--drill-webhook", default=None)
    notify(_digests(results), url, lambda message: print(f"drills: {message}"), title="game day",
           post_when="failed")


def _digests(results: list[tuple[str, Path, int]]) -> list[dict]:
    from drills.report.digest import run_digest

    return [{**run_digest(Path(run_dir), code), "scenario": name} for name, run_dir, code in results]


def webhook_payload(results: list[tuple[str, Path, int]]) -> dict:
    """The chat message for these (name, run directory, exit code) results (drills.runner.notify.payload)."""
    from drills.report.github import run_url
    from drills.runner.notify import payload

    return payload(_digests(results), run_url())


def failure_text(run_dir: Path) -> str:
    """The budget table and verdict, as a reader of a CI log needs them."""
    path = run_dir / files.RESULT
    if not path.exists():
        return f"no {files.RESULT} in {run_dir} (the drill did not finish); see {run_dir / files.EVENTS}"
    result = json.loads(path.read_text())
    lines = [f"verdict: {result.get('verdict')} (expected: {result.get('expected', 'pass')})"]
    if result.get("verdict") not in ("pass", "fail"):  # error, aborted, inconclusive: say why first
        lines += [f"why: {reason}" for reason in result.get("verdict_reasons") or []]
    for note in result.get("notes") or []:
        lines.append(f"note: {note}")
    lines.append(f"{'budget':44} {'limit':>12} {'observed':>12}  result")
    for b in result.get("budgets", []):
        passed = {True: "pass", False: "FAIL", None: "unknown"}.get(b.get("passed"), "?")
        lines.append(f"{str(b.get('name'))[:44]:44} {_fmt(b.get('limit')):>12} {_fmt(b.get('observed')):>12}  "
                     f"{passed}  {b.get('detail') or ''}".rstrip())
    log = _tail(run_dir / files.LOG, LOG_TAIL)
    if log and result.get("verdict") not in ("pass", "fail"):
        lines.append(f"last {len(log)} lines of {files.LOG}:")
        lines += [f"  {line}" for line in log]
    lines.append(f"report: {run_dir / 'report.html'}")
    return "\n".join(lines)


LOG_TAIL = 40


def _tail(path: Path, n: int) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:]
    except OSError:
        return []


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):  # a limit: {"min": x} or {"max": y}
        parts = [f">= {value['min']:g}" if value.get("min") is not None else "",
                 f"<= {value['max']:g}" if value.get("max") is not None else ""]
        return " ".join(p for p in parts if p) or "-"
    if value is None:
        return "-"
    return str(value)
