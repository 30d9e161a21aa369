import json

import yaml

from drills.platform import stack_spec
from drills.platform.stack_spec import StackOptions


def test_patroni_config_is_valid_yaml_with_sync_mode_by_default():
    cfg = yaml.safe_load(stack_spec.render_patroni(StackOptions(), "pg2"))
    dcs = cfg["bootstrap"]["dcs"]
    assert cfg["name"] == "pg2"
    assert dcs["synchronous_mode"] is True and dcs["synchronous_mode_strict"] is True
    assert dcs["loop_wait"] + 2 * dcs["retry_timeout"] <= dcs["ttl"]  # Patroni's own rule
    assert cfg["etcd3"]["hosts"] == "etcd1:2379,etcd2:2379,etcd3:2379"
    assert cfg["postgresql"]["connect_address"] == "pg2:5432"


def test_async_replication_switches_sync_mode_off():
    cfg = yaml.safe_load(stack_spec.render_patroni(StackOptions(async_replication=True), "pg1"))
    assert cfg["bootstrap"]["dcs"]["synchronous_mode"] is False
    assert cfg["bootstrap"]["dcs"]["synchronous_mode_strict"] is False


def test_haproxy_routes_each_api_replica_through_its_own_toxiproxy_link():
    cfg = stack_spec.render_haproxy(StackOptions(api_replicas=4))
    for i in range(1, 5):
        assert f"server api{i} toxiproxy:{stack_spec.LB_PROXY_BASE + i} check" in cfg
    for pg in ("pg1", "pg2", "pg3"):
        assert f"server {pg} {pg}:5432 check port 8008" in cfg
    assert "uri /primary" in cfg and "on-marked-down shutdown-sessions" in cfg
    assert "${" not in cfg


def test_toxiproxy_links_cover_api_to_db_and_lb_to_api():
    proxies = {p["name"]: p for p in stack_spec.toxiproxy_proxies(StackOptions(api_replicas=2))}
    assert set(proxies) == {"api1_db", "api2_db", "lb_api1", "lb_api2"}
    assert proxies["api2_db"]["upstream"] == "haproxy:5432"
    assert proxies["lb_api1"]["upstream"] == "api1:8000"
    assert all(p["listen"].startswith("0.0.0.0:") for p in proxies.values())


def test_services_are_labelled_and_only_diagnostics_are_published():
    services = stack_spec.services(StackOptions(), "tok")
    names = [s.service for s in services]
    assert names == ["etcd1", "etcd2", "etcd3", "pg1", "pg2", "pg3", "toxiproxy", "api1", "api2", "api3", "haproxy"]
    published = {s.service: sorted(s.ports) for s in services if s.ports}
    assert published == {
        "pg1": ["8008/tcp"], "pg2": ["8008/tcp"], "pg3": ["8008/tcp"],
        "toxiproxy": ["8474/tcp"], "haproxy": ["5432/tcp", "8080/tcp", "8404/tcp"],
    }
    lbl = services[0].labels("run-1", "s")
    assert lbl == {"drills.run": "run-1", "drills.stack": "s", "drills.service": "etcd1", "drills.role": "etcd"}
    tox = next(s for s in services if s.service == "toxiproxy")
    assert len(json.loads(tox.files["/etc/toxiproxy/proxies.json"])) == 6


def test_options_validation_names_each_problem():
    problems = StackOptions(name="bad name!", api_replicas=0, api_port=70000).validate()
    assert any("stack name" in p for p in problems)
    assert any("api_replicas" in p for p in problems)
    assert any("api_port" in p for p in problems)
    assert StackOptions().validate() == []
