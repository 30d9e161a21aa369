"""Damaged run directories judged by the checks themselves: a history line, a final-state section or a probe of
the wrong type is skipped or read as unknown, with a note naming the file and the line (or the field), and the
rest is judged. None of these may raise (before, each made `drill report` show "the checks failed")."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drills.checks import history as history_module
from drills.checks import judge, write_result
from drills.checks.damage import STRING_MAX, Tally, cap, json_safe, kind
from drills.checks.finalstate import FinalState, write_final_state
from drills.checks.history import EPOCH_MAX, OP_MAX_S, conform_line
from drills.checks.inputs import object_lines, read_run
from drills.checks.probes import conform_probe
from drills.checks.result import judge_recorded
from drills.rundir import tolerant as reader_module
from drills.scenario.model import Budget
from tests.unit.fixtures.damaged import JSONL_FILES, Damage, damages, make
from tests.unit.test_checks_builder import Run, scenario
from tests.unit.test_checks_probes import kill_run

DATA_LOSS = ("lost", "unexpected", "duplicated", "oversold", "sold_over_capacity", "inventory_mismatch",
             "indeterminate_applied", "indeterminate_not_applied")


def _lines(run_dir: Path, name: str = "history.jsonl") -> list[dict]:
    return [json.loads(line) for line in (run_dir / name).read_text().splitlines()]


def _rewrite(run_dir: Path, name: str, lines: list[Any]) -> None:
    (run_dir / name).write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))


def _notes(result: dict, *words: str) -> list[str]:
    return [n for n in result["notes"] if all(w in n for w in words)]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    r = Run(tmp_path / "run")
    r.stream(end=10.0, every=0.5)                   # 20 acknowledged purchases, key-1 .. key-20, lines 1-20
    r.rotate("u7", "ok", 11.0, version=2)            # line 21
    r.rotate("u8", "ok", 12.0, version=3)            # line 22
    r.final_from_history()
    return r


# history -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad_key", [5, 2.5, True, [1, "a"], {"a": 1}])
def test_a_purchase_key_that_is_not_text_counts_as_unkeyed(run: Run, bad_key: object) -> None:
    out = run.write()
    lines = _lines(out)
    lines[2]["key"] = bad_key                          # key-3, line 3
    _rewrite(out, "history.jsonl", lines)
    result = judge(out, scenario(Budget("lost", max=0)))
    a = result["audit"]
    assert a["unkeyed"] == 1 and a["acknowledged"] == 19
    assert a["lost"] == 0 and a["unexpected"] == 1    # key-3's order: its key was never (readably) tried
    assert result["checks"]["operations"] == 22       # the operation itself still counts for availability
    assert _notes(result, "history.jsonl: `key` not text: read as null, the purchase unkeyed", "line 3 (")


@pytest.mark.parametrize("bad_user", [[1, "a"], {"a": 1}, 12, True])
def test_a_user_that_is_not_text_is_not_attributed(run: Run, bad_user: object) -> None:
    out = run.write()
    lines = _lines(out)
    lines[20]["user"] = bad_user                       # u7's rotation, line 21
    lines.append({**lines[0], "op": "login", "user": bad_user, "token": "t0k", "key": None})   # line 23
    _rewrite(out, "history.jsonl", lines)
    result = judge(out, scenario(Budget("credential_changes_lost", max=0)))
    a = result["audit"]
    assert a["rotations_acknowledged"] == 1 and a["credential_changes_lost"] == 0     # u8's is still judged
    assert _notes(result, "history.jsonl: `user` not text: read as null (2 line(s): line 21 (", "line 23 (")
    assert result["verdict"] == "pass"


@pytest.mark.parametrize("field,value", [
    ("complete", 1e308), ("invoke", 1e308), ("complete", -5), ("invoke", -5.0), ("complete", True),
    ("invoke", [1]), ("complete", {"a": 1}), ("complete", "soon"), ("complete", None), ("op", [1]), ("op", None),
    ("complete", EPOCH_MAX * 2), ("invoke", "NaN"), ("complete", "Infinity"), ("invoke", "1e400"),
])
def test_a_line_without_usable_times_or_op_is_skipped_and_named(run: Run, field: str, value: object) -> None:
    out = run.write()
    lines = _lines(out)
    lines[4][field] = value                            # line 5
    _rewrite(out, "history.jsonl", lines)
    result = judge(out, scenario(Budget("lost", max=0)))
    assert result["checks"]["operations"] == 21
    assert result["checks"]["history_lines"] == 22
    (note,) = _notes(result, "history.jsonl: ", "line skipped (1 line(s): line 5 (")
    assert f"`{field}`" in note or field == "complete"
    assert result["audit"]["lost"] == 0                # key-5's only attempt is unreadable: its order is one
    assert result["audit"]["unexpected"] == 1          # ... nobody (readably) asked for


def test_times_more_than_an_hour_apart_are_damage(run: Run) -> None:
    out = run.write()
    lines = _lines(out)
    lines[0]["complete"] = lines[0]["invoke"] + OP_MAX_S + 1     # a decade-long series otherwise
    lines[1]["invoke"] = lines[1]["complete"] - 1e9
    _rewrite(out, "history.jsonl", lines)
    result = judge(out, scenario())
    assert result["checks"]["operations"] == 20
    assert _notes(result, "`complete` more than 3600 s from `invoke`: line skipped (2 line(s): line 1", "line 2")
    assert len(result["availability"]["series"]) <= 61


def test_non_finite_times_from_the_standard_library_reader(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """orjson refuses NaN and Infinity (a bad line); the standard library reads them: still damage."""
    monkeypatch.setattr(history_module, "loads", json.loads)
    monkeypatch.setattr(reader_module, "loads", json.loads)
    out = run.write()
    lines = _lines(out)
    lines[0]["complete"], lines[1]["invoke"], lines[2]["invoke"] = math.inf, -math.inf, math.nan
    _rewrite(out, "history.jsonl", lines)
    assert "Infinity" in (out / "history.jsonl").read_text()
    result = judge(out, scenario())
    assert result["checks"]["operations"] == 19
    assert _notes(result, "`complete` not a time: line skipped (1 line(s): line 1 (inf))")
    assert _notes(result, "`invoke` not epoch seconds in (1, 1e+11): line skipped (2 line(s): line 2 (-inf), "
                          "line 3 (nan))")


def test_an_unknown_outcome_is_info_and_named(run: Run) -> None:
    out = run.write()
    lines = _lines(out)
    lines[0]["outcome"], lines[1]["outcome"] = ["ok"], "maybe"
    _rewrite(out, "history.jsonl", lines)
    result = judge(out, scenario())
    assert result["availability"]["info"] == 2
    assert _notes(result, "history.jsonl: unknown outcome: counted as info (2 line(s): line 1 (a list), "
                          "line 2 ('maybe'))")


def test_a_wrong_credential_version_or_token_is_null(run: Run) -> None:
    out = run.write()
    lines = _lines(out)
    lines[20]["credential_version"] = "2"       # text: the rotation has no acknowledged version
    lines[21]["token"] = {"t": 1}
    _rewrite(out, "history.jsonl", lines)
    result = judge(out, scenario())
    assert result["audit"]["rotations_acknowledged"] == 1
    assert _notes(result, "`credential_version` not a whole number: read as null (1 line(s): line 21 ('2'))")
    assert _notes(result, "`token` not text: read as null (1 line(s): line 22 (an object))")


def test_a_history_line_that_is_not_an_object_is_a_bad_line(run: Run) -> None:
    out = run.write()
    lines: list[Any] = _lines(out)
    lines[3:3] = ["[1, 2]", "42", '"text"', "null"]
    _rewrite(out, "history.jsonl", lines)
    result = judge(out, scenario())
    assert result["checks"]["operations"] == 22
    assert [n for n in result["notes"] if "not a JSON object" in n] == [
        f"history.jsonl:{n}: not a JSON object, skipped" for n in (4, 5, 6, 7)]


def test_sample_fields_are_checked_when_a_sample_reads_its_line(run: Run) -> None:
    """A lost purchase whose line has an order id of the wrong type: the order-id fallback is not tried with
    it (it was a TypeError in a set lookup), its sample shows null, and a note names the line."""
    state = run.final
    assert state is not None
    i = state.order_keys.index("key-5")
    for col in (state.order_ids, state.order_keys, state.order_events, state.order_created, state.order_seats,
                state.ticket_ids, state.ticket_orders, state.ticket_events, state.ticket_seats):
        del col[i]
    state.events[0].update(sold=19, tickets=19, seats_taken=19)
    out = run.write()
    lines = _lines(out)
    lines[4].update(order_id=[5], seats="1,2", event_id={"id": 1}, error=["boom"], replica=7, user=["u"])
    _rewrite(out, "history.jsonl", lines)
    result = judge(out, scenario(Budget("lost", max=0)))
    a = result["audit"]
    assert a["lost"] == 1
    sample = a["samples"]["lost"][0]
    assert sample["key"] == "key-5"
    assert (sample["order_id"], sample["seats"], sample["event_id"], sample["user"]) == (None, None, None, None)
    for field in ("order_id", "seats", "event_id", "error", "replica", "user"):
        assert _notes(result, f"history.jsonl: `{field}` not", "(1 line(s): line 5 ("), field


def test_conform_line_reads_numeric_text_and_fills_invoke() -> None:
    line, issues = conform_line({"op": "browse", "complete": "1700000000.5", "invoke": None, "outcome": "ok"})
    assert line is not None and issues == []
    assert (line["complete"], line["invoke"]) == (1700000000.5, 1700000000.5)
    line, issues = conform_line({"op": "purchase", "complete": 1700000000.5, "invoke": 1700000000, "outcome": "ok",
                                 "key": ["k"], "user": None})
    assert line is not None and line["key"] is None and line["invoke"] == 1700000000.0
    assert [(f, v) for f, _, v in issues] == [("key", ["k"])]
    assert conform_line({"complete": 1.0})[0] is None


def test_every_wrong_type_in_every_history_field_is_survived(run: Run) -> None:
    """The fuzz: each field of a purchase, a rotation and a browse line with each wrong type in turn."""
    run.op("browse", "ok", 13.0)
    out = run.write()
    base = _lines(out)
    wrongs: list[object] = ["12", "x" * 100, None, [1, "a", None], {"a": 1}, True, 1e308, -5, math.nan]
    for k in (0, 20, 22):
        for field in base[k]:
            for wrong in wrongs:
                lines = [dict(x) for x in base]
                lines[k][field] = wrong
                _rewrite(out, "history.jsonl", lines)
                result = judge(out, scenario(Budget("lost", max=0), Budget("credential_changes_lost", max=0)))
                assert result["checks"]["operations"] in (22, 23), (k, field, wrong)


# final-state.json ------------------------------------------------------------------------------------------------

def _damaged_state(run: Run, change: Callable[[dict], None]) -> dict:
    out = run.write()
    doc = json.loads((out / "final-state.json").read_text())
    change(doc)
    (out / "final-state.json").write_text(json.dumps(doc))
    return judge(out, scenario(Budget("lost", max=0)))


def _set(path: tuple, value: object) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        target = doc
        for p in path[:-1]:
            target = target[p]
        target[path[-1]] = value
    return change


ORDERS = ("lost", "unexpected", "duplicated", "indeterminate_applied", "indeterminate_not_applied")
TICKETS = ("lost", "unexpected", "oversold")


@pytest.mark.parametrize("path,value,unknown,words", [
    (("orders",), [1, 2], ORDERS, "orders is a list, not an object of columns"),
    (("orders",), "orders", ORDERS, "orders is 'orders', not an object of columns"),
    (("orders",), None, ORDERS, "orders is null, not an object of columns"),
    (("orders", "id"), 7, ORDERS, "orders.id is 7, not a list"),
    (("orders", "id", 0), [1], ORDERS, "orders.id[0] is a list, not a whole number"),
    (("orders", "idempotency_key", 0), {"a": 1}, ORDERS, "orders.idempotency_key[0] is an object, not text"),
    (("orders", "seats", 0), "x", ORDERS, "orders.seats[0] is 'x', not a whole number"),
    (("orders", "created", 0), "yesterday", ORDERS, "orders.created[0] is 'yesterday', not a time or null"),
    (("orders", "event_id"), [1], ORDERS, "orders.event_id has 1 values for 20 orders"),
    (("tickets",), True, TICKETS, "tickets is true/false, not an object of columns"),
    (("tickets", "order_id", 0), [1], TICKETS, "tickets.order_id[0] is a list, not a whole number"),
    (("tickets", "seat_no", 3), None, TICKETS, "tickets.seat_no[3] is null, not a whole number"),
    (("tickets", "event_id", 0), 1e308, TICKETS, "tickets.event_id[0] is 1e+308, not a whole number"),
    (("events",), "events", ("sold_over_capacity", "inventory_mismatch"), "events is 'events', not a list"),
    (("events", 0), None, ("sold_over_capacity", "inventory_mismatch"), "events[0] is null, not an object"),
    (("events", 0, "sold"), "abc", ("sold_over_capacity", "inventory_mismatch"),
     "events[0].sold is 'abc', not a whole number or null"),
    (("events", 0, "id"), [1], ("sold_over_capacity", "inventory_mismatch"), "events[0].id is a list"),
    (("credentials",), [1], ("credential_changes_lost",), "credentials is a list, not an object"),
    (("credentials",), "x", ("credential_changes_lost",), "credentials is 'x', not an object"),
    (("credentials", "u7"), "2", ("credential_changes_lost",), "credentials.u7 is '2', not a whole number"),
    (("credential_checks",), [1], ("credential_changes_lost",), "credential_checks is a list, not an object"),
    (("credential_checks",), {"checked": 1, "users": [{"user": [1], "old_works": True}]},
     ("credential_changes_lost",), "credential_checks.users[0].user is a list, not text"),
    (("session_checks",), {"checked": "2", "working": []}, ("revoked_sessions_working",),
     "session_checks.checked is '2', not a whole number"),
    (("session_checks",), {"checked": 2, "working": [7]}, ("revoked_sessions_working",),
     "session_checks.working[0] is 7, not an object"),
])
def test_a_damaged_final_state_section_makes_its_metrics_unknown(run: Run, path: tuple, value: object,
                                                                   unknown: tuple[str, ...], words: str) -> None:
    result = _damaged_state(run, _set(path, value))
    a = result["audit"]
    assert a["final_state"] == "complete"
    for name in unknown:
        assert a[name] is None, name
    for name in set(DATA_LOSS) - set(unknown) - ({"sold_over_capacity", "inventory_mismatch"}
                                                  if path[0] == "tickets" else set()):
        assert a[name] is not None, name       # the rest is judged
    (error,) = [e for e in a["errors"] if words in e]
    assert error.startswith("final-state.json: ") and error.endswith(" unknown")
    assert result["verdict"] != "error" or unknown == ORDERS   # an unknown budget metric: not a crash


def test_damaged_errors_and_flags_are_survived(run: Run) -> None:
    result = _damaged_state(run, _set(("errors",), 12))
    assert "final-state.json: errors is 12, not a list: ignored" in result["audit"]["errors"]
    assert result["audit"]["lost"] == 0
    result = _damaged_state(run, _set(("errors",), ["page 3 timed out", {"x": 1}]))
    assert result["audit"]["errors"][:2] == ["page 3 timed out",
                                             "final-state.json: 1 of 2 errors not text: left out"]
    result = _damaged_state(run, _set(("complete",), "yes"))
    assert result["audit"]["final_state"] == "incomplete" and result["audit"]["lost"] is None
    assert any("complete is 'yes', not true/false" in e for e in result["audit"]["errors"])
    result = _damaged_state(run, _set(("read_at",), [1]))
    assert result["audit"]["lost"] == 0


def test_a_missing_column_is_damage_not_a_column_of_zeros(run: Run) -> None:
    result = _damaged_state(run, lambda doc: doc["tickets"].pop("seat_no"))   # was: every seat 0, oversold
    assert result["audit"]["oversold"] is None
    assert any("tickets.seat_no is missing, not a list" in e for e in result["audit"]["errors"])


def test_every_wrong_type_in_every_final_state_field_is_survived(run: Run) -> None:
    out = run.write()
    doc = json.loads((out / "final-state.json").read_text())
    wrongs: list[object] = ["12", None, [1, "a", None], {"a": 1}, True, 1e308, -5]
    places: list[tuple] = [(k,) for k in doc]
    places += [(k, c) for k in ("orders", "tickets") for c in doc[k]] + [(k, c, 0) for k in ("orders", "tickets")
                                                                        for c in doc[k]]
    places += [("events", 0), ("events", 0, "capacity"), ("events", 0, "tickets"), ("credentials", "u7")]
    for place in places:
        for wrong in wrongs:
            state = FinalState.from_json(json.loads(json.dumps(_apply(doc, place, wrong))))
            assert isinstance(state.damaged, dict)
    for place in places[::3]:
        result = _damaged_state(run, _set(place, wrongs[len(place) % len(wrongs)]))
        assert result["verdict"] in ("pass", "fail", "error", "inconclusive")


def _apply(doc: dict, place: tuple, value: object) -> dict:
    doc = json.loads(json.dumps(doc))
    _set(place, value)(doc)
    return doc


# probes.jsonl ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("change,words", [
    (lambda p: p["nodes"].update(pg1="pg1 is fine"), "`nodes.pg1` not an object: that node left out"),
    (lambda p: p["nodes"].update(pg1=[1, 2]), "`nodes.pg1` not an object: that node left out"),
    (lambda p: p.update(nodes=[1, 2]), "`nodes` not an object: read as empty"),
    (lambda p: p.update(leader=["pg1"]), "`leader` not text: read as null"),
    (lambda p: p.update(leader={"name": "pg1"}), "`leader` not text: read as null"),
    (lambda p: p.update(t=True), "`t` not epoch seconds in (1, 1e+11): probe skipped"),
    (lambda p: p.update(t=1e308), "`t` not epoch seconds in (1, 1e+11): probe skipped"),
    (lambda p: p.update(t="soon"), "`t` not epoch seconds in (1, 1e+11): probe skipped"),
])
def test_a_damaged_probe_is_read_as_far_as_it_goes(tmp_path: Path, change: Callable[[dict], None],
                                                   words: str) -> None:
    run = kill_run(tmp_path)
    for k in (3, 61, 62):                       # before the kill, and just after it
        change(run.probes[k])
    result = run.judge(Budget("failover_s", max=10))
    (f,) = result["availability"]["failovers"]
    assert (f["old_leader"], f["new_leader"]) == ("pg1", "pg2")
    assert f["failover_s"] == pytest.approx(9.01, abs=0.6)
    (note,) = _notes(result, "probes.jsonl: " + words)
    assert "(3 line(s): line 4 (" in note and "line 62 (" in note and "line 63 (" in note


def test_probe_line_numbers_skip_bad_lines(tmp_path: Path) -> None:
    run = kill_run(tmp_path)
    out = run.write()
    lines: list[Any] = _lines(out, "probes.jsonl")
    lines[1]["leader"] = [1]
    lines[0:0] = ["garbage", "", "[1]"]
    _rewrite(out, "probes.jsonl", lines)
    assert object_lines(out / "probes.jsonl")[:2] == [4, 5]
    data = read_run(out)
    assert "probes.jsonl: `leader` not text: read as null (1 line(s): line 5 (a list))" in data.problems.notes
    assert all(isinstance(p["t"], float) for p in data.probes)


def test_conform_probe() -> None:
    probe, issues = conform_probe({"t": 5, "leader": None, "nodes": {"pg1": {"role": "leader"}, "pg2": None}})
    assert probe == {"t": 5.0, "leader": None, "nodes": {"pg1": {"role": "leader"}}}
    assert [what for _, what, _ in issues] == ["`nodes.pg2` not an object: that node left out"]
    assert conform_probe({"leader": "pg1"})[0] is None


# events.jsonl ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,value", [("load_started", True), ("load_started", -5), ("load_started", 1e308),
                                        ("load_stopped", 1e308), ("load_stopped", "60")])
def test_a_load_event_without_a_moment_is_no_load_event(tmp_path: Path, name: str, value: object) -> None:
    """It used to make a window of 1.7e9 seconds (t=true, t=-5) or of 1e308: out of memory."""
    run = Run(tmp_path / "run")
    run.stream(end=60.0, every=0.5)
    out = run.write()
    events = _lines(out, "events.jsonl")
    for e in events:
        if e.get("name") == name:
            e["t"] = value
    _rewrite(out, "events.jsonl", events)
    result = judge(out, scenario())
    assert 59.5 <= result["availability"]["window"]["duration_s"] <= 60.0   # from the history, else as was
    assert _notes(result, f"no {name} event")


@pytest.mark.parametrize("field,value", [("iteration", [1]), ("iteration", "first"), ("type", ["kill"]),
                                         ("type", {"a": 1}), ("t", True), ("t", 1e308)])
def test_a_damaged_fault_line_is_survived(tmp_path: Path, field: str, value: object) -> None:
    out = kill_run(tmp_path).write()
    events = _lines(out, "events.jsonl")
    for e in events:
        if e.get("kind") == "fault":
            e[field] = value
    _rewrite(out, "events.jsonl", events)
    result = judge(out, scenario(Budget("failover_s", max=10), Budget("recovery_s", max=60)))
    assert result["verdict"] in ("pass", "fail", "inconclusive")
    assert len(result["faults"]) == 1


def test_a_fault_long_before_the_load_does_not_walk_every_second_since(tmp_path: Path) -> None:
    out = kill_run(tmp_path).write()
    events = _lines(out, "events.jsonl")
    for e in events:
        if e.get("kind") == "fault" and e["phase"] == "inject":
            e["t"] = 100.0                        # 1970: recovery used to step 1.7e9 seconds to the load
    _rewrite(out, "events.jsonl", events)
    result = judge(out, scenario(Budget("recovery_s", max=1e10)))
    (row,) = result["availability"]["recovery"]
    assert row["recovered"] and row["recovery_s"] > 1.6e9


# writing result.json and final-state.json --------------------------------------------------------------------------

def test_write_result_never_writes_through_a_link(run: Run, tmp_path: Path) -> None:
    out = run.write()
    result = judge(out, scenario())
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    (out / "result.json.tmp").symlink_to(outside)          # the old fixed temporary name
    (out / "final-state.json.tmp").symlink_to(outside)
    (out / "result.json").symlink_to(outside)               # the target itself: replaced, not written through
    path = write_result(out, result)
    assert run.final is not None
    write_final_state(out, run.final)
    assert outside.read_text() == "keep me"
    assert not path.is_symlink() and json.loads(path.read_text())["verdict"] == result["verdict"]
    assert json.loads((out / "final-state.json").read_text())["counts"]["orders"] == 20
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()]
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_write_result_leaves_no_temporary_file_when_it_fails(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    out = run.write()
    result = judge(out, scenario())

    def fail(*args: object) -> None:
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        write_result(out, result)
    assert not list(out.glob(".*.tmp")) and not (out / "result.json").exists()


def _umask() -> int:
    line = next((x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("Umask:")), None)
    return int(line.split()[1], 8) if line else 0o022


# caps -----------------------------------------------------------------------------------------------------------

def test_cap_says_how_much_it_cut() -> None:
    assert cap("short") == "short"
    text = cap("é" * 10_000)   # 20 000 bytes
    assert text.endswith("… (16 000 bytes cut)") and len(text.split("…")[0].encode()) == STRING_MAX
    assert json_safe({"k" * 5000: ["x" * 5000, math.inf, 1.5, (1, "y")]}) == {
        cap("k" * 5000): [cap("x" * 5000), None, 1.5, [1, "y"]]}
    assert kind("[bold]\x1b[2J") == "text" and kind(1e308) == "1e+308" and kind([1]) == "a list"


def test_huge_strings_from_events_and_history_are_capped_in_the_result(run: Run) -> None:
    big = "E" * 2_000_000
    run.fault("kill-leader", 5.0, 8.0, ok=False)
    run.events[-2].update(error=big, detail=big, fault_id="kill-" + "x" * 10_000)
    state = run.final
    assert state is not None
    del state.order_ids[0], state.order_keys[0], state.order_events[0], state.order_created[0]
    del state.order_seats[0]
    out = run.write()
    lines = _lines(out)
    lines[0]["error"] = big                        # key-1, lost: its sample quotes the line
    _rewrite(out, "history.jsonl", lines)
    result = judge(out, scenario(Budget("lost", max=0)))
    text = json.dumps(result)
    assert len(text) < 200_000 and "bytes cut)" in text
    fault = result["faults"][0]
    assert fault["error"].endswith("… (1 996 000 bytes cut)")
    assert result["audit"]["samples"]["lost"][0]["error"].endswith("… (1 996 000 bytes cut)")
    written = write_result(out, result)
    assert written.stat().st_size < 200_000


def test_tally_names_a_few_lines_and_counts_the_rest(tmp_path: Path) -> None:
    tally = Tally()
    for n in range(1, 9):
        tally.add(tmp_path / "history.jsonl", n, [("key", "`key` not text: read as null", [n])])
    (note,) = tally.notes()
    assert note == ("history.jsonl: `key` not text: read as null (8 line(s): line 1 (a list), line 2 (a list), "
                    "line 3 (a list), line 4 (a list), line 5 (a list), …)")


def test_a_history_damaged_throughout_makes_a_few_notes(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=60.0, every=0.01)
    out = run.write()
    lines = _lines(out)
    for k, line in enumerate(lines):
        if k % 2:
            line["key"] = k
        if k % 3 == 0:
            line["complete"] = "never"
    _rewrite(out, "history.jsonl", lines)
    result = judge(out, scenario())
    assert len([n for n in result["notes"] if n.startswith("history.jsonl")]) == 2
    assert result["checks"]["operations"] == 4000 and result["audit"]["unkeyed"] == 2000


def test_the_string_cap_is_documented_with_its_number() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "run-directory.md").read_text()
    (row,) = [line for line in doc.splitlines() if line.startswith("| `result.json` |")]
    assert f"{STRING_MAX:,}".replace(",", " ") + " UTF-8 bytes" in row and "bytes cut)" in row


# the damaged-run corpus (tests/unit/fixtures/damaged.py), judged by the checks directly --------------------------

CORPUS = ([d for run in ("pass", "crashed") for f in JSONL_FILES for d in damages(run, f, depth=4)]
          + damages("pass", "final-state.json", depth=4))


@pytest.mark.parametrize("damage", CORPUS, ids=lambda d: d.id)
def test_the_checks_judge_every_damaged_run(damage: Damage, tmp_path: Path) -> None:
    """No safety net: judge_recorded() itself must not raise (drills/checks/stored.py would otherwise show
    "the checks failed on this run directory")."""
    result = judge_recorded(make(damage, tmp_path / "run"))
    assert result["checks"]["history_lines"] > 0
