"""The recorded client history, kept compact enough for a million operations.

Reading is one pass over every `history*.jsonl` (all load processes merged). Each operation is reduced at
once to what the checks need, and the parsed JSON object is dropped. What is kept per operation goes into
columns (C arrays: 8 bytes a value instead of a tuple and its float objects), which finish() sorts and slices
with numpy into `Attempts` (numpy columns the checks search with np.searchsorted):

* `complete` and `invoke` in a per-(op, outcome) pair of columns (`Times`), for availability;
* for writes (the audit's: `purchase` by its idempotency `key` unless the scenario declares others, see
  WriteFields), the write's identity and a `ref` appended to per-outcome columns, indexed by finish() over
  the identities' sorted hashes (WriteKeys, RowIndex: no dict per identity): the per-line cost stays at two
  appends; a purchase key equal to one of the final state's is held as that very text object
  (load_history(known=...)), not as a second copy;
* per user, the highest acknowledged password rotation; and any session tokens the load recorded;
* the `(complete, invoke)` of every *acknowledged* purchase and rotation (outcome `ok`, a real 2xx: the
  availability buckets count a refusal on the merits as served, these do not), for the recovery metrics.

A `ref` is a file index and byte offset, so the few lines quoted as samples are re-read with a seek
(`lookup()`) instead of being kept.

Every line is held against one declaration of what its fields must be (`conform_line()`, below) as it is read:
a line without a usable `op` or times is skipped, a field of the wrong type is read as null (a purchase with
a key that is not text counts as unkeyed), an unknown outcome as `info`; each is counted in a note naming the
file and the lines. The hot loop only inlines the tests that a line already conforms (and goes through
conform_line() when it does not); nothing downstream meets a value of the wrong type. Most lines never reach
it: a file is read in chunks, and a chunk whose every line is plain (history_decode.py decodes it strictly, its
times and outcomes pass) is added as columns at once (_add_lines(): what the loop would add, line for line); a
chunk that is not is read line by line, so the notes are the same word for word. The
fields only samples show are held against it when a sample re-reads its line (lookup()).
"""

from __future__ import annotations

import gc
import math
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path

import numpy as np

from drills.checks.damage import EPOCH_MAX, EPOCH_MIN, MISSING, MOMENT, Issue, Tally
from drills.checks.history_decode import Lines, decode_lines
from drills.checks.rowindex import RowIndex
from drills.checks.worker_clock import corrected
from drills.rundir.codec import DECODE_ERRORS, loads
from drills.rundir.tolerant import Problems
from drills.scenario.audit_section import AuditSection

OUTCOMES = ("ok", "fail", "info")
PURCHASE, ROTATE = "purchase", "rotate_password"
TOKEN_OPS = frozenset(("login", "register", ROTATE))

_FILE_SHIFT = 40            # ref = file index << 40 | byte offset
CHUNK_BYTES = 2 << 20       # history read as columns this much at a time: memory stays flat on long runs, and a
                            # chunk's decoded lines (~7k) stay in cache for _add_lines() (8 MB: ~+0.3 s, +11 MB at 1M)
NOT_COPING = (408, 429)    # 4xx that are the system not coping, not a refusal on the merits (_rejected())
_OUTCOME_SET = frozenset(OUTCOMES)
_OUTCOME_INDEX = {o: k for k, o in enumerate(OUTCOMES)}
_OK, _FAIL = _OUTCOME_INDEX["ok"], _OUTCOME_INDEX["fail"]

# Rotation record fields: [acked_version, ack_invoke, ack_complete, info_attempts, ok_ref]
R_VERSION, R_INVOKE, R_COMPLETE, R_INFO, R_REF = range(5)

# A history line (docs/run-directory.md, "history.jsonl"), as the checks read it ---------------------------------
#
# `op` (text) and `complete` (a time) are required, `invoke` a time or null (then: `complete`); a line without
# them is skipped. Times are numbers (numeric text is read as its number): both moments (damage.epoch(): epoch
# seconds in (EPOCH_MIN, EPOCH_MAX)), `complete` at most OP_MAX_S from `invoke`; anything else is damage (1e308
# would overflow the arithmetic, a stray far-off time would stretch the load window over centuries). `outcome`
# not one of OUTCOMES is `info` (its effect is unknown). Other fields of the wrong type are read as null (see
# below).
OP_MAX_S = 3600.0           # no client waits an hour for one operation: times further apart are damaged


def _text(v: object) -> bool:
    return type(v) is str


def _whole(v: object) -> bool:
    return type(v) is int           # not bool


def _wholes(v: object) -> bool:
    return type(v) is list and all(type(x) is int for x in v)


