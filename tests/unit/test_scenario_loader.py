"""The YAML loader keeps positions and turns every unreadable or malformed file into one clear issue."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from drills.scenario import ScenarioInvalid, check_file, load_scenario
from drills.scenario.loader import load_yaml, parse_yaml
from drills.scenario.nodes import Mapping, Scalar, Sequence, from_python, to_python
from drills.scenario.validate import build_scenario


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
    text = (Path(__file__).resolve().parent / "scenario_corpus" / "good" / "leader-kill.yaml").read_text()
    for position in range(0, len(text), 3):
        for mangled in (text[:position] + text[position + 1:],
                        *(text[:position] + extra + text[position:] for extra in (":", "\t", "[", "- ", "&a ", "*a"))):
            try:
                build_scenario(parse_yaml(mangled, "m.yaml"), "m.yaml")
            except ScenarioInvalid as exc:
                assert exc.issues


# -- YAML semantics: merges as YAML defines them, tags refused as yaml.safe_load refuses them -------------------

@pytest.mark.parametrize("text, expected", [
    ("base: &b {id: one, at: 5}\nf: {<<: *b, id: other}\n", {"id": "other", "at": 5}),   # override after
    ("base: &b {id: one, at: 5}\nf: {id: other, <<: *b}\n", {"id": "other", "at": 5}),   # or before the merge
    ("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nf: {<<: [*a, *b]}\n", {"x": 1, "y": 2}),         # the earlier wins
    ("k: &k {type: kill, x: 1}\nf: {<<: [{type: stop}, *k]}\n", {"type": "stop", "x": 1}),
    ("k: &k {type: kill, x: 1}\nf: {<<: [*k, {type: stop}]}\n", {"type": "kill", "x": 1}),
    ("a: &a {x: 1}\nf: {<<: *a, x: 2, x: 3}\n", {"x": 3}),                               # a real duplicate
])
def test_merges_follow_the_yaml_merge_key_rules(text, expected):
    """Explicit keys win over merged ones; in a list the earlier mapping wins. (Not compared with yaml.safe_load:
    PyYAML 6.0.4 tells merged keys apart by the identity of their string objects, so its answer varies.)"""
    assert to_python(parse_yaml(text))["f"] == expected


def test_a_merge_of_a_merge_sees_the_overrides_of_the_one_it_merges():
    """YAML's rule applied at each level (PyYAML's own safe_load gives t.k == 1 here: its merge of a merged
    mapping brings back the overridden key)."""
    text = "b: &b {k: 1}\nm: &m {<<: *b, k: 2, z: 1}\nt: {<<: *m, z: 3}\n"
    assert to_python(parse_yaml(text))["t"] == {"k": 2, "z": 3}


def test_an_override_of_a_merged_key_is_not_a_duplicate_but_a_written_twice_key_is():
    text = ("name: m\nfaults:\n  - &k {id: a, type: kill, target: {role: leader}, at: 5s, duration: 5s}\n"
            "  - <<: *k\n    id: b\n    at: 20s\n")
    scenario, problems = build_scenario(parse_yaml(text, "m.yaml"), "m.yaml")
    assert problems == [] and [(f.id, f.at) for f in scenario.faults] == [("a", 5.0), ("b", 20.0)]
    _, problems = build_scenario(parse_yaml(text + "    id: c\n", "m.yaml"), "m.yaml")
    (only,) = problems
    assert (only.line, only.column, only.path) == (7, 5, "faults[1].id") and "duplicate key" in only.message


@pytest.mark.parametrize("text, where, words", [
    ("a: &a {x: 1}\nb: {<<: *a, <<: *a}\n", (2, 13), "duplicate merge key"),
    ("a: {<<: 5}\n", (1, 9), "mapping or a list of mappings to merge"),
    ("a: {<<: [{x: 1}, [2]]}\n", (1, 18), "found a list"),
    ("a: &x {<<: *x}\n", (1, 4), "recursive"),
    ("a: !!python/object/apply:os.system [echo hi]\n", (1, 4), "'!!python/object/apply:os.system' on a list"),
    ("a: !!python/object/new:dict {x: 1}\n", (1, 4), "on a mapping"),
    ("a: !foo {}\n", (1, 4), "'!foo' on a mapping"),
    ("a:\n  - !foo [1]\n", (2, 5), "'!foo' on a list"),
    ("a: !!set {x, y}\n", (1, 4), "'!!set'"),
    ("a: !!omap [{x: 1}]\n", (1, 4), "'!!omap'"),
    ("? !foo [1]\n: 2\n", (1, 3), "'!foo'"),
    ("a: !!python/name:os.system x\n", (1, 4), "'!!python/name:os.system' on a value"),
    ('a: "\\ud800.py"\n', (1, 4), "U+D800 is half of a UTF-16 surrogate pair"),
    ('"\\udfff": 1\n', (1, 1), "U+DFFF"),
])
def test_bad_merges_and_non_standard_tags_give_one_positioned_issue(text, where, words):
    issue = _only_issue(text)
    assert (issue.line, issue.column) == where and words in issue.message, issue


def test_standard_tags_are_allowed_on_values_lists_and_mappings():
    text = "a: !!str 5\nb: !!int '7'\nc: !!map {x: !!null ''}\nd: !!seq [!!float 1, !!bool true]\n"
    assert to_python(parse_yaml(text)) == yaml.safe_load(text) == {"a": "5", "b": 7, "c": {"x": None},
                                                                    "d": [1.0, True]}


@pytest.mark.parametrize("tag", ["!foo", "!!python/tuple", "!!python/object:os.system", "!!set", "!!omap",
                                 "!!pairs", "tag:example.com,2024:x", "!!binary"])
@pytest.mark.parametrize("shape", ["{x: 1}", "[1]"])
def test_whatever_safe_load_refuses_is_refused(tag, shape):
    text = f"a: !<{tag}> {shape}\n" if tag.startswith("tag:") else f"a: {tag} {shape}\n"
    try:
        yaml.safe_load(text)
    except yaml.YAMLError:
        with pytest.raises(ScenarioInvalid):
            parse_yaml(text)
    else:  # safe_load builds something a scenario cannot hold (a set, a list of pairs): refused all the same
        with pytest.raises(ScenarioInvalid):
            parse_yaml(text)


def test_the_yaml_features_example_loads_with_its_overrides():
    scenario = load_scenario(Path(__file__).resolve().parent / "scenario_corpus" / "good" / "yaml_features.yaml")
    assert [(f.id, f.type, f.at, f.duration, f.target.role if f.target else None) for f in scenario.faults] == [
        ("kill-leader", "kill", 20.0, 10.0, "leader"), ("kill-leader-again", "kill", 50.0, 10.0, "leader"),
        ("stop-leader", "stop", 80.0, 10.0, "leader")]


def test_the_fast_parser_reads_every_scenario_as_the_pure_python_one(monkeypatch) -> None:
    """libyaml (when PyYAML has it) must give the same scenario, positions included, as the pure-Python parser
    whose error messages the corpus pins."""
    from pathlib import Path

    from drills.scenario import load_scenario, loader

    if loader._FAST_LOADER is None:
        pytest.skip("PyYAML without libyaml")
    root = Path(__file__).resolve().parents[2]
    paths = [*sorted((root / "scenarios").glob("*.yaml")),
             *sorted((root / "tests/unit/scenario_corpus/good").glob("*.yaml"))]
    fast = [repr(load_scenario(p)) for p in paths]
    monkeypatch.setattr(loader, "_FAST_LOADER", None)
    assert [repr(load_scenario(p)) for p in paths] == fast and len(paths) > 10
