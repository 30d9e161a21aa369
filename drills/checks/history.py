"""The recorded client history, kept compact enough for a million operations.

Reading is one pass over every `history*.jsonl` (all load processes merged). Each operation is reduced at
once to what the checks need, and the parsed JSON object is dropped:

* `(complete, invoke)` in a per-(op, outcome) list, for availability;
* for purchases, the idempotency key and a `ref` appended to per-outcome columns, turned into per-key
  indexes in C (`dict(zip(...))`) by finish(): the per-line cost stays at two appends;
* per user, the highest acknowledged password rotation; and any session tokens the load recorded;
* the `(complete, invoke)` of every *acknowledged* purchase and rotation (outcome `ok`, a real 2xx: the
  availability buckets count a refusal on the merits as served, these do not), for the recovery metrics.

A `ref` is a file index and byte offset, so the few lines quoted as samples are re-read with a seek
(`lookup()`) instead of being kept.
"""

from __future__ import annotations

import gc
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import filterfalse
from operator import itemgetter, sub
from pathlib import Path

from drills.rundir.codec import DECODE_ERRORS, loads
from drills.rundir.tolerant import Problems

OUTCOMES = ("ok", "fail", "info")
PURCHASE, ROTATE = "purchase", "rotate_password"
TOKEN_OPS = frozenset(("login", "register", ROTATE))

_FILE_SHIFT = 40            # ref = file index << 40 | byte offset

# Rotation record fields: [acked_version, ack_invoke, ack_complete, info_attempts, ok_ref]
R_VERSION, R_INVOKE, R_COMPLETE, R_INFO, R_REF = range(5)


@dataclass
class Attempts:
    """One op's attempts of one outcome, sorted by completion: two parallel columns."""

    complete: list[float]
    latency_ms: list[int]   # complete - invoke, whole milliseconds (the clock has ms precision)

    def __len__(self) -> int:
        return len(self.complete)

    def first_invoked_from(self, t: float, not_before: float | None = None) -> float | None:
        """Completion (epoch) of the first attempt invoked at or after `t` (and completing at or after
        `not_before`). Sorted by completion, so only attempts completing within the longest latency after
        `t` can have been invoked before it: past those, the first one is the answer."""
        c, lat = self.complete, self.latency_ms
        if not c:
            return None
        j = bisect_left(c, t if not_before is None else max(t, not_before))
        limit = bisect_right(c, t + max(lat) / 1000.0)
        while j < len(c):
            if j >= limit or c[j] - lat[j] / 1000.0 >= t - 1e-6:
                return c[j]
            j += 1
        return None


@dataclass
class Token:
    """A session token the load recorded, and when it was minted."""

    user: str
    token: str
    complete: float
    op: str


@dataclass
class PurchaseKeys:
    """Every idempotency key the load tried, by what its attempts got (a key may be in several)."""

    acknowledged: dict[str, int] = field(default_factory=dict)   # key -> ref of an ok attempt
    info: dict[str, int] = field(default_factory=dict)           # key -> ref of its first info attempt
    fail: dict[str, int] = field(default_factory=dict)           # key -> ref of its first fail attempt

    def __contains__(self, key: object) -> bool:
        return key in self.acknowledged or key in self.info or key in self.fail

    def ref(self, key: str) -> int | None:
        """Where the key was acknowledged, else first tried."""
        for index in (self.acknowledged, self.info, self.fail):
            if key in index:
                return index[key]
        return None

    def undecided(self) -> list[str]:
        """Keys with an indeterminate attempt and no acknowledged one."""
        return sorted(filterfalse(self.acknowledged.__contains__, self.info))  # iterates the small side

    def failed(self) -> list[str]:
        """Keys whose every attempt failed definitely."""
        return sorted(k for k in self.fail if k not in self.acknowledged and k not in self.info)

    def never_tried(self, keys: Mapping[str, object], acked_found: int | None = None) -> set[str]:
        """Those of `keys` no attempt used. Counting settles the usual "none" without building sets:
        every key is accounted for when the acknowledged ones found (`acked_found`, if the caller knows)
        plus the others found make len(keys)."""
        acked = self.acknowledged
        if acked_found is None:
            acked_found = len(acked) if acked.keys() <= keys.keys() else len(acked.keys() & keys.keys())
        found = acked_found
        others = {k for index in (self.info, self.fail) for k in index if k not in acked}
        found += sum(1 for k in others if k in keys)
        if found == len(keys):
            return set()
        return set(filterfalse(self.__contains__, keys))


