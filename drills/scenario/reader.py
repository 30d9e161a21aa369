"""Typed reads from the positioned node tree that record every problem instead of stopping at the first.

A getter returns the value when it is valid and None when the key is absent, null (where allowed) or wrong;
valid values are also collected in `MapView.values` so a dataclass can be built with `**view.values`,
letting the model's defaults fill everything that was not given or not valid.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from collections.abc import Sequence as Seq
from typing import Any, TypeGuard, TypeVar

from drills.scenario.durations import DURATION_HELP, DurationError, human_duration, parse_duration
from drills.scenario.issues import Issue
from drills.scenario.limits import LIMITS, Limit
from drills.scenario.nodes import Mapping, Node, Scalar, Sequence, describe, describe_value
from drills.scenario.suggest import did_you_mean

T = TypeVar("T")


def child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def item(path: str, index: int) -> str:
    return f"{path}[{index}]"


class Context:
    """Collects issues for one document."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[Issue] = []

    def error(self, node: Node | None, path: str, message: str, suggestion: str | None = None) -> None:
        line = node.line if node is not None else None
        column = node.column if node is not None else None
        self.issues.append(Issue(self.file, line, column, path, message, suggestion))

    def mapping(self, node: Node, path: str, keys: Seq[str], what: str,
                required: Iterable[str] = ()) -> MapView | None:
        """A view on a mapping whose keys must be among `keys`; None (after an issue) if it is not a mapping."""
        if not isinstance(node, Mapping):
            self.error(node, path, f"expected {what} (a mapping with keys {', '.join(keys)}), found {describe(node)}")
            return None
        return MapView(self, node, path, keys, what, required)

    def sequence(self, node: Node, path: str, what: str) -> list[tuple[str, Node]] | None:
        """(path, node) of each item of a list; None (after an issue) if it is not a list."""
        if not isinstance(node, Sequence):
            self.error(node, path, f"expected a list of {what}, found {describe(node)}")
            return None
        return [(item(path, i), v) for i, v in enumerate(node.items)]


