"""`drill export RUN_DIR --format jepsen`: a drill's history as Jepsen operations, for elle-cli, Knossos and
Jepsen's own checkers.

Each history line (one client operation, docs/run-directory.md) becomes a pair: an `:invoke` at its invoke time
and its completion at its complete time, `:ok` / `:fail` / `:info` as the line's outcome (the same meanings:
`fail` took no effect, `info` is indeterminate). Fields, as elle-cli's README shows them:

* `:f` the line's `op` as a keyword (`:purchase`, `:create_order`); an op name that is no EDN keyword
  (`/orders`, a space) stays a string. `--set OP` writes OP as `:add` and nothing else (Jepsen's `set` and
  `set-full` checkers take `:add` and `:read` only), followed by one final `:read` of what the system held
  after the drill, when the run directory recorded it.
* `:value` the line's write identity: its `key` field (the builtin workload's idempotency key, a custom
  locustfile's `context={"key": ...}`), or another field with `--value FIELD`; nil when the line has none.
  With `--set OP` it is where the run's audit finds OP's identity (the scenario's `audit.writes`, else the
  reference stack's), as text like the audit compares it, and the `:read` holds the identities of the audit's
  set model's collection as the final read recorded them (final-state.json).
* `:process` a logical client: drills records the Locust process and user, not a client that runs one
  operation at a time, so each operation takes the lowest process free at its invoke (its previous operation
  completed strictly before), and a process whose operation ended `:info` is never used again (Jepsen's rule:
  its client may still be running it). Real-time order is exact; process order means nothing more.
* `:time` nanoseconds since the first invoke; `:index` 0, 1, 2, … in time order; `:error` the line's error for
  `:fail` and `:info`.

EDN is one operation map per line (elle-cli and Knossos read it piecewise); JSON is one array of objects, the
shape elle-cli's `--format json` reads (it turns `type` and `f` back into keywords).
"""

from __future__ import annotations

import heapq
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from drills.checks.audit_models import Malformed, id_column, ident
from drills.checks.finalstate import FinalState
from drills.checks.history import conform_line
from drills.checks.result import recorded_scenario
from drills.rundir import files
from drills.rundir.tolerant import Problems, iter_jsonl, read_json
from drills.scenario import ScenarioInvalid
from drills.scenario.audit_section import SetModel
from drills.scenario.reference_audit import REFERENCE_AUDIT

FORMATS = ("jepsen", "jepsen-json")
COMPLETION = {"ok": "ok", "fail": "fail", "info": "info"}
# A keyword name every EDN reader takes the same way: a letter, then letters, digits and - _ . * + ! ? < > =
# (EDN allows more, e.g. a leading "+" or a namespace; plain names are what Jepsen histories use).
_KEYWORD = re.compile(r"[A-Za-z][A-Za-z0-9_\-.*+!?<>=]*")


class ExportError(ValueError):
    """The export cannot be written as asked (e.g. `--set` names an op the history does not have)."""


@dataclass(frozen=True)
class Keyword:
    """An EDN keyword (`:add`); JSON writes its name."""

    name: str


@dataclass
class Export:
    """The operations to write, in order, and what the reader should know about them."""

    ops: list[dict[str, Any]] = field(default_factory=list)
    operations: int = 0            # history lines exported (each is two Jepsen operations)
    processes: int = 0
    skipped: int = 0               # history lines without a usable op or times
    notes: list[str] = field(default_factory=list)


@dataclass(order=True)
class _Line:
    invoke: float
    complete: float
    seq: int
    op: str = field(compare=False)
    outcome: str = field(compare=False)
    value: Any = field(compare=False)
    error: Any = field(compare=False)


def f_of(op: str) -> Keyword | str:
    """An op name as Jepsen's `:f`: a keyword when EDN allows one, else the name as a string."""
    return Keyword(op) if _KEYWORD.fullmatch(op) else op