# field -> (what it must be, in words; the test). What reading keeps of a line is held against these as it is
# read: a purchase's key, a rotation's or a session's credential fields; what a sample shows of a purchase when
# it re-reads the line (lookup()).
KEY_FIELDS: dict[str, tuple[str, Callable[[object], bool]]] = {"key": ("text", _text)}
CREDENTIAL_FIELDS: dict[str, tuple[str, Callable[[object], bool]]] = {
    "user": ("text", _text), "credential_version": ("a whole number", _whole), "token": ("text", _text)}
SAMPLE_FIELDS: dict[str, tuple[str, Callable[[object], bool]]] = {
    "user": ("text", _text), "event_id": ("a whole number", _whole), "order_id": ("a whole number", _whole),
    "seats": ("a list of whole numbers", _wholes), "replica": ("text", _text), "error": ("text", _text),
}


def read_fields(op: str) -> dict[str, tuple[str, Callable[[object], bool]]]:
    """The fields reading keeps of a line of `op` in the reference stack's history, besides op, outcome and
    times (History.fields_of() for a declared audit's writes)."""
    return KEY_FIELDS if op == PURCHASE else CREDENTIAL_FIELDS if op in TOKEN_OPS else {}


def _identity(v: object) -> bool:
    return type(v) is str or type(v) is int     # a whole number is read as its decimal text


def _amount(v: object) -> bool:
    return (type(v) is int or type(v) is float) and math.isfinite(v)


@dataclass(frozen=True)
class WriteFields:
    """What reading keeps of the lines of one write operation (drills/scenario/audit_section.py's WriteSpec): its
    identity, and a counter write's amount and counter. The reference stack's idempotency key must be text; a
    declared audit's identity may also be a whole number (read as its decimal text: the read side compares
    text)."""

    id: str = "key"
    value: str | None = None
    counter: str | None = None
    text_only: bool = False

    def fields(self) -> dict[str, tuple[str, Callable[[object], bool]]]:
        out: dict[str, tuple[str, Callable[[object], bool]]] = {
            self.id: ("text", _text) if self.text_only else ("text or a whole number", _identity)}
        if self.value is not None:
            out[self.value] = ("a number", _amount)
        if self.counter is not None:
            out[self.counter] = ("text or a whole number", _identity)
        return out


REFERENCE_WRITES = {PURCHASE: WriteFields("key", text_only=True)}


def write_fields(audit: AuditSection | None) -> dict[str, WriteFields]:
    """op -> what reading keeps of its lines, for an audit (None: the reference stack's)."""
    if audit is None or audit.reference:
        return dict(REFERENCE_WRITES)
    return {op: WriteFields(w.id, w.value, w.counter) for op, w in audit.writes.items()}


def _number(v: object) -> float | None:
    """A number (or numeric text) as a float; None for anything else, for a bool and for a non-finite one."""
    if type(v) is float:
        t = v
    elif type(v) is int or type(v) is str:
        try:
            t = float(v)
        except (ValueError, OverflowError):
            return None
    else:
        return None
    return t if math.isfinite(t) else None


def conform_line(d: dict, fields: dict[str, tuple[str, Callable[[object], bool]]] | None = None
                 ) -> tuple[dict | None, list[Issue]]:
    """(`d` as a history line: a copy with both times as floats, `invoke` filled in, `outcome` one of OUTCOMES
    and every one of `fields` (by default: read_fields(op)) of the wrong type as null -- or None when the line
    is unusable; what was wrong)."""
    op = d.get("op", MISSING)
    if type(op) is not str:
        return None, [("op", "no `op` (text): line skipped", op)]
    complete, invoke = d.get("complete", MISSING), d.get("invoke")
    c = _number(complete)
    if c is None:
        return None, [("complete", "`complete` not a time: line skipped", complete)]
    i = c if invoke is None else _number(invoke)
    if i is None or not EPOCH_MIN < i < EPOCH_MAX:
        name = "complete" if invoke is None else "invoke"
        return None, [(name, f"`{name}` not {MOMENT}: line skipped", d[name])]
    if not EPOCH_MIN < c:
        return None, [("complete", f"`complete` not {MOMENT}: line skipped", complete)]
    if not -OP_MAX_S <= c - i <= OP_MAX_S:
        return None, [("complete", f"`complete` more than {OP_MAX_S:g} s from `invoke`: line skipped", complete)]
    issues: list[Issue] = []
    line = dict(d)
    line["complete"], line["invoke"] = c, i
    if line.get("outcome") not in OUTCOMES:
        issues.append(("outcome", "unknown outcome: counted as info", d.get("outcome", MISSING)))
        line["outcome"] = "info"
    for name, (words, test) in (read_fields(op) if fields is None else fields).items():
        value = d.get(name)
        if value is not None and not test(value):
            issues.append((name, f"`{name}` not {words}: read as null" + (", the purchase unkeyed"
                                                                          if name == "key" and op == PURCHASE
                                                                          else ""), value))
            line[name] = None
    return line, issues


