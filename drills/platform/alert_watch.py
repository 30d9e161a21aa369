"""The harness side of alerting: what Prometheus says about each alert, and every notification that reached
the drill's receiver, appended to the run directory's alerts.jsonl as it happens (docs/run-directory.md).

Two sources on one clock (the harness's wall clock, like every other file of the run):

* Prometheus' `/api/v1/alerts`, polled every 0.5 s: a `state` line whenever an alert appears, changes
  (pending -> firing) or disappears (`inactive`). The report's alert lane draws these.
* The receiver's journal (harness/images/monitoring/alert_receiver.py), read from the offset it had when the
  watch started: each `notification` line as the receiver wrote it, stamped with the moment it arrived.

Nothing here may stop a drill: an unreachable Prometheus, Alertmanager or receiver is a `problem` line (one
per outage of that source), every call times out within 2 s, and the thread never raises. `firing_alerts()` is
the pre-flight question "does anything fire right now?", asked of Alertmanager's API v2 (what would page
someone), else of Prometheus.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from drills.errors import InfrastructureError
from drills.platform import http
from drills.rundir import files
from drills.rundir.writers import LineWriter
from drills.scenario.loopback import loopback_problem

Log = Callable[[str], None]

POLL_S = 0.5
TIMEOUT_S = 1.5            # connect + read of one call; the brief of every caller is "never a hang"
ERROR_MAX = 300


class MonitoringUnavailable(InfrastructureError):
    """Prometheus or Alertmanager did not answer, so whether an alert fires is unknown."""


@dataclass(frozen=True)
class MonitoringEndpoints:
    """Where the monitoring of a system answers, all loopback URLs (None: that part is not there)."""

    prometheus: str | None = None
    alertmanager: str | None = None
    receiver: str | None = None

    @classmethod
    def of_stack(cls, endpoints: Mapping[str, Any]) -> MonitoringEndpoints | None:
        """From a reference stack's endpoints (StackStatus.endpoints, System.endpoints); None without monitoring."""
        found = cls(prometheus=endpoints.get("prometheus"), alertmanager=endpoints.get("alertmanager"),
                    receiver=endpoints.get("alert_receiver"))
        return found if found.any else None

    @classmethod
    def loopback(cls, prometheus: str | None = None, alertmanager: str | None = None,
                 receiver: str | None = None) -> MonitoringEndpoints:
        """The user's own monitoring (attached systems): every URL must be a loopback one, else ValueError
        naming what is wrong (the network rule: the harness talks only to 127.0.0.1 and its own containers)."""
        problems = [f"{what}: {p}" for what, url in (("prometheus", prometheus), ("alertmanager", alertmanager),
                                                      ("receiver", receiver))
                    if url is not None and (p := loopback_problem(url))]
        if problems:
            raise ValueError("; ".join(problems))
        return cls(*(u.rstrip("/") if u else None for u in (prometheus, alertmanager, receiver)))

    @property
    def any(self) -> bool:
        return bool(self.prometheus or self.alertmanager or self.receiver)


# ---- reading the sources ---------------------------------------------------------------------------------------
def _get_json(session: requests.Session, url: str, params: dict[str, Any] | None = None) -> Any:
    resp = session.get(url, params=params, timeout=TIMEOUT_S)
    resp.raise_for_status()
    return resp.json()


def _why(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text[:ERROR_MAX]


def parse_time(value: Any) -> float | None:
    """RFC 3339 (Prometheus, Alertmanager) -> epoch seconds; None for missing, unparseable or zero times."""
    if not isinstance(value, str) or not value or value.startswith("0001-"):
        return None
    text = value.strip().replace("z", "Z")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:  # Python takes at most 6 fraction digits; Go writes up to 9
        digits = "".join(c for c in rest if c.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits):]}"
    try:
        return round(datetime.fromisoformat(text).timestamp(), 3)
    except ValueError:
        return None


def prometheus_alerts(session: requests.Session, base: str) -> list[dict[str, Any]]:
    """Prometheus' active alerts (pending and firing): [{alertname, labels, state, active_at}]."""
    doc = _get_json(session, f"{base}/api/v1/alerts")
    raw = ((doc or {}).get("data") or {}).get("alerts") if isinstance(doc, dict) else None
    if not isinstance(raw, list):
        raise ValueError("/api/v1/alerts answered without data.alerts")
    out = []
    for a in raw:
        labels = a.get("labels") if isinstance(a, dict) else None
        if not isinstance(labels, dict) or not labels.get("alertname"):
            continue
        out.append({"alertname": str(labels["alertname"]), "labels": {str(k): str(v) for k, v in labels.items()},
                    "state": str(a.get("state", "")), "active_at": parse_time(a.get("activeAt"))})
    return out


