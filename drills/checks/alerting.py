"""Did the right alert reach people, how fast, did it resolve, and did anything page without a fault?

A pure function of alerts.jsonl (what the drill's receiver was notified of, Prometheus' alert states, and the
collector's problems; docs/run-directory.md#alertsjsonl) and the fault times of events.jsonl (window.FaultRecord).

Definitions (docs/scenario-format.md#alerts):

* An *occurrence* is one firing of one alert series (its fingerprint, else its name and labels): the first
  firing notification opens it, Alertmanager's repeats of it (same `starts_at`) belong to it, a resolved
  notification closes it. A firing with another `starts_at` after it is a new occurrence.
* Expected alert E of fault F, for each injection of F at `inject` (healed at `heal`): it *fired* at the first
  notification of an occurrence matching E (name and label matchers) received in [inject, next injection of F);
  `time_to_fire_s` = fired - inject; *missed* when it did not fire within `fire_within`. It *resolved* when every
  matching occurrence that started in that window was resolved; `time_to_resolve_s` = resolved - heal, 0 when it
  resolved before the heal. *Flaps* = matching occurrences started in [inject, heal + grace) beyond the first,
  per series.
* A *false alarm* is an occurrence that started (Alertmanager's `starts_at`, else the first notification) outside
  every [inject, heal + grace] of a fault that took effect. One that started before the load did, in a scenario
  with `allow_firing_at_start`, is listed as already firing instead.

Nothing negative is concluded from a record with holes: a missed alert, an unresolved one, zero false alarms or
zero flaps are unknown (or a lower bound) when the collector recorded a problem on the notification path
(receiver, Alertmanager, a damaged line) at a time that could hide the notification. No alerts.jsonl: unknown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from drills.checks.damage import epoch
from drills.checks.observation import Observation
from drills.checks.window import FaultRecord, RunWindow
from drills.scenario.model import AlertsSection, ExpectedAlert

INF = math.inf
NOTIFICATION_SOURCES = ("receiver", "alertmanager")   # problems there may hide a notification
DEFAULT_GRACE = AlertsSection().grace
MAX_ROWS = 500          # notifications, state intervals and false alarms kept in result.json
MAX_PROBLEMS = 50
NO_RECEIVER = ("alerts were watched without the drill's receiver (alerts.receiver_url): no notification could "
               "reach the drill")


@dataclass
class Notification:
    t: float
    status: str                       # firing | resolved
    alert: str
    labels: dict[str, str]
    starts_at: float | None
    series: str                       # fingerprint, else name + labels


@dataclass
class Occurrence:
    series: str
    alert: str
    labels: dict[str, str]
    started: float                    # starts_at, else the first notification's time
    first_t: float                    # the first firing notification received
    starts_at: float | None
    resolved_t: float | None = None
    notifications: int = 1


@dataclass
class Problem:
    t: float | None                   # None: a damaged line, time unknown (could hide anything)
    source: str
    error: str

    @property
    def on_notification_path(self) -> bool:
        return self.source in NOTIFICATION_SOURCES or self.source == "damaged"


@dataclass
class Expectation:
    """One expected alert judged for one injection of its fault."""

    expected: ExpectedAlert
    fault: FaultRecord
    window_end: float                 # the next injection of the same fault, or +inf
    fired_t: float | None = None
    resolved_t: float | None = None
    unresolved: bool = False          # a matching occurrence of the window was still firing at the end
    flaps: int = 0
    firings: int = 0
    fire_unknown: str | None = None   # why `missed` cannot be told
    resolve_unknown: str | None = None
    flaps_unknown: bool = False

    @property
    def inject(self) -> float:
        return self.fault.injected_t or 0.0

    @property
    def time_to_fire(self) -> float | None:
        return None if self.fired_t is None else round(self.fired_t - self.inject, 3)

    @property
    def missed(self) -> bool | None:
        if self.fired_t is not None:
            return self.fired_t - self.inject > self.expected.fire_within
        return None if self.fire_unknown else True

    @property
    def time_to_resolve(self) -> float | None:
        heal = self.fault.healed_t
        if self.resolved_t is None or heal is None:
            return None
        return round(max(0.0, self.resolved_t - heal), 3)

    @property
    def name(self) -> str:
        it = f" #{self.fault.iteration}" if self.fault.iteration else ""
        return f"{self.expected.alert} for {self.fault.id}{it}"


def _labels(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _series(line: dict, alert: str, labels: dict[str, str]) -> str:
    fp = line.get("fingerprint")
    if isinstance(fp, str) and fp:
        return fp
    return alert + "{" + ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname") + "}"


def _matches(e: ExpectedAlert, alert: str, labels: dict[str, str]) -> bool:
    return alert == e.alert and all(labels.get(k) == v for k, v in e.labels.items())


@dataclass
class AlertRecord:
    """alerts.jsonl parsed: notifications, Prometheus states and problems; `present` False when there is no file."""

    present: bool
    notifications: list[Notification] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    end: float | None = None           # the last moment the record covers

    @classmethod
    def parse(cls, lines: list[dict] | None, damaged_lines: int = 0) -> AlertRecord:
        """From the tolerant reader's objects (None: no alerts.jsonl); `damaged_lines` it had to skip."""
        if lines is None:
            return cls(present=False)
        rec = cls(present=True)
        rec.problems += [Problem(None, "damaged", "an unreadable line of alerts.jsonl")] * damaged_lines
        for line in lines:
            t = epoch(line.get("t"))
            kind = line.get("kind")
            if t is not None:
                rec.end = t if rec.end is None else max(rec.end, t)
            if kind == "problem":
                source = str(line["source"]) if isinstance(line.get("source"), str) else "receiver"
                rec.problems.append(Problem(t, source, str(line.get("error") or "unknown problem")))
            elif kind == "notification":
                rec._notification(line, t)
            elif kind == "state":
                alert, state = line.get("alertname"), line.get("state")
                if t is not None and isinstance(alert, str) and state in ("pending", "firing", "inactive"):
                    labels = _labels(line.get("labels"))
                    rec.states.append({"t": t, "alert": alert, "labels": labels, "state": state,
                                       "series": _series({}, alert, labels)})
                else:
                    rec.problems.append(Problem(t, "prometheus", "a state line without time, alert name or state"))
            else:
                rec.problems.append(Problem(t, "damaged", f"a line of unknown kind {str(kind)[:40]!r}"))
        rec.notifications.sort(key=lambda n: n.t)
        rec.states.sort(key=lambda s: s["t"])
        return rec

    def _notification(self, line: dict, t: float | None) -> None:
        alert, status = line.get("alertname"), line.get("status")
        labels = _labels(line.get("labels"))
        if not isinstance(alert, str) or not alert:
            alert = labels.get("alertname")
        if t is None or not alert or status not in ("firing", "resolved"):
            self.problems.append(Problem(t, "receiver", "a malformed notification (no time, alert name or "
                                                        "status firing/resolved)"))
            return
        self.notifications.append(Notification(t, status, alert, labels, epoch(line.get("starts_at")),
                                               _series(line, alert, labels)))

    def occurrences(self) -> list[Occurrence]:
        """Every firing of every series, in the order they were first notified."""
        open_: dict[str, Occurrence] = {}
        out: list[Occurrence] = []
        for n in self.notifications:
            occ = open_.get(n.series)
            if n.status == "firing":
                same = occ is not None and (n.starts_at is None or occ.starts_at is None
                                            or abs(n.starts_at - occ.starts_at) < 1.0)
                if occ is not None and same:
                    occ.notifications += 1
                    continue
                if occ is not None:   # a firing with a new startsAt: the old one ended, its resolution unseen
                    occ.resolved_t = n.starts_at if n.starts_at is not None and n.starts_at <= n.t else n.t
                started = n.starts_at if n.starts_at is not None and n.starts_at <= n.t else n.t
                occ = Occurrence(n.series, n.alert, n.labels, started, n.t, n.starts_at)
                open_[n.series] = occ
                out.append(occ)
            elif occ is not None:
                occ.resolved_t = n.t
                del open_[n.series]
        return out

    def hidden(self, start: float, end: float) -> Problem | None:
        """A notification-path problem that could hide a notification received in [start, end]."""
        for p in self.problems:
            if p.on_notification_path and (p.t is None or start <= p.t <= end):
                return p
        return None


