"""scripts/with-timeout.sh and scripts/ensure-docker.sh where GNU `timeout` is missing (macOS out of the box):
a PATH of just the few tools they use, none of them `timeout` or `gtimeout`."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
WITH_TIMEOUT = SCRIPTS / "with-timeout.sh"
TOOLS = ("bash", "sh", "env", "sleep", "mktemp", "rm", "dirname", "cat")


@pytest.fixture()
def bare_path(tmp_path) -> Path:
    """A bin folder with the tools the scripts use and no timeout/gtimeout."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    return bin_dir


def _run(bin_dir: Path, *args: str, timeout: float = 30) -> tuple[subprocess.CompletedProcess, float]:
    env = {"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/tmp"), "TMPDIR": str(bin_dir.parent)}
    t0 = time.monotonic()
    proc = subprocess.run([*args], env=env, capture_output=True, text=True, timeout=timeout)
    return proc, time.monotonic() - t0


def test_the_bare_path_really_has_no_timeout(bare_path):
    proc, _ = _run(bare_path, "/bin/sh", "-c", "command -v timeout || command -v gtimeout || echo none")
    assert proc.stdout.strip() == "none"


def test_a_command_past_its_time_is_stopped_with_124(bare_path):
    proc, took = _run(bare_path, str(WITH_TIMEOUT), "1", "sleep", "20")
    assert proc.returncode == 124 and took < 5
    assert not list(bare_path.parent.glob("with-timeout.*"))   # its marker file is gone


def test_a_quick_command_keeps_its_status_and_output_and_returns_at_once(bare_path):
    proc, took = _run(bare_path, str(WITH_TIMEOUT), "10", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert (proc.returncode, proc.stdout, proc.stderr) == (7, "out\n", "err\n") and took < 3


def test_bad_arguments_are_a_usage_error(bare_path):
    proc, _ = _run(bare_path, str(WITH_TIMEOUT), "soon", "true")
    assert proc.returncode == 125 and "usage" in proc.stderr


def test_ensure_docker_accepts_an_answering_engine_without_gnu_timeout(bare_path):
    """Before the fix `timeout 10 docker info` failed (command not found), so a running Docker Desktop on a Mac
    looked absent: exit 3. An engine that answers must be accepted with nothing installed or started."""
    calls = bare_path.parent / "docker-calls"
    (bare_path / "docker").write_text(f"#!/bin/sh\necho \"$*\" >> {calls}\nexit 0\n")
    # A Mac user is not root: should the check fail, the script stops with exit 3 and never installs anything.
    (bare_path / "id").write_text("#!/bin/sh\necho 501\n")
    for stub in ("docker", "id"):
        (bare_path / stub).chmod(0o755)
    proc, _ = _run(bare_path, str(SCRIPTS / "ensure-docker.sh"))
    assert proc.returncode == 0, proc.stderr
    assert calls.read_text() == "info\n"
