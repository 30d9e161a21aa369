"""The history reader on generated histories full of retries, refusals, damaged and odd lines, spread over
several files; remote workers' clock shifts; the audit's fast whole-order check against plain counting."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from drills.checks import history as columns
from drills.rundir.tolerant import Problems
from drills.scenario.audit_section import AuditSection, WriteSpec

T0 = 1_764_150_000.0
OPS = ("purchase", "browse", "login", "register", "rotate_password", "deposit")


def _line(rng: random.Random, n: int, damage: float) -> str:
    """One history line; with probability `damage`, one field (or the whole line) is made wrong."""
    op = rng.choice(OPS)
    invoke = round(T0 + n * 0.01 + rng.uniform(-0.05, 0.05), 3)
    d: dict[str, Any] = {
        "op": op, "worker": "w0", "user": f"u-{rng.randrange(30)}", "invoke": invoke,
        "complete": round(invoke + rng.uniform(0.001, 0.5), 3),
        "outcome": rng.choice(("ok", "ok", "ok", "fail", "info")),
        "status": rng.choice((200, 201, 409, 429, 503, None)),
        "error": None, "key": f"k{rng.randrange(n + 1)}" if op in ("purchase", "deposit") else None,
        "attempt": 1, "credential_version": rng.randrange(1, 9) if op == "rotate_password" else None,
    }
    if op in ("login", "register", "rotate_password") and rng.random() < 0.5:
        d["token"] = f"t{n}"
    if op == "deposit":
        d["amount"] = rng.choice((1, 2.5, -3))
        d["account"] = rng.choice(("a", "b", 7))
    if rng.random() < damage:
        kind = rng.randrange(14)
        if kind == 0:
            return '{"op": "purchase", "inv'                       # not JSON
        if kind == 1:
            return rng.choice(("[1, 2]", "5", '"text"', "null", "   "))   # not an object / blank
        name, value = [("op", None), ("op", ["x"]), ("complete", "soon"), ("complete", str(d["complete"])),
                       ("invoke", None), ("invoke", True), ("outcome", "maybe"), ("outcome", ["ok"]),
                       ("key", 12), ("key", ["k"]), ("user", 5), ("credential_version", "2"),
                       ("token", 3), ("amount", "lots"), ("account", [1]), ("complete", 1e308),
                       ("complete", invoke + 7200), ("status", "409")][rng.randrange(18)]
        if value is None:
            d.pop(name, None) if rng.random() < 0.5 else d.__setitem__(name, None)
        else:
            d[name] = value
    return json.dumps(d)


def _write(tmp: Path, seed: int, files: int, lines: int, damage: float, truncate: bool) -> list[Path]:
    rng = random.Random(seed)
    paths = []
    for f in range(files):
        body = "\n".join(_line(rng, f * lines + n, damage) for n in range(lines)) + "\n"
        if truncate and f == files - 1:
            body += '{"op": "purchase", "invoke": 17641'            # a crash mid-write
        path = tmp / f"history-w{f}.jsonl"
        path.write_text(body)
        paths.append(path)
    return paths


def _state(h: Any, problems: Problems) -> dict[str, Any]:
    """Everything a check reads of a finished history."""
    return {
        "ops": {op: {o: (a.complete.tolist(), a.latency_ms.tolist()) for o, a in per.items()}
                for op, per in h.ops.items()},
        "writes": {op: k.as_dicts() for op, k in h.write_keys.items()},
        "unkeyed": h.unkeyed, "amounts": h.amounts, "rotations": h.rotations,
        "tokens": [(t.user, t.token, t.complete, t.op) for t in h.tokens],
        "acked": [(a.complete.tolist(), a.latency_ms.tolist()) for a in (h.acked_purchases, h.acked_rotations)],
        "counts": (h.lines, h.unknown_outcomes, h.unusable, h.outside_window, h.recorded, h.first_invoke,
                   h.last_complete),
        "damaged": (h.damaged.counts, h.damaged.shown),
        "problems": (problems.notes, problems.bad_lines, problems.truncated),
    }


DECLARED = AuditSection(writes={"purchase": WriteSpec("purchase", id="key"),
                                "deposit": WriteSpec("deposit", id="key", value="amount", counter="account")})


@pytest.mark.parametrize(("seed", "damage", "audit"), [(2, 0.05, None), (5, 0.3, DECLARED)])
def test_a_damaged_history_over_several_files_reads_the_same_twice(tmp_path: Path, seed: int, damage: float,
                                                                  audit: AuditSection | None) -> None:
    paths = _write(tmp_path, seed, files=3, lines=1500, damage=damage, truncate=seed % 2 == 0)
    got = []
    for _ in range(2):
        problems = Problems()
        h = columns.load_history(paths, problems, audit)
        h.finish(T0 + 2.0, T0 + 40.0)
        got.append(_state(h, problems))
    assert got[0] == got[1] and got[0]["counts"][4] > 3000
    assert got[0]["counts"][2] > 0 and got[0]["damaged"][0]


def test_an_empty_file_and_a_file_of_one_unterminated_line(tmp_path: Path) -> None:
    (tmp_path / "history-a.jsonl").write_text("")
    (tmp_path / "history-b.jsonl").write_text(json.dumps(
        {"op": "purchase", "invoke": T0, "complete": T0 + 0.1, "outcome": "ok", "key": "k1"}))
    paths = sorted(tmp_path.glob("history-*.jsonl"))
    problems = Problems()
    h = columns.load_history(paths, problems)
    h.finish()
    assert _state(h, problems)["writes"]["purchase"][0].keys() == {"k1"}


@pytest.mark.parametrize(("orders", "tickets", "whole"), [
    ([(1, 2), (2, 1)], [1, 1, 2], True),
    ([(1, 2), (2, 1)], [1, 2], False),            # order 1 short of a ticket (a partial write)
    ([(1, 1)], [1, 3], False),                    # a ticket of no order (an orphan)
    ([(1, 1), (1, 1)], [1, 1], False),            # an order id twice: counted the long way
    ([(1, 0)], [], False),                        # an order of no seats and no ticket: the long way too
    ([(1, 1)], [2**70], False),                   # beyond int64
    ([(2, 1), (1, 2)], [1, 1, 2], True),            # orders not by id: sorted
    ([(1, 2), (2, 1)], [1, 2, 1], True),            # tickets not in the orders' order: counted
    ([(1, 0), (2, 1)], [2], False),                # an order of no seats among others
    ([(1, 1), (2, 1)], [1, 2, 2], False),          # a ticket too many
    ([], [], True),
])
def test_every_order_whole_agrees_with_counting(orders: list, tickets: list, whole: bool) -> None:
    from collections import Counter

    from drills.checks.audit import _every_order_whole
    from drills.checks.finalstate import FinalState

    state = FinalState(read_at=T0, events=[])
    state.order_ids, state.order_seats = [o for o, _ in orders], [n for _, n in orders]
    state.ticket_orders = tickets
    assert _every_order_whole(state) is whole
    if whole:
        assert Counter(tickets) == dict(orders)


def test_a_remote_workers_times_are_put_on_the_masters_clock_everywhere(tmp_path: Path) -> None:
    """worker_clock's shift reaches every time the reader keeps: attempts, acknowledged purchases, rotations,
    tokens, a time read from numeric text, and the lines re-read for samples."""
    lines = [
        {"op": "purchase", "invoke": T0 + 10, "complete": T0 + 10.2, "outcome": "ok", "key": "k1"},
        {"op": "rotate_password", "user": "u", "invoke": T0 + 11, "complete": T0 + 11.5, "outcome": "ok",
         "credential_version": 2, "token": "t"},
        {"op": "browse", "invoke": str(T0 + 12), "complete": str(T0 + 12.25), "outcome": "ok"},
    ]
    path = tmp_path / "history-r1.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in lines))
    h = columns.load_history([path], Problems(), shifts={path: 2.5})
    h.finish()
    assert h.attempts("purchase", "ok").complete.tolist() == [T0 + 7.7]
    assert h.attempts("browse", "ok").complete.tolist() == [T0 + 9.75]
    assert h.acked_purchases.complete.tolist() == [T0 + 7.7]
    assert h.acked_rotations.complete.tolist() == [T0 + 9.0]
    assert h.rotations["u"][2] == T0 + 9.0 and h.tokens[0].complete == T0 + 9.0
    line = h.lookup([h.purchases.acknowledged["k1"]])[h.purchases.acknowledged["k1"]]
    assert (line["invoke"], line["complete"]) == (T0 + 7.5, T0 + 7.7)
    assert (h.first_invoke, h.last_complete) == (T0 + 7.5, T0 + 9.75)