class Attempts:
    """One op's attempts of one outcome, sorted by completion: two parallel numpy columns, `complete` (float64
    epoch seconds) and `latency_ms` (int32: complete - invoke in whole milliseconds, the clock has ms precision;
    an attempt lasts at most OP_MAX_S). 12 bytes an attempt instead of two lists of Python objects (~70 bytes):
    consumers search them with np.searchsorted and take slices, and turn what they report into Python numbers."""

    __slots__ = ("complete", "latency_ms")

    def __init__(self, complete: np.ndarray | None = None, latency_ms: np.ndarray | None = None) -> None:
        self.complete: np.ndarray = _EMPTY_F if complete is None else complete
        self.latency_ms: np.ndarray = _EMPTY_I if latency_ms is None else latency_ms

    def __len__(self) -> int:
        return len(self.complete)

    def max_latency_ms(self) -> int:
        """The longest attempt (ms); 0 when there is none."""
        return int(self.latency_ms.max()) if len(self.latency_ms) else 0

    def invoked(self, lo: int, hi: int) -> np.ndarray:
        """The invocations (epoch) of attempts lo..hi-1, as `complete - latency_ms / 1000.0`."""
        return self.complete[lo:hi] - self.latency_ms[lo:hi] / 1000.0

    def first_invoked_from(self, t: float, not_before: float | None = None) -> float | None:
        """Completion (epoch) of the first attempt invoked at or after `t` (and completing at or after
        `not_before`). Sorted by completion, so only attempts completing within the longest latency after
        `t` can have been invoked before it: past those, the first one is the answer."""
        c = self.complete
        if not len(c):
            return None
        j = int(np.searchsorted(c, t if not_before is None else max(t, not_before), "left"))
        limit = int(np.searchsorted(c, t + self.max_latency_ms() / 1000.0, "right"))
        if j < limit:
            hit = np.flatnonzero(self.invoked(j, limit) >= t - 1e-6)
            if len(hit):
                return float(c[j + int(hit[0])])
        k = max(j, limit)
        return float(c[k]) if k < len(c) else None


_EMPTY_F = np.empty(0, dtype=np.float64)
_EMPTY_I = np.empty(0, dtype=np.int32)
_EMPTY_F.flags.writeable = False
_EMPTY_I.flags.writeable = False


class Times:
    """The (complete, invoke) of some attempts in reading order, as two columns of C doubles (a time is a float:
    reading lets no other value in)."""

    __slots__ = ("complete", "invoke")

    def __init__(self) -> None:
        self.complete: array = array("d")
        self.invoke: array = array("d")

    def __len__(self) -> int:
        return len(self.complete)

    def add(self, complete: float, invoke: float) -> None:
        self.complete.append(complete)
        self.invoke.append(invoke)

    def sorted(self) -> tuple[np.ndarray, np.ndarray]:
        """(complete, invoke) as numpy columns sorted by completion; ties keep reading order."""
        c = np.frombuffer(self.complete, dtype=np.float64) if self.complete else np.empty(0)
        i = np.frombuffer(self.invoke, dtype=np.float64) if self.invoke else np.empty(0)
        order = np.argsort(c, kind="stable")
        return c[order], i[order]


def latencies_ms(complete: np.ndarray, invoke: np.ndarray) -> np.ndarray:
    """complete - invoke in whole milliseconds (int32: at most OP_MAX_S either way), rounded half up as
    `int(x * 1000.0 + 0.5)` (toward zero)."""
    return np.trunc((complete - invoke) * 1000.0 + 0.5).astype(np.int32)


@dataclass
class Token:
    """A session token the load recorded, and when it was minted."""

    user: str
    token: str
    complete: float
    op: str


Column = tuple[list, array]   # (identities: text or None, refs), one row per attempt in file order


