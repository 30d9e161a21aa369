"""The reference stack's audit, rebuilt on the declared mechanism (set and unique models), gives the counts the
stored runs were judged with before it: each fixture run's result.json was written by the earlier audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.checks.result import judge_recorded

RUNS = Path(__file__).resolve().parent / "fixtures" / "runs"
COUNTS = ("final_state", "attempted", "acknowledged", "failed", "indeterminate", "lost", "unexpected", "duplicated",
          "oversold", "sold_over_capacity", "indeterminate_applied", "indeterminate_not_applied",
          "inventory_mismatch", "rotations_acknowledged", "credential_changes_lost", "credentials_checked",
          "revoked_sessions_working", "sessions_checked")


@pytest.mark.parametrize("name", sorted(p.parent.name for p in RUNS.glob("*/final-state.json")))
def test_stored_runs_keep_their_audit_counts(name: str) -> None:
    stored = json.loads((RUNS / name / "result.json").read_text())["audit"]
    audit = judge_recorded(RUNS / name)["audit"]
    assert {k: audit.get(k) for k in COUNTS} == {k: stored.get(k) for k in COUNTS}
    assert {k: len(v) for k, v in audit["samples"].items()} == {k: len(v) for k, v in stored["samples"].items()}
