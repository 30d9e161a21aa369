"""Workflow hygiene in .github/workflows/: least privilege, one run at a time, actions pinned to commit SHAs (with
the tag in a comment), artifacts that expire, and a CI workflow that lints, runs the unit tests and validates
every scenario."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

WORKFLOWS = sorted((Path(__file__).resolve().parents[2] / ".github" / "workflows").glob("*.yml"))
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>[^@\s]+)@(?P<ref>\S+)(?P<rest>.*)$")


def steps(doc: dict) -> list[dict]:
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_a_workflow_reads_only_and_runs_one_at_a_time(path):
    doc = yaml.safe_load(path.read_text())
    assert doc["permissions"] == {"contents": "read"}
    assert doc["concurrency"]["group"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_sha_with_its_tag_noted(path):
    pinned = [m for line in path.read_text().splitlines() if (m := USES.match(line))]
    assert pinned, f"{path.name} uses no action"
    for m in pinned:
        assert re.fullmatch(r"[0-9a-f]{40}", m["ref"]), f"{m['action']}@{m['ref']} is not a full commit SHA"
        assert re.search(r"#\s*v\d+", m["rest"]), f"{m['action']}: note the tag it stands for (# vX.Y.Z)"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_uploaded_artifacts_expire(path):
    uploads = [s for s in steps(yaml.safe_load(path.read_text())) if "upload-artifact" in s.get("uses", "")]
    for step in uploads:
        assert 1 <= int(step["with"]["retention-days"]) <= 90


def test_a_ci_workflow_lints_tests_and_validates_on_push_and_pull_request():
    docs = {p.name: yaml.safe_load(p.read_text()) for p in WORKFLOWS}
    ci = [d for d in docs.values() if {"push", "pull_request"} <= set(d.get(True, d.get("on")) or {})]
    assert ci, "no workflow runs on push and pull_request"
    commands = " ".join(s.get("run", "") for s in steps(ci[0]))
    assert "make lint" in commands and "make unit" in commands
    assert re.search(r"drill validate .*scenarios/\*\.yaml", commands)