@dataclass
class History:
    """Every client operation of a run, reduced (see the module docstring)."""

    paths: list[Path] = field(default_factory=list)
    lines: int = 0
    raw: dict[tuple[str, str], list] = field(default_factory=dict)     # (op, outcome) -> [(complete, invoke)]
    ops: dict[str, dict[str, Attempts]] = field(default_factory=dict)   # after finish()
    purchase_cols: dict[str, tuple[list, list]] = field(
        default_factory=lambda: {o: ([], []) for o in OUTCOMES})       # outcome -> (keys, refs), in file order
    purchases: PurchaseKeys = field(default_factory=PurchaseKeys)       # after finish()
    rotations: dict[str, list] = field(default_factory=dict)            # user -> rotation record
    tokens: list[Token] = field(default_factory=list)
    acked_purchases: Attempts = field(default_factory=lambda: Attempts([], []))  # after finish(): every ok
    acked_rotations: Attempts = field(default_factory=lambda: Attempts([], []))  # purchase / rotation
    acked_raw: dict[str, list] = field(default_factory=lambda: {PURCHASE: [], ROTATE: []})
    unknown_outcomes: int = 0
    unusable: int = 0          # objects without op/outcome/complete
    unkeyed_purchases: int = 0
    outside_window: int = 0
    recorded: int = 0          # usable operations read, before any window
    first_invoke: float | None = None
    last_complete: float | None = None

    # reading ---------------------------------------------------------------------------------------------

    def read(self, path: Path, problems: Problems) -> None:
        """Add one history file. This is the hot loop of the audit: keep it flat."""
        base = len(self.paths) << _FILE_SHIFT
        self.paths.append(path)
        raw, cols = self.raw, self.purchase_cols
        acked_purchases = self.acked_raw[PURCHASE]
        pos = 0
        lineno = 0
        with path.open("rb") as f:
            for lineno, line in enumerate(f, 1):
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
                    bucket = raw[op, "ok" if outcome == "fail" and _rejected(d) else outcome]
                except (KeyError, TypeError):
                    fixed = self._salvage(d)
                    if fixed is None:
                        continue
                    op, outcome, c, i = fixed
                    served = "ok" if outcome == "fail" and _rejected(d) else outcome
                    bucket = raw.setdefault((op, served), [])
                pair = (c, i)
                bucket.append(pair)
                if op == PURCHASE:
                    keys, refs = cols[outcome]
                    keys.append(d.get("key"))
                    refs.append(base | here)
                    if outcome == "ok":
                        acked_purchases.append(pair)
                elif op == ROTATE or (op in TOKEN_OPS and "token" in d):
                    self._credentials(d, op, outcome, c, i, base | here)
        self.lines += lineno

    def _salvage(self, d: object) -> tuple[str, str, float, float] | None:
        """The slow path: a new (op, outcome) pair, a missing invoke, an odd outcome, or an unusable line."""
        if not isinstance(d, dict) or not isinstance(d.get("op"), str) or d.get("complete") is None:
            self.unusable += 1
            return None
        try:
            c = float(d["complete"])
            i = float(d["invoke"]) if d.get("invoke") is not None else c
        except (TypeError, ValueError):
            self.unusable += 1
            return None
        outcome = d.get("outcome")
        if outcome not in OUTCOMES:  # unknown effect: indeterminate
            self.unknown_outcomes += 1
            outcome = "info"
        return d["op"], outcome, c, i

    def _credentials(self, d: dict, op: str, outcome: str, c: float, i: float, ref: int) -> None:
        user = d.get("user")
        if user is None:
            return
        if op == ROTATE:
            rec = self.rotations.get(user)
            if rec is None:
                rec = self.rotations[user] = [0, 0.0, 0.0, 0, 0]
            if outcome == "ok":
                self.acked_raw[ROTATE].append((c, i))
                v = d.get("credential_version")
                if isinstance(v, int) and v > rec[R_VERSION]:
                    rec[R_VERSION], rec[R_INVOKE], rec[R_COMPLETE], rec[R_REF] = v, i, c, ref
            elif outcome == "info":
                rec[R_INFO] += 1
        token = d.get("token")
        if outcome == "ok" and isinstance(token, str) and token:
            self.tokens.append(Token(user, token, c, op))

    def finish(self, lo: float | None = None, hi: float | None = None) -> None:
        """Sort every op's attempts by completion and keep, for availability, those invoked in [lo, hi]
        (the load window); the audit records keep every attempt."""
        first, last = [], []
        ops: dict[str, dict[str, Attempts]] = {}
        self.recorded = sum(len(pairs) for pairs in self.raw.values())
        for (op, outcome), pairs in self.raw.items():
            try:
                pairs.sort(key=itemgetter(0))
                complete = list(map(itemgetter(0), pairs))
                invoke = list(map(itemgetter(1), pairs))
                lowest, highest = (min(invoke), max(invoke)) if invoke else (0.0, 0.0)
            except TypeError:  # null or text where a number belongs: the slow, careful path
                complete, invoke = _sanitize(pairs)
                self.unusable += len(pairs) - len(complete)
                lowest, highest = (min(invoke), max(invoke)) if invoke else (0.0, 0.0)
            if complete:
                first.append(lowest)
                last.append(complete[-1])
            if lo is not None and hi is not None and complete and (lowest < lo or highest > hi):
                keep = [j for j, x in enumerate(invoke) if lo <= x <= hi]
                self.outside_window += len(invoke) - len(keep)
                complete, invoke = [complete[j] for j in keep], [invoke[j] for j in keep]
            latency = [int(x * 1000.0 + 0.5) for x in map(sub, complete, invoke)]
            ops.setdefault(op, {o: Attempts([], []) for o in OUTCOMES})[outcome] = Attempts(complete, latency)
        self.ops = dict(sorted(ops.items()))
        self.raw = {}
        self.acked_purchases = _acked(self.acked_raw[PURCHASE])
        self.acked_rotations = _acked(self.acked_raw[ROTATE])
        self.acked_raw = {PURCHASE: [], ROTATE: []}
        self._index_purchases()
        self.first_invoke = min(first) if first else None
        self.last_complete = max(last) if last else None

    def _index_purchases(self) -> None:
        """Per-key indexes from the columns, built in C: the last ok ref, the first info/fail ref."""
        (ok_keys, ok_refs), (info_keys, info_refs), (fail_keys, fail_refs) = (
            self.purchase_cols[o] for o in ("ok", "info", "fail"))
        try:
            p = PurchaseKeys(dict(zip(ok_keys, ok_refs, strict=False)),
                             dict(zip(reversed(info_keys), reversed(info_refs), strict=False)),
                             dict(zip(reversed(fail_keys), reversed(fail_refs), strict=False)))
        except TypeError:  # an unhashable key somewhere: only text keys are keys
            def text_keys(keys: list, refs: list) -> dict[str, int]:
                return {k: r for k, r in zip(reversed(keys), reversed(refs), strict=False) if isinstance(k, str)}
            p = PurchaseKeys(text_keys(ok_keys, ok_refs), text_keys(info_keys, info_refs),
                             text_keys(fail_keys, fail_refs))
        for by_key in (p.acknowledged, p.info, p.fail):
            by_key.pop(None, None)  # type: ignore[call-overload]
        self.unkeyed_purchases = ok_keys.count(None) + info_keys.count(None) + fail_keys.count(None)
        self.purchases = p
        self.purchase_cols = {o: ([], []) for o in OUTCOMES}

    # queries ---------------------------------------------------------------------------------------------

    def bounds(self) -> tuple[float | None, float | None]:
        """(first invoke, last complete) over the raw attempts, before finish() filters them."""
        firsts, lasts = [], []
        for pairs in self.raw.values():
            try:
                complete, invoke = list(map(itemgetter(0), pairs)), list(map(itemgetter(1), pairs))
                if pairs:
                    firsts.append(min(invoke))
                    lasts.append(max(complete))
            except TypeError:
                complete, invoke = _sanitize(pairs)
                if complete:
                    firsts.append(min(invoke))
                    lasts.append(complete[-1])
        return (min(firsts) if firsts else None, max(lasts) if lasts else None)

    def op_names(self) -> list[str]:
        return list(self.ops)

    def attempts(self, op: str, outcome: str) -> Attempts:
        per = self.ops.get(op)
        return per[outcome] if per else Attempts([], [])

    def count(self) -> int:
        return sum(len(a) for per in self.ops.values() for a in per.values())

    def lookup(self, refs: Iterable[int]) -> dict[int, dict]:
        """The original lines behind refs (for samples): one seek and one read each."""
        out: dict[int, dict] = {}
        by_file: dict[int, list[int]] = {}
        for ref in refs:
            by_file.setdefault(ref >> _FILE_SHIFT, []).append(ref)
        for fidx, file_refs in by_file.items():
            with self.paths[fidx].open("rb") as f:
                for ref in sorted(set(file_refs)):
                    f.seek(ref & ((1 << _FILE_SHIFT) - 1))
                    try:
                        obj = loads(f.readline())
                    except DECODE_ERRORS:
                        continue
                    if isinstance(obj, dict):
                        out[ref] = obj
        return out