class AlertJudgement:
    """Every alerting number of one run, computed once; the observers (drills/checks/observers.py) pick them."""

    def __init__(self, record: AlertRecord, window: RunWindow, alerts: AlertsSection | None,
                 events: list[dict] | None = None) -> None:
        self.record = record
        # The runner says what it watched (`alerts_watched`): without a receiver no notification could arrive.
        watched = [e for e in events or [] if e.get("kind") == "run" and e.get("name") == "alerts_watched"]
        self.notified = not watched or watched[-1].get("receiver") is not False
        self.window = window
        self.alerts = alerts
        self.grace = alerts.grace if alerts is not None else DEFAULT_GRACE
        self.end = max(window.t_end, record.end or window.t_end)
        self.occurrences = record.occurrences() if record.present else []
        self.faults = [f for f in window.faults if f.took_effect and f.injected_t is not None]
        self.expectations = self._expectations() if record.present else []
        self.false_alarms, self.firing_at_start = self._false_alarms() if record.present else ([], [])

    # -- expected alerts ----------------------------------------------------------------------------------------
    def _expectations(self) -> list[Expectation]:
        out = []
        for e in self.alerts.expected if self.alerts is not None else []:
            injections = sorted((f for f in self.faults if f.id == e.fault), key=lambda f: f.injected_t or 0.0)
            for k, f in enumerate(injections):
                nxt = injections[k + 1].injected_t if k + 1 < len(injections) else None
                out.append(self._judge(Expectation(e, f, nxt if nxt is not None else INF)))
        return out

    def _judge(self, x: Expectation) -> Expectation:
        e, inject = x.expected, x.inject
        mine = [o for o in self.occurrences if _matches(e, o.alert, o.labels) and inject <= o.first_t < x.window_end]
        if mine:
            x.fired_t = mine[0].first_t
        deadline = inject + e.fire_within
        if x.fired_t is None or x.fired_t > deadline:
            problem = self.record.hidden(inject, min(deadline, self.end))
            if self.end < deadline and x.fired_t is None:
                x.fire_unknown = (f"the record ends {self.end - inject:.1f} s after the injection, before "
                                  f"fire_within {e.fire_within:g} s")
            elif problem is not None and x.fired_t is None:
                x.fire_unknown = f"the collector had a problem meanwhile ({problem.source}: {problem.error})"
        x.firings = len(mine)
        heal = x.fault.healed_t
        flap_end = min(x.window_end, (heal if heal is not None else self.end) + self.grace)
        per_series: dict[str, int] = {}
        for o in mine:
            if o.first_t < flap_end:
                per_series[o.series] = per_series.get(o.series, 0) + 1
        x.flaps = sum(n - 1 for n in per_series.values() if n > 1)
        x.flaps_unknown = self.record.hidden(inject, flap_end) is not None
        if mine:
            x.unresolved = any(o.resolved_t is None for o in mine)
            if not x.unresolved:
                x.resolved_t = max(o.resolved_t for o in mine if o.resolved_t is not None)
            elif self.record.hidden(x.fired_t or inject, self.end) is not None:
                x.resolve_unknown = "the collector had a problem after it fired: a resolved notification may be lost"
        if heal is None:
            x.resolve_unknown = f"fault {x.fault.id} was never healed"
        return x

    def _selected(self, alert: str | None) -> list[Expectation]:
        return [x for x in self.expectations if alert is None or x.expected.alert == alert]

    def _none(self, alert: str | None) -> Observation | None:
        """Why there is nothing to judge (None when there is)."""
        if not self.record.present:
            return Observation(None, "no alerts.jsonl: monitoring was off or its collector never ran")
        if not self.notified:
            return Observation(None, NO_RECEIVER)
        if self.alerts is None or not self.alerts.expected:
            return Observation(None, "the scenario expects no alert (alerts.expected)")
        if not self._selected(alert):
            faults = sorted({e.fault for e in self.alerts.expected if alert is None or e.alert == alert})
            return Observation(None, f"no injection of {', '.join(faults)} took effect: no alert was due")
        return None

    def time_to_fire(self, alert: str | None) -> Observation:
        none = self._none(alert)
        if none is not None:
            return none
        rows = self._selected(alert)
        missed = [x for x in rows if x.missed is True and x.fired_t is None]
        if missed:
            worst = max(missed, key=lambda x: self.end - x.inject)
            return Observation(round(self.end - worst.inject, 3),
                               f"{worst.name} never fired ({len(missed)} of {len(rows)} missed); at least this "
                               "long without it", censored=True, never=True)
        known = [x for x in rows if x.time_to_fire is not None]
        unknown = [x for x in rows if x.time_to_fire is None]
        if not known:
            return Observation(None, f"{unknown[0].name}: {unknown[0].fire_unknown}")
        worst = max(known, key=lambda x: x.time_to_fire or 0.0)
        detail = f"{worst.name}: firing notification {worst.time_to_fire:g} s after the injection (worst of " \
                 f"{len(known)})"
        if unknown:
            detail += f"; {len(unknown)} unknown ({unknown[0].fire_unknown})"
        return Observation(worst.time_to_fire, detail, censored=bool(unknown))

    def time_to_resolve(self, alert: str | None) -> Observation:
        none = self._none(alert)
        if none is not None:
            return none
        rows = [x for x in self._selected(alert) if x.fired_t is not None]
        if not rows:
            return Observation(None, "the expected alert never fired: nothing to resolve")
        open_ = [x for x in rows if x.unresolved and not x.resolve_unknown and x.fault.healed_t is not None]
        known = [x for x in rows if x.time_to_resolve is not None]
        unknown = [x for x in rows if x.resolve_unknown]
        if open_:
            worst = open_[0]
            lower = round(max(0.0, self.end - (worst.fault.healed_t or self.end)), 3)
            return Observation(lower, f"{worst.name} still firing when the record ended, {lower:g} s after the "
                                      "heal", censored=True)
        if not known:
            return Observation(None, f"{unknown[0].name}: {unknown[0].resolve_unknown}")
        worst = max(known, key=lambda x: x.time_to_resolve or 0.0)
        heal = worst.fault.healed_t or 0.0
        when = ("before the heal" if (worst.resolved_t or 0.0) <= heal
                else f"{worst.time_to_resolve:g} s after the heal")
        detail = f"{worst.name}: resolved notification {when} (worst of {len(known)})"
        if unknown:
            detail += f"; {len(unknown)} unknown ({unknown[0].resolve_unknown})"
        return Observation(worst.time_to_resolve, detail, censored=bool(unknown))

    def missed(self, alert: str | None) -> Observation:
        none = self._none(alert)
        if none is not None:
            return none
        rows = self._selected(alert)
        missed = [x for x in rows if x.missed is True]
        unknown = [x for x in rows if x.missed is None]
        names = ", ".join(x.name for x in missed[:5])
        detail = (f"{len(missed)} of {len(rows)} expected firings missed" + (f": {names}" if names else "")
                  + (f"; {len(unknown)} unknown ({unknown[0].fire_unknown})" if unknown else ""))
        return Observation(len(missed), detail, censored=bool(unknown))

    def flaps(self, alert: str | None) -> Observation:
        none = self._none(alert)
        if none is not None:
            return none
        rows = self._selected(alert)
        count = sum(x.flaps for x in rows)
        worst = max(rows, key=lambda x: x.flaps)
        hidden = any(x.flaps_unknown for x in rows)
        detail = (f"{worst.name} fired {worst.firings} times" if count else "no expected alert fired twice for "
                  "one fault") + ("; the collector had problems meanwhile (a lower bound)" if hidden else "")
        return Observation(count, detail, censored=hidden)

    # -- false alarms -------------------------------------------------------------------------------------------
    def _explained(self, started: float) -> bool:
        for f in self.faults:
            end = f.healed_t if f.healed_t is not None else self.end
            if (f.injected_t or 0.0) <= started <= end + self.grace:
                return True
        return False

    def _false_alarms(self) -> tuple[list[Occurrence], list[Occurrence]]:
        allow = self.alerts is not None and self.alerts.allow_firing_at_start
        false, at_start = [], []
        for o in self.occurrences:
            if allow and o.started < self.window.t0:
                at_start.append(o)
            elif not self._explained(o.started):
                false.append(o)
        return false, at_start

    def false_alarm_count(self, alert: str | None) -> Observation:
        if not self.record.present:
            return Observation(None, "no alerts.jsonl: monitoring was off or its collector never ran")
        if not self.notified:
            return Observation(None, NO_RECEIVER)
        rows = [o for o in self.false_alarms if alert is None or o.alert == alert]
        hidden = self.record.hidden(-INF, INF)
        names = ", ".join(f"{o.alert} at {self.window.offset(o.started)} s" for o in rows[:5])
        fired = any(o.alert == alert for o in self.occurrences) if alert else bool(self.occurrences)
        detail = (f"fired with no fault to explain it: {names}" if rows else
                  f"every firing fell inside a fault's injection to heal + {self.grace:g} s" if fired else
                  "nothing fired")
        if hidden is not None:
            detail += f"; the collector had problems ({hidden.source}: {hidden.error}): a lower bound"
        return Observation(len(rows), detail, censored=hidden is not None)

    # -- result.json ---------------------------------------------------------------------------------------------
    def section(self) -> dict[str, Any]:
        """result.json's `alerting` (drills/checks/result_model.Alerting): offsets, as everywhere."""
        w = self.window
        problems = [{"t_s": w.offset(p.t), "source": p.source, "error": p.error} for p in self.record.problems]
        return {
            "recorded": self.record.present,
            "notified": self.notified,
            "grace_s": self.grace,
            "record_end_s": w.offset(self.end) if self.record.present else None,
            "expected": [self._row(x) for x in self.expectations],
            "not_due": sorted({e.alert + " for " + e.fault for e in (self.alerts.expected if self.alerts else [])
                               if not any(x.expected is e for x in self.expectations)}),
            "false_alarms": [self._occ(o) for o in self.false_alarms[:MAX_ROWS]],
            "firing_at_start": [self._occ(o) for o in self.firing_at_start[:MAX_ROWS]],
            "notifications": [{"t_s": w.offset(n.t), "status": n.status, "alert": n.alert, "labels": n.labels}
                              for n in self.record.notifications[:MAX_ROWS]],
            "intervals": self._intervals()[:MAX_ROWS],
            "problems": problems[:MAX_PROBLEMS],
            "problem_count": len(problems),
        }

    def _row(self, x: Expectation) -> dict[str, Any]:
        w, e = self.window, x.expected
        return {"alert": e.alert, "labels": dict(e.labels), "fault_id": x.fault.id, "iteration": x.fault.iteration,
                "injected_s": w.offset(x.fault.injected_t), "healed_s": w.offset(x.fault.healed_t),
                "fire_within_s": e.fire_within, "resolve_within_s": e.resolve_within,
                "fired_s": w.offset(x.fired_t), "time_to_fire_s": x.time_to_fire,
                "resolved_s": w.offset(x.resolved_t), "time_to_resolve_s": x.time_to_resolve,
                "missed": x.missed, "late_resolve": (None if x.time_to_resolve is None
                                                     else x.time_to_resolve > e.resolve_within),
                "firings": x.firings, "flaps": x.flaps,
                "unknown": x.fire_unknown or x.resolve_unknown}

    def _occ(self, o: Occurrence) -> dict[str, Any]:
        w = self.window
        return {"alert": o.alert, "labels": o.labels, "started_s": w.offset(o.started),
                "received_s": w.offset(o.first_t), "resolved_s": w.offset(o.resolved_t),
                "notifications": o.notifications}

    def _intervals(self) -> list[dict[str, Any]]:
        """Pending and firing intervals per series, from Prometheus' state lines (the report's alert lane)."""
        out: list[dict[str, Any]] = []
        current: dict[str, dict[str, Any]] = {}
        for s in self.record.states:
            open_ = current.pop(s["series"], None)
            if open_ is not None:
                open_["end"] = s["t"]
                if open_["state"] == s["state"]:   # a repeated state line: the interval goes on
                    open_["end"] = None
                    current[s["series"]] = open_
                    continue
            if s["state"] in ("pending", "firing"):
                row = {"alert": s["alert"], "labels": s["labels"], "state": s["state"], "start": s["t"], "end": None}
                current[s["series"]] = row
                out.append(row)
        w = self.window
        return [{"alert": r["alert"], "labels": r["labels"], "state": r["state"], "start_s": w.offset(r["start"]),
                 "end_s": w.offset(r["end"] if r["end"] is not None else self.end), "open": r["end"] is None}
                for r in out]
