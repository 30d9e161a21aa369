"""TypedDicts as the one declaration of a JSON document: its schema, and reading one back tolerantly."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, TypedDict

import jsonschema

from drills.checks.typed_json import Meta, conform, required_keys, schema

Seconds = Annotated[float, Meta(description="seconds", name="seconds")]


class Row(TypedDict):
    """A row."""

    t: Seconds
    state: Literal["up", "down"]
    note: NotRequired[str]


class Passed(TypedDict):
    label: str


class Doc(TypedDict):
    name: str
    rows: list[Row]
    best: Annotated[Seconds | None, Meta(description="the best one")]
    tags: dict[str, int]
    passed: list[Passed]
    extra: Any


HEADER = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "doc"}


def test_schema_of_a_typeddict() -> None:
    s = schema(Doc, HEADER, frozenset({Passed}))
    jsonschema.Draft202012Validator.check_schema(s)
    assert s["title"] == "doc" and s["additionalProperties"] is False
    assert s["required"] == ["name", "rows", "best", "tags", "passed", "extra"]
    assert s["properties"]["best"] == {"description": "the best one",
                                       "anyOf": [{"$ref": "#/$defs/seconds"}, {"type": "null"}]}
    assert s["$defs"]["seconds"] == {"description": "seconds", "type": "number"}
    row = s["$defs"]["row"]
    assert row["description"] == "A row." and row["required"] == ["t", "state"]
    assert row["properties"]["state"] == {"enum": ["up", "down"]} and row["additionalProperties"] is False
    assert "additionalProperties" not in s["$defs"]["passed"]  # passed through: other keys allowed
    assert required_keys(Row) == {"t", "state"}


def test_conform_repairs_what_it_can_and_says_so() -> None:
    doc = {"name": "x", "rows": [{"t": 1, "state": "up"}, {"t": "late", "state": "up"}, {"t": 2, "state": "up",
                                                                                       "note": 3, "more": 1}],
           "best": "fast", "passed": [{"label": "a", "size": 9}], "extra": {"anything": [1]}, "unknown": 1}
    out, notes = conform(Doc, doc, frozenset({Passed}))
    assert out == {"name": "x", "rows": [{"t": 1.0, "state": "up"}, {"t": 2.0, "state": "up"}], "best": None,
                   "tags": {}, "passed": [{"label": "a", "size": 9}], "extra": {"anything": [1]}}
    assert notes == ["rows[2].note: 3 where text belongs (left out)",
                     "rows: 1 of 3 item(s) skipped (rows[1].t: 'late' where a number belongs)",
                     "best: 'fast' where a number or null belongs (read as null)",
                     "tags: missing (read as empty)"]


def test_conform_gives_up_without_a_required_value() -> None:
    assert conform(Doc, {"rows": []}) == (None, ["name: missing"])
    assert conform(Doc, [1]) == (None, ["the document: a list where an object belongs"])
    out, notes = conform(Row, {"t": True, "state": "up"})
    assert out is None and notes == ["t: true/false where a number belongs"]
