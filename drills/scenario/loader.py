"""Read a scenario file into a positioned node tree, or fail with one clear file:line:column message.

PyYAML's composer keeps a mark on every node; scalars are resolved with the safe constructor so types
match `yaml.safe_load` (30 is an int, `true` a bool, `30s` a string). Anchors, aliases and `<<` merges work as
YAML defines them (a key written next to `<<: *base` overrides the merged one); tags other than the standard
ones on scalars, `!!map` and `!!seq` are refused, as yaml.safe_load refuses them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml

from drills.scenario.nodes import Mapping, Node, describe
from drills.scenario.yaml_tree import MAX_VALUES, Converter, fail, syntax_error

__all__ = ["load_yaml", "parse_yaml", "MAX_BYTES", "MAX_DEPTH", "MAX_VALUES"]

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
        raise fail(file, line, 1, "is not UTF-8 text, expected a YAML file") from None
    return parse_yaml(text, file)


def _read_regular_file(file: str) -> bytes:
    """The file's bytes, reading at most MAX_BYTES + 1: only a regular file (a FIFO would block forever, a
    link to /dev/zero would never end), never more than the limit (the size check cannot come after the read)."""
    try:
        st = os.stat(file)
    except FileNotFoundError:
        raise fail(file, None, None, "no such file") from None
    except OSError as exc:
        raise fail(file, None, None, f"cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise fail(file, None, None, "is a directory, expected a scenario file (.yaml)")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
                or stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise fail(file, None, None, f"is {kind}, expected a regular scenario file (.yaml)")
    try:
        with open(file, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise fail(file, None, None, f"cannot be read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise fail(file, None, None, f"is larger than {MAX_BYTES} bytes, expected a scenario of at most "
                                     f"{MAX_BYTES} bytes")
    return raw


# libyaml's parser when PyYAML was built with it: the same nodes, tags and marks, ~10x faster, so a hostile
# file under the size cap is refused in a second, not half a minute. Its error texts differ, so a file it
# refuses is parsed again by the pure-Python parser, whose messages the corpus pins.
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def _compose(text: str, file: str) -> yaml.Node | None:
    if _FAST_LOADER is not None:
        try:
            _check_depth(text, file, _FAST_LOADER)
            return yaml.compose(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass
    _check_depth(text, file, yaml.SafeLoader)
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _check_depth(text: str, file: str, loader: type = yaml.SafeLoader) -> None:
    """Refuse nesting deeper than MAX_DEPTH before composing: PyYAML's composer (and our converter) recurse
    once per level, so a 1 kB file of brackets would otherwise end in a RecursionError. The event stream is
    flat, so this check itself never recurses."""
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                raise fail(file, mark.line + 1 if mark else None, mark.column + 1 if mark else None,
                           f"nested more than {MAX_DEPTH} levels deep, expected a scenario (about 6 levels)")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def parse_yaml(text: str, file: str = "<string>") -> Node:
    """Parse YAML text into nodes; the document must be a mapping of scenario keys."""
    try:
        root = _compose(text, file)
    except yaml.MarkedYAMLError as exc:
        raise syntax_error(file, exc) from None
    except yaml.reader.ReaderError as exc:  # a control character in the text
        before = text[: exc.position]
        line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        raise fail(file, line, column, f"invalid YAML: character {_codepoint(exc.character)} is not allowed in YAML "
                                       "(write it escaped inside double quotes)") from None
    except yaml.YAMLError as exc:
        raise fail(file, None, None, f"invalid YAML: {exc}") from None
    if root is None or (isinstance(root, yaml.ScalarNode) and root.value == "" and root.tag.endswith("null")):
        raise fail(file, 1, 1, "the file is empty, expected a scenario: a mapping with at least `name:`")
    tree = Converter(file).convert(root)
    if not isinstance(tree, Mapping):
        raise fail(file, tree.line, tree.column,
                   f"expected the scenario to be a mapping of keys (name, stack, phases, load, faults, "
                   f"budgets, ...), found {describe(tree)}")
    return tree


def _codepoint(character: object) -> str:
    code = character if isinstance(character, int) else ord(str(character)[:1] or "\0")
    return f"U+{code:04X}"