class MapView:
    """Checked access to one mapping of the document."""

    def __init__(self, ctx: Context, node: Mapping, path: str, keys: Seq[str], what: str,
                 required: Iterable[str]) -> None:
        self.ctx, self.node, self.path, self.what = ctx, node, path, what
        self.entries: dict[str, tuple[Scalar, Node]] = {}
        self.values: dict[str, Any] = {}  # key -> checked value, of the type its getter returns
        for key_node, value in node.pairs:
            key = key_node.value
            if not isinstance(key, str):
                hint = " (quote it if you meant the word)" if isinstance(key, bool) else ""
                ctx.error(key_node, path, f"expected a key name, found {describe_value(key)}{hint}")
                continue
            if key in self.entries:
                first = self.entries[key][0]
                where = f" (first at line {first.line})" if first.line else ""
                ctx.error(key_node, child(path, key), f"duplicate key{where}; give each key once")
                continue
            if key not in keys:
                ctx.error(key_node, child(path, key),
                          f"expected a key of {what} ({', '.join(keys)}), found '{key}'", did_you_mean(key, keys))
                continue
            self.entries[key] = (key_node, value)
        for key in required:
            if key not in self.entries and not self.misspelled(key):
                ctx.error(node, child(path, key), f"expected a '{key}' key in {what}, found none")

    def misspelled(self, key: str) -> bool:
        """An unknown key that looks like `key` was reported with a suggestion: do not also call `key` missing."""
        return any(isinstance(k.value, str) and k.value not in self.entries and did_you_mean(k.value, [key])
                   for k, _ in self.node.pairs)

    # -- presence -------------------------------------------------------------------------------------------
    def has(self, key: str) -> bool:
        """The key is written (even as null)."""
        return key in self.entries

    def given(self, key: str) -> bool:
        """The key is written with a non-null value."""
        node = self.node_of(key)
        return node is not None and not (isinstance(node, Scalar) and node.value is None)

    def node_of(self, key: str) -> Node | None:
        return self.entries[key][1] if key in self.entries else None

    def value_node(self, key: str) -> Node:
        """The value of a key that is written (check `has` or `given` first: a missing key is a KeyError)."""
        return self.entries[key][1]

    def key_node(self, key: str) -> Node:
        return self.entries[key][0] if key in self.entries else self.node

    def at(self, key: str) -> str:
        return child(self.path, key)

    def error(self, key: str, message: str, suggestion: str | None = None) -> None:
        """An issue about the value of `key` (or about the mapping when the key is absent)."""
        self.ctx.error(self.node_of(key) or self.node, self.at(key), message, suggestion)

    def key_error(self, key: str, message: str, suggestion: str | None = None) -> None:
        """An issue about writing `key` at all (points at the key, not its value)."""
        self.ctx.error(self.key_node(key), self.at(key), message, suggestion)

    # -- typed getters ----------------------------------------------------------------------------------------
    def _scalar(self, key: str, expected: str, nullable: bool) -> tuple[bool, object]:
        """(ok, value) for a scalar; ok is False when absent, null-and-allowed or reported."""
        node = self.node_of(key)
        if node is None:
            return False, None
        if not isinstance(node, Scalar):
            self.error(key, f"expected {expected}, found {describe(node)}")
            return False, None
        if node.value is None:
            if not nullable:
                self.error(key, f"expected {expected}, found nothing (null)")
            return False, None
        return True, node.value

    def _keep(self, key: str, value: T) -> T:
        self.values[key] = value
        return value

    def text(self, key: str, *, choices: Seq[str] | None = None, pattern: str | None = None,
             pattern_help: str = "", nullable: bool = False, check: Callable[[str], str | None] | None = None,
             ) -> str | None:
        """A string; `choices` adds did-you-mean, `pattern` a regex it must match, `check` returns a problem."""
        expected = f"one of {', '.join(choices)}" if choices else (pattern_help or "a string")
        ok, value = self._scalar(key, expected, nullable)
        if not ok:
            return None
        if not isinstance(value, str):
            self.error(key, f"expected {expected}, found {describe_value(value)}",
                       did_you_mean(str(value).lower(), choices) if choices else None)
            return None
        if choices is not None and value not in choices:
            self.error(key, f"expected {expected}, found '{value}'", did_you_mean(value, choices))
            return None
        if pattern is not None and not re.fullmatch(pattern, value):
            self.error(key, f"expected {pattern_help or 'a string matching ' + pattern}, found {describe_value(value)}")
            return None
        if check is not None:
            problem = check(value)
            if problem:
                self.error(key, problem)
                return None
        return self._keep(key, value)

    def flag(self, key: str) -> bool | None:
        ok, value = self._scalar(key, "true or false", False)
        if not ok:
            return None
        if not isinstance(value, bool):
            self.error(key, f"expected true or false, found {describe_value(value)}")
            return None
        return self._keep(key, value)

    def integer(self, key: str, lo: int | None = None, hi: int | None = None, nullable: bool = False, *,
                limit: Limit | None = None, unit: str | None = None) -> int | None:
        """An integer in [lo, hi]; `limit` (in `unit`) sets hi from the LIMITS table and explains it."""
        if limit is not None and hi is None:
            hi = int(limit.cap(unit))
        expected = "an integer" + _bounds(lo, hi)
        ok, value = self._scalar(key, expected, nullable)
        if not ok:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not _within(value, lo, hi):
            self.error(key, f"expected {expected}{_why(value, hi, limit)}, found {describe_value(value)}")
            return None
        return self._keep(key, value)

    def number(self, key: str, lo: float | None = None, hi: float | None = None, *, above: bool = False,
               nullable: bool = False, expected: str | None = None, limit: Limit | None = None,
               unit: str | None = None) -> float | None:
        """A real number in [lo, hi] (or (lo, hi] with `above`); `limit` (in `unit`) sets hi from LIMITS."""
        if limit is not None and hi is None:
            hi = limit.cap(unit)
        expected = expected or "a number" + _bounds(lo, hi, above)
        ok, value = self._scalar(key, expected, nullable)
        if not ok:
            return None
        if not finite_number(value) or not _within(value, lo, hi, above):
            self.error(key, f"expected {expected}{_why(value, hi, limit)}, found {describe_value(value)}")
            return None
        return self._keep(key, float(value))

    def duration(self, key: str, *, positive: bool = False, nullable: bool = False,
                 limit: Limit = LIMITS["duration"]) -> float | None:
        """Seconds from `30s`/`2m`/`500ms`/`1m30s`/a number; never negative, above zero if `positive`, and at
        most `limit` (a day for a duration, an hour for a timeout: docs/scenario-format.md#limits)."""
        qualifier = "a positive duration" if positive else "a duration of at least 0"
        expected = f"{qualifier} ({DURATION_HELP.removeprefix('a duration such as ')})"
        ok, value = self._scalar(key, expected, nullable)
        if not ok:
            return None
        try:
            seconds = parse_duration(value)
        except DurationError as exc:
            detail = f" ({exc.detail})" if exc.detail else ""
            self.error(key, f"expected {expected}, found {describe_value(value)}{detail}")
            return None
        if seconds < 0 or (positive and seconds == 0):
            self.error(key, f"expected {qualifier}, found {describe_value(value)}"
                       + (" (negative)" if seconds < 0 else ""))
            return None
        if seconds > limit.cap():
            self.error(key, f"expected {limit.note}, found {describe_value(value)} ({human_duration(seconds)})")
            return None
        return self._keep(key, seconds)

    def texts(self, key: str, what: str, *, choices: Seq[str] | None = None) -> list[str] | None:
        """A list of strings (a single string is not accepted: it is usually a forgotten dash)."""
        node = self.node_of(key)
        if node is None or (isinstance(node, Scalar) and node.value is None):
            return None
        items = self.ctx.sequence(node, self.at(key), what)
        if items is None:
            return None
        result, ok = [], True
        for path, entry in items:
            value = entry.value if isinstance(entry, Scalar) else None
            if not isinstance(value, str) or not value:
                self.ctx.error(entry, path, f"expected {what[:-1] if what.endswith('s') else what} (a string), "
                                            f"found {describe(entry)}")
                ok = False
            elif choices is not None and value not in choices:
                self.ctx.error(entry, path, f"expected one of {', '.join(choices)}, found '{value}'",
                               did_you_mean(value, choices))
                ok = False
            else:
                result.append(value)
        return self._keep(key, result) if ok else None

    def text_map(self, key: str, what: str, *, key_check: Callable[[str], tuple[str, str | None] | None] | None = None,
                 value_check: Callable[[str], tuple[str, str | None] | None] | None = None) -> dict[str, str] | None:
        """A mapping of strings to strings; the checks return (problem, suggestion) or None."""
        node = self.node_of(key)
        if node is None or (isinstance(node, Scalar) and node.value is None):
            return None
        path = self.at(key)
        if not isinstance(node, Mapping):
            self.ctx.error(node, path, f"expected {what}, found {describe(node)}")
            return None
        result, ok, seen = {}, True, set()
        for k, v in node.pairs:
            sub = child(path, str(k.value))
            if not isinstance(k.value, str) or k.value in seen:
                self.ctx.error(k, sub, f"expected {what} with unique string keys, found {describe(k)}")
                ok = False
                continue
            seen.add(k.value)
            problem = key_check(k.value) if key_check else None
            if problem:
                self.ctx.error(k, sub, problem[0], problem[1])
                ok = False
            value = v.value if isinstance(v, Scalar) else None
            if not isinstance(value, str) or not value:
                self.ctx.error(v, sub, f"expected a string, found {describe(v)}")
                ok = False
                continue
            problem = value_check(value) if value_check else None
            if problem:
                self.ctx.error(v, sub, problem[0], problem[1])
                ok = False
                continue
            result[k.value] = value
        self._keep(key, result)  # the valid entries, so later checks do not cascade from one bad entry
        return result if ok else None


def finite_number(value: object) -> TypeGuard[int | float]:
    """A real, finite number (not a bool, not NaN, not an int too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _within(value: float, lo: float | None, hi: float | None, above: bool = False) -> bool:
    if lo is not None and (value <= lo if above else value < lo):
        return False
    return hi is None or value <= hi


def _why(value: object, hi: float | None, limit: Limit | None) -> str:
    """" (a latency of at most 10 min)" when `value` is refused for being above a LIMITS maximum."""
    if limit is None or hi is None or not finite_number(value) or value <= hi:
        return ""
    return f" ({limit.note})"


def _bounds(lo: float | None, hi: float | None, above: bool = False) -> str:
    lo, hi = _short(lo), _short(hi)
    if lo is not None and hi is not None:
        return f" above {lo} and at most {hi}" if above else f" between {lo} and {hi}"
    if lo is not None:
        return f" above {lo}" if above else f" of at least {lo}"
    if hi is not None:
        return f" of at most {hi}"
    return ""


def _short(value: float | None) -> float | int | None:
    """1.0 -> 1, 4294967295 stays as it is (no 4.29497e+09 in messages)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
