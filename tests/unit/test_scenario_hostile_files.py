"""Hostile scenario files end in one positioned issue, never in a traceback, a hang or unbounded memory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drills.scenario import ScenarioInvalid, check_file
from drills.scenario.loader import MAX_BYTES, MAX_DEPTH, load_yaml, parse_yaml


def issue(path: Path) -> str:
    with pytest.raises(ScenarioInvalid) as exc:
        load_yaml(path)
    (only,) = exc.value.issues
    return str(only)


@pytest.mark.parametrize("text", ["a: " + "[" * 500 + "]" * 500, "a:\n" + "".join(f"{' ' * i}- \n" for i in range(400)),
                                  "a: " + "{b: " * 300 + "1" + "}" * 300])
def test_deep_nesting_is_refused_at_its_line_without_recursion(tmp_path: Path, text: str):
    p = tmp_path / "deep.yaml"
    p.write_text(text)
    with pytest.raises(ScenarioInvalid) as exc:
        load_yaml(p)
    (only,) = exc.value.issues
    assert only.line is not None and f"nested more than {MAX_DEPTH} levels" in only.message


def test_nesting_up_to_the_limit_is_fine():
    parse_yaml("name: x\nextra: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))


def test_a_fifo_is_refused_without_blocking(tmp_path: Path):
    p = tmp_path / "pipe.yaml"
    os.mkfifo(p)
    assert "named pipe" in issue(p)  # opening it would block forever: it is never opened


def test_a_link_to_a_device_is_refused_without_reading(tmp_path: Path):
    p = tmp_path / "zero.yaml"
    p.symlink_to("/dev/zero")
    assert "device" in issue(p)


def test_an_oversized_file_is_refused_after_reading_only_the_limit(tmp_path: Path, monkeypatch):
    p = tmp_path / "big.yaml"
    p.write_bytes(b"#" * (MAX_BYTES * 3))
    reads: list[int] = []
    real_open = open

    class Spy:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def read(self, n=-1):
            reads.append(n)
            return self.f.read(n)

    monkeypatch.setattr("builtins.open", lambda file, mode="r", *a, **k: Spy(real_open(file, mode, *a, **k)))
    assert f"larger than {MAX_BYTES} bytes" in issue(p)
    assert reads == [MAX_BYTES + 1]


def test_a_long_after_chain_written_backwards_validates_without_recursion(tmp_path: Path):
    n = 2500
    lines = ["name: chain", "phases: {warmup: 5s, steady: 3000s, recovery: 5s}", "faults:"]
    for i in range(n, 1, -1):
        lines.append(f"  - {{id: f{i}, type: restart, target: {{service: api1}}, "
                     f"after: {{fault: f{i - 1}, event: injected, delay: 1s}}}}")
    lines.append("  - {id: f1, type: restart, target: {service: api1}, at: 1s}")
    p = tmp_path / "chain.yaml"
    p.write_text("\n".join(lines) + "\n")
    scenario, problems = check_file(p)
    assert problems == [] and scenario is not None and len(scenario.faults) == n


def test_a_cycle_in_a_long_chain_is_named():
    from drills.scenario import scenario_from_dict

    faults = [{"id": f"f{i}", "type": "restart", "target": {"service": "api1"},
               "after": {"fault": f"f{(i + 1) % 300}", "event": "injected"}} for i in range(300)]
    with pytest.raises(ScenarioInvalid) as exc:
        scenario_from_dict({"name": "c", "faults": faults})
    assert any("without a cycle" in i.message for i in exc.value.issues)


def test_aliases_that_repeat_one_list_many_times_are_refused_before_validation():
    """5 kB of `groups: [*g, *g, ...]` over a 700-name `g` was half a million members to check."""
    from drills.scenario.loader import MAX_VALUES

    names = ",".join(["pg1"] * 700)
    text = (f"x: &g [{names}]\nname: x\nfaults:\n  - type: partition\n    at: 1\n    params:\n"
            f"      groups: [{','.join(['*g'] * 700)}]\n")
    with pytest.raises(ScenarioInvalid) as exc:
        parse_yaml(text, "b.yaml")
    (only,) = exc.value.issues
    assert (only.line, only.column) == (7, 15) and f"more than {MAX_VALUES} values" in only.message


def test_a_chain_of_merges_each_copying_the_last_is_refused_early():
    text = "a0: &a0 {k0: 0}\n" + "".join(f"a{i}: &a{i} {{<<: *a{i - 1}, k{i}: {i}}}\n" for i in range(1, 3000))
    with pytest.raises(ScenarioInvalid) as exc:
        parse_yaml(text, "m.yaml")
    (only,) = exc.value.issues
    assert only.line is not None and only.line < 400 and "merge keys repeat" in only.message


def test_aliases_within_the_budget_are_fine():
    from drills.scenario.nodes import to_python

    text = "a: &a [x, y]\nb: [*a, *a]\nc: {<<: {k: 1}, j: 2}\n"
    assert to_python(parse_yaml(text)) == {"a": ["x", "y"], "b": [["x", "y"], ["x", "y"]], "c": {"k": 1, "j": 2}}
