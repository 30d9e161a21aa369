"""`drill run`: one pass of a scenario from YAML to verdict.

stack up/attach -> probes -> load -> nemesis (faults on schedule) -> heal everything -> recover ->
read the truth -> judge -> report. Every fault is healed on every exit path: normal end, error, abort,
SIGINT and SIGTERM (the ledger lets `drill clean` heal after a SIGKILL).
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, wait
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import docker

from drills.errors import DrillError, InfrastructureError, PreconditionFailed, UsageError
from drills.faults import disaster, nemesis
from drills.faults.context import FaultContext
from drills.faults.heal import heal_entry
from drills.faults.ledger import SIDECARS_KEY, Ledger
from drills.faults.nemesis import needs_sidecars
from drills.faults.sidecars import SidecarPool
from drills.faults.zone import check_zone_targets
from drills.load.config import LoadConfig
from drills.platform import engine
from drills.platform.system import System, system_for
from drills.platform.toxiproxy import ToxiproxyClient
from drills.probes.sampler import ProbeSampler
from drills.rundir import files, newrun, owner, vault
from drills.rundir.meta import update_meta, write_meta
from drills.rundir.newrun import RunDirError, new_run_dir, new_run_id
from drills.rundir.statedir import state_dir
from drills.rundir.writers import EventLog, LineWriter
from drills.runner.abort import AbortWatch
from drills.runner.placement import client_probe_url, record_zones
from drills.runner.scheduler import HEAL_WAIT_S, FaultScheduler
from drills.scenario.fault_types import family_of
from drills.scenario.locustfile_path import BUILTIN
from drills.scenario.model import Scenario

if TYPE_CHECKING:
    from drills.load.runner import LoadHandle

Log = Callable[[str], None]
RECOVERY_TIMEOUT_S = 180.0
#: Heals done this soon after the end of steady keep the recovery phase at its planned start; later ones
#: move it (event `recovery_delayed`), so the phase never judges a system still being healed.
RECOVERY_LATE_S = 0.5
#: The load's own start (its markers) is used when it is at most this far back; the harness polls every 0.1 s.
START_LAG_MAX_S = 2.0


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived: stop, heal, keep everything recorded."""

    def __init__(self, signame: str) -> None:
        super().__init__(signame)
        self.signame = signame


@contextmanager
def _on_signals(handler: Callable[[int, object], None]) -> Iterator[None]:
    """Route SIGINT and SIGTERM to `handler` for the duration of the block, then restore."""
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _raise_interrupted(signum: int, _frame: object) -> None:
    """While the drill runs, a signal raises in the main thread, so `finally` heals."""
    raise Interrupted(signal.Signals(signum).name)


def _defer_while_healing(log: Log) -> Callable[[int, object], None]:
    """While healing, a second Ctrl-C must not interrupt the heal: note it and carry on."""
    def handler(signum: int, _frame: object) -> None:
        log(f"{signal.Signals(signum).name} received while healing: finishing the heal first")

    return handler


def _in_background(fn: Callable[..., object], *args: object) -> Future:
    """fn(*args) on a thread of its own: the drill's loop keeps ticking (live view, load watch) meanwhile."""
    done: Future = Future()

    def run() -> None:
        try:
            done.set_result(fn(*args))
        except BaseException as exc:  # handed to whoever asks for the result
            done.set_exception(exc)

    threading.Thread(target=run, name="drill-heal-all", daemon=True).start()
    return done


