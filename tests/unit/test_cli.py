import os
import subprocess
import sys
from pathlib import Path

import pytest

from drills.cli import build_parser, main
from drills.errors import ExitCode
from drills.report.terminal import SHOWN_INSTEAD, plain, safe
from drills.scenario.limits import SEED_MAX, SEED_MIN


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


# ---- hostile command lines and output -----------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
HOSTILE = '\\e]0;pwned\\a\\e[2J[bold red]boom[/] \\e[31mred'


@pytest.mark.parametrize("group", ["stack", "images"])
def test_a_group_without_action_prints_its_own_help(group, capsys):
    assert main([group]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert f"usage: drill {group} [-h] ACTION" in err and "COMMAND" not in err


@pytest.mark.parametrize("seed, ok", [(str(SEED_MIN), True), (str(SEED_MAX), True), ("-1", False),
                                      (str(SEED_MAX + 1), False), ("7.5", False)])
def test_the_cli_seed_takes_the_scenario_seed_range(seed, ok, capsys):
    if ok:
        assert build_parser().parse_args(["run", "x.yaml", "--seed", seed]).seed == int(seed)
        return
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["run", "x.yaml", "--seed", seed])
    assert exc.value.code == ExitCode.USAGE and "--seed" in capsys.readouterr().err


def test_the_seed_range_is_the_scenario_schemas():
    from drills.scenario.schema import build_schema

    seed = build_schema()["properties"]["seed"]
    assert (seed["minimum"], seed["maximum"]) == (SEED_MIN, SEED_MAX)


def test_terminal_text_is_neither_markup_nor_control_sequences():
    text = "\x1b]0;title\x07\x1b[2J\x1bc[red]x[/red]\x9b1m\u202eabc\x00\ud800\ttab\nline"
    assert plain(text) == f"{SHOWN_INSTEAD * 3}[red]x[/red]{SHOWN_INSTEAD}1m{SHOWN_INSTEAD}abc" \
                          f"{SHOWN_INSTEAD * 2} tab\nline"
    assert plain(text, oneline=True).endswith(" tab line")
    assert safe("[red]x[/red]") == "\\[red]x\\[/red]"
    assert plain("x" * 10_000).endswith("bytes cut)")


def test_dry_run_prints_scenario_text_as_text(tmp_path):
    path = tmp_path / "hostile.yaml"
    path.write_text(f'name: hostile\ndescription: "{HOSTILE}"\nphases: {{warmup: 1s, steady: 5s, recovery: 1s}}\n'
                    "load: {profile: {type: arrival_rate, rate: 1.0, max_users: 5}}\n"
                    "faults: [{id: kill-leader, type: kill, target: {role: leader}, at: 2s}]\n"
                    "budgets: [{metric: lost, max: 0}]\n")
    proc = run_cli("run", str(path), "--dry-run")
    assert proc.returncode == ExitCode.PASS, proc.stderr
    assert "[bold red]boom[/]" in proc.stdout and "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    assert "recovery 1s from the last heal (total 7s, longer by any heal still running at the end of steady)" \
        in " ".join(proc.stdout.split())


def test_validate_prints_one_line_per_problem_when_not_a_terminal(tmp_path):
    path = tmp_path / ("a-long-directory-name-" * 4) / "several_errors.yaml"
    path.parent.mkdir()
    path.write_text((REPO / "tests/unit/scenario_corpus/bad/several_errors.yaml").read_text())
    proc = run_cli("validate", str(path), env=dict(os.environ, COLUMNS="40"))
    assert proc.returncode == ExitCode.INVALID_SCENARIO
    lines = proc.stderr.splitlines()
    assert len(lines) >= 3 and lines[-1].endswith("problem(s) in 1 file(s)")
    for line in lines[:-1]:
        assert line.startswith(f"{path}:") and len(line) > 40, line


@pytest.mark.parametrize("argv", [["validate", *(str(p) for p in sorted((REPO / "scenarios").glob("*.yaml")))],
                                  ["compare", str(REPO / "tests/unit/fixtures/runs/pass"),
                                   str(REPO / "tests/unit/fixtures/runs/fail")]])
def test_a_closed_output_exits_quietly_with_its_own_code(argv):
    proc = subprocess.Popen([sys.executable, "-m", "drills", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=REPO)
    proc.stdout.close()   # the reader is gone before the first line (`| head -0`)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == ExitCode.OUTPUT_CLOSED != ExitCode.BUDGET_FAILED
    assert err == "" or "Traceback" not in err and "BrokenPipe" not in err


@pytest.mark.parametrize("timeout", ["nan", "inf", "-5", "0", "1e9", "abc"])
def test_stack_up_timeout_outside_its_range_is_a_usage_error(timeout: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["stack", "up", "--timeout", timeout])
    assert exc.value.code == ExitCode.USAGE and "seconds" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["run", "x.yaml", "--seed", "٣"], ["run", "x.yaml", "--seed", "1_000"],
                                  ["stack", "up", "--timeout", "١٠"], ["clean", "--run", ""],
                                  ["clean", "--run", "../x"]])
def test_odd_numbers_and_names_on_the_command_line_are_usage_errors(argv, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == ExitCode.USAGE


def test_an_invalid_scenario_given_to_run_prints_one_line_per_problem(tmp_path, capsys) -> None:
    from drills.cli import main

    path = tmp_path / "s.yaml"
    path.write_text('name: s\n"line1\\nline2\\rline3": 1\nbogus: 2\n')
    assert main(["run", "--dry-run", str(path)]) == ExitCode.INVALID_SCENARIO
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2 and all(str(path) in line for line in errors)