class WriteKeys:
    """Every identity of one write operation the load tried (a purchase's idempotency key), by what its
    attempts got (a key may be in several). Each outcome's attempts stay columns (the identities' texts and
    refs) indexed by sorted hashes (RowIndex) instead of a dict per outcome: ~300 MB less at 10M attempts;
    many identities are asked about at once (tried(), RowIndex.holds()), a few one by one."""

    def __init__(self, ok: Column | None = None, info: Column | None = None, fail: Column | None = None) -> None:
        empty: Column = ([], array("q"))
        self.columns = {"ok": ok or empty, "info": info or empty, "fail": fail or empty}
        self.acknowledged = RowIndex(*self.columns["ok"])              # key -> ref of its last ok attempt
        self.info = RowIndex(*self.columns["info"], first=True)      # key -> ref of its first info attempt
        self.fail = RowIndex(*self.columns["fail"], first=True)      # key -> ref of its first fail attempt

    def __contains__(self, key: object) -> bool:
        return key in self.acknowledged or key in self.info or key in self.fail

    def tried(self, keys: Sequence[str | None]) -> np.ndarray:
        """Whether some attempt used each of `keys` (bool array, in their order)."""
        return self.acknowledged.holds(keys) | self.info.holds(keys) | self.fail.holds(keys)

    def ref(self, key: str) -> int | None:
        """Where the key was acknowledged, else first tried."""
        for index in (self.acknowledged, self.info, self.fail):
            ref = index.get(key)
            if ref is not None:
                return ref
        return None

    def undecided(self) -> list[str]:
        """Keys with an indeterminate attempt and no acknowledged one."""
        return sorted(_texts(compress(self.info.ids, ~self.acknowledged.holds(self.info.ids))))

    def failed(self) -> list[str]:
        """Keys whose every attempt failed definitely."""
        keys = self.fail.ids
        return sorted(_texts(compress(keys, ~(self.acknowledged.holds(keys) | self.info.holds(keys)))))

    def unacknowledged(self) -> set[str]:
        """Keys tried and never acknowledged (indeterminate or failed)."""
        keys = self.fail.ids
        return set(self.undecided()) | _texts(compress(keys, ~self.acknowledged.holds(keys)))

    def as_dicts(self) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        """(acknowledged, info, fail) as key -> ref dicts (what tests compare; not for a large run)."""
        return tuple({k: index[k] for k in index} for index in (self.acknowledged, self.info, self.fail))  # type: ignore[return-value]


def _texts(keys: Iterable[str | None]) -> set[str]:
    out = set(keys)
    out.discard(None)
    return out  # type: ignore[return-value]