class DrillRun:
    def __init__(self, scenario: Scenario, scenario_path: Path, out: Path | None, seed: int | None,
                 keep_stack: bool, quiet: bool, log: Log, console=None, reports_root: Path | None = None) -> None:
        self.scenario = scenario
        self.scenario_path = scenario_path
        self.seed = seed if seed is not None else (scenario.seed if scenario.seed is not None
                                                   else random.SystemRandom().randrange(2**31))
        self.keep_stack = keep_stack
        self.quiet = quiet
        self.console = console
        try:
            self.run_dir = new_run_dir(scenario.name, out, reports_root or Path("reports"))
        except RunDirError as exc:
            raise UsageError(exc.message, hint=exc.hint) from None
        self.log = _never_raises(_kept_in(self.run_dir / files.LOG, log))
        self.run_id, self.owner, self.secret = _claim(scenario.name, self.run_dir)
        self.events = EventLog(self.run_dir / files.EVENTS)
        self.ledger = Ledger(self.run_dir, self.run_id, owned_by=self.owner)
        self.system: System | None = None
        self.client: docker.DockerClient | None = None
        self.scheduler: FaultScheduler | None = None
        self._healing: Future | None = None   # the end-of-steady heal_all, on a thread of its own
        self.probes: ProbeSampler | None = None
        self.load: LoadHandle | None = None
        self.sidecars: SidecarPool | None = None
        self.endpoints: dict = {}
        self.ended_by: str | None = None
        self.monitoring = None          # drills.platform.alert_watch.MonitoringEndpoints, when alerts are watched
        self.alert_watch = None         # its AlertWatch, from just before the load to after the recovery
        self.refused: PreconditionFailed | None = None   # the drill refused to start (its own exit code)
        self.interrupted: str | None = None   # SIGINT / SIGTERM stopped it (healed): a game day stops too

    # ---- the whole run ---------------------------------------------------------------------------
    def run(self) -> int:
        """prepare -> drive -> (always) heal -> stop the load -> verify -> recover -> read the final state ->
        tear down -> judge -> report; returns the exit code."""
        own = self.scenario.load.locustfile
        meta = write_meta(self.run_dir, self.scenario_path, self.scenario.name, self.seed, self.run_id,
                          locustfile=None if own == BUILTIN else own)   # copied beside scenario.yaml
        self.meta = meta
        self.events.emit("run", name="started", run_dir=str(self.run_dir), seed=self.seed)
        self.log(f"run directory: {self.run_dir}")
        try:
            with _on_signals(_raise_interrupted):
                self._prepare()
                self._check_alerts()
                self._drive()
        except Interrupted as exc:
            self.ended_by = "aborted"
            self.interrupted = exc.signame
            self.events.emit("abort", reason=f"{exc.signame} received")
            self.log(f"{exc.signame}: stopping the drill and healing every fault")
        except DrillError as exc:
            self.ended_by = "error"
            self.refused = exc if isinstance(exc, PreconditionFailed) else None
            self.events.emit("error", where="preflight" if self.refused else "harness", message=exc.message)
            self.log(f"error: {exc.message}")
            if exc.details:
                self.log(exc.details)
        except Exception as exc:  # a bug must still heal and leave a judged run directory behind
            self.ended_by = "error"
            self.events.emit("error", where="harness", message=f"{exc.__class__.__name__}: {exc}")
            self.log(f"internal error: {exc.__class__.__name__}: {exc}")
        finally:
            with _on_signals(_defer_while_healing(self.log)):
                self._wind_down()
        return self._finish()

    def _prepare(self) -> None:
        """Bring the system under test up (or attach to it) and record what it is."""
        self.client = client = engine.connect()
        self.system = system = system_for(self.scenario.stack, client, self.run_id, self.scenario.audit)
        self.meta["stack"] = system.start(self.log)
        self.endpoints, self.view = system.endpoints, system.view
        self.meta["images"] = self.meta["stack"].pop("images", {})
        if stale := self.meta["stack"].pop("images_stale", {}):
            self.meta["images_stale"] = stale
        self.meta["versions"].update(system.versions())
        update_meta(self.run_dir, self.meta)
        self.events.emit("run", name="stack_ready", endpoints=self.endpoints)
        record_zones(self.view, self.events)
        check_zone_targets(self.view, self.scenario.faults)   # an attached system's zones exist only as labels

    def _drive(self) -> None:
        from drills.load.runner import start_load  # harness side only: never imports locust

        sc = self.scenario
        tox = ToxiproxyClient(self.endpoints["toxiproxy"]) if self.endpoints.get("toxiproxy") else None
        ctx = FaultContext(self.client, self.view, self.ledger, self.run_id, random.Random(self.seed), tox,
                           log=self.log, sidecars=self._sidecar_pool())
        steady_end = sc.phases.warmup + sc.phases.steady
        self.scheduler = FaultScheduler(ctx, sc.faults, self.events, steady_end, log=self.log)
        self.probes = ProbeSampler(self.view, LineWriter(self.run_dir / files.PROBES),
                                   self.endpoints.get("haproxy_stats"), self.scheduler.active,
                                   client_url=client_probe_url(self.endpoints),
                                   stats_by_lb=self.endpoints.get("haproxy_stats_all")).start()

        self._watch_alerts()
        scenario_dir = self.scenario_path.parent
        self.load = load = start_load(sc.load, sc.phases, self.endpoints["api"], self.run_dir, self.secret,
                                      self.seed, scenario_dir=scenario_dir, tokens_dir=vault.secret_dir(self.run_id),
                                      record=sc.audit.recorded() if sc.audit else None,
                                      grace=LoadConfig.grace + HEAL_WAIT_S)   # the recovery phase may start late
        load.wait_started(timeout=60)
        t0 = self._load_started(load.started_at())
        self.scheduler.start(t0)
        planned = [("warmup", 0.0, sc.phases.warmup), ("steady", sc.phases.warmup, steady_end)]
        recovery: tuple[float, float] | None = None   # known once every fault has healed
        current = None
        watch = AbortWatch(sc.abort, self.run_dir, abort_on=sc.alerts.abort_on if sc.alerts else ())
        live = self._live_view(sc.phases.total)
        with live:
            while True:
                now = time.monotonic() - t0
                if recovery is not None and now >= recovery[1]:
                    break
                if now >= steady_end and self._healing is None:
                    self._healing = _in_background(self._heal_all, "end of the steady phase")
                if recovery is None and self._healing is not None and self._healing.done():
                    self._healing.result()   # an exception of the heal ends the drill (the wind-down heals again)
                    recovery = self._begin_recovery(steady_end, now)
                    live.total_s = recovery[1]
                if recovery is not None:
                    phase = ("recovery", *recovery)
                else:
                    phase = next((p for p in planned if p[1] <= now < p[2]), ("healing", steady_end, now))
                if phase[0] != current:
                    current = phase[0]
                    if current != "healing":   # not a phase of the scenario: the gap between steady and recovery
                        self.events.emit("phase", name=current, start_s=round(phase[1], 3), end_s=round(phase[2], 3))
                self.scheduler.tick()
                if not load.alive():
                    why = load.error or f"exit code {load.returncode}"
                    raise InfrastructureError(f"the load generator stopped: {why}")
                reason = watch.check(self.probes.latest)
                if reason:
                    self.ended_by = "aborted"
                    self.events.emit("abort", reason=reason)
                    self.log(f"abort: {reason}")
                    return
                stats = watch.last_stats
                live.update(phase=current, elapsed_s=now, rps=stats.get("rps") or 0.0,
                            error_pct=stats.get("error_pct") or 0.0, p99_ms=stats.get("p99_ms"),
                            active_faults=self.scheduler.active()[0], leader=(self.probes.latest or {}).get("leader"))
                time.sleep(0.05)

    def _load_started(self, started_at: float | None) -> float:
        """Write `load_started` at the moment the load really started (its processes' markers), not when the
        harness's poll noticed (up to 0.1 s later: the first registrations fell outside the load window), and
        return that moment on the monotonic clock: phases and the fault schedule count from it."""
        wall, mono = time.time(), time.monotonic()
        lag = wall - started_at if started_at is not None else 0.0
        lag = lag if 0.0 <= lag <= START_LAG_MAX_S else 0.0   # a marker from another clock is not trusted
        self.events.emit("run", name="load_started", t=round(wall - lag, 3), mono=round(mono - lag, 3))
        return mono - lag

    def _begin_recovery(self, steady_end: float, now: float) -> tuple[float, float]:
        """The recovery phase: `phases.recovery` seconds from the moment every fault has healed, so it judges a
        system that is whole again even when a heal (a restore) outlasted the steady phase."""
        late = now - steady_end
        start = now if late > RECOVERY_LATE_S else steady_end   # a heal this quick keeps the phases contiguous
        if start > steady_end:
            self.log(f"the heals took until t={start:.1f}s: the recovery phase starts {late:.1f} s late")
            self.events.emit("run", name="recovery_delayed", by_s=round(late, 3),
                             reason="heals still running at the end of the steady phase")
        return start, start + self.scenario.phases.recovery

    def _live_view(self, total: float):
        from rich.console import Console

        from drills.report import LiveView

        console = self.console or Console(quiet=True)  # e.g. under pytest: no live output at all
        return LiveView(console, quiet=self.quiet, total_s=total)

    def _heal_all(self, reason: str) -> list[str]:
        errors = self.scheduler.heal_all(reason) if self.scheduler else []
        for key, entry in self.ledger.pending().items():  # anything registered outside the scheduler
            if key == SIDECARS_KEY:
                continue  # not a fault: the pool removes them once the load has stopped
            entry_errors = heal_entry(entry, self.scheduler.ctx if self.scheduler else self.client)[1]
            errors += entry_errors
            if not entry_errors:  # one failed heal must not keep the healed ones pending
                self.ledger.resolve(key)
        self.events.emit("run", name="healed_all", reason=reason, ok=not errors, errors=errors or None)
        return errors

    # ---- always ------------------------------------------------------------------------------------
    def _wind_down(self) -> None:
        """Every way out of a drill runs this, in this order; each step copes with the ones before failing."""
        if self._healing is not None:
            wait([self._healing])   # the end-of-steady heal: never two heal_all at once
        if self.scheduler is not None:
            self._heal_all(self.ended_by or "end of the drill")
        self._stop_load()
        self._verify_no_fault_left()
        if self._recover():
            self._read_final_state()
        self._stop_alert_watch()   # after the recovery: resolved notifications arrive after the heal
        vault.forget(self.run_id)  # the audit was the last to need the secret and the session tokens
        if self.system is not None:
            self.system.after_run(self.run_dir)
        self._stop_probes()
        self._tear_down()

    def _stop_load(self) -> None:
        if self.load is not None:
            self.load.stop(timeout=20)
            self.events.emit("run", name="load_stopped", returncode=self.load.returncode, error=self.load.error)
        if self.sidecars is not None:
            self.sidecars.close()

    def _stop_probes(self) -> None:
        if self.probes is not None:
            self.probes.stop()
            self.probes.writer.close()
        if self.scheduler is not None:
            self.scheduler.shutdown()

    def _tear_down(self) -> None:
        self.ledger.close()
        removed = self.system is not None and self.system.teardown(self.keep_stack, self.log)
        if removed:
            for key, entry in self.ledger.pending().items():  # a restore of a stack that is gone is moot
                if disaster.heals_only_the_database(entry):
                    self.ledger.resolve(key)
            self.ledger.close()
        if removed or self.system is None or self.system.stack() is None:
            owner.release(self.run_id)  # nothing of ours is left: a kept stack keeps its record for `drill clean`

    def _verify_no_fault_left(self) -> None:
        """Each fault family checks for its own leftovers (paused nodes, sidecars, toxics), after the heals."""
        if self.scheduler is not None:
            problems = nemesis.leftovers(self.scheduler.ctx)
        else:  # the drill ended before any fault could be injected
            problems = [f"ledger entry {k} still pending" for k in self.ledger.pending()]
        self.events.emit("verify", name="no_fault_left", ok=not problems, detail="; ".join(problems) or "clean")
        if problems:
            self.log("NOT CLEAN after healing: " + "; ".join(problems))

    def _recover(self) -> bool:
        """Wait for the system to serve normally again; False (recorded) when it does not."""
        if self.system is None or not self.endpoints.get("api"):
            return False
        unrestored = self._unrestored()
        if unrestored:
            self.events.emit("run", name="stack_not_recovered", reason=unrestored)
            self.log(f"the database was not restored: {unrestored}")
            return False
        disaster_struck = self._had_disaster()
        try:
            self.system.wait_recovered(timeout=90.0 if disaster_struck else RECOVERY_TIMEOUT_S)
        except Exception as exc:
            if disaster_struck:
                # Losing the database for good is what a disaster drill can find (no usable backup, a failed
                # restore): a result for the budgets, not a failure of the harness.
                self.events.emit("run", name="stack_not_recovered", reason=str(exc))
            else:
                self.events.emit("error", where="recovery", message=f"the system did not recover after the drill: "
                                                                    f"{exc}")
            self.log(f"the system did not recover: {exc}")
            details = getattr(exc, "details", None)
            if details:  # the logs of the services involved: why, for whoever reads drill.log later
                self.log(str(details))
            return False
        self.events.emit("run", name="stack_recovered")
        return True

    def _read_final_state(self) -> None:
        """The truth the audit compares the history with (final-state.json)."""
        assert self.system is not None  # only after a recovery
        try:
            self.system.read_final_state(self.run_dir)
            self.events.emit("run", name="audit_done")
        except Exception as exc:
            self.events.emit("error", where="audit", message=f"{exc.__class__.__name__}: {exc}")
            self.log(f"reading the final state failed: {exc}")

    def _sidecar_pool(self) -> SidecarPool | None:
        """Pre-start the network-fault sidecars when the scenario has network faults (inject in ~0.1 s
        instead of ~0.3 s: no container start on the fault's clock). Only in the reference stack: the user's
        own containers get a sidecar when a fault needs one, not before."""
        if self.system is None or not self.system.prestarts_sidecars() \
                or not needs_sidecars([f.type for f in self.scenario.faults]):
            return None
        self.sidecars = SidecarPool(self.client, self.run_id, self.ledger, log=self.log)
        t0 = time.monotonic()
        ready = self.sidecars.warm([n for n in self.view.nodes.values()])
        self.log(f"{ready} network-fault sidecars ready in {time.monotonic() - t0:.1f}s")
        return self.sidecars

    def _unrestored(self) -> str | None:
        """Why the database cluster is gone for good (a disaster whose restore failed and no database node
        serving), else None: no point waiting for a stack that nothing will bring back. A damaged cluster that
        still runs (an operator's mistake whose restore failed) is audited as it is."""
        failed = [e for e in self.ledger.pending().values() if disaster.restores_cluster(e)]
        if not failed or self.system is None or self.system.serves_writes():
            return None
        entry = failed[0]
        return f"{entry.get('fault_id')} ({entry.get('type')}) is still unhealed: its restore failed"

    def _had_disaster(self) -> bool:
        records = self.scheduler.records if self.scheduler else []
        return any(r.get("phase") == "inject" and (fam := family_of(r.get("type", ""))) is not None
                   and fam.may_not_recover for r in records)

    def _finish(self) -> int:
        from drills.checks import exit_code, judge, write_result
        from drills.report import print_summary, render_run, write_index

        self.events.emit("run", name="finished")
        self.events.close()
        result = judge(self.run_dir, self.scenario)
        write_result(self.run_dir, result)
        try:
            render_run(self.run_dir)
            write_index(self.run_dir.parent, log=self.log)
        except Exception as exc:
            self.log(f"rendering the report failed: {exc}")
        if self.console is not None:
            try:
                print_summary(self.console, result)
            except OSError:
                pass
        self.log(f"report: {self.run_dir / 'report.html'}")
        return int(self.refused.exit_code) if self.refused is not None else int(exit_code(result))

    # ---- alerts: the pre-flight, the watch, and where they look (docs/scenario-format.md#alerts) ------------
    def _monitoring(self):   # -> MonitoringEndpoints | None (drills.platform.alert_watch, imported on use)
        """The URLs of an attached system's own Prometheus / Alertmanager / receiver (alerts section), else the
        reference stack's monitoring (its endpoints); None when nothing watches alerts."""
        from drills.platform.alert_watch import MonitoringEndpoints

        alerts = self.scenario.alerts
        if alerts is not None and (alerts.alertmanager_url or alerts.prometheus_url or alerts.receiver_url):
            return MonitoringEndpoints.loopback(prometheus=alerts.prometheus_url, alertmanager=alerts.alertmanager_url,
                                                receiver=alerts.receiver_url)
        return MonitoringEndpoints.of_stack(self.endpoints)

    def _check_alerts(self) -> None:
        """Before the load and before anything is injected: refuse to start while an alert fires (unless
        alerts.allow_firing_at_start), and refuse when the monitoring does not answer (never assume "quiet")."""
        from drills.platform.alert_watch import firing_alerts

        self.monitoring = monitoring = self._monitoring()
        alerts = self.scenario.alerts
        if monitoring is None:
            if alerts is not None and (alerts.expected or alerts.abort_on):
                self.log("monitoring is off: the expected alerts cannot be judged (their budgets are unknown)")
            return
        firing = firing_alerts(monitoring)   # MonitoringUnavailable (exit 3) when neither source answers
        if not firing:
            return
        names = sorted({str(a.get("alertname")) for a in firing})
        words = ", ".join(_alert_words(a) for a in firing[:10]) + (f" and {len(firing) - 10} more"
                                                                    if len(firing) > 10 else "")
        if alerts is not None and alerts.allow_firing_at_start:
            self.log(f"already firing (allowed by alerts.allow_firing_at_start): {words}")
            self.events.emit("run", name="alerts_firing_at_start", alerts=names)
            return
        raise PreconditionFailed(f"refusing to start: {len(firing)} alert(s) already firing before any fault: "
                                 f"{words}", hint="let the system settle or fix what fires; to drill anyway, set "
                                                  "`alerts: {allow_firing_at_start: true}` in the scenario")

    def _watch_alerts(self) -> None:
        """Record alert states and notifications (alerts.jsonl) from just before the load starts."""
        if self.monitoring is None:
            return
        from drills.platform.alert_watch import AlertWatch

        self.alert_watch = AlertWatch(self.monitoring, self.run_dir, log=self.log).start()
        m = self.monitoring
        self.events.emit("run", name="alerts_watched", prometheus=bool(m.prometheus),
                         alertmanager=bool(m.alertmanager), receiver=bool(m.receiver))

    def _stop_alert_watch(self) -> None:
        if self.alert_watch is None:
            return
        try:
            self.alert_watch.stop()
        except Exception as exc:  # the record so far is on disk; a failing stop must not cost the heal
            self.log(f"stopping the alert watch failed: {exc}")
        self.alert_watch = None


