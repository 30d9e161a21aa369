"""The CLI for people: list and explain from the catalogue tables (every entry, so a new one cannot be
forgotten), init writing a valid commented skeleton, shell completion of every subcommand, the schema, and a
dry-run that shows a staged profile's stages and never a `None`."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from drills.cli import build_parser, main
from drills.errors import ExitCode
from drills.report.catalogue import explain, names
from drills.scenario import SCHEMA_PATH, check_file
from drills.scenario.fault_families import FAMILIES
from drills.scenario.fault_types import FAULTS
from drills.scenario.metrics import METRICS

REPO = Path(__file__).resolve().parents[2]
CORPUS = sorted((REPO / "tests" / "unit" / "scenario_corpus" / "good").glob("*.yaml"))
SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def flat(text: str) -> str:
    """Console output with table borders and line folds taken out, so a folded cell still reads as one text."""
    return " ".join(text.replace("│", " ").replace("┃", " ").split())


# ---- list and explain ----------------------------------------------------------------------------------------------

def test_list_faults_shows_every_fault_type_with_its_family(capsys):
    code, out, _ = run(capsys, "list", "faults")
    assert code == ExitCode.PASS
    rows = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in FAULTS}
    assert set(rows) == set(FAULTS)
    for name, spec in FAULTS.items():
        assert spec.family in rows[name]


def test_list_metrics_shows_every_metric_with_its_bound_and_unit(capsys):
    code, out, _ = run(capsys, "list", "metrics")
    assert code == ExitCode.PASS
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()
            and line.split()[0] in METRICS}
    assert set(rows) == set(METRICS)
    for name, spec in METRICS.items():
        assert spec.bound in rows[name] and spec.unit in rows[name]


def test_list_scenarios_names_each_file_of_the_folder(capsys, tmp_path):
    code, out, _ = run(capsys, "list", "scenarios", str(REPO / "scenarios"))
    assert code == ExitCode.PASS
    text = flat(out)
    for path in SCENARIOS:
        assert check_file(path)[0].name in text
    (tmp_path / "broken.yaml").write_text("name: [\n")
    code, out, _ = run(capsys, "list", "scenarios", str(tmp_path))
    assert code == ExitCode.INVALID_SCENARIO and "invalid" in out


def test_list_scenarios_of_a_missing_folder_is_a_usage_error(capsys, tmp_path):
    code, _, err = run(capsys, "list", "scenarios", str(tmp_path / "nope"))
    assert code == ExitCode.USAGE and "not a directory" in err


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_explain_a_fault_type_says_its_doc_family_and_every_param(name, capsys):
    code, out, _ = run(capsys, "explain", name)
    assert code == ExitCode.PASS
    text = flat(out)
    spec = FAULTS[name]
    assert flat(spec.doc) in text and spec.family in text
    for param, p in spec.params.items():
        assert f"{param}:" in text and flat(p.doc) in text
        for choice in p.choices:
            assert choice in text


@pytest.mark.parametrize("name", sorted(METRICS))
def test_explain_a_metric_says_its_meaning_bound_and_unit(name, capsys):
    code, out, _ = run(capsys, "explain", name)
    spec = METRICS[name]
    assert code == ExitCode.PASS
    assert flat(spec.meaning) in flat(out) and f"`{spec.bound}`" in out and spec.unit in out


def test_explain_knows_every_family_and_every_name_completes():
    for family in FAMILIES:
        lines = explain(family)
        assert lines is not None and all(name in " ".join(lines) for name, spec in FAULTS.items()
                                         if spec.family == family)
    assert set(names()) >= set(FAULTS) | set(METRICS) | set(FAMILIES)


def test_explain_an_unknown_name_suggests_the_close_one(capsys):
    code, out, err = run(capsys, "explain", "laetncy")
    assert code == ExitCode.USAGE and "did you mean 'latency'" in err and "drill list" in err and not out


# ---- init ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("attach", [False, True])
def test_init_writes_a_commented_skeleton_that_validates(attach, capsys, tmp_path):
    path = tmp_path / "sub" / "first-drill.yaml"
    path.parent.mkdir()
    code, out, err = run(capsys, "init", str(path), *(["--attach"] if attach else []))
    assert code == ExitCode.PASS, err
    text = path.read_text()
    first = text.splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    assert (path.parent / first.split("=", 1)[1]).resolve() == SCHEMA_PATH.resolve()   # the modeline finds it
    scenario, issues = check_file(path)
    assert issues == [] and scenario is not None and scenario.name == "first-drill"
    assert ("attach:" in text) is attach and ("reference:" in text) is not attach
    assert all(t in text for t in FAULTS) and all(m in text for m in METRICS)   # the lists come from the tables
    assert "valid" in out


def test_init_never_overwrites(capsys, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\n")
    code, _, err = run(capsys, "init", str(path))
    assert code == ExitCode.USAGE and "exists" in err and "Traceback" not in err
    assert path.read_text() == "name: mine\n"


@pytest.mark.parametrize("bad", ["no-such-dir/x.yaml", "x.txt"])
def test_init_refuses_a_path_it_cannot_use(bad, capsys, tmp_path):
    code, _, err = run(capsys, "init", str(tmp_path / bad))
    assert code == ExitCode.USAGE and len(err.strip().splitlines()) <= 2


# ---- schema --------------------------------------------------------------------------------------------------------

def test_schema_prints_the_scenario_schema(capsys):
    code, out, _ = run(capsys, "schema")
    assert code == ExitCode.PASS and json.loads(out) == json.loads(SCHEMA_PATH.read_text())


# ---- completion ----------------------------------------------------------------------------------------------------

def subcommands(parser: argparse.ArgumentParser) -> set[str]:
    found = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for word, sub in action.choices.items():
                found |= {word} | subcommands(sub)
    return found


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_mentions_every_subcommand(shell, capsys):
    code, out, _ = run(capsys, "completion", shell)
    assert code == ExitCode.PASS
    words = set(out.replace("(", " ").replace(")", " ").replace("'", " ").split())
    missing = {w for w in subcommands(build_parser()) if f":{w})" not in out and w not in words}
    assert not missing and {"list", "explain", "init", "completion", "schema", "build", "up"} <= words


def test_the_bash_script_is_valid_bash(capsys):
    _, out, _ = run(capsys, "completion", "bash")
    proc = subprocess.run(["bash", "-n"], input=out, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_the_zsh_script_is_valid_zsh(capsys):
    _, out, _ = run(capsys, "completion", "zsh")
    proc = subprocess.run(["zsh", "-n"], input=out, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("typed, expected, absent", [
    (["drill", ""], {"run", "validate", "list", "completion"}, {"up"}),
    (["drill", "st"], {"stack"}, {"run"}),
    (["drill", "stack", ""], {"up", "status", "down"}, {"run"}),
    (["drill", "stack", "up", "--"], {"--name", "--api-replicas", "--timeout"}, {"--json"}),
    (["drill", "list", ""], {"faults", "metrics", "scenarios"}, set()),
    (["drill", "explain", "lat"], {"latency", "latency_p99_ms"}, {"kill"}),
    (["drill", "validate", "--format", ""], {"text", "github", "json"}, set()),
    (["drill", "stack", "up", "--name", "x", "--"], {"--timeout"}, set()),   # the option's value was skipped
])
def test_bash_completes_what_the_parser_accepts(typed, expected, absent, capsys):
    _, script, _ = run(capsys, "completion", "bash")
    words = " ".join(f"'{w}'" for w in typed)
    probe = f'{script}\nCOMP_WORDS=({words}); COMP_CWORD={len(typed) - 1}; _drill; printf "%s\\n" "${{COMPREPLY[@]}}"'
    proc = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30, cwd="/")
    offered = set(proc.stdout.split())
    assert expected <= offered and not (absent & offered), proc.stderr


# ---- the dry-run ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", SCENARIOS + CORPUS, ids=lambda p: p.name)
def test_a_dry_run_shows_no_none(path, capsys):
    code, out, err = run(capsys, "run", str(path), "--dry-run")
    assert code == ExitCode.PASS, err
    assert "None" not in out


def test_a_dry_run_shows_each_stage_of_a_staged_profile(capsys):
    path = REPO / "scenarios" / "onsale-spike.yaml"
    scenario = check_file(path)[0]
    code, out, _ = run(capsys, "run", str(path), "--dry-run")
    stages = [line for line in out.splitlines() if line.strip().startswith("stage ")]
    assert code == ExitCode.PASS and len(stages) == len(scenario.load.profile.stages) > 1
    for line, stage in zip(stages, scenario.load.profile.stages, strict=True):
        assert f"{stage.rate:g} operations/s" in line


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_what_the_parser_accepts(capsys, tmp_path):
    _, script, _ = run(capsys, "completion", "zsh")
    (tmp_path / "_drill").write_text(script)
    probe = (f"compdef() {{ :; }}\nsource {tmp_path / '_drill'}\n"
             'compadd() { print -r -- "$@"; }\n_files() { print -r -- FILES; }\n'
             "words=(drill stack ''); CURRENT=3; _drill\n"
             "words=(drill run ''); CURRENT=3; _drill\n")
    proc = subprocess.run(["zsh", "-f", "-c", probe], capture_output=True, text=True, timeout=30)
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["--", "up", "status", "down"] and "FILES" in lines, proc.stderr
