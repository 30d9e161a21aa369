"""Read a scenario file into a positioned node tree, or fail with one clear file:line:column message.

PyYAML's composer keeps a mark on every node; scalars are resolved with the safe constructor so types
match `yaml.safe_load` (30 is an int, `true` a bool, `30s` a string). Anchors, aliases and `<<` merges work.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml

from drills.scenario.issues import Issue, ScenarioInvalid
from drills.scenario.nodes import Mapping, Node, Scalar, Sequence, describe

MAX_BYTES = 1_000_000  # a scenario is a page of YAML; anything larger is a mistake (or a YAML bomb)
MAX_DEPTH = 32         # a scenario nests about 6 levels (faults > target > ...); deeper is a mistake or an attack


def load_yaml(path: str | Path) -> Node:
    """Read and parse a scenario file; raises ScenarioInvalid for unreadable files, bad YAML, non-mappings."""
    file = str(path)
    raw = _read_regular_file(file)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _fail(file, line, 1, "is not UTF-8 text, expected a YAML file") from None
    return parse_yaml(text, file)


def _read_regular_file(file: str) -> bytes:
    """The file's bytes, reading at most MAX_BYTES + 1: only a regular file (a FIFO would block forever, a
    link to /dev/zero would never end), never more than the limit (the size check cannot come after the read)."""
    try:
        st = os.stat(file)
    except FileNotFoundError:
        raise _fail(file, None, None, "no such file") from None
    except OSError as exc:
        raise _fail(file, None, None, f"cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise _fail(file, None, None, "is a directory, expected a scenario file (.yaml)")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
                or stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise _fail(file, None, None, f"is {kind}, expected a regular scenario file (.yaml)")
    try:
        with open(file, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _fail(file, None, None, f"cannot be read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise _fail(file, None, None, f"is larger than {MAX_BYTES} bytes, expected a scenario of at most "
                                      f"{MAX_BYTES} bytes")
    return raw


def _check_depth(text: str, file: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before composing: PyYAML's composer (and our converter) recurse
    once per level, so a 1 kB file of brackets would otherwise end in a RecursionError. The event stream is
    flat, so this check itself never recurses."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                raise _fail(file, mark.line + 1 if mark else None, mark.column + 1 if mark else None,
                            f"nested more than {MAX_DEPTH} levels deep, expected a scenario (about 6 levels)")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def parse_yaml(text: str, file: str = "<string>") -> Node:
    """Parse YAML text into nodes; the document must be a mapping of scenario keys."""
    try:
        _check_depth(text, file)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(file, exc) from None
    except yaml.reader.ReaderError as exc:  # a control character in the text
        before = text[: exc.position]
        line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        raise _fail(file, line, column, f"invalid YAML: character {_codepoint(exc.character)} is not allowed in YAML "
                                        "(write it escaped inside double quotes)") from None
    except yaml.YAMLError as exc:
        raise _fail(file, None, None, f"invalid YAML: {exc}") from None
    if root is None or (isinstance(root, yaml.ScalarNode) and root.value == "" and root.tag.endswith("null")):
        raise _fail(file, 1, 1, "the file is empty, expected a scenario: a mapping with at least `name:`")
    tree = _Converter(file).convert(root)
    if not isinstance(tree, Mapping):
        raise _fail(file, tree.line, tree.column,
                    f"expected the scenario to be a mapping of keys (name, stack, phases, load, faults, "
                    f"budgets, ...), found {describe(tree)}")
    return tree


class _Converter:
    """Turns composed PyYAML nodes into our nodes, resolving scalars and merges, once per node (aliases share)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.constructor = yaml.SafeLoader("")  # a constructor with the safe resolvers; the stream is unused
        self.done: dict[int, Node] = {}
        self.active: set[int] = set()

    def convert(self, node: yaml.Node) -> Node:
        key = id(node)
        if key in self.done:
            return self.done[key]
        if key in self.active:
            raise self._at(node, "an alias refers to a node that contains it (recursive YAML)")
        self.active.add(key)
        try:
            result = self._convert(node)
        finally:
            self.active.discard(key)
        self.done[key] = result
        return result

    def _convert(self, node: yaml.Node) -> Node:
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        if isinstance(node, yaml.MappingNode):
            try:
                self.constructor.flatten_mapping(node)  # resolves `<<: *defaults`
            except yaml.MarkedYAMLError as exc:
                raise _syntax_error(self.file, exc) from None
            pairs = []
            for k, v in node.value:
                key = self.convert(k)
                if not isinstance(key, Scalar):
                    raise self._at(k, f"expected a key name, found {describe(key)} used as a key")
                pairs.append((key, self.convert(v)))
            return Mapping(pairs=pairs, line=line, column=column)
        if isinstance(node, yaml.SequenceNode):
            return Sequence(items=[self.convert(v) for v in node.value], line=line, column=column)
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            raise _syntax_error(self.file, exc) from None
        except (ValueError, TypeError) as exc:  # e.g. !!int abc
            raise self._at(node, f"invalid value: {exc}") from None
        return Scalar(value=value, line=line, column=column)

    def _at(self, node: yaml.Node, message: str) -> ScenarioInvalid:
        return _fail(self.file, node.start_mark.line + 1, node.start_mark.column + 1, message)


def _syntax_error(file: str, exc: yaml.MarkedYAMLError) -> ScenarioInvalid:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    context = exc.context or ""
    if context.startswith("while") and exc.context_mark is not None and exc.problem_mark is not None:
        problem = f"{problem} ({context} started at line {exc.context_mark.line + 1})"
    elif context.startswith("while"):
        problem = f"{problem} ({context})"
    elif context:
        problem = f"{context}, {problem}"
    if "'\\t'" in problem:
        problem += "; indent YAML with spaces, not tabs"
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
    return _fail(file, line, column, f"invalid YAML: {problem}")


def _codepoint(character: object) -> str:
    code = character if isinstance(character, int) else ord(str(character)[:1] or "\0")
    return f"U+{code:04X}"


def _fail(file: str, line: int | None, column: int | None, message: str) -> ScenarioInvalid:
    return ScenarioInvalid([Issue(file, line, column, "", message)])