def _lines(run_dir: Path, only: set[str] | None, value_field: str, export: Export) -> list[_Line]:
    problems = Problems()
    out: list[_Line] = []
    for path in files.history_paths(run_dir):
        try:
            for raw in iter_jsonl(path, problems):
                line, _ = conform_line(raw, {})
                if line is None:
                    export.skipped += 1
                    continue
                if only is not None and line["op"] not in only:
                    continue
                invoke = float(line["invoke"])
                out.append(_Line(invoke, max(float(line["complete"]), invoke), len(out), line["op"],
                                 line["outcome"], line.get(value_field), line.get("error")))
        except OSError as exc:
            export.notes.append(f"{path.name}: cannot be read ({exc.strerror or exc}); left out")
    export.notes += [n for path in files.history_paths(run_dir) for n in problems.file_notes(path)]
    if export.skipped:
        export.notes.append(f"{export.skipped} history line(s) without a usable op or times left out")
    return sorted(out)


def _processes(spans: list[tuple[int, int, bool]]) -> tuple[list[int], int]:
    """A process per (invoke ns, complete ns, ended info), sorted by invoke: the lowest free one (its last
    operation completed strictly before), a new one when none is; a process whose operation ended info is
    retired. Returns the processes and how many there are."""
    busy: list[tuple[int, int, bool]] = []     # (complete, process, retired after it)
    free: list[int] = []
    given: list[int] = []
    fresh = 0
    for start, end, info in spans:
        while busy and busy[0][0] < start:
            _, process, retired = heapq.heappop(busy)
            if not retired:
                heapq.heappush(free, process)
        if free:
            process = heapq.heappop(free)
        else:
            process, fresh = fresh, fresh + 1
        given.append(process)
        heapq.heappush(busy, (end, process, info))
    return given, fresh


def build(run_dir: Path, ops: Iterable[str] | None = None, set_op: str | None = None,
          value_field: str | None = None) -> Export:
    """The run's history as Jepsen operations (see the module docstring). `ops` keeps only those ops; `set_op`
    exports that op alone as `:add`, with the final `:read` when the run recorded what the system held.
    `value_field` is the history field each operation's :value is (default: `key`; with `set_op`, where the
    run's audit finds the write's identity)."""
    run_dir = Path(run_dir)
    export = Export()
    only = {set_op} if set_op is not None else (set(ops) if ops else None)
    source = set_source(run_dir, set_op) if set_op is not None else None
    value_field = value_field or (source.field if source is not None else "key")
    lines = _lines(run_dir, only, value_field, export)
    if set_op is not None:
        if not lines:
            raise ExportError(f"no operation {set_op!r} in the history of {run_dir}")
        for line in lines:   # compared as the audit compares identities: as text
            try:
                line.value = ident(line.value)
            except Malformed:
                line.value = None
        valued = [line for line in lines if line.value is not None]
        if len(valued) < len(lines):
            export.notes.append(f"{len(lines) - len(valued)} {set_op} operation(s) without a `{value_field}` left "
                                "out: a set element needs an identity")
        lines = valued
    t0 = lines[0].invoke if lines else 0.0
    spans = [(_ns(line.invoke - t0), _ns(line.complete - t0), line.outcome == "info") for line in lines]
    processes, export.processes = _processes(spans)
    events: list[tuple[int, int, int, dict[str, Any]]] = []
    for line, process, (start, end, _) in zip(lines, processes, spans, strict=True):
        f = Keyword("add") if set_op is not None else f_of(line.op)
        events.append((start, 0, line.seq, {"type": Keyword("invoke"), "f": f, "value": line.value,
                                             "process": process, "time": start}))
        done: dict[str, Any] = {"type": Keyword(COMPLETION[line.outcome]), "f": f, "value": line.value,
                                "process": process, "time": end}
        if line.outcome != "ok" and line.error is not None:
            done["error"] = line.error
        events.append((end, 1, line.seq, done))
    events.sort(key=lambda e: e[:3])
    export.ops = [op for *_, op in events]
    export.operations = len(lines)
    if set_op is not None:
        assert source is not None
        _final_read(source.read, set_op, export, max((end for _, end, _ in spans), default=0))
    for i, op in enumerate(export.ops):
        op["index"] = i
    return export


def _ns(seconds: float) -> int:
    """Nanoseconds, whole microseconds: an epoch double near 1.8e9 holds no finer (the history has ms)."""
    return int(round(seconds * 1e6)) * 1000