def firing_alerts(endpoints: MonitoringEndpoints) -> list[dict[str, Any]]:
    """Alerts firing right now and neither silenced nor inhibited: Alertmanager's API v2 when there is one,
    else Prometheus' firing alerts. [{alertname, labels, starts_at, summary, source}], sorted by name.

    Raises MonitoringUnavailable when the source does not answer within 2 s (the pre-flight must then refuse,
    never assume "nothing fires")."""
    with http.session() as s:
        if endpoints.alertmanager:
            try:
                raw = _get_json(s, f"{endpoints.alertmanager}/api/v2/alerts",
                                {"active": "true", "silenced": "false", "inhibited": "false"})
            except (requests.RequestException, ValueError) as exc:
                raise MonitoringUnavailable(f"Alertmanager at {endpoints.alertmanager} does not answer: {_why(exc)}",
                                            hint="is the stack's monitoring running? `drill stack status`") from None
            out = []
            for a in raw if isinstance(raw, list) else []:
                labels = (a.get("labels") or {}) if isinstance(a, dict) else {}
                state = ((a.get("status") or {}).get("state")) if isinstance(a, dict) else None
                if not labels.get("alertname") or state not in (None, "active", "unprocessed"):
                    continue
                out.append({"alertname": labels["alertname"], "labels": labels,
                            "starts_at": parse_time(a.get("startsAt")),
                            "summary": (a.get("annotations") or {}).get("summary", ""), "source": "alertmanager"})
            return sorted(out, key=lambda a: (a["alertname"], sorted(a["labels"].items())))
        if endpoints.prometheus:
            try:
                alerts = prometheus_alerts(s, endpoints.prometheus)
            except (requests.RequestException, ValueError) as exc:
                raise MonitoringUnavailable(f"Prometheus at {endpoints.prometheus} does not answer: {_why(exc)}",
                                            ) from None
            return sorted(({"alertname": a["alertname"], "labels": a["labels"], "starts_at": a["active_at"],
                            "summary": "", "source": "prometheus"} for a in alerts if a["state"] == "firing"),
                          key=lambda a: (a["alertname"], sorted(a["labels"].items())))
    raise MonitoringUnavailable("no Alertmanager or Prometheus to ask which alerts fire")


def scrape_health(prometheus: str) -> tuple[list[str], list[str]]:
    """(targets up, targets not up yet or down) as `job/service`, from Prometheus' /api/v1/targets: the stack
    is healthy only once every target has been scraped successfully. Raises MonitoringUnavailable."""
    try:
        with http.session() as s:
            doc = _get_json(s, f"{prometheus}/api/v1/targets", {"state": "active"})
        targets = doc["data"]["activeTargets"]
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise MonitoringUnavailable(f"Prometheus at {prometheus} does not answer: {_why(exc)}") from None
    up: list[str] = []
    not_up: list[str] = []
    for t in targets if isinstance(targets, list) else []:
        if not isinstance(t, dict):
            continue
        labels = t.get("labels") or {}
        name = f"{labels.get('job', '?')}/{labels.get('service') or labels.get('instance', '?')}"
        (up if t.get("health") == "up" else not_up).append(name)
    return sorted(up), sorted(not_up)


def is_ready(url: str) -> bool:
    """GET {url}/-/ready answers 200 (Alertmanager, Prometheus and the receiver all have it)."""
    try:
        return http.get(f"{url}/-/ready", timeout=TIMEOUT_S).status_code == 200
    except requests.RequestException:
        return False


# ---- the watch ----------------------------------------------------------------------------------------------------
def _key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