@dataclass
class History:
    """Every client operation of a run, reduced (see the module docstring)."""

    paths: list[Path] = field(default_factory=list)
    lines: int = 0
    raw: dict[tuple[str, str], Times] = field(default_factory=dict)    # (op, outcome) -> its attempts' times
    ops: dict[str, dict[str, Attempts]] = field(default_factory=dict)   # after finish()
    writes: dict[str, WriteFields] = field(default_factory=lambda: dict(REFERENCE_WRITES))  # op -> its fields
    write_cols: dict[str, dict[str, tuple[list, array]]] = field(
        default_factory=dict)            # op -> outcome -> (identities, refs), in file order
    write_keys: dict[str, WriteKeys] = field(default_factory=dict)      # op -> its identities, after finish()
    # counter writes: op -> [(identity or None, outcome, amount or None, counter or None)], in file order
    amounts: dict[str, list[tuple[str | None, str, float | None, str | None]]] = field(default_factory=dict)
    rotations: dict[str, list] = field(default_factory=dict)            # user -> rotation record
    tokens: list[Token] = field(default_factory=list)
    acked_purchases: Attempts = field(default_factory=Attempts)  # after finish(): every ok
    acked_rotations: Attempts = field(default_factory=Attempts)  # purchase / rotation
    acked_raw: dict[str, Times] = field(default_factory=lambda: {PURCHASE: Times(), ROTATE: Times()})
    unknown_outcomes: int = 0
    unusable: int = 0          # lines skipped: no usable op / complete / invoke (conform_line)
    unkeyed: dict[str, int] = field(default_factory=dict)   # op -> write attempts without a usable identity
    outside_window: int = 0
    recorded: int = 0          # usable operations read, before any window
    first_invoke: float | None = None
    last_complete: float | None = None
    damaged: Tally = field(default_factory=Tally)            # what conform_line() found, for the notes
    problems: Problems = field(default_factory=Problems)      # where lookup() notes what it repaired
    _looked_up: set[int] = field(default_factory=set)         # refs whose sample fields were checked
    shared: RowIndex | None = None   # texts identities are held as (load_history(known=...)), by hash
    _shifts: list[float] = field(default_factory=list)        # per file: seconds taken off its times (read())

    def __post_init__(self) -> None:
        self.write_cols = _write_cols(self.writes)
        self._fields = {op: {**(CREDENTIAL_FIELDS if op in TOKEN_OPS else {}), **w.fields()}
                        for op, w in self.writes.items()}

    @property
    def purchases(self) -> WriteKeys:
        """The reference stack's purchases by idempotency key (empty when `purchase` is not a write)."""
        return self.write_keys.get(PURCHASE) or WriteKeys()

    @property
    def unkeyed_purchases(self) -> int:
        return self.unkeyed.get(PURCHASE, 0)

    def fields_of(self, op: object) -> dict[str, tuple[str, Callable[[object], bool]]]:
        """The fields reading keeps of a line of `op`, besides op, outcome and times."""
        if type(op) is str and op in self._fields:
            return self._fields[op]
        return read_fields(op) if type(op) is str and op != PURCHASE else {}

    # reading ---------------------------------------------------------------------------------------------

    def read(self, path: Path, problems: Problems, shift: float = 0.0) -> None:
        """Add one history file: chunks of plain lines as columns, the others line by line (_read_columns()).
        `shift`: seconds to take off each of its times (a remote worker's clock offset, worker_clock.py)."""
        fidx = len(self.paths)
        self.paths.append(path)
        self._shifts.append(shift)
        self.problems = problems
        if self.writes == REFERENCE_WRITES:
            self.lines += self._read_columns(fidx, path, problems, shift)
        else:                                   # a declared audit's fields are read line by line
            self.lines += self._read_lines(fidx, path, problems, shift, 0, 0)

    def _read_columns(self, fidx: int, path: Path, problems: Problems, shift: float) -> int:
        """Read `path` in chunks of whole lines: one whose every line is plain (history_decode.py decodes it, its
        times and outcomes pass _add_lines()) as columns, any other line by line (_read_lines(): its notes);
        returns how many lines the file has."""
        done = lines = 0
        with path.open("rb") as f:
            while True:
                f.seek(done)
                chunk = f.read(CHUNK_BYTES)
                if not chunk:
                    break
                size = len(chunk)
                if size == CHUNK_BYTES:             # more may follow: whole lines only
                    size = chunk.rfind(b"\n") + 1
                    if size == 0:                   # a line longer than a chunk: the rest line by line
                        return self._read_lines(fidx, path, problems, shift, done, lines)
                decoded = decode_lines(chunk, size)
                if decoded is not None and self._add_lines(decoded, (fidx << _FILE_SHIFT) + done, shift):
                    lines += len(decoded)
                else:
                    lines = self._read_lines(fidx, path, problems, shift, done, lines, done + size)
                done += size
        return lines

    def _add_lines(self, d: Lines, base: int, shift: float) -> bool:
        """Add decoded lines as read() would add each (False, adding nothing, when a time or an outcome needs
        conform_line()); `base`: the ref of the chunk's first byte."""
        c, i = d.complete, d.invoke
        if not (bool(np.all((EPOCH_MIN < i) & (i < EPOCH_MAX) & (EPOCH_MIN < c)))
                and bool(np.all(np.abs(c - i) <= OP_MAX_S)) and set(d.outcome) <= _OUTCOME_SET):
            return False
        if shift:
            c = np.array([corrected(x, shift) for x in c.tolist()], dtype=np.float64)
            i = np.array([corrected(x, shift) for x in i.tolist()], dtype=np.float64)
        names = list(dict.fromkeys(d.op))
        op = np.fromiter(map({name: k for k, name in enumerate(names)}.__getitem__, d.op), np.int32, len(d))
        outcome = np.fromiter(map(_OUTCOME_INDEX.__getitem__, d.outcome), np.int32, len(d))
        st = d.status
        rejected = (outcome == _FAIL) & (st >= 400) & (st < 500) & ~np.isin(st, NOT_COPING)   # _rejected()
        group = op * len(OUTCOMES) + np.where(rejected, _OK, outcome)
        for g in np.unique(group).tolist():
            at = group == g
            times = self.raw.setdefault((names[g // len(OUTCOMES)], OUTCOMES[g % len(OUTCOMES)]), Times())
            times.complete.frombytes(c[at].tobytes())
            times.invoke.frombytes(i[at].tobytes())
        refs = d.starts + base
        if PURCHASE in names:
            purchase = op == names.index(PURCHASE)
            for k, name in enumerate(OUTCOMES):
                idx = np.flatnonzero(purchase & (outcome == k))
                keys, col = self.write_cols[PURCHASE][name]
                read = [d.key[j] for j in idx.tolist()]
                keys.extend(self.shared.held_as(read) if self.shared is not None else read)
                col.frombytes(refs[idx].tobytes())
                if name == "ok":
                    self.acked_raw[PURCHASE].complete.frombytes(c[idx].tobytes())
                    self.acked_raw[PURCHASE].invoke.frombytes(i[idx].tobytes())
        credential = np.isin(op, [k for k, name in enumerate(names) if name in TOKEN_OPS])
        for j, cj, ij, ref in zip(*(x[credential].tolist() for x in (np.arange(len(d)), c, i, refs)), strict=True):
            r = d.rows[j]
            self._credential(r.user, r.credential_version, r.token, r.op, r.outcome, cj, ij, ref)
        return True

    def _read_lines(self, fidx: int, path: Path, problems: Problems, shift: float, start: int, before: int,
                    stop: int | None = None) -> int:
        """Read `path` line by line from byte `start` (line `before` + 1) to byte `stop` (None: its end); returns
        the number of the last line read. This is the hot loop of the tolerant reader: keep it flat. A line goes
        the slow way through conform_line() unless it visibly conforms already (or its (op, outcome) is new): its
        times are tested here, a write's identity and credential fields (rotations, tokens) where they are
        used."""
        base = fidx << _FILE_SHIFT
        raw, cols, writes = self.raw, self.write_cols, self.writes
        acked_c, acked_i = self.acked_raw[PURCHASE].complete, self.acked_raw[PURCHASE].invoke
        lo, hi, below, apart = EPOCH_MIN, EPOCH_MAX, -OP_MAX_S, OP_MAX_S
        pos, lineno, end = start, before, (1 << 62) if stop is None else stop
        with path.open("rb") as f:
            f.seek(start)
            for lineno, line in enumerate(f, before + 1):
                if pos >= end:
                    lineno -= 1
                    break
                here = pos
                pos += len(line)
                try:
                    d = loads(line)
                except DECODE_ERRORS:
                    if line.strip():
                        problems.bad_line(path, lineno, line)
                    continue
                try:
                    op, outcome, c, i = d["op"], d["outcome"], d["complete"], d["invoke"]
                    # conform_line()'s times, cheaply: anything but a number raises, NaN compares false, and the
                    # lower bound keeps out true and false
                    if not (lo < i < hi and lo < c and below <= c - i <= apart):
                        raise TypeError     # conform_line() says why, or reads numeric text
                    if shift:
                        c, i = corrected(c, shift), corrected(i, shift)
                    bucket = raw[op, "ok" if outcome == "fail" and _rejected(d) else outcome]
                except (KeyError, TypeError):
                    if not isinstance(d, dict):
                        problems.bad_line(path, lineno, line)
                        continue
                    fixed, issues = conform_line(d, self.fields_of(d.get("op")))
                    if issues:
                        self.damaged.add(path, lineno, issues)
                    if fixed is None:
                        self.unusable += 1
                        continue
                    if fixed["outcome"] != d.get("outcome"):
                        self.unknown_outcomes += 1
                    d = fixed
                    if shift:
                        d["complete"], d["invoke"] = corrected(d["complete"], shift), corrected(d["invoke"], shift)
                    op, outcome, c, i = d["op"], d["outcome"], d["complete"], d["invoke"]
                    bucket = raw.setdefault((op, "ok" if outcome == "fail" and _rejected(d) else outcome), Times())
                bucket.complete.append(c)
                bucket.invoke.append(i)
                w = writes.get(op)
                if w is not None:
                    key = d.get(w.id)
                    if type(key) is not str and key is not None:
                        key = self._identity(d, w, path, lineno)
                    keys, refs = cols[op][outcome]
                    keys.append(key)
                    refs.append(base | here)
                    if outcome == "ok" and op == PURCHASE:
                        acked_c.append(c)
                        acked_i.append(i)
                    if w.value is not None:
                        self._amount(d, w, op, key, outcome, path, lineno)
                if op == ROTATE or (op in TOKEN_OPS and "token" in d):
                    self._credentials(d, op, outcome, c, i, base | here, path, lineno)
        return lineno

    def _repaired(self, d: dict, path: Path, lineno: int) -> dict:
        """A line whose op, outcome and times passed, through conform_line() for the other fields reading
        keeps (fields_of())."""
        fixed, issues = conform_line(d, self.fields_of(d.get("op")))
        self.damaged.add(path, lineno, issues)
        assert fixed is not None    # what makes a line unusable was tested already
        return fixed

    def _identity(self, d: dict, w: WriteFields, path: Path, lineno: int) -> str | None:
        """A write's identity that is not text: a whole number as its decimal text (declared audits), anything
        else null (the write unkeyed; noted)."""
        key = d.get(w.id)
        if type(key) is int and not w.text_only:
            return str(key)
        return self._repaired(d, path, lineno)[w.id]

    def _amount(self, d: dict, w: WriteFields, op: str, key: str | None, outcome: str, path: Path,
                lineno: int) -> None:
        """A counter write's amount and counter (WriteFields.value / .counter), kept in file order."""
        value_field, counter_field = w.value or "", w.counter or ""
        amount, counter = d.get(value_field), d.get(counter_field)
        if not ((amount is None or _amount(amount)) and (counter is None or _identity(counter))):
            fixed = self._repaired(d, path, lineno)
            amount, counter = fixed.get(value_field), fixed.get(counter_field)
        counter = str(counter) if type(counter) is int else counter
        self.amounts.setdefault(op, []).append((key, outcome, None if amount is None else float(amount), counter))

    def _credentials(self, d: dict, op: str, outcome: str, c: float, i: float, ref: int, path: Path,
                     lineno: int) -> None:
        user, v, token = d.get("user"), d.get("credential_version"), d.get("token")
        if not ((type(user) is str or user is None) and (type(v) is int or v is None)
                and (type(token) is str or token is None)):
            d = self._repaired(d, path, lineno)     # (CREDENTIAL_FIELDS, tested inline)
            user, v, token = d.get("user"), d.get("credential_version"), d.get("token")
        self._credential(user, v, token, op, outcome, c, i, ref)

    def _credential(self, user: str | None, v: int | None, token: str | None, op: str, outcome: str, c: float,
                    i: float, ref: int) -> None:
        """A rotation's or a session's credential fields (already of their types) into `rotations` and
        `tokens`."""
        if user is None:
            return
        if op == ROTATE:
            rec = self.rotations.get(user)
            if rec is None:
                rec = self.rotations[user] = [0, 0.0, 0.0, 0, 0]
            if outcome == "ok":
                self.acked_raw[ROTATE].add(c, i)
                if v is not None and v > rec[R_VERSION]:
                    rec[R_VERSION], rec[R_INVOKE], rec[R_COMPLETE], rec[R_REF] = v, i, c, ref
            elif outcome == "info":
                rec[R_INFO] += 1
        if outcome == "ok" and token:
            self.tokens.append(Token(user, token, c, op))

    def finish(self, lo: float | None = None, hi: float | None = None) -> None:
        """Sort every op's attempts by completion and keep, for availability, those invoked in [lo, hi]
        (the load window); the audit records keep every attempt."""
        first, last = [], []
        ops: dict[str, dict[str, Attempts]] = {}
        self.recorded = sum(len(times) for times in self.raw.values())
        for (op, outcome), times in self.raw.items():
            complete, invoke = times.sorted()
            lowest, highest = (float(invoke.min()), float(invoke.max())) if len(invoke) else (0.0, 0.0)
            if len(complete):
                first.append(lowest)
                last.append(float(complete[-1]))
            if lo is not None and hi is not None and len(complete) and (lowest < lo or highest > hi):
                keep = (invoke >= lo) & (invoke <= hi)
                self.outside_window += len(invoke) - int(np.count_nonzero(keep))
                complete, invoke = complete[keep], invoke[keep]
            attempts = Attempts(complete, latencies_ms(complete, invoke))
            ops.setdefault(op, {o: Attempts() for o in OUTCOMES})[outcome] = attempts
        self.ops = dict(sorted(ops.items()))
        self.raw = {}
        self.acked_purchases = _acked(self.acked_raw[PURCHASE])
        self.acked_rotations = _acked(self.acked_raw[ROTATE])
        self.acked_raw = {PURCHASE: Times(), ROTATE: Times()}
        self._index_writes()
        self.first_invoke = min(first) if first else None
        self.last_complete = max(last) if last else None

    def _index_writes(self) -> None:
        """Per-identity indexes of every write op over its columns (WriteKeys): the last ok ref, the first
        info/fail ref."""
        for op, cols in self.write_cols.items():
            self.write_keys[op] = WriteKeys(cols["ok"], cols["info"], cols["fail"])  # keys: text or None
            keys = self.write_keys[op]
            self.unkeyed[op] = keys.acknowledged.null_ids + keys.info.null_ids + keys.fail.null_ids
        self.write_cols = _write_cols(self.writes)

    # queries ---------------------------------------------------------------------------------------------

    def bounds(self) -> tuple[float | None, float | None]:
        """(first invoke, last complete) over the raw attempts, before finish() filters them."""
        firsts, lasts = [], []
        for times in self.raw.values():
            if times:
                firsts.append(float(np.frombuffer(times.invoke, dtype=np.float64).min()))
                lasts.append(float(np.frombuffer(times.complete, dtype=np.float64).max()))
        return (min(firsts) if firsts else None, max(lasts) if lasts else None)

    def op_names(self) -> list[str]:
        return list(self.ops)

    def attempts(self, op: str, outcome: str) -> Attempts:
        per = self.ops.get(op)
        return per[outcome] if per else Attempts()

    def count(self) -> int:
        return sum(len(a) for per in self.ops.values() for a in per.values())

    def lookup(self, refs: Iterable[int]) -> dict[int, dict]:
        """The lines behind refs (for samples): one seek and one read each, as conform_line() reads them with
        the fields a sample shows (SAMPLE_FIELDS); what it repaired there is noted once per line."""
        out: dict[int, dict] = {}
        by_file: dict[int, list[int]] = {}
        for ref in refs:
            by_file.setdefault(ref >> _FILE_SHIFT, []).append(ref)
        tally = Tally()
        for fidx, file_refs in by_file.items():
            path = self.paths[fidx]
            with path.open("rb") as f:
                for ref in sorted(set(file_refs)):
                    f.seek(ref & _OFFSET)
                    try:
                        obj = loads(f.readline())
                    except DECODE_ERRORS:
                        continue
                    if not isinstance(obj, dict):
                        continue
                    line, issues = conform_line(obj, _LOOKUP_FIELDS)
                    if line is None:
                        continue
                    issues = [x for x in issues if x[0] in SAMPLE_FIELDS]  # read() noted its key
                    if issues and ref not in self._looked_up:
                        self._looked_up.add(ref)
                        tally.add(path, _line_number(path, ref & _OFFSET) if tally.wants(path, issues) else 0,
                                  issues)
                    shift = self._shifts[fidx]
                    if shift:
                        line["complete"], line["invoke"] = (corrected(line["complete"], shift),
                                                            corrected(line["invoke"], shift))
                    out[ref] = line
        self.problems.notes.extend(tally.notes())
        return out


_OFFSET = (1 << _FILE_SHIFT) - 1
_LOOKUP_FIELDS = {**KEY_FIELDS, **SAMPLE_FIELDS}


def _line_number(path: Path, offset: int) -> int:
    """The number of the line starting at byte `offset` (only for the few lines a note names)."""
    lines = 1
    with path.open("rb") as f:
        while offset > 0:
            chunk = f.read(min(offset, 1 << 20))
            if not chunk:
                break
            lines += chunk.count(b"\n")
            offset -= len(chunk)
    return lines


def _acked(times: Times) -> Attempts:
    """Acknowledged operations sorted by completion, every one kept (not only those in the load window)."""
    complete, invoke = times.sorted()
    return Attempts(complete, latencies_ms(complete, invoke))


def _write_cols(writes: Mapping[str, WriteFields]) -> dict[str, dict[str, tuple[list, array]]]:
    """Empty per-outcome (identities, refs) columns for each write op."""
    return {op: {o: ([], array("q")) for o in OUTCOMES} for op in writes}


def load_history(paths: list[Path], problems: Problems, audit: AuditSection | None = None,
                 shifts: Mapping[Path, float] | None = None, known: list | None = None) -> History:
    """Read (not yet finish) every history file, keeping the writes of `audit` (None: the reference stack's);
    `shifts`: file -> seconds to take off its times (remote workers' clocks: worker_clock.history_shifts()).
    `known`: texts already held (the final state's keys, finalstate.order_keys()): a purchase key equal to one
    is kept as that very object, so an acknowledged key is held once, not twice (~80 bytes a key); equal text,
    so nothing a check compares changes. The cyclic GC is paused: a million long-lived tuples would otherwise
    trigger full collections that cost more than the parsing."""
    history = History(writes=write_fields(audit), shared=_shared(known or []))
    enabled = gc.isenabled()
    gc.disable()
    try:
        for path in paths:
            history.read(path, problems, (shifts or {}).get(path, 0.0))
    finally:
        if enabled:
            gc.enable()
    problems.notes.extend(history.damaged.notes())
    history.shared = None
    return history


def _shared(texts: list) -> RowIndex | None:
    """The texts of `texts` by hash (RowIndex: ~16 bytes a text where a dict of them took ~50, and it is found
    in sorted order, not at random), None when there are none. Any other value is harmless (only text equals
    text); an unhashable one, of a damaged column, is left out."""
    if not texts:
        return None
    try:
        return RowIndex(texts)
    except TypeError:
        return RowIndex([t if type(t) is str else None for t in texts])


def _rejected(d: dict) -> bool:
    """A definite refusal on the merits (409 seat taken, 422 bad request, 401 ...): the system answered.

    Such an operation is `fail` for the audit (it did not happen) but counts as served for availability,
    so a sold-out hot set is not mistaken for an outage. 408 and 429 are the system not coping: not served.
    """
    status = d.get("status")
    return isinstance(status, int) and 400 <= status < 500 and status not in NOT_COPING
