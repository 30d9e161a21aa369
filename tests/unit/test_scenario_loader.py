"""The YAML loader keeps positions and turns every unreadable or malformed file into one clear issue."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.scenario import ScenarioInvalid, check_file, load_scenario
from drills.scenario.loader import load_yaml, parse_yaml
from drills.scenario.nodes import Mapping, Scalar, Sequence, from_python, to_python


def _only_issue(text: str):
    with pytest.raises(ScenarioInvalid) as caught:
        parse_yaml(text, "s.yaml")
    assert len(caught.value.issues) == 1
    return caught.value.issues[0]


def test_every_key_and_value_keeps_its_line_and_column():
    root = parse_yaml("name: x\nfaults:\n  - type: kill\n    at: 30s\n", "s.yaml")
    assert isinstance(root, Mapping)
    (k1, v1), (_, v2) = root.pairs
    assert (k1.value, k1.line, k1.column) == ("name", 1, 1)
    assert (v1.value, v1.line, v1.column) == ("x", 1, 7)
    assert isinstance(v2, Sequence) and (v2.line, v2.column) == (3, 3)
    fault = v2.items[0]
    assert isinstance(fault, Mapping)
    at_key, at_value = fault.pairs[1]
    assert (at_key.line, at_key.column, at_value.value, at_value.column) == (4, 5, "30s", 9)


def test_scalars_resolve_like_safe_load():
    root = parse_yaml("a: 30\nb: 1.5\nc: true\nd: null\ne: '30'\nf: 30s\n")
    assert to_python(root) == {"a": 30, "b": 1.5, "c": True, "d": None, "e": "30", "f": "30s"}


def test_anchors_aliases_and_merge_keys_work():
    root = parse_yaml("base: &b {type: kill, at: 5}\nf1: *b\nf2:\n  <<: *b\n  at: 9\n")
    data = to_python(root)
    assert data["f1"] == {"type": "kill", "at": 5}
    assert data["f2"] == {"type": "kill", "at": 9}


@pytest.mark.parametrize("text, where, words", [
    ("name: x\nfaults: [1, 2\n", (3, 1), "invalid YAML"),
    ("", (1, 1), "empty"),
    ("# only a comment\n", (1, 1), "empty"),
    ("- a\n- b\n", (1, 1), "found a list"),
    ("just text\n", (1, 1), "found 'just text'"),
    ("a:\n\tb: 1\n", (2, 1), "tabs"),
    ("a: 1\n---\nb: 2\n", (2, 1), "single document"),
    ("a: &x [*x]\n", (1, 4), "recursive"),
    ("a: !!int abc\n", (1, 4), "invalid value"),
    ("a: !custom 1\n", (1, 4), "constructor"),
    ("a: \x07\n", (1, 4), "U+0007"),
])
def test_malformed_documents_give_one_positioned_issue(text, where, words):
    issue = _only_issue(text)
    assert (issue.line, issue.column) == where
    assert words in issue.message
    assert str(issue).startswith(f"s.yaml:{where[0]}:{where[1]}: ")


def test_unreadable_files_are_issues_not_tracebacks(tmp_path: Path):
    missing = tmp_path / "nope.yaml"
    scenario, issues = check_file(missing)
    assert scenario is None and "no such file" in issues[0].message and issues[0].line is None
    assert str(issues[0]) == f"{missing}: no such file"
    _, issues = check_file(tmp_path)
    assert "directory" in issues[0].message
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"name: x\n\xff\xfe\n")
    _, issues = check_file(binary)
    assert "UTF-8" in issues[0].message and issues[0].line == 2


def test_load_yaml_reads_files(tmp_path: Path):
    path = tmp_path / "s.yaml"
    path.write_text("name: from-file\n")
    root = load_yaml(path)
    assert isinstance(root, Mapping) and root.pairs[0][1].value == "from-file"
    assert load_scenario(path).name == "from-file"


def test_plain_data_becomes_nodes_without_positions():
    node = from_python({"a": [1, {"b": None}]})
    assert isinstance(node, Mapping) and node.line is None
    assert isinstance(node.pairs[0][0], Scalar)
    assert to_python(node) == {"a": [1, {"b": None}]}


def test_mangled_yaml_never_escapes_as_a_traceback():
    """Delete or insert a character all over a real scenario: always a scenario or ScenarioInvalid."""
    from drills.scenario.validate import build_scenario

    text = (Path(__file__).resolve().parent / "scenario_corpus" / "good" / "leader-kill.yaml").read_text()
    for position in range(0, len(text), 3):
        for mangled in (text[:position] + text[position + 1:],
                        *(text[:position] + extra + text[position:] for extra in (":", "\t", "[", "- ", "&a ", "*a"))):
            try:
                build_scenario(parse_yaml(mangled, "m.yaml"), "m.yaml")
            except ScenarioInvalid as exc:
                assert exc.issues