class AlertWatch:
    """Polls Prometheus and the receiver in a thread, appending to <run_dir>/alerts.jsonl until `stop()`."""

    def __init__(self, endpoints: MonitoringEndpoints, run_dir: Path, log: Log = lambda _m: None,
                 poll_s: float = POLL_S) -> None:
        self.endpoints = endpoints
        self.path = Path(run_dir) / files.ALERTS
        self.log = log
        self.poll_s = poll_s
        self.lines = 0
        self._writer: LineWriter | None = None
        self._session = http.session()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._states: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
        self._offset: int | None = None
        self._failing: dict[str, str] = {}    # source -> the error last recorded for it

    # -- lifecycle
    def start(self) -> AlertWatch:
        """Note where the receiver's journal ends (older notifications are not this drill's), then poll."""
        if self._thread is not None:
            return self
        self._writer = LineWriter(self.path)
        if self.endpoints.receiver:
            self._offset = self._receiver_end()
        self._thread = threading.Thread(target=self._run, name="alert-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self, drain_s: float = 0.0) -> None:
        """Stop polling; with `drain_s`, keep reading the receiver that long first (a resolution in flight).
        A last poll of both sources always runs, so what arrived up to now is in the file."""
        if drain_s > 0 and self._thread is not None:
            time.sleep(drain_s)
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2 * TIMEOUT_S + 2)
        try:
            self.poll_once()
        finally:
            if self._writer is not None:
                self._writer.close()
            self._session.close()

    def __enter__(self) -> AlertWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one round
    def poll_once(self) -> None:
        """Read both sources once; never raises."""
        if self.endpoints.prometheus:
            self._poll_prometheus()
        if self.endpoints.receiver:
            self._poll_receiver()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.poll_once()
            except Exception as exc:  # a bug here must not kill the drill; say so in the file
                self._problem("prometheus", f"alert watch: {_why(exc)}")
            self._stop.wait(max(0.05, self.poll_s - (time.monotonic() - started)))

    def _poll_prometheus(self) -> None:
        try:
            alerts = prometheus_alerts(self._session, str(self.endpoints.prometheus))
        except (requests.RequestException, ValueError) as exc:
            self._problem("prometheus", f"{self.endpoints.prometheus}/api/v1/alerts: {_why(exc)}")
            return
        self._ok("prometheus")
        now = round(time.time(), 3)
        seen = set()
        for a in alerts:
            key = _key(a["labels"])
            seen.add(key)
            before = self._states.get(key)
            if before is None or before["state"] != a["state"]:
                self._write({"t": now, "kind": "state", "source": "prometheus", "alertname": a["alertname"],
                             "labels": a["labels"], "state": a["state"], "active_at": a["active_at"]})
            self._states[key] = a
        for key in [k for k in self._states if k not in seen]:
            gone = self._states.pop(key)
            self._write({"t": now, "kind": "state", "source": "prometheus", "alertname": gone["alertname"],
                         "labels": gone["labels"], "state": "inactive", "active_at": None})

    def _receiver_end(self) -> int | None:
        try:
            doc = _get_json(self._session, f"{self.endpoints.receiver}/notifications", {"offset": "end"})
            self._ok("receiver")
            return int(doc["next"])
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            self._problem("receiver", f"{self.endpoints.receiver}/notifications: {_why(exc)}")
            return None

    def _poll_receiver(self) -> None:
        if self._offset is None:  # it did not answer at start: everything it holds may be this drill's
            self._offset = 0
        for _ in range(20):  # at most 20 MB a round; the rest next round
            try:
                doc = _get_json(self._session, f"{self.endpoints.receiver}/notifications", {"offset": self._offset})
                nxt, lines = int(doc["next"]), doc["lines"]
            except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
                self._problem("receiver", f"{self.endpoints.receiver}/notifications: {_why(exc)}")
                return
            self._ok("receiver")
            if nxt < self._offset:  # the receiver restarted with an empty journal
                self._problem("receiver", f"the receiver's journal restarted (offset {self._offset} -> {nxt})")
                self._offset = 0
                continue
            for line in lines if isinstance(lines, list) else []:
                if isinstance(line, dict) and line.get("kind") in ("notification", "problem"):
                    self._write(line)
            if nxt == self._offset:
                return
            self._offset = nxt

    # -- writing
    def _write(self, record: dict[str, Any]) -> None:
        if self._writer is not None:
            self._writer.write(record)
            self.lines += 1

    def _problem(self, source: str, error: str) -> None:
        if source in self._failing:
            return  # the same outage: one line, not two a second (error texts carry object addresses)
        self._failing[source] = error[:ERROR_MAX]
        self.log(f"monitoring: {error}")
        self._write({"t": round(time.time(), 3), "kind": "problem", "source": source, "error": error[:ERROR_MAX]})

    def _ok(self, source: str) -> None:
        """The source answers again: its next failure is a new outage, worth a new line."""
        self._failing.pop(source, None)
