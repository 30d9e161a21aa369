"""`drill export --format jepsen`: a constructed history as the Jepsen operations elle-cli and Knossos read."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import yaml

from drills.checks.finalstate import Collection, FinalState, write_final_state
from drills.cli import main
from drills.report.jepsen_export import ExportError, Keyword, build, edn, f_of, write
from drills.rundir import files
from tests.unit.test_checks_builder import Run

T0 = 1_800_000_000.0


def line(op: str, invoke: float, complete: float, outcome: str = "ok", key: str | None = None, **extra) -> dict:
    return {"op": op, "worker": "w0", "user": "u1", "invoke": T0 + invoke, "complete": T0 + complete,
            "outcome": outcome, "status": 201 if outcome == "ok" else None, "error": extra.pop("error", None),
            "key": key, **extra}


def run_dir(tmp_path: Path, *histories: list[dict]) -> Path:
    d = tmp_path / "run"
    d.mkdir()
    (d / files.META).write_text("{}")
    for i, rows in enumerate(histories):
        name = files.history_of(None if i == 0 else f"w{i}")
        (d / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


HISTORY = [
    line("create_order", 0.000, 0.100, key="o1"),
    line("create_order", 0.050, 0.300, "fail", key="o2", error="HTTP 500"),   # overlaps o1: a second process
    line("create_order", 0.200, 0.250, key="o3"),                            # p0 is free again (o1 done at .1)
    line("create_order", 0.260, 2.000, "info", key="o4", error="timeout"),    # p0 retired after this
    line("GET /orders", 0.400, 0.450),                                         # p1 free (o2 done .3); no key
    line("create_order", 2.500, 2.600, key="o5"),                            # p0 retired: lowest free is p1
]


def test_each_line_is_an_invoke_and_its_completion_in_time_order(tmp_path: Path) -> None:
    export = build(run_dir(tmp_path, HISTORY))
    ops = export.ops
    assert export.operations == 6 and len(ops) == 12
    assert [op["index"] for op in ops] == list(range(12))
    times = [op["time"] for op in ops]
    assert times == sorted(times) and times[0] == 0
    kinds = [(op["type"].name, op["value"], op["process"]) for op in ops]
    assert kinds == [("invoke", "o1", 0), ("invoke", "o2", 1), ("ok", "o1", 0), ("invoke", "o3", 0),
                     ("ok", "o3", 0), ("invoke", "o4", 0), ("fail", "o2", 1), ("invoke", None, 1),
                     ("ok", None, 1), ("info", "o4", 0), ("invoke", "o5", 1), ("ok", "o5", 1)]
    assert ops[1]["time"] == 50_000_000 and ops[-1]["time"] == 2_600_000_000
    fail = next(op for op in ops if op["type"] == Keyword("fail"))
    assert fail["error"] == "HTTP 500" and "error" not in ops[2]
    assert export.processes == 2


def test_no_process_runs_two_operations_at_once_and_info_retires_it(tmp_path: Path) -> None:
    rows = [line("w", i * 0.01, i * 0.01 + 0.5, "info" if i % 7 == 0 else "ok", key=f"k{i}") for i in range(200)]
    ops = build(run_dir(tmp_path, rows)).ops
    open_: dict[int, object] = {}
    retired: set[int] = set()
    for op in ops:
        p = op["process"]
        assert p not in retired
        if op["type"] == Keyword("invoke"):
            assert p not in open_
            open_[p] = op["value"]
        else:
            assert open_.pop(p) == op["value"]
            if op["type"] == Keyword("info"):
                retired.add(p)
    assert not open_


def test_edn_is_one_operation_map_per_line_as_elle_cli_shows_them(tmp_path: Path) -> None:
    out = io.StringIO()
    write(build(run_dir(tmp_path, HISTORY[:2])), "jepsen", out)
    assert out.getvalue().splitlines() == [
        '{:type :invoke, :f :create_order, :value "o1", :process 0, :time 0, :index 0}',
        '{:type :invoke, :f :create_order, :value "o2", :process 1, :time 50000000, :index 1}',
        '{:type :ok, :f :create_order, :value "o1", :process 0, :time 100000000, :index 2}',
        '{:type :fail, :f :create_order, :value "o2", :process 1, :time 300000000, :error "HTTP 500", :index 3}']


def test_json_is_one_array_elle_cli_reads(tmp_path: Path) -> None:
    out = io.StringIO()
    write(build(run_dir(tmp_path, HISTORY)), "jepsen-json", out)
    doc = json.loads(out.getvalue())
    assert doc[0] == {"type": "invoke", "f": "create_order", "value": "o1", "process": 0, "time": 0, "index": 0}
    assert doc[8]["f"] == "GET /orders" and doc[9]["type"] == "info"
    assert len(out.getvalue().splitlines()) == 12


def test_edn_values_and_names() -> None:
    assert f_of("purchase") == Keyword("purchase") and f_of("GET /orders") == "GET /orders"
    assert f_of("1st") == "1st" and f_of("") == ""
    assert edn({"a": [1, 2.5, None, True], "two words": "x"}) == '{:a [1 2.5 nil true], "two words" "x"}'
    assert edn('say "hi"\n\\ \x01 \ud800 é') == '"say \\"hi\\"\\n\\\\ \\u0001 \\ud800 é"'
    assert edn(float("nan")) == "nil"


def test_set_exports_adds_and_the_final_read_for_jepsens_set_checkers(tmp_path: Path) -> None:
    rows = [line("purchase", 0.0, 0.1, key="k1"), line("purchase", 0.05, 0.2, "info", key="k2"),
            line("purchase", 0.3, 0.4, "fail", key="k3"), line("purchase", 0.5, 0.6),   # unkeyed: left out
            line("login", 0.1, 0.2)]
    d = run_dir(tmp_path, rows)
    state = FinalState(read_at=T0 + 5)
    for n, key in enumerate(("k2", "k1", "zz"), 1):   # the reference stack's orders, by idempotency key
        Run.add_order(state, key, n, [n], T0 + 1)
    write_final_state(d, state)
    export = build(d, set_op="purchase")
    assert {op["f"] for op in export.ops} == {Keyword("add"), Keyword("read")}
    assert [op["value"] for op in export.ops if op["f"] == Keyword("add")].count("k1") == 2
    read = export.ops[-2:]
    assert [op["type"] for op in read] == [Keyword("invoke"), Keyword("ok")]
    assert read[1]["value"] == ["k1", "k2", "zz"] and read[0]["process"] == read[1]["process"] == export.processes - 1
    assert read[0]["time"] > max(op["time"] for op in export.ops[:-2])
    assert any("without a `key` left out" in n for n in export.notes)
    assert [op["index"] for op in export.ops] == list(range(len(export.ops)))


AUDITED = {
    "name": "orders-drill",
    "stack": {"attach": {"api_url": "http://127.0.0.1:18080", "containers": {"orders": "x-orders"}}},
    "load": {"locustfile": "shop.py"},
    "audit": {"writes": {"create_order": {"id": "response.id"}},
              "read": {"orders": {"http": {"url": "/orders", "items": "items", "next": "next",
                                           "cursor_param": "cursor"}, "fields": {"id": "id"}}},
              "models": [{"model": "set", "collection": "orders", "id": "id"}]},
}


def test_set_follows_the_scenarios_declared_audit(tmp_path: Path) -> None:
    rows = [line("create_order", 0.0, 0.1, **{"response.id": 7}), line("create_order", 0.2, 0.3, **{"response.id": 8}),
            line("create_order", 0.4, 0.5, "info", **{"response.id": None})]
    d = run_dir(tmp_path, rows)
    (d / files.SCENARIO).write_text(yaml.safe_dump(AUDITED))
    state = FinalState(read_at=T0 + 5, declared=True,
                       collections={"orders": Collection({"id": [7, 9]}, 2, True, None, "GET /orders")})
    write_final_state(d, state)
    export = build(d, set_op="create_order")
    adds = [op["value"] for op in export.ops if op["f"] == Keyword("add")]
    assert adds == ["7", "7", "8", "8"]                      # the identity the audit uses, as text
    assert export.ops[-1]["value"] == ["7", "9"] and export.ops[-1]["type"] == Keyword("ok")
    # a final read that did not complete is no :read (Jepsen would call every missing add lost)
    state.collections["orders"] = Collection({"id": [7]}, 1, False, "HTTP 404 on page 2", "GET /orders")
    write_final_state(d, state)
    export = build(d, set_op="create_order")
    assert export.ops[-1]["f"] == Keyword("add") and any("no complete final read" in n for n in export.notes)


def test_set_without_a_recorded_read_says_so_and_an_unknown_op_is_refused(tmp_path: Path) -> None:
    d = run_dir(tmp_path, HISTORY)
    export = build(d, set_op="create_order")
    assert export.ops[-1]["f"] == Keyword("add") and any("no complete final read" in n for n in export.notes)
    with pytest.raises(ExportError, match="no operation 'nope'"):
        build(d, set_op="nope")


def test_damaged_lines_are_left_out_and_counted(tmp_path: Path) -> None:
    d = run_dir(tmp_path, HISTORY[:1], [line("x", 1.0, 1.1, key="w1")])
    with (d / files.HISTORY).open("a") as f:
        f.write('{"op": 5, "complete": 1}\n{"op": "x", "complete": "soon"}\n{"truncated": \n')
    export = build(d)
    assert export.operations == 2 and export.skipped == 2
    assert any("2 history line(s)" in n for n in export.notes) and any("truncated" in n for n in export.notes)


def test_the_command_writes_a_file_or_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = run_dir(tmp_path, HISTORY)
    out = tmp_path / "history.edn"
    assert main(["export", str(d), "--output", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 12
    assert "6 operations as 12 Jepsen operations on 2 processes" in capsys.readouterr().err
    assert main(["export", str(d), "--format", "jepsen-json", "--op", "GET /orders"]) == 0
    assert [op["f"] for op in json.loads(capsys.readouterr().out)] == ["GET /orders"] * 2
    assert main(["export", str(d), "--set", "missing"]) == 64
    assert re.search(r"no operation 'missing'", capsys.readouterr().err)
    assert main(["export", str(tmp_path / "nowhere")]) == 64