def _acked(pairs: list) -> Attempts:
    """Acknowledged operations sorted by completion, every one kept (not only those in the load window)."""
    try:
        pairs.sort(key=itemgetter(0))
        complete, invoke = list(map(itemgetter(0), pairs)), list(map(itemgetter(1), pairs))
        latency = [int(x * 1000.0 + 0.5) for x in map(sub, complete, invoke)]
    except TypeError:
        complete, invoke = _sanitize(pairs)
        latency = [int(x * 1000.0 + 0.5) for x in map(sub, complete, invoke)]
    return Attempts(complete, latency)


def _sanitize(pairs: list) -> tuple[list[float], list[float]]:
    """Numbers written as text become floats; a missing invoke becomes the completion; the rest is dropped."""
    clean = []
    for c, i in pairs:
        try:
            c = float(c)
            clean.append((c, c if i is None else float(i)))
        except (TypeError, ValueError):
            continue
    clean.sort(key=itemgetter(0))
    return [p[0] for p in clean], [p[1] for p in clean]


def load_history(paths: list[Path], problems: Problems) -> History:
    """Read (not yet finish) every history file. The cyclic GC is paused: a million long-lived tuples
    would otherwise trigger full collections that cost more than the parsing."""
    history = History()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for path in paths:
            history.read(path, problems)
    finally:
        if enabled:
            gc.enable()
    if history.unusable:
        problems.note(f"history: {history.unusable} line(s) without op/outcome/complete skipped")
    if history.unknown_outcomes:
        problems.note(f"history: {history.unknown_outcomes} operation(s) with an unknown outcome counted as info")
    return history


def _rejected(d: dict) -> bool:
    """A definite refusal on the merits (409 seat taken, 422 bad request, 401 ...): the system answered.

    Such an operation is `fail` for the audit (it did not happen) but counts as served for availability,
    so a sold-out hot set is not mistaken for an outage. 408 and 429 are the system not coping: not served.
    """
    status = d.get("status")
    return isinstance(status, int) and 400 <= status < 500 and status not in (408, 429)
