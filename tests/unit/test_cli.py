import subprocess
import sys

import pytest

from drills.cli import main
from drills.errors import ExitCode


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "drills", *args], capture_output=True, text=True, env=env,
                          timeout=60)


@pytest.mark.parametrize("argv", [["stack", "up", "--api-replicas", "zero"], ["nonsense"], ["stack", "up", "--bogus"],
                                  ["stack", "up", "--api-replicas", "12"]])
def test_usage_errors_exit_64_with_usage_and_no_traceback(argv):
    proc = run_cli(*argv)
    assert proc.returncode == ExitCode.USAGE
    assert "usage:" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_no_command_prints_help():
    assert main([]) == ExitCode.USAGE


def test_unreachable_engine_is_a_clear_infrastructure_error(tmp_path):
    import os

    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp_path}/nothing.sock")
    proc = run_cli("stack", "status", env=env)
    assert proc.returncode == ExitCode.INFRASTRUCTURE
    assert "no Docker engine answers" in proc.stderr
    assert "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr
