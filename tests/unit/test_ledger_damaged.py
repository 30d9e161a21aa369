"""A damaged or foreign ledger file never crashes `drill clean`, and no half-read heal action is acted on."""

from __future__ import annotations

import json

import pytest

from drills.faults.heal import heal_entry
from drills.faults.ledger import HealAction, KnownRun, heal_actions, heal_left


@pytest.mark.parametrize("heal", [
    [{"container": "c"}],                        # no action
    [1, "x", None],                              # not objects
    "thaw",                                      # not a list
    [{"action": 5}],                             # action not text
    [{"action": "thaw", "container": ["a"]}],    # wrong-typed field
    [{"action": "thaw", "xid": True}],           # a bool is not a transaction id
    [{"action": "thaw", "ports": {"pg1": "x"}}],
    [{"action": "thaw", "chains": [1]}],
])
def test_unreadable_heal_actions_are_named_not_run(heal) -> None:
    actions, problems = heal_actions({"heal": heal})
    assert actions == [] and problems and all(isinstance(p, str) for p in problems)


def test_readable_actions_survive_next_to_damaged_ones() -> None:
    good = HealAction("thaw", container="abc", name="pg1").to_dict()
    actions, problems = heal_actions({"heal": [good, {"container": "c"}]})
    assert [a.describe() for a in actions] == ["thaw pg1"] and len(problems) == 1


def test_clean_dry_run_lists_what_it_can_and_reports_the_rest(tmp_path) -> None:
    lines: list[str] = []
    run = KnownRun("hx6", ledger=tmp_path / "hx6.json", pending={
        "f": {"fault_id": "f", "heal": [{"container": "c"}, HealAction("thaw", name="pg1").to_dict()]}})
    errors = heal_left(run, heal=lambda e: ([], []), log=lines.append, dry_run=True)
    assert lines == ["would heal (hx6/f): thaw pg1"]
    assert len(errors) == 1 and "unreadable" in errors[0] and json.dumps({"container": "c"}) in errors[0]


def test_heal_entry_reports_an_unreadable_action_as_not_healed() -> None:
    done, errors = heal_entry({"heal": [[1, 2]]}, None)
    assert done == [] and errors and errors[0].startswith("not healed: heal action 0 unreadable")