def _alert_words(alert: dict) -> str:
    """An alert as the refusal names it: its name and its labels other than alertname."""
    found = alert.get("labels")
    labels: dict = found if isinstance(found, dict) else {}
    extra = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname", "severity"))
    return f"{alert.get('alertname')}" + (f" ({extra})" if extra else "")


def check_out(out: Path) -> None:
    """`--out` must be new or an empty directory: refused (UsageError) before anything starts."""
    try:
        newrun.check_out(out)
    except RunDirError as exc:
        raise UsageError(exc.message, hint=exc.hint) from None


def _claim(scenario_name: str, run_dir: Path) -> tuple[str, owner.Owner, str]:
    """A unique run id, recorded with its owner (this process) before anything of the run exists, so `drill
    clean` leaves the run alone while it lives; and the run secret, kept out of the run directory."""
    for _ in range(5):
        run_id = new_run_id(scenario_name)
        try:
            claimed = owner.claim(run_id, run_dir)
        except FileExistsError:
            continue  # the same id in the same second (24 random bits): draw again
        except OSError as exc:
            raise _state_dir_error(exc) from None
        try:
            return run_id, claimed, vault.new_run_secret(run_id)
        except OSError as exc:
            owner.release(run_id)
            raise _state_dir_error(exc) from None
    raise InfrastructureError("no unused run id after 5 tries")


def _state_dir_error(exc: OSError) -> InfrastructureError:
    return InfrastructureError(f"the state directory {state_dir()} is not writable: {exc.strerror or exc}",
                               hint="set DRILLS_STATE_DIR to a writable directory")


def _kept_in(path: Path, log: Log) -> Log:
    """Every harness log line also goes to the run directory: under pytest or CI nobody sees the terminal, and
    the reason a drill errored must outlive it."""
    def both(message: str) -> None:
        try:
            with path.open("a", encoding="utf-8") as f:
                f.write(f"{time.strftime('%H:%M:%S')} {message}\n")
        except OSError:
            pass
        log(message)

    return both


def _never_raises(log: Log) -> Log:
    """A closed stdout (`drill run | head`) must not stop the heal: logging errors are dropped."""
    def safe(message: str) -> None:
        try:
            log(message)
        except Exception:
            pass

    return safe
