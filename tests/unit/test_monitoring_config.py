"""The reference stack's monitoring as data: rendered Prometheus and Alertmanager configs, which rule files a
stack loads, and the rules themselves (every alert the issue asks for, each with a severity and a summary)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from drills.platform import labels, monitoring, stack_spec
from drills.platform.stack_spec import StackOptions

REQUIRED_ALERTS = {
    "PatroniNoLeader", "PatroniFailover", "PatroniSyncStandbyMissing", "PatroniReplicationLagHigh",
    "ApiReplicaDownInLoadBalancer", "AllApiReplicasDown", "EtcdMemberDown", "EtcdQuorumAtRisk",
    "WalArchivingFailing", "BackupTooOld", "PurchaseErrorBudgetBurn", "PurchaseLatencyHigh",
}


def _rules() -> list[tuple[str, dict]]:
    out = []
    for path in sorted(monitoring.RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            out += [(path.name, rule) for rule in group["rules"]]
    return out


def _spec(opts: StackOptions, service: str) -> stack_spec.ServiceSpec:
    return next(s for s in stack_spec.services(opts, "tok") if s.service == service)


def test_every_alert_the_failure_protocol_needs_is_defined_once():
    names = [rule["alert"] for _, rule in _rules() if "alert" in rule]
    assert len(names) == len(set(names)), "an alert name is defined twice"
    assert REQUIRED_ALERTS <= set(names), REQUIRED_ALERTS - set(names)
    assert set(monitoring.defined_alerts()) == set(names)


def test_every_alert_has_a_severity_and_a_summary_and_a_short_for():
    for file, rule in _rules():
        if "alert" not in rule:
            continue
        assert rule["labels"]["severity"] in ("page", "warning", "ticket"), (file, rule["alert"])
        assert rule["annotations"]["summary"].strip(), (file, rule["alert"])
        # Notified within ~15 s of a fault: no rule may wait longer than 30 s before firing.
        for_s = rule.get("for", "0s")
        assert for_s.endswith("s") and int(for_s[:-1]) <= 30, (rule["alert"], for_s)


def test_the_leader_rules_fire_fast_enough_for_a_15_second_notification():
    rules = {r["alert"]: r for _, r in _rules() if "alert" in r}
    assert rules["PatroniNoLeader"]["for"] == "3s"
    assert "for" not in rules["PatroniFailover"]


def test_prometheus_config_scrapes_every_node_each_second():
    opts = StackOptions(name="s1", api_replicas=2, zones=2)
    spec = _spec(opts, "prometheus")
    doc = yaml.safe_load(spec.files[monitoring.PROMETHEUS_CONFIG])
    assert doc["global"]["scrape_interval"] == doc["global"]["evaluation_interval"] == "1s"
    assert doc["global"]["scrape_timeout"] == "1s"
    jobs = {j["job_name"]: j["static_configs"][0]["targets"] for j in doc["scrape_configs"]}
    assert jobs == {"patroni": ["pg1:8008", "pg2:8008", "pg3:8008"],
                    "etcd": ["etcd1:2379", "etcd2:2379", "etcd3:2379"],
                    "haproxy": ["haproxy1:8404", "haproxy2:8404"], "api": ["api1:8000", "api2:8000"],
                    "backups": ["stack-exporter:9188"]}
    assert all(j["relabel_configs"][0]["target_label"] == "service" for j in doc["scrape_configs"])
    assert doc["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert doc["rule_files"] == ["/etc/prometheus/rules/*.yml"]


def test_rule_files_follow_the_stack_options():
    def loaded(opts: StackOptions) -> set[str]:
        files = _spec(opts, "prometheus").files
        return {Path(p).name for p in files if p.startswith(monitoring.RULES_PATH)}

    assert {"sync-replication.yml", "backups.yml", "slo.yml", "patroni.yml"} <= loaded(StackOptions())
    assert "sync-replication.yml" not in loaded(StackOptions(async_replication=True))
    assert "sync-replication.yml" not in loaded(StackOptions(db_nodes=1))
    assert "backups.yml" not in loaded(StackOptions(backups=False))


def test_the_slo_sets_the_error_budget():
    assert monitoring.render_slo(0.999) == (monitoring.RULES_DIR / "slo.yml").read_text()
    doc = yaml.safe_load(monitoring.render_slo(0.99))
    assert doc["groups"][0]["rules"][0]["expr"] == "vector(0.01)"
    assert "vector(0.0001)" in monitoring.render_slo(0.9999)
    assert StackOptions(purchase_slo=1.0).validate() and StackOptions(purchase_slo=0.2).validate()


def test_alertmanager_routes_everything_to_the_drills_receiver_at_once():
    doc = yaml.safe_load(_spec(StackOptions(), "alertmanager").files[monitoring.ALERTMANAGER_CONFIG])
    route = doc["route"]
    assert route["receiver"] == "drills" and route["group_by"] == ["..."] and not route.get("routes")
    assert (route["group_wait"], route["group_interval"]) == ("1s", "1s")
    hook = doc["receivers"][0]["webhook_configs"][0]
    assert hook["url"] == f"http://{monitoring.RECEIVER}:{monitoring.RECEIVER_PORT}/webhook"
    assert hook["send_resolved"] is True


def test_monitoring_containers_are_labelled_helpers_not_targets():
    services = {s.service: s for s in stack_spec.services(StackOptions(), "tok")}
    mon = [s for s in services.values() if s.role == monitoring.ROLE]
    assert sorted(s.service for s in mon) == ["alert-receiver", "alertmanager", "prometheus", "stack-exporter"]
    for s in mon:
        lbl = s.labels("run-1", "st")
        assert lbl[labels.KIND] == monitoring.ROLE and lbl[labels.RUN] == "run-1" and lbl[labels.STACK] == "st"
        assert s.image == "drills/monitoring:latest"
    exporter = services["stack-exporter"]
    assert exporter.shared_volumes == {"backups": stack_spec.BACKUP_REPO_PATH}
    assert exporter.read_only_volumes == ("backups",)
    assert "--cluster.listen-address=" in services["alertmanager"].command  # no gossip settle delay
    assert labels.KIND not in services["pg1"].labels("r", "s")


def test_monitoring_off_or_without_backups():
    assert not [s for s in stack_spec.services(StackOptions(monitoring=False), "t") if s.role == monitoring.ROLE]
    names = [s.service for s in stack_spec.services(StackOptions(backups=False), "t") if s.role == monitoring.ROLE]
    assert names == ["prometheus", "alertmanager", "alert-receiver"]


def test_haproxy_exposes_its_prometheus_exporter_on_the_stats_frontend():
    cfg = stack_spec.render_haproxy(StackOptions())
    stats = cfg.split("frontend stats", 1)[1]
    assert "http-request use-service prometheus-exporter if { path /metrics }" in stats
    assert stats.index("use-service") < stats.index("stats enable")


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed here (the integration "
                    "test runs it inside the monitoring image)")
def test_promtool_accepts_the_rendered_rules_and_config(tmp_path: Path):
    spec = _spec(StackOptions(), "prometheus")
    for path, text in spec.files.items():
        target = tmp_path / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    rules = sorted(str(p) for p in (tmp_path / "etc/prometheus/rules").glob("*.yml"))
    out = subprocess.run(["promtool", "check", "rules", *rules], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed here (the integration "
                    "test runs it inside the monitoring image)")
def test_the_rules_do_what_they_say_on_synthetic_series():
    out = subprocess.run(["promtool", "test", "rules", str(monitoring.MONITORING_DIR / "tests" / "rules_test.yml")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_status_endpoints_name_the_published_monitoring_ports():
    from types import SimpleNamespace

    from drills.platform.stack import _endpoints

    def container(service: str, port: int, host: int) -> SimpleNamespace:
        return SimpleNamespace(labels={labels.ROLE: monitoring.ROLE, labels.SERVICE: service},
                               attrs={"NetworkSettings": {"Ports": {f"{port}/tcp": [{"HostPort": str(host)}]}}})

    found = _endpoints({"prometheus": container("prometheus", 9090, 41001),
                        "alertmanager": container("alertmanager", 9093, 41002),
                        "alert-receiver": container("alert-receiver", 9095, 41003),
                        "stack-exporter": SimpleNamespace(labels={labels.ROLE: monitoring.ROLE}, attrs={})})
    assert found == {"patroni": {}, "prometheus": "http://127.0.0.1:41001",
                     "alertmanager": "http://127.0.0.1:41002", "alert_receiver": "http://127.0.0.1:41003"}


def test_a_stack_made_before_monitoring_is_read_as_having_none():
    import json
    from types import SimpleNamespace

    from drills.platform.stack import OPTIONS_LABEL, Stack

    old = {"name": "old", "api_replicas": 3}
    net = SimpleNamespace(attrs={"Labels": {OPTIONS_LABEL: json.dumps(old)}})
    client = SimpleNamespace(networks=SimpleNamespace(list=lambda filters: [net]))
    assert Stack(client, "old").options().monitoring is False
    net.attrs["Labels"][OPTIONS_LABEL] = json.dumps({**old, "monitoring": True})
    assert Stack(client, "old").options().monitoring is True
