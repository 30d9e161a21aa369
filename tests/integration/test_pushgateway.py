"""A real Prometheus Pushgateway (Debian's `prometheus-pushgateway`, installed by scripts/ensure-pushgateway.sh)
receives a run's metrics from `drill annotate RUN_DIR --pushgateway URL`, and shows them on its own /metrics.

No Docker: the test starts the gateway itself on a free loopback port, with no persistence, and stops it after.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from drills.checks import judge
from drills.checks.result import write_result
from drills.cli import main
from drills.errors import ExitCode
from drills.platform import http
from tests.unit.test_checks_builder import Run, scenario

BINARY = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
pytestmark = pytest.mark.skipif(BINARY is None, reason="no Pushgateway binary: run scripts/ensure-pushgateway.sh "
                                                       "(Debian package prometheus-pushgateway)")
RUN_ID = "t-20251126-000000-pushgw"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def pushgateway(tmp_path: Path) -> Iterator[str]:
    """A Pushgateway on 127.0.0.1:<free port>, ready; stopped (and waited for) after the test."""
    assert BINARY is not None
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "pushgateway.log").open("wb")
    proc = subprocess.Popen([BINARY, f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if http.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, (tmp_path / "pushgateway.log").read_text()
            assert time.monotonic() < deadline, "the Pushgateway did not get ready in 20 s"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    run = Run(tmp_path / "run")
    run.stream(end=60.0, every=0.5)
    run.fault("kill-leader", 12.0, 24.0)
    run.final_from_history()
    path = run.write()
    result = judge(path, scenario())
    result["run_id"] = RUN_ID
    write_result(path, result)
    return path


def test_the_pushgateway_receives_the_runs_metrics(pushgateway: str, run_dir: Path) -> None:
    assert main(["annotate", str(run_dir), "--pushgateway", pushgateway]) == ExitCode.PASS
    text = http.get(f"{pushgateway}/metrics", timeout=5).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    verdict = {s.labels["verdict"]: s for s in families["drills_verdict"].samples}
    assert verdict["pass"].value == 1.0 and verdict["fail"].value == 0.0
    labels = verdict["pass"].labels
    assert {k: labels.get(k) for k in ("job", "scenario", "run_id")} == {"job": "drills", "scenario": "t",
                                                                        "run_id": RUN_ID}
    lost = families["drills_lost_acknowledged"].samples
    assert [(s.name, s.value) for s in lost] == [("drills_lost_acknowledged_total", 0.0)]
    assert families["drills_faults_injected"].samples[0].value == 1
    assert any(s.labels.get("job") == "drills" for s in families["push_time_seconds"].samples)


def test_a_second_run_of_the_scenario_replaces_the_first_in_its_group(pushgateway: str, run_dir: Path) -> None:
    assert main(["annotate", str(run_dir), "--pushgateway", pushgateway]) == ExitCode.PASS
    result = (run_dir / "result.json").read_text().replace(RUN_ID, "t-20251127-000000-second")
    (run_dir / "result.json").write_text(result)
    assert main(["annotate", str(run_dir), "--pushgateway", pushgateway]) == ExitCode.PASS
    text = http.get(f"{pushgateway}/metrics", timeout=5).text
    run_ids = {s.labels["run_id"] for f in text_string_to_metric_families(text) if f.name == "drills_verdict"
               for s in f.samples}
    assert run_ids == {"t-20251127-000000-second"}
