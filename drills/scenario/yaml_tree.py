"""Composed PyYAML nodes turned into our positioned tree (drills.scenario.nodes), with YAML's semantics and
limits a hostile file cannot get around.

* Scalars are resolved by the safe constructor, so types match `yaml.safe_load`.
* Merge keys follow YAML: a key written next to `<<: *base` overrides the merged one, and in `<<: [*a, *b]`
  the earlier mapping wins; a key written twice is kept twice, for the validator to report.
* Tags: what `yaml.safe_load` refuses is refused, on lists and mappings as on scalars.
* Size: aliases and merges may repeat values, but the tree never holds more than MAX_VALUES of them.
"""

from __future__ import annotations

import yaml

from drills.scenario.issues import Issue, ScenarioInvalid
from drills.scenario.nodes import Mapping, Node, Scalar, Sequence, describe

# Values in the tree as the validator walks it, counting each repetition an alias or a merge makes: a few
# hundred in a real scenario. Without it a 5 kB file of aliases (`groups: [*g, *g, ...]` of `g: &g [...]`) is
# half a million values to check, and a chain of merges, each copying the last, is quadratic.
MAX_VALUES = 100_000

MERGE_TAG = "tag:yaml.org,2002:merge"
VALUE_TAG = "tag:yaml.org,2002:value"   # a plain `=` key: PyYAML reads it as the string "="
STR_TAG = "tag:yaml.org,2002:str"
# The only tags a mapping or a list may carry (written `!!map`/`!!seq`, or implied): yaml.safe_load refuses
# `!!python/...` and `!custom` tags, and builds sets, pairs and ordered maps from `!!set`/`!!pairs`/`!!omap`,
# none of which a scenario means. A scalar may carry the tags the safe constructor knows (!!str, !!int, ...).
MAP_TAG, SEQ_TAG = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


class Converter:
    """Turns composed PyYAML nodes into our nodes, resolving scalars and merges, once per node (aliases share)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.constructor = yaml.SafeLoader("")  # a constructor with the safe resolvers; the stream is unused
        self.done: dict[int, Node] = {}
        self.active: set[int] = set()
        self.sizes: dict[int, int] = {}  # id of one of our nodes -> values in it, repetitions included

    def _grow(self, total: int, child: Node, where: yaml.Node) -> int:
        """`total` plus the values of `child`; refused once above MAX_VALUES (so a bomb stops early)."""
        total += self.sizes[id(child)]
        if total > MAX_VALUES:
            raise self._at(where, f"the document holds more than {MAX_VALUES} values, counting what aliases and "
                                  "merge keys repeat; expected a scenario (a few hundred values)")
        return total

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

    def _sized(self, node: Node, size: int) -> Node:
        self.sizes[id(node)] = size
        return node

    def _convert(self, node: yaml.Node) -> Node:
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        if isinstance(node, yaml.MappingNode):
            kind, known = "mapping", node.tag == MAP_TAG
        elif isinstance(node, yaml.SequenceNode):
            kind, known = "list", node.tag == SEQ_TAG
        else:
            kind, known = "value", node.tag in self.constructor.yaml_constructors
        if not known:
            raise self._at(node, f"invalid YAML: no constructor for the tag '{_short_tag(node.tag)}' on a {kind}, "
                                 f"expected plain YAML (a scenario may use the standard tags !!str, !!int, !!float, "
                                 f"!!bool, !!null, !!map, !!seq; yaml.safe_load refuses the others too)")
        if isinstance(node, yaml.MappingNode):
            pairs, size = self._pairs(node)
            return self._sized(Mapping(pairs=pairs, line=line, column=column), size)
        if isinstance(node, yaml.SequenceNode):
            items, size = [], 1
            for v in node.value:
                items.append(self.convert(v))
                size = self._grow(size, items[-1], node)  # an alias item has its anchor's mark: name the list
            return self._sized(Sequence(items=items, line=line, column=column), size)
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            raise syntax_error(self.file, exc) from None
        except (ValueError, TypeError) as exc:  # e.g. !!int abc
            raise self._at(node, f"invalid value: {exc}") from None
        half = next((c for c in value if 0xD800 <= ord(c) <= 0xDFFF), None) if isinstance(value, str) else None
        if half is not None:  # "\ud800": no character, and no file name, terminal or JSON writer takes it
            raise self._at(node, f"invalid YAML: the escape U+{ord(half):04X} is half of a UTF-16 surrogate pair, "
                                 "not a character; write the character itself or escape it as \\UXXXXXXXX")
        return self._sized(Scalar(value=value, line=line, column=column), 1)

    def _pairs(self, node: yaml.MappingNode) -> tuple[list[tuple[Scalar, Node]], int]:
        """The mapping's keys as YAML defines merges, and its size: explicit keys win over merged ones, and among
        the mappings of `<<: [*a, *b]` the earlier wins. Explicit keys are all kept, so a real duplicate is
        still reported."""
        size = 1
        explicit: list[tuple[Scalar, Node]] = []
        sources: list[Mapping] = []
        merge_key: yaml.Node | None = None
        for k, v in node.value:
            if k.tag == MERGE_TAG:
                if merge_key is not None:
                    raise self._at(k, f"duplicate merge key '<<' (first at line {merge_key.start_mark.line + 1}); "
                                      "merge several mappings with one list: <<: [*a, *b]")
                merge_key = k
                sources += self._merge_sources(v)
                continue
            if k.tag == VALUE_TAG:
                k.tag = STR_TAG
            key = self.convert(k)
            if not isinstance(key, Scalar):
                raise self._at(k, f"expected a key name, found {describe(key)} used as a key")
            explicit.append((key, self.convert(v)))
            size = self._grow(self._grow(size, key, k), explicit[-1][1], k)
        seen = {_key_id(key.value) for key, _ in explicit}
        merged: list[tuple[Scalar, Node]] = []
        for source in sources:
            for key, value in source.pairs:
                if _key_id(key.value) not in seen:
                    seen.add(_key_id(key.value))
                    merged.append((key, value))
                    size = self._grow(self._grow(size, key, merge_key or node), value, merge_key or node)
        return merged + explicit, size

    def _merge_sources(self, value: yaml.Node) -> list[Mapping]:
        """The mappings a `<<` value names: one mapping, or a list of mappings (aliases, usually)."""
        nodes = value.value if isinstance(value, yaml.SequenceNode) else [value]
        sources = []
        for item in nodes:
            converted = self.convert(item) if isinstance(item, yaml.MappingNode) else None
            if not isinstance(converted, Mapping):
                raise self._at(item, "expected a mapping or a list of mappings to merge (<<: *defaults), found "
                                     f"{describe(self.convert(item))}")
            sources.append(converted)
        return sources

    def _at(self, node: yaml.Node, message: str) -> ScenarioInvalid:
        return fail(self.file, node.start_mark.line + 1, node.start_mark.column + 1, message)


def _key_id(value: object) -> tuple[str, object]:
    """A key as YAML compares them: 1 and '1' differ, as do true and 1."""
    try:
        hash(value)
    except TypeError:
        return type(value).__name__, repr(value)
    return type(value).__name__, value


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag


def syntax_error(file: str, exc: yaml.MarkedYAMLError) -> ScenarioInvalid:
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
    return fail(file, line, column, f"invalid YAML: {problem}")


def fail(file: str, line: int | None, column: int | None, message: str) -> ScenarioInvalid:
    return ScenarioInvalid([Issue(file, line, column, "", message)])
