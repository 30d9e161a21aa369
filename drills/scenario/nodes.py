"""A YAML document as a tree that remembers where every key and value was written.

`yaml.safe_load` returns plain dicts and loses positions; the validator needs them to point at
file:line:column. Plain Python data (for `scenario_from_dict`) becomes the same tree without positions.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field


@dataclass(kw_only=True)
class Node:
    """Common part of every node: a 1-based position, None when the data did not come from a file."""

    line: int | None = None
    column: int | None = None


@dataclass(kw_only=True)
class Scalar(Node):
    value: object = None


@dataclass(kw_only=True)
class Mapping(Node):
    pairs: list[tuple[Scalar, Node]] = field(default_factory=list)  # in document order, duplicates kept


@dataclass(kw_only=True)
class Sequence(Node):
    items: list[Node] = field(default_factory=list)


def from_python(data: object) -> Node:
    """Wrap plain data (dicts, lists, scalars) in nodes without positions."""
    if isinstance(data, dict):
        return Mapping(pairs=[(Scalar(value=k), from_python(v)) for k, v in data.items()])
    if isinstance(data, (list, tuple)):
        return Sequence(items=[from_python(v) for v in data])
    return Scalar(value=data)


def to_python(node: Node) -> object:
    """The plain data a node stands for (later duplicate keys win, as in YAML loaders)."""
    if isinstance(node, Mapping):
        return {k.value: to_python(v) for k, v in node.pairs}
    if isinstance(node, Sequence):
        return [to_python(v) for v in node.items]
    assert isinstance(node, Scalar)
    return node.value


def describe(node: Node) -> str:
    """What a node is, for "found <what>" in messages."""
    if isinstance(node, Mapping):
        return "a mapping" if node.pairs else "an empty mapping"
    if isinstance(node, Sequence):
        return "a list" if node.items else "an empty list"
    assert isinstance(node, Scalar)
    return describe_value(node.value)


def describe_value(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        text = repr(value)
        return text if len(text) <= 30 else f"{text[:12]}... (a {len(text)}-digit number)"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"'{shown}'" if value else "an empty string"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"{value} (a date)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"{value!r} (a {type(value).__name__})"
