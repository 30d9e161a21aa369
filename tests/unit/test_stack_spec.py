import json
from types import SimpleNamespace

import pytest
import yaml
from docker.errors import NotFound

from drills.errors import StackError
from drills.platform import labels, stack_spec
from drills.platform.stack import OPTIONS_LABEL, Stack, _endpoints
from drills.platform.stack_spec import StackCredentials, StackOptions


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


def test_haproxys_own_503_is_classified_as_a_definite_failure():
    """HAProxy makes a 503 only for a request it never forwarded (docs/load.md): its body must be one the load's
    classifier reads as `fail`, for the api backend only (the postgres listener is TCP)."""
    from drills.load.locust_side.classify import FAIL, classify
    cfg = stack_spec.render_haproxy(StackOptions())
    rules = [line.strip() for line in cfg.splitlines() if line.strip().startswith("http-error")]
    assert len(rules) == 1 and rules[0].startswith("http-error status 503 content-type application/json string ")
    assert cfg.index("backend api") < cfg.index(rules[0]) < cfg.index("listen postgres")
    body = json.loads(rules[0].split(" string ", 1)[1].strip("'"))
    assert classify(503, {"Content-Type": "application/json"}, body) == (FAIL, "no_server")


def test_toxiproxy_links_cover_api_to_db_and_lb_to_api():
    proxies = {p["name"]: p for p in stack_spec.toxiproxy_proxies(StackOptions(api_replicas=2, zones=1))}
    assert set(proxies) == {"api1_db", "api2_db", "lb_api1", "lb_api2"}
    assert proxies["api2_db"]["upstream"] == "haproxy:5432"
    assert proxies["lb_api1"]["upstream"] == "api1:8000"
    assert all(p["listen"].startswith("0.0.0.0:") for p in proxies.values())


def test_services_are_labelled_and_only_diagnostics_are_published():
    services = stack_spec.services(StackOptions(zones=1), "tok")
    names = [s.service for s in services]
    assert names == ["etcd1", "etcd2", "etcd3", "pg1", "pg2", "pg3", "toxiproxy", "api1", "api2", "api3", "haproxy",
                     "prometheus", "alertmanager", "alert-receiver", "stack-exporter"]
    published = {s.service: sorted(s.ports) for s in services if s.ports}
    assert published == {
        "pg1": ["8008/tcp"], "pg2": ["8008/tcp"], "pg3": ["8008/tcp"],
        "toxiproxy": ["8474/tcp"], "haproxy": ["5432/tcp", "8080/tcp", "8404/tcp", "9999/tcp"],
        "prometheus": ["9090/tcp"], "alertmanager": ["9093/tcp"], "alert-receiver": ["9095/tcp"],
    }
    lbl = services[0].labels("run-1", "s")
    assert lbl == {"drills.run": "run-1", "drills.stack": "s", "drills.service": "etcd1", "drills.role": "etcd",
                   "drills.zone": "a"}
    tox = next(s for s in services if s.service == "toxiproxy")
    assert len(json.loads(tox.files["/etc/toxiproxy/proxies.json"])) == 6


def test_options_validation_names_each_problem():
    problems = StackOptions(name="bad name!", api_replicas=0, api_port=70000).validate()
    assert any("stack name" in p for p in problems)
    assert any("api_replicas" in p for p in problems)
    assert any("api_port" in p for p in problems)
    assert StackOptions().validate() == []


# ---- credentials: random per stack, only in the containers' environment ----------------------------------

class _FakeContainer:
    def __init__(self, kw: dict) -> None:
        self.kw, self.files = kw, b""

    def put_archive(self, path: str, data: bytes) -> None:
        self.files += data

    def start(self) -> None:
        pass


class _FakeDocker:
    """The few engine calls Stack makes to create a stack, recorded."""

    def __init__(self) -> None:
        self.created: dict[str, _FakeContainer] = {}
        self.network_labels: dict[str, str] = {}
        self.api = SimpleNamespace(_version="1.41")
        self.networks = SimpleNamespace(create=self._net_create, list=self._net_list)
        self.volumes = SimpleNamespace(create=lambda **kw: SimpleNamespace(name=kw["name"]), get=self._no_volume)
        self.containers = SimpleNamespace(create=self._create)

    def _net_create(self, name: str, driver: str, labels: dict[str, str], ipam=None) -> SimpleNamespace:
        """Like the engine: without `ipam` a free subnet is chosen (a zoned stack asks for one, then re-makes
        the network with Docker's allocation confined to its lower half)."""
        self.network_labels, self.ipam = labels, ipam
        config = ipam["Config"] if ipam else [{"Subnet": "172.29.0.0/16"}]
        return SimpleNamespace(attrs={"IPAM": {"Config": config}}, reload=lambda: None, remove=lambda: None)

    def _net_list(self, filters: dict) -> list:
        return [SimpleNamespace(attrs={"Labels": self.network_labels})] if self.network_labels else []

    @staticmethod
    def _no_volume(name: str) -> None:
        raise NotFound(name)

    def _create(self, image: str, **kw) -> _FakeContainer:
        self.created[kw["hostname"]] = c = _FakeContainer(kw)
        return c


