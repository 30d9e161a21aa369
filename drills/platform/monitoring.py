"""Monitoring in the reference stack: Prometheus, Alertmanager, the drill's alert receiver and the backup
repository's exporter, their configuration files and alert rules (harness/monitoring/), as pure data.

stack_spec.py turns `services()` into ServiceSpecs when a stack has `monitoring: true` (the default); the
rules stay plain files in harness/monitoring/rules/, the one home of alert names (`defined_alerts()`), and
promtool-valid as shipped. What differs per stack is which files are loaded (no synchronous-standby rule on an
asynchronous stack, no backup rules without backups) and the purchase SLO's error budget (slo.yml).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from string import Template
from typing import TYPE_CHECKING, Any

from drills.platform import zones
from drills.platform.images import image_tag
from drills.resources import HARNESS
from drills.scenario.alert_rules import RULES_DIR as ALERT_RULES_DIR
from drills.scenario.alert_rules import rule_alerts

if TYPE_CHECKING:
    from drills.platform.stack_spec import StackOptions

MONITORING_DIR = HARNESS / "monitoring"
RULES_DIR = ALERT_RULES_DIR

ROLE = "monitoring"                 # the static role label of every container here (never a fault target)
PROMETHEUS, ALERTMANAGER, RECEIVER, EXPORTER = "prometheus", "alertmanager", "alert-receiver", "stack-exporter"
PROMETHEUS_PORT, ALERTMANAGER_PORT, RECEIVER_PORT, EXPORTER_PORT = 9090, 9093, 9095, 9188
DEFAULT_PURCHASE_SLO = 0.999
# Rule files loaded only on some stacks; every other file in rules/ is loaded everywhere.
SYNC_RULES, BACKUP_RULES, SLO_RULES = "sync-replication.yml", "backups.yml", "slo.yml"
_BUDGET_EXPR = "expr: vector(0.001)"

PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"
RULES_PATH = "/etc/prometheus/rules"
ALERTMANAGER_CONFIG = "/etc/alertmanager/alertmanager.yml"


def rule_file_names(synchronous: bool, backups: bool) -> list[str]:
    """The rule files a stack loads, sorted."""
    names = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        if (path.name == SYNC_RULES and not synchronous) or (path.name == BACKUP_RULES and not backups):
            continue
        names.append(path.name)
    return names


def extra_rule_name(index: int, path: str) -> str:
    """Where a scenario's own rule file goes beside the shipped ones: numbered (two files may share a name) and
    ending .yml (Prometheus loads rules/*.yml)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", PurePosixPath(path).stem).strip("-")[:60] or "rules"
    return f"scenario-{index}-{stem}.yml"


def render_slo(purchase_slo: float) -> str:
    """slo.yml with the error budget 1 - purchase_slo (the shipped file is the default, 99.9 %)."""
    text = (RULES_DIR / SLO_RULES).read_text()
    if _BUDGET_EXPR not in text:
        raise ValueError(f"{RULES_DIR / SLO_RULES} no longer holds {_BUDGET_EXPR!r}")
    budget = round(1.0 - purchase_slo, 9)
    return text.replace(_BUDGET_EXPR, f"expr: vector({budget:.9g})")


def rule_files(synchronous: bool, backups: bool, purchase_slo: float = DEFAULT_PURCHASE_SLO) -> dict[str, str]:
    """file name -> content of the rules a stack loads."""
    out = {}
    for name in rule_file_names(synchronous, backups):
        out[name] = render_slo(purchase_slo) if name == SLO_RULES else (RULES_DIR / name).read_text()
    return out


def _targets(names: Sequence[str], port: int) -> str:
    return ", ".join(f'"{n}:{port}"' for n in names)


def render_prometheus(stack: str, patroni: Sequence[str], etcd: Sequence[str], api: Sequence[str],
                      backups: bool, api_port: int = 8000, lbs: Sequence[str] = ("haproxy",)) -> str:
    """prometheus.yml: every node of the stack by container name on the stack's network."""
    extra = ""
    if backups:
        extra = (f"  - job_name: backups\n    static_configs:\n      - targets: [\"{EXPORTER}:{EXPORTER_PORT}\"]\n"
                 f"    relabel_configs: *service\n")
    return Template((MONITORING_DIR / "prometheus.yml.tmpl").read_text()).substitute(
        stack=stack, patroni_targets=_targets(patroni, 8008), etcd_targets=_targets(etcd, 2379),
        api_targets=_targets(api, api_port), lb_targets=_targets(lbs, 8404), extra_jobs=extra)


def render_alertmanager() -> str:
    return (MONITORING_DIR / "alertmanager.yml.tmpl").read_text()


def services(opts: StackOptions, patroni: Sequence[str], etcd: Sequence[str], api: Sequence[str],
             stanza: str, repo_path: str) -> list[dict[str, Any]]:
    """The monitoring containers of a stack as ServiceSpec keyword arguments (stack_spec builds them)."""
    image = image_tag("monitoring")
    synchronous = not opts.async_replication and opts.db_nodes > 1
    rules = rule_files(synchronous, opts.backups, opts.purchase_slo)
    prom_files = {PROMETHEUS_CONFIG: render_prometheus(opts.name, patroni, etcd, api, opts.backups,
                                                       lbs=zones.lb_names(opts.zones))}
    prom_files.update({f"{RULES_PATH}/{name}": text for name, text in rules.items()})
    prom_files.update({f"{RULES_PATH}/{extra_rule_name(i, path)}": text
                       for i, (path, text) in enumerate(sorted(opts.extra_rules.items()))})
    out: list[dict[str, Any]] = [
        dict(service=PROMETHEUS, role=ROLE, kind=ROLE, image=image, user="prometheus",
             command=["/usr/bin/prometheus", f"--config.file={PROMETHEUS_CONFIG}", "--storage.tsdb.path=/prometheus",
                      "--storage.tsdb.retention.time=3d", f"--web.listen-address=0.0.0.0:{PROMETHEUS_PORT}"],
             ports={f"{PROMETHEUS_PORT}/tcp": None}, files=prom_files),
        # --cluster.listen-address= : no HA gossip, so no "settling" delay before the first notification.
        dict(service=ALERTMANAGER, role=ROLE, kind=ROLE, image=image, user="prometheus",
             command=["/usr/bin/prometheus-alertmanager", f"--config.file={ALERTMANAGER_CONFIG}",
                      "--storage.path=/alertmanager", f"--web.listen-address=0.0.0.0:{ALERTMANAGER_PORT}",
                      "--cluster.listen-address="],
             ports={f"{ALERTMANAGER_PORT}/tcp": None}, files={ALERTMANAGER_CONFIG: render_alertmanager()}),
        dict(service=RECEIVER, role=ROLE, kind=ROLE, image=image, user="nobody",
             command=["python3", "/usr/local/bin/drills-alert-receiver"],
             environment={"RECEIVER_PORT": str(RECEIVER_PORT)},
             ports={f"{RECEIVER_PORT}/tcp": None}),
    ]
    if opts.backups:
        # root: the repository is the postgres user's (mode 750); mounted read-only, so root reads, never writes.
        out.append(dict(service=EXPORTER, role=ROLE, kind=ROLE, image=image, user="root",
                        command=["python3", "/usr/local/bin/drills-stack-exporter"],
                        environment={"DRILLS_STANZA": stanza, "DRILLS_REPO": repo_path,
                                     "DRILLS_BACKUP_INTERVAL": str(opts.backup_interval_s),
                                     "DRILLS_ARCHIVING": "1", "EXPORTER_PORT": str(EXPORTER_PORT)},
                        shared_volumes={"backups": repo_path}, read_only_volumes=("backups",)))
    return out


def defined_alerts(rules_dir: Path = RULES_DIR) -> dict[str, dict[str, str]]:
    """Every alert the shipped rules define: name -> {file, severity, summary}. The rule files are the one
    home of alert names; drills.scenario.alert_rules is the one reader (the validator uses it too)."""
    return rule_alerts(rules_dir) or {}
