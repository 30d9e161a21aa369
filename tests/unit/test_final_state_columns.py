"""final-state.json read column by column (read_json_columns) against the plain reader: the same document, the
same notes, the same FinalState, on a good file and on damaged ones; whole numbers come back compact."""

from __future__ import annotations

import json
import random
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from drills.checks.audit_models import _first_rows, _present, _server_idents, check_unique
from drills.checks.finalstate import Collection, FinalState
from drills.checks.rowindex import RowIndex
from drills.rundir.run import FINAL_STATE_COLUMNS
from drills.rundir.tolerant import Problems, read_json, read_json_columns

ROWS = 300


def _doc() -> dict[str, Any]:
    return {"format": 1, "read_at": 1764150130.0, "complete": True, "errors": [], "counts": {"orders": ROWS},
            "events": [{"id": 1, "name": "hot", "capacity": 10_000, "sold": ROWS, "tickets": ROWS}],
            "credential_checks": None, "session_checks": None,
            "orders": {"id": list(range(1, ROWS + 1)), "idempotency_key": [f"k{n}" for n in range(ROWS)],
                       "event_id": [1] * ROWS, "created": [1764150000.5 + n for n in range(ROWS)],
                       "seats": [1] * ROWS},
            "tickets": {"id": list(range(7, ROWS + 7)), "order_id": list(range(1, ROWS + 1)),
                        "event_id": [1] * ROWS, "seat_no": list(range(ROWS))},
            "credentials": {"u-1": 3}}


def _damaged(where: str, value: Any) -> bytes:
    doc = _doc()
    section, col = where.split(".")
    doc[section][col][ROWS // 2] = value
    return json.dumps(doc).encode()


CASES: dict[str, bytes] = {
    "plain": json.dumps(_doc()).encode(),
    "text id": _damaged("orders.id", "7"),
    "fraction id": _damaged("tickets.id", 7.5),
    "true seat": _damaged("tickets.seat_no", True),
    "null seat": _damaged("orders.seats", None),
    "int key": _damaged("orders.idempotency_key", 12),
    "huge id": _damaged("orders.id", 2**70),
    "uint64 id": _damaged("orders.id", 2**63 + 5),
    "below int64 id": _damaged("orders.id", -2**63 - 1),
    "null key": _damaged("orders.idempotency_key", None),
    "escaped key": _damaged("orders.idempotency_key", 'a"b\\\u00e9\U0001f600'),
    "lone surrogate key": _damaged("orders.idempotency_key", "\ud800"),
    "invalid UTF-8 key": json.dumps(_doc()).encode().replace(b'"k1"', b'"k\xff"', 1),
    "nested": _damaged("orders.id", [1]),
    "object in a column": _damaged("orders.created", {"t": 1}),
    "short column": json.dumps({**_doc(), "tickets": {**_doc()["tickets"], "id": [1, 2]}}).encode(),
    "section a list": json.dumps({**_doc(), "orders": [1, 2, 3]}).encode(),
    "column an object": json.dumps({**_doc(), "orders": {**_doc()["orders"], "id": {"a": 1}}}).encode(),
    "NaN": json.dumps(_doc()).encode().replace(b"1764150000.5", b"NaN", 1),
    "truncated": json.dumps(_doc()).encode()[:-40],
    "not an object": b"[1, 2]",
    "empty": b"",
    "leading space": b"  " + json.dumps(_doc()).encode(),
    "duplicate section": json.dumps(_doc()).encode()[:-1] + b', "orders": {"id": [5, 6]}}',
    "deep": json.dumps(_doc()).encode()[:-1] + b', "samples": ' + b"[" * 1100 + b"]" * 1100 + b"}",
}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, array):
        return value.tolist()
    return value


@pytest.mark.parametrize("case", list(CASES))
def test_read_column_by_column_as_the_plain_reader_reads(tmp_path: Path, case: str) -> None:
    path = tmp_path / "final-state.json"
    path.write_bytes(CASES[case])
    p1, p2 = Problems(), Problems()
    plain, columns = read_json(path, p1), read_json_columns(path, p2, FINAL_STATE_COLUMNS)
    assert _plain(columns) == plain and p1.notes == p2.notes and p1.damaged == p2.damaged
    if isinstance(plain, dict):
        a, b = FinalState.from_json(plain), FinalState.from_json(columns)
        assert a.to_json() == b.to_json() and a.damaged == b.damaged and a.complete == b.complete
    if case == "plain":
        assert isinstance(columns["orders"]["id"], array) and isinstance(columns["tickets"]["seat_no"], array)
        assert isinstance(columns["orders"]["idempotency_key"], list)
        assert isinstance(columns["orders"]["created"], array) and columns["orders"]["created"].typecode == "d"


def test_a_missing_file_is_missing(tmp_path: Path) -> None:
    p = Problems()
    assert read_json_columns(tmp_path / "final-state.json", p, FINAL_STATE_COLUMNS) is None
    assert p.missing_files == ["final-state.json"]


@pytest.mark.parametrize(("seats", "events"), [
    ([1, 2, 3, 4], None), ([1, 2, 1, 4], None), ([], None), ([9], None), ([4, 3, 2, 1], None), ([1, 2, 2, 3], None),
    ([5, 1, 2], [1, 2, 2]), ([1, 1, 2], [1, 2, 2]), ([2, 1, 1], [1, 2, 2]), ([1, 1, 0], [1, 1, 1]),
])
def test_the_audit_models_read_compact_columns_as_lists(seats: list[int], events: list[int] | None) -> None:
    events = events or [1] * len(seats)
    columns: dict[str, Any] = {"event_id": array("q", events), "seat_no": array("q", seats)}
    compact = Collection(columns, len(seats))
    listed = Collection({"event_id": events, "seat_no": seats}, len(seats))
    assert check_unique(compact, ("event_id", "seat_no")) == check_unique(listed, ("event_id", "seat_no"))
    servers = [5, 7, 7000, -3, 2**40]
    idents = {"5", "007", "-0", "-3", "7000", "x", "99999999999999999999", str(2**40), "6"}
    assert _present(array("q", servers), idents) == idents & _server_idents(servers) == {"5", "-3", "7000",
                                                                                          str(2**40)}
    ids = ["a", "b", "a", "c", "b"]
    assert _first_rows(["a", "b"], ids, array("q", [1, 2, 3, 4, 5])) == {"a": 1, "b": 2}
    many = [f"k{n % 70}" for n in range(140)]
    assert _first_rows(sorted(set(many)), many, list(range(140))) == {f"k{n}": n for n in range(70)}


def test_repeated_identities_are_counted_as_a_counter_counts_them() -> None:
    rng = random.Random(3)
    ids: list[str | None] = [rng.choice((None, f"k{rng.randrange(400)}", f"k{n}")) for n in range(2000)]
    expected = {k: n for k, n in Counter(ids).items() if n > 1 and k is not None}
    assert RowIndex(ids).repeated() == expected and list(RowIndex(ids).repeated()) == list(expected) and expected
    assert RowIndex([]).repeated() == {} and RowIndex(["a", "b"]).repeated() == {}