def _final_read(values: list[str] | None, set_op: str, export: Export, last_ns: int) -> None:
    """The final `:read` of `set_op`'s identities, on a process of its own just after the last operation."""
    if values is None:
        export.notes.append(f"no complete final read of {set_op!r} is recorded in this run directory: the history "
                            "has no :read, so Jepsen's set checkers can only say which adds were acknowledged")
        return
    process, at = export.processes, last_ns + 1
    export.processes += 1
    export.ops += [{"type": Keyword("invoke"), "f": Keyword("read"), "value": None, "process": process, "time": at},
                   {"type": Keyword("ok"), "f": Keyword("read"), "value": values, "process": process,
                    "time": at + 1}]


@dataclass(frozen=True)
class SetSource:
    """Where `--set OP` finds each write's identity (a history-line field) and what the final read held of
    them, as the audit itself compares them: as text (audit_models.ident)."""

    field: str
    read: list[str] | None          # None: the run directory recorded no final read of the model's collection
    model: str | None = None        # the audit model it comes from, e.g. "set orders.idempotency_key"


def set_source(run_dir: Path, op: str) -> SetSource:
    """The identity field of `op` and the final read's identities, by the run's audit: its scenario's declared
    `audit` (recorded scenario.yaml), else the reference stack's (purchases by idempotency key)."""
    try:
        audit = recorded_scenario(run_dir).audit
    except (ScenarioInvalid, OSError):
        audit = None
    spec = audit if audit is not None and not audit.reference else REFERENCE_AUDIT
    write = spec.writes.get(op)
    model = next((m for m in spec.models if isinstance(m, SetModel) and op in spec.model_writes(m)), None)
    if write is None or model is None:
        return SetSource("key", None)
    found = read_json(Path(run_dir) / files.FINAL_STATE, Problems())
    state = FinalState.from_json(found) if isinstance(found, dict) else None
    rows = state.collection(model.collection) if state is not None else None
    if rows is None or not rows.complete:
        return SetSource(write.id, None, model.name)
    try:
        ids = id_column(rows, model.id)
    except Malformed:
        return SetSource(write.id, None, model.name)
    return SetSource(write.id, sorted({i for i in ids if i is not None}), model.name)


# writing -----------------------------------------------------------------------------------------------------

_EDN_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}
_EDN_SPECIAL = re.compile('["\\\\\x00-\x1f\x7f\ud800-\udfff]')


def _edn_string(text: str) -> str:
    return '"' + _EDN_SPECIAL.sub(lambda m: _EDN_ESCAPES.get(m.group(), f"\\u{ord(m.group()):04x}"), text) + '"'


def edn(value: Any) -> str:
    """One value as EDN: nil, true/false, numbers, strings, keywords, vectors, maps."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Keyword):
        return ":" + value.name
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "nil"
    if isinstance(value, str):
        return _edn_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(edn(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_edn_key(k)} {edn(v)}" for k, v in value.items()) + "}"
    return _edn_string(str(value))


def _edn_key(key: object) -> str:
    return edn(Keyword(key)) if isinstance(key, str) and _KEYWORD.fullmatch(key) else edn(key)


def _json_value(value: Any) -> Any:
    if isinstance(value, Keyword):
        return value.name
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


def edn_lines(export: Export) -> Iterator[str]:
    """One operation map per line, keys in elle-cli's order (:type :f :value :process :time :index)."""
    for op in export.ops:
        yield "{" + ", ".join(f":{k} {edn(v)}" for k, v in op.items()) + "}\n"


def json_lines(export: Export) -> Iterator[str]:
    """One JSON array, an operation per line."""
    if not export.ops:
        yield "[]\n"
        return
    last = len(export.ops) - 1
    for i, op in enumerate(export.ops):
        text = json.dumps({k: _json_value(v) for k, v in op.items()}, allow_nan=False, separators=(",", ":"))
        yield ("[" if i == 0 else " ") + text + ("]\n" if i == last else ",\n")


def write(export: Export, fmt: str, out: TextIO) -> None:
    """Write `export` in `fmt` (one of FORMATS) to `out`."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    for text in (edn_lines(export) if fmt == "jepsen" else json_lines(export)):
        out.write(text)
