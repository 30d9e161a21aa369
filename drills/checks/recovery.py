"""Disaster recovery: how long buyers waited (RTO) and what acknowledged data a restore took away (RPO).

A *disaster* is an injection of `destroy_cluster` or `operator_error` that took effect (or any fault whose
inject line says `data.disaster: true`); a *restore* is a `restore_cluster` action (its inject line, written
when the restore has finished, carries `data.restore`), or a disaster's heal that restored the cluster at
the end of the steady phase (its heal line; with `data.restore` when the runner records it, else timed by
the heal line alone and marked `approximate`).

The **cut-off** separates what the old cluster acknowledged from what the restored one did: the latest of
every restore's `cluster_removed_at` (an approximate restore: its heal line's time) and every disaster's
time. Nothing can be acknowledged by the old cluster after its nodes are gone, and nothing invoked after
the cut-off can have been written by it.

* `rto_s` = from the first disaster to the recovery: the first acknowledged purchase (outcome ok, a real
  2xx) *invoked* at or after the cut-off of the last successful restore after the last disaster. With no
  restore at all after it, the first acknowledged purchase that starts a stable period (availability's
  `stable_after`: 3 seconds of >= 95 % success) after the last disaster. *Never recovered* -- a restore
  after the last disaster failed and none succeeded (or a later one failed after removing the restored
  cluster), or no purchase was acknowledged again before the load stopped -- is a failure, not an unknown:
  the value is then the time to load stop, a lower bound flagged `never`, which fails any `max` (even with
  a saturated load generator). No disaster: unknown.
* `rpo_ops` = acknowledged operations missing from the final state that were *invoked before* the cut-off
  (everything the old cluster could have acknowledged): `op: purchase` the lost purchases (as the audit's
  `lost`), `rotate_password` the lost credential changes (as `credential_changes_lost`), `all` both.
* `lost_after_recovery` = the same, invoked at or after the cut-off of a successful restore (purchases and
  credential changes together, whatever the budget's `op`): the restored cluster must keep whatever it
  acknowledged. Normally 0. Unknown without a successful restore, or with nothing acknowledged after it.
* `rpo_s` = from the earliest lost acknowledged write (purchase or rotation, by its completion) that was
  invoked before the cut-off to the last acknowledged write invoked before the cut-off (by completion); 0
  when nothing acknowledged was lost. Reported beside it (not a budget): the restore point `recovered_to`
  and how far it lies behind the disaster (`disaster t - recovered_to`).

Data-loss metrics need a complete final state (a database that is gone at the end leaves them unknown);
a lost operation whose history line cannot be re-read counts as lost by the restore.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from drills.checks.damage import epoch
from drills.checks.history import R_COMPLETE, R_INVOKE, R_VERSION, Attempts, History
from drills.checks.window import FaultRecord, RunWindow, fault_key
from drills.rundir import files

if TYPE_CHECKING:
    from drills.checks.availability import Availability
    from drills.checks.finalstate import FinalState

DISASTER_TYPES = ("destroy_cluster", "operator_error")
RESTORE_TYPE = "restore_cluster"
RECOVERY_TYPES = DISASTER_TYPES + ("lose_backup", RESTORE_TYPE)
RPO_OPS = ("purchase", "rotate_password", "all")
SAMPLES = 50
EPS = 1e-6
_RESTORED = re.compile(r"\brestored\b", re.I)
_OFFSETS = {"target_time": "target_time_s", "started": "started_s", "finished": "finished_s",
            "cluster_removed_at": "cluster_removed_s", "leader_at": "leader_s", "healthy_at": "healthy_s",
            "recovered_to": "recovered_to_s", "sessions_not_before": "sessions_not_before_s"}


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass
class Disaster:
    fault_id: str
    iteration: int
    type: str
    t: float
    data: dict


@dataclass
class Restore:
    """One restore attempt, from an action's inject line or a disaster's heal line."""

    fault_id: str
    iteration: int
    source: str                       # "action" | "heal"
    ok: bool
    error: str | None
    started: float | None
    finished: float | None
    data: dict = field(default_factory=dict)     # data.restore (empty when the line had none)
    approximate: bool = False                    # timed by its heal line only

    def at(self, name: str) -> float | None:
        return _num(self.data.get(name))

    @property
    def removed(self) -> float | None:
        """When the old cluster was gone; for a successful restore that did not record it (a heal line
        alone), when it finished: the later, safer side for what counts as acknowledged after it."""
        removed = None if self.approximate else self.at("cluster_removed_at")
        return removed if removed is not None or not self.ok else self.finished

    @property
    def begin(self) -> float:
        return self.started if self.started is not None else (self.finished or 0.0)

    @property
    def label(self) -> str:
        name = f"'{self.fault_id}'" + (f" #{self.iteration}" if self.iteration else "")
        return f"the heal of {name}" if self.source == "heal" else f"restore {name}"


@dataclass
class LostOp:
    op: str                            # purchase | rotate_password
    key: str | None
    user: str | None
    invoke: float | None
    complete: float | None
    extra: dict = field(default_factory=dict)


def _disasters(faults: list[FaultRecord]) -> list[Disaster]:
    out = []
    for f in faults:
        if not f.took_effect or f.injected_t is None:
            continue
        if f.type in DISASTER_TYPES or f.data.get("disaster") is True:
            # data.at: the moment the disaster struck (the inject line is written after the deed is done,
            # a second or more later for destroy_cluster)
            at = epoch(f.data.get("at")) if isinstance(f.data, dict) else None
            t = at if at is not None and at <= f.injected_t else f.injected_t
            out.append(Disaster(f.id, f.iteration, str(f.type), t, f.data))
    return sorted(out, key=lambda d: d.t)


def _restores(faults: list[FaultRecord], window: RunWindow, events: list[dict]) -> list[Restore]:
    heal_started = {fault_key(e): _num(e.get("started_s"))
                    for e in events if e.get("kind") == "fault" and e.get("phase") == "heal"}
    out = []
    for f in faults:
        if f.type == RESTORE_TYPE and f.injected_t is not None:
            r = f.restore
            ok = f.ok is not False and r.get("ok") is not False
            error = f.error or r.get("error")
            started, finished = _num(r.get("started")), _num(r.get("finished"))
            if started is None:  # no data.restore: the action failed before restoring; its line is its end
                started = f.injected_t
                finished = finished if finished is not None else f.injected_t
            out.append(Restore(f.id, f.iteration, "action", ok, None if ok else (error or "restore failed"),
                               started, finished, r))
        elif f.type in DISASTER_TYPES and f.took_effect and f.healed_t is not None:
            healed = f.heal_data.get("restore")
            if isinstance(healed, dict):
                ok = f.heal_ok is not False and healed.get("ok") is not False
                out.append(Restore(f.id, f.iteration, "heal", ok,
                                   None if ok else (healed.get("error") or f.heal_error),
                                   _num(healed.get("started")), _num(healed.get("finished")) or f.healed_t, healed))
                continue
            detail, error = str(f.heal_detail or ""), str(f.heal_error or "")
            restored = f.heal_ok is not False and _RESTORED.search(detail) and "nothing to restore" not in detail
            failed = f.heal_ok is False and "restore" in error.lower()
            if restored or failed:
                offset = heal_started.get((f.id, f.iteration))
                started = window.t0 + offset if offset is not None else None
                out.append(Restore(f.id, f.iteration, "heal", bool(restored), (error or None) if failed else None,
                                   started, f.healed_t, {}, approximate=True))
    return sorted(out, key=lambda r: (r.begin, r.finished or 0.0))


def invoked_before(att: Attempts, t: float) -> tuple[int, float | None]:
    """(how many acknowledged operations were invoked before `t`, the latest completion among them). Sorted by
    completion: every one completing before `t`, and of those completing within the longest latency after it,
    those whose invocation is before `t`."""
    c = att.complete
    if not len(c):
        return 0, None
    j = int(np.searchsorted(c, t, "left"))
    n, last = j, (float(c[j - 1]) if j else None)
    horizon = t + att.max_latency_ms() / 1000.0
    end = int(np.searchsorted(c, horizon + EPS, "right"))
    if j < end:
        hit = np.flatnonzero(att.invoked(j, end) < t - EPS)
        if len(hit):
            n += len(hit)
            last = float(c[j + int(hit[-1])])
    return n, last


class Recovery:
    """The recovery metrics of one run (see the module docstring)."""

    def __init__(self, history: History, window: RunWindow, events: list[dict], audit: dict,
                 details: dict, state: FinalState | None, availability: Availability,
                 backups: dict | None = None) -> None:
        self.history, self.window, self.audit, self.av = history, window, audit, availability
        self.backups_doc = backups
        self.disasters = _disasters(window.faults)
        self.restores = _restores(window.faults, window, events)
        self.relevant = any(f.type in RECOVERY_TYPES or f.data.get("disaster") is True for f in window.faults)
        self.usable = audit.get("final_state") == "complete"
        self.state = state if self.usable else None
        self.cutoff, self.cutoff_from = self._cutoff()
        self.recovered_by = self._recovered_by()
        self.lost = self._lost_ops(details) if self.usable and self.cutoff is not None else []
        none: tuple[int, float | None] = (0, None)
        self.acked_before = {  # per op: (acknowledged and invoked before the cut-off, the last completion)
            "purchase": invoked_before(history.acked_purchases, self.cutoff) if self.cutoff is not None else none,
            "rotate_password": (invoked_before(history.acked_rotations, self.cutoff) if self.cutoff is not None
                                else none)}
        self.acked_after = {op: len(att.complete) - self.acked_before[op][0] for op, att in
                            (("purchase", history.acked_purchases), ("rotate_password", history.acked_rotations))}
        self.rto = self._measure_rto()   # {value, never, detail, start, end, restore}

    # when ---------------------------------------------------------------------------------------------

    def _cutoff(self) -> tuple[float | None, Restore | Disaster | None]:
        points: list[tuple[float, Restore | Disaster]] = [(d.t, d) for d in self.disasters]
        points += [(r.removed, r) for r in self.restores if r.removed is not None]
        if not points:
            return None, None
        t, what = max(points, key=lambda p: p[0])
        return t, what

    def _recovered_by(self) -> Restore | None:
        """The successful restore the cut-off is taken from (None: the cut-off is a disaster, or none)."""
        what = self.cutoff_from
        return what if isinstance(what, Restore) and what.ok else None

    def _after_last_disaster(self) -> list[Restore]:
        if not self.disasters:
            return []
        last = self.disasters[-1].t
        return [r for r in self.restores if r.begin >= last - 1e-3]

    def _measure_rto(self) -> dict:
        """{value, never, detail, start, end, restore}: see the module docstring."""
        if not self.disasters:
            return {"value": None, "never": False, "start": None, "end": None, "restore": None,
                    "detail": "no destroy_cluster or operator_error took effect in this run: nothing to recover from"}
        first, last = self.disasters[0], self.disasters[-1]
        acked = self.history.acked_purchases
        w = self.window
        after = self._after_last_disaster()
        ok = [r for r in after if r.ok]
        end: float | None
        restore: Restore | None = None
        if ok:
            restore = ok[-1]
            later_failure = [r for r in after if not r.ok and r.begin > restore.begin and r.at("cluster_removed_at")]
            since = restore.removed if restore.removed is not None else restore.finished or restore.begin
            if later_failure:
                f = later_failure[-1]
                return self._never(first, f"{f.label} failed after removing the restored cluster: {f.error}", f)
            end = acked.first_invoked_from(since)
            how = (f"to the first acknowledged purchase invoked after {restore.label} removed the old cluster "
                   f"(at {w.offset(since)} s{', approximately: its heal line' if restore.approximate else ''})")
        elif after:
            failed = after[-1]
            return self._never(first, f"{failed.label} failed: {failed.error}", failed)
        else:
            stable = self.av.stable_after("purchase", last.t)
            end = None if stable is None else acked.first_invoked_from(last.t, not_before=stable)
            how = "to the first acknowledged purchase that starts a stable period (no restore ran)"
        if end is None:
            return self._never(first, "no purchase was acknowledged again before the load stopped", restore)
        return {"value": round(end - first.t, 3), "never": False, "start": first.t, "end": end,
                "restore": restore,
                "detail": f"from {first.fault_id} ({first.type}) at {w.offset(first.t)} s {how}, at "
                          f"{w.offset(end)} s"}

    def _never(self, first: Disaster, why: str, restore: Restore | None) -> dict:
        bound = max(self.window.t_end, first.t) - first.t
        return {"value": round(bound, 3), "never": True, "start": first.t, "end": None, "restore": restore,
                "detail": f"never recovered: {why} (at least {round(bound, 3)} s from {first.fault_id} to load stop)"}

    # what was lost ------------------------------------------------------------------------------------

    def _lost_ops(self, details: dict) -> list[LostOp]:
        out: list[LostOp] = []
        acked = self.history.purchases.acknowledged
        keys = list(details.get("lost_purchases") or [])
        lines = self.history.lookup(acked[k] for k in keys if k in acked)
        for k in keys:
            line = lines.get(acked.get(k, -1)) or {}
            out.append(LostOp("purchase", k, line.get("user"), _num(line.get("invoke")), _num(line.get("complete")),
                              {"event_id": line.get("event_id"), "seats": line.get("seats"),
                               "order_id": line.get("order_id")}))
        for row in details.get("lost_credentials") or []:
            user = row.get("user")
            rec = self.history.rotations.get(user)
            if not (rec and rec[R_VERSION] > 0):
                rec = None  # never acknowledged a rotation: no times to show
            out.append(LostOp("rotate_password", None, user, rec[R_INVOKE] if rec else None,
                              rec[R_COMPLETE] if rec else None,
                              {"acknowledged_version": row.get("acknowledged_version"),
                               "final_version": row.get("final_version"), "reason": row.get("reason")}))
        return out

    def _split(self) -> tuple[list[LostOp], list[LostOp]]:
        """(lost by the restore: invoked before the cut-off, or when unknown; lost after recovery)."""
        assert self.cutoff is not None
        before = [o for o in self.lost if o.invoke is None or o.invoke < self.cutoff - EPS]
        after = [o for o in self.lost if o.invoke is not None and o.invoke >= self.cutoff - EPS]
        return before, after

    def unknown_loss(self) -> str | None:
        """Why the data-loss numbers are unknown (no cut-off, no complete final state), or None."""
        if self.cutoff is None:
            return "no disaster or restore in this run: no restore point to measure against"
        if not self.usable:
            return (f"final state {self.audit.get('final_state')}: nothing to compare the history with "
                    "(the database was not readable after the drill?)")
        return None

    def rpo_ops(self) -> dict[str, int | None]:
        why = self.unknown_loss()
        if why is not None:
            return dict.fromkeys(RPO_OPS)
        before, _ = self._split()
        assert self.cutoff is not None
        out: dict[str, int | None] = {}
        p_known = self.audit.get("lost") is not None and self.acked_before["purchase"][0] > 0
        c_known = self.audit.get("credential_changes_lost") is not None and self.acked_before["rotate_password"][0] > 0
        out["purchase"] = sum(o.op == "purchase" for o in before) if p_known else None
        out["rotate_password"] = sum(o.op == "rotate_password" for o in before) if c_known else None
        known = [v for v in (out["purchase"], out["rotate_password"]) if v is not None]
        out["all"] = sum(known) if known else None
        return out

    def lost_after(self) -> dict[str, int | None]:
        why = self.unknown_loss()
        if why is not None or self.recovered_by is None:
            return dict.fromkeys(RPO_OPS)
        _, after = self._split()
        assert self.cutoff is not None
        p_known = self.audit.get("lost") is not None and self.acked_after["purchase"] > 0
        c_known = self.audit.get("credential_changes_lost") is not None and self.acked_after["rotate_password"] > 0
        out: dict[str, int | None] = {
            "purchase": sum(o.op == "purchase" for o in after) if p_known else None,
            "rotate_password": sum(o.op == "rotate_password" for o in after) if c_known else None}
        known = [v for v in out.values() if v is not None]
        out["all"] = sum(known) if known else None
        return out

    def rpo_seconds(self) -> dict:
        """{value, earliest_lost, last_ack}: see the module docstring."""
        why = self.unknown_loss()
        if why is not None:
            return {"value": None, "earliest_lost": None, "last_ack": None, "detail": why}
        assert self.cutoff is not None
        n_p, last_p = self.acked_before["purchase"]
        n_r, last_r = self.acked_before["rotate_password"]
        last = max((x for x in (last_p, last_r) if x is not None), default=None)
        if not n_p + n_r:
            return {"value": None, "earliest_lost": None, "last_ack": None,
                    "detail": "no write was acknowledged before the restore: nothing to lose"}
        before, _ = self._split()
        times = [o.complete for o in before if o.complete is not None]
        if not before:
            return {"value": 0.0, "earliest_lost": None, "last_ack": last,
                    "detail": f"nothing acknowledged was lost ({n_p} purchases and {n_r} rotations acknowledged "
                              "before the restore)"}
        if not times or last is None:
            return {"value": None, "earliest_lost": None, "last_ack": last,
                    "detail": "the lost operations' history lines could not be re-read: no times"}
        earliest = min(times)
        w = self.window
        return {"value": round(max(0.0, last - earliest), 3), "earliest_lost": earliest, "last_ack": last,
                "detail": f"{len(before)} acknowledged writes lost, the earliest acknowledged at "
                          f"{w.offset(earliest)} s; the last write acknowledged before the restore at "
                          f"{w.offset(last)} s"}

    def resold(self) -> tuple[int | None, list[dict]]:
        """Seats whose acknowledged purchase the restore lost and that a later acknowledged purchase holds."""
        if self.unknown_loss() is not None or self.state is None or self.state.damaged.keys() & {"orders", "tickets"}:
            return None, []
        before, _ = self._split()
        lost = [o for o in before if o.op == "purchase" and isinstance(o.extra.get("seats"), list)]
        if not lost:
            return 0, []
        st = self.state
        # (event, seat) -> order; looked up with the history's event ids, which are whatever the JSON held
        seat_order: dict[tuple[object, object], int] = dict(
            zip(zip(st.ticket_events, st.ticket_seats, strict=False), st.ticket_orders, strict=False))
        key_of = dict(zip(st.order_ids, st.order_keys, strict=False))
        acked = self.history.purchases.acknowledged
        found = []
        for o in lost:
            for seat in o.extra["seats"]:
                order = seat_order.get((o.extra.get("event_id"), seat))
                new_key = key_of.get(order) if order is not None else None
                if new_key is None or new_key == o.key or new_key not in acked:
                    continue
                found.append((o, seat, order, new_key))
        lines = self.history.lookup(acked[k] for _, _, _, k in found)
        w = self.window
        out: list[dict] = []
        count = 0
        for o, seat, order, new_key in found:
            line = lines.get(acked[new_key])
            new_ack = _num((line or {}).get("complete"))
            if new_ack is not None and o.complete is not None and new_ack < o.complete:
                continue  # the other purchase came first: not a re-sale
            count += 1
            if len(out) < SAMPLES:
                out.append({"event_id": o.extra.get("event_id"), "seat_no": seat, "lost_key": o.key,
                            "lost_user": o.user, "lost_ack_s": w.offset(o.complete), "key": new_key,
                            "user": (line or {}).get("user"), "order_id": order, "ack_s": w.offset(new_ack)})
        return count, out

    # result.json ----------------------------------------------------------------------------------------

    def _restore_row(self, r: Restore) -> dict:
        w, d = self.window, r.data
        row: dict[str, Any] = {
            "fault_id": r.fault_id, "iteration": r.iteration, "source": r.source, "ok": r.ok, "error": r.error,
            "approximate": r.approximate, "target": d.get("target"), "target_time": _num(d.get("target_time")),
            "target_xid": d.get("target_xid"),
            "candidates": list(d.get("candidates") or []), "set_used": d.get("set_used"),
            "sets_skipped": list(d.get("sets_skipped") or []), "leader": d.get("leader"),
            "started": r.started, "finished": r.finished,
            "duration_s": _num(d.get("duration_s")) if d.get("duration_s") is not None else (
                round(r.finished - r.started, 3) if r.finished is not None and r.started is not None else None),
        }
        for name in ("cluster_removed_at", "leader_at", "healthy_at", "recovered_to", "sessions_not_before"):
            row[name] = None if r.approximate and name == "cluster_removed_at" else r.at(name)
        voided = d.get("sessions_voided")
        row["sessions_voided"] = voided if isinstance(voided, int) and not isinstance(voided, bool) else None
        for name, offset in _OFFSETS.items():
            row[offset] = w.offset(row[name])
        return row

    def _timeline(self) -> list[dict]:
        w, rows = self.window, []

        def add(what: str, t: float | None, **extra: Any) -> None:
            if t is not None:
                rows.append({"what": what, "t": t, "t_s": w.offset(t), **extra})

        for d in self.disasters:
            add(f"disaster: {d.fault_id} ({d.type})", d.t, step="disaster", fault_id=d.fault_id)
        for restore in self.restores:
            add(f"{restore.label} started", restore.started, step="restore_started", fault_id=restore.fault_id)
            if not restore.approximate:
                add("old cluster removed", restore.at("cluster_removed_at"), step="cluster_removed",
                    fault_id=restore.fault_id)
                add(f"restored leader accepts writes ({restore.data.get('leader') or '?'})", restore.at("leader_at"),
                    step="leader", fault_id=restore.fault_id)
                voided = restore.data.get("sessions_voided")
                add(f"restored sessions voided ({voided if isinstance(voided, int) else '?'}: everyone logs in again)",
                    restore.at("sessions_not_before"), step="sessions_voided", fault_id=restore.fault_id)
                add("cluster healthy (leader + synchronous standby)", restore.at("healthy_at"), step="healthy",
                    fault_id=restore.fault_id)
            add(f"{restore.label} finished" + ("" if restore.ok else f": FAILED ({restore.error})"),
                restore.finished, step="restore_finished", fault_id=restore.fault_id)
        add("first acknowledged purchase", self.rto.get("end"), step="first_purchase")
        return sorted(rows, key=lambda r: r["t"])

    def _lost_rows(self, ops: list[LostOp]) -> list[dict]:
        w, out = self.window, []
        for o in sorted(ops, key=lambda o: (o.complete is None, o.complete or 0.0))[:SAMPLES]:
            row: dict[str, Any] = {"op": o.op, "key": o.key, "user": o.user, **{
                k: v for k, v in o.extra.items() if v is not None}}
            row["invoke_s"], row["ack_s"] = w.offset(o.invoke), w.offset(o.complete)
            out.append(row)
        return out

    def _catalogue(self) -> dict | None:
        doc = self.backups_doc
        if isinstance(doc, dict):
            return {"source": files.BACKUPS, "stanza": doc.get("stanza"), "error": doc.get("error"),
                    "catalogue": [s for s in doc.get("catalogue") or [] if isinstance(s, dict)]}
        for r in reversed(self.restores):
            sets = r.data.get("backups")
            if isinstance(sets, list) and sets:
                return {"source": f"data of {r.label}", "stanza": None, "error": None,
                        "catalogue": [s for s in sets if isinstance(s, dict)]}
        return None

    def section(self) -> dict | None:
        """result.json's `recovery`, or None when the run had no disaster, restore or backup fault."""
        if not self.relevant:
            return None
        w = self.window
        rpo = self.rpo_seconds()
        resold, resold_rows = self.resold()
        used = self.recovered_by
        recovered_to = used.at("recovered_to") if used is not None else None
        before_restore = [d for d in self.disasters if used is not None and d.t <= used.begin + 1e-3]
        ref = before_restore[-1] if before_restore else None
        lost_before, lost_after = self._split() if self.lost and self.cutoff is not None else ([], [])
        lost_by_op = {"lost_by_restore": self.rpo_ops(), "lost_after_recovery": self.lost_after()}
        rto = self.rto
        return {
            "disasters": [{"fault_id": d.fault_id, "iteration": d.iteration, "type": d.type, "t": d.t,
                           "t_s": w.offset(d.t), "statement": d.data.get("statement"), "node": d.data.get("node"),
                           "db_time_before": _num(d.data.get("db_time_before")),
                           "removed": d.data.get("removed")} for d in self.disasters],
            "backup_losses": [{"fault_id": f.id, "iteration": f.iteration, "t_s": w.offset(f.injected_t),
                               "ok": f.ok, "error": f.error, "which": f.data.get("which"),
                               "lost": f.data.get("lost")} for f in w.faults if f.type == "lose_backup"],
            "restores": [self._restore_row(r) for r in self.restores],
            "cutoff": self.cutoff, "cutoff_s": w.offset(self.cutoff),
            "cutoff_from": (None if self.cutoff_from is None else
                            self.cutoff_from.label if isinstance(self.cutoff_from, Restore)
                            else f"disaster {self.cutoff_from.fault_id}"),
            "timeline": self._timeline(),
            "rto_s": rto["value"],
            "rto": {"value": rto["value"], "recovered": not rto["never"] and rto["value"] is not None,
                    "never": rto["never"], "from_s": w.offset(rto["start"]), "to_s": w.offset(rto["end"]),
                    "detail": rto["detail"]},
            "rpo_s": rpo["value"],
            "rpo": {"value": rpo["value"], "earliest_lost_s": w.offset(rpo["earliest_lost"]),
                    "last_ack_s": w.offset(rpo["last_ack"]), "detail": rpo["detail"]},
            "rpo_ops": lost_by_op["lost_by_restore"],
            "lost_after_recovery": lost_by_op["lost_after_recovery"],
            "recovered_to": recovered_to, "recovered_to_s": w.offset(recovered_to),
            "restore_point_behind_disaster_s": (round(ref.t - recovered_to, 3)
                                                if ref is not None and recovered_to is not None else None),
            "lost": {"by_restore": len(lost_before), "after_recovery": len(lost_after),
                     "by_restore_samples": self._lost_rows(lost_before),
                     "after_recovery_samples": self._lost_rows(lost_after)},
            "resold_seats": resold, "resold_samples": resold_rows,
            "backups": self._catalogue(),
            "final_state": self.audit.get("final_state"),
        }
