"""Benchmarks that cannot rot: every bench module's `--quick` mode runs here and must exit 0 and print the
labels of its numbers. Timings are never asserted (the benchmarks print numbers; the targets live there).

No Docker: the modules that need an engine run `--quick --offline` (their argument parsing, data generators
and number crunching fed with synthetic data), and every run sees a DOCKER_HOST that answers nothing, so not
even a regression could reach a real engine. Without `--offline` they must stop with a clear message and
the CLI's exit code, no traceback.

bench.load's quick generator round is real (three Locust processes against a local server, ~10 s): it runs
as `python -m bench.load`, started when this module starts so it overlaps the in-process runs of the others.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path

import pytest

from drills.errors import ExitCode

ROOT = Path(__file__).resolve().parents[2]
LOAD_TIMEOUT_S = 120

# module -> (arguments, labels its quick mode must print on stdout)
QUICK = {
    "bench.__main__": (["--quick", "--offline"],
                       ["build.cold_s", "build.warm_noop_s", "stack.up_healthy_s", "throughput.purchases_per_s",
                        "failover.kill_to_first_purchase_s"]),
    "bench.faults": (["--quick", "--offline"],
                     ["faults.inject_delay_ms", "faults.heal_delay_ms", "faults.sigint_to_all_healed_s",
                      "faults.inject_start_lag_ms", "faults.heal_start_lag_ms"]),
    "bench.backup": (["--quick", "--offline"], ["tickets", "backup s", "restore s", "rows ok"]),
    "bench.audit": (["--quick"], ["audit.generate_s", "audit.judge_s", "(stdlib json)"]),
    "bench.soak": (["--quick"], ["soak.generate_s", "soak.run_dir_mb", "soak.checks_s", "soak.report_s",
                                 "soak.report_mb"]),
    "bench.alerts": (["--quick", "--offline"],
                     ["alerts.time_to_fire_s", "alerts.time_to_resolve_s", "alerts.monitoring_cost"]),
    "bench.zero_rpo": (["--quick", "--offline"],
                       ["zero_rpo.purchases_without_stream", "zero_rpo.purchases_with_stream",
                        "zero_rpo.throughput_ratio", "zero_rpo.restore_archive", "zero_rpo.restore_stream"]),
    "bench.zones": (["--quick", "--offline"],
                    ["zones.lb_kill_outage_s", "zones.lb_kill_longest_gap_s", "zones.leader_zone_power_s",
                     "zones.leader_kill_s", "zones.power_vs_kill_ratio"]),
    "bench.cpu": (["--quick", "--offline"],
                  ["ms/purchase", "rest of machine", "cpu.purchases_per_s", "cpu.drill_ms_per_purchase",
                   "cpu.api_ms_per_purchase"]),
}
LOAD_ARGS = ["--quick", "--offline"]
LOAD_LABELS = ["load.generator_ops_s_with_history", "load.generator_ops_s_without_history",
               "load.generator_history_ratio", "load.generator_ops_s_bare_locust", "target/s",
               "load.max_purchase_rate_s"]
DOCKER_MODULES = {"bench.__main__": ["--quick"], "bench.faults": ["--quick"], "bench.backup": ["--quick"],
                  "bench.alerts": ["--quick"],
                  "bench.zero_rpo": ["--quick"],
                  "bench.zones": ["--quick"],
                  "bench.cpu": ["--quick"],
                  "bench.load": ["purchases", "--quick"]}  # bench.load's generator needs no engine: not here
OFFLINE_NOTE = "--offline: skipped everything that needs a Docker engine"


@pytest.fixture(scope="module")
def dead_docker_host(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"unix://{tmp_path_factory.mktemp('no-engine') / 'docker.sock'}"


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch, dead_docker_host: str) -> None:
    monkeypatch.setenv("DOCKER_HOST", dead_docker_host)
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)


@pytest.fixture(scope="module", autouse=True)
def load_run(dead_docker_host: str) -> Iterator[subprocess.Popen]:
    """`python -m bench.load --quick --offline`, started before the first test of this module."""
    env = dict(os.environ, DOCKER_HOST=dead_docker_host, PYTHONUNBUFFERED="1")
    env.pop("DOCKER_TLS_VERIFY", None)
    proc = subprocess.Popen([sys.executable, "-m", "bench.load", *LOAD_ARGS], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            # the whole group: its Locust processes hold the pipes open, so killing the parent alone left
            # communicate() waiting forever when `-k` deselected the test that reads them
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


def run_main(module: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = import_module(module).main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("module", list(QUICK))
def test_quick_mode_exits_0_and_prints_its_numbers(module, capsys):
    args, labels = QUICK[module]
    code, out, err = run_main(module, args, capsys)
    assert code == 0, err
    missing = [label for label in labels if label not in out]
    assert not missing, f"{module} {' '.join(args)} did not print {missing}:\n{out}"


@pytest.mark.parametrize("module", [m for m in QUICK if "--offline" in QUICK[m][0]])
def test_offline_lines_are_marked_synthetic_and_say_what_was_skipped(module, capsys):
    _, out, _ = run_main(module, QUICK[module][0], capsys)
    assert "[synthetic] " in out  # numbers from synthetic data are never mistaken for measurements
    assert OFFLINE_NOTE in out


@pytest.mark.parametrize("module", list(DOCKER_MODULES))
def test_without_an_engine_the_docker_part_stops_with_a_clear_message(module, capsys):
    code, out, err = run_main(module, DOCKER_MODULES[module], capsys)
    assert code == ExitCode.INFRASTRUCTURE, err
    assert "no Docker engine answers" in err
    assert "hint:" in err
    assert "[synthetic] " in out  # the part that needs no engine ran first


@pytest.mark.parametrize(("module", "argv"), [
    ("bench.__main__", ["--only", "build,nonsense"]),
    ("bench.load", ["nonsense"]),
    ("bench.backup", ["--sizes", "1000,10", "--offline"]),
    ("bench.audit", ["--ops", "0"]),
    ("bench.soak", ["--minutes", "0", "--quick"]),
])
def test_bad_arguments_are_usage_errors(module, argv, capsys):
    with pytest.raises(SystemExit) as exc:
        import_module(module).main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_load_quick_mode_runs_the_generator_for_real_and_exits_0(load_run):
    out, err = load_run.communicate(timeout=LOAD_TIMEOUT_S)
    assert load_run.returncode == 0, f"python -m bench.load {' '.join(LOAD_ARGS)} exited {load_run.returncode}:\n" \
                                     f"{err[-3000:]}"
    assert "Traceback" not in err
    missing = [label for label in LOAD_LABELS if label not in out]
    assert not missing, f"bench.load did not print {missing}:\n{out}"
    assert "round 1 history" in out and "[synthetic] " in out and OFFLINE_NOTE in out