def _secrets(creds: StackCredentials) -> list[str]:
    return [creds.superuser_password, creds.replication_password, creds.app_password, creds.audit_token]


def test_credentials_are_random_per_stack_and_never_shown() -> None:
    a, b = StackCredentials.generate("tok-a"), StackCredentials.generate("tok-b")
    assert len({a.superuser_password, a.replication_password, a.app_password, b.app_password}) == 4
    assert all(len(s) >= 32 for s in _secrets(a)[:3])
    assert not any(s in repr(a) for s in _secrets(a))
    assert StackCredentials.decode(a.encode()) == a
    assert StackCredentials.decode(None) is None and StackCredentials.decode("{bad") is None


def test_no_secret_in_any_spec_or_rendered_config() -> None:
    for restore in (None, stack_spec.RestorePlan(sets=("s1",))):
        auth = yaml.safe_load(stack_spec.render_patroni(StackOptions(), "pg1", restore))["postgresql"]["authentication"]
        assert auth == {"superuser": {"username": "postgres"}, "replication": {"username": "replicator"}}
    for spec in stack_spec.services(StackOptions(), "tok"):
        assert not [k for k in spec.environment if "PASSWORD" in k or "TOKEN" in k], spec.service
        assert not [v for v in spec.environment.values() if "password=" in v.lower()], spec.service


def test_each_container_gets_only_the_secrets_of_its_role(tmp_path) -> None:
    docker = _FakeDocker()
    creds = StackCredentials.generate("the-audit-token")
    stack = Stack(docker, "s")  # type: ignore[arg-type]
    stack._create(StackOptions(name="s"), "s-run", creds)
    assert stack.credentials() == creds and stack.audit_token() == "the-audit-token"
    assert {k: v for k, v in docker.ipam["Config"][0].items() if v} == {
        "Subnet": "172.29.0.0/16", "IPRange": "172.29.0.0/17", "Gateway": "172.29.0.1"}
    assert docker.created["haproxy2"].kw["networking_config"]["drills-s"]["IPAMConfig"]["IPv4Address"] == \
        "172.29.255.252"
    assert not any(s in docker.network_labels[OPTIONS_LABEL] for s in _secrets(creds))
    for name, c in docker.created.items():
        env = c.kw["environment"]
        shown = [s for s in _secrets(creds) if s in json.dumps(env)]
        assert not any(s.encode() in c.files for s in _secrets(creds)), f"{name}: a secret in its files"
        if name.startswith("api"):
            assert env["PGPASSWORD"] == creds.app_password and env["AUDIT_TOKEN"] == creds.audit_token
            assert "password" not in env["DATABASE_URL"]
            assert sorted(shown) == sorted([creds.app_password, creds.audit_token])
        elif name.startswith("pg"):
            assert env["PATRONI_SUPERUSER_PASSWORD"] == creds.superuser_password
            assert env["PATRONI_REPLICATION_PASSWORD"] == creds.replication_password
            assert env["DRILLS_APP_PASSWORD"] == creds.app_password and creds.audit_token not in shown
        else:
            assert shown == [], f"{name} got secrets it has no use for"
    # a restore re-creates database nodes with the same credentials, read back from the stack
    del docker.created["pg1"]
    stack.start_service(stack_spec.db_service(StackOptions(name="s"), "pg1", stack_spec.RestorePlan(sets=("x",))))
    assert docker.created["pg1"].kw["environment"]["PATRONI_SUPERUSER_PASSWORD"] == creds.superuser_password


def test_a_stack_without_credentials_cannot_start_a_service() -> None:
    docker = _FakeDocker()
    docker.network_labels = {"drills.stack": "old"}
    with pytest.raises(StackError, match="no credentials"):
        Stack(docker, "old").start_service(stack_spec.db_service(StackOptions(name="old"), "pg1"))  # type: ignore[arg-type]


def test_the_published_database_endpoint_never_carries_the_password() -> None:
    lb = SimpleNamespace(labels={labels.ROLE: "lb"}, attrs={"NetworkSettings": {"Ports": {
        "5432/tcp": [{"HostPort": "40001"}], "8080/tcp": [{"HostPort": "40002"}]}}})
    endpoints = _endpoints({"haproxy": lb})
    assert endpoints["postgres"] == "postgresql://ticketing:***@127.0.0.1:40001/ticketing"
    assert endpoints["api"] == "http://127.0.0.1:40002"
