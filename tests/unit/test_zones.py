"""Zones of the reference stack: placement, the VIP plan, keepalived/HAProxy rendering, validation, targets."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from types import SimpleNamespace

import pytest

from drills.platform import labels, stack_spec, zones
from drills.platform.stack import _api_problem, _endpoints
from drills.platform.stack_spec import StackOptions
from drills.scenario import ScenarioInvalid, load_scenario, scenario_from_dict
from drills.scenario.topology import most_nodes, topology_of

# ---- placement -------------------------------------------------------------------------------------------------


def test_nodes_go_round_robin_over_the_zones_and_the_two_lbs_to_a_and_b():
    placed = zones.zone_of_services(StackOptions(zones=3, api_replicas=5))
    assert [placed[f"pg{i}"] for i in (1, 2, 3)] == ["a", "b", "c"]
    assert [placed[f"etcd{i}"] for i in (1, 2, 3)] == ["a", "b", "c"]
    assert [placed[f"api{i}"] for i in range(1, 6)] == ["a", "b", "c", "a", "b"]
    assert (placed["haproxy1"], placed["haproxy2"]) == ("a", "b")
    assert "toxiproxy" not in placed and "haproxy" not in placed


def test_two_zones_put_the_third_database_node_back_in_zone_a():
    placed = zones.zone_of_services(StackOptions(zones=2))
    assert [placed[f"pg{i}"] for i in (1, 2, 3)] == ["a", "b", "a"]
    assert set(placed.values()) == {"a", "b"}


def test_one_zone_is_todays_layout_with_a_single_haproxy():
    opts = StackOptions(zones=1)
    names = [s.service for s in stack_spec.services(opts, "t")]
    assert names.count("haproxy") == 1 and "haproxy1" not in names
    assert set(zones.zone_of_services(opts).values()) == {"a"}
    lb = next(s for s in stack_spec.services(opts, "t") if s.service == "haproxy")
    assert stack_spec.KEEPALIVED_CONFIG not in lb.files and not lb.cap_add and lb.ipv4_address is None
    assert stack_spec.toxiproxy_proxies(opts)[0]["upstream"] == "haproxy:5432"


def test_zoned_containers_carry_the_zone_label_and_instruments_none():
    specs = {s.service: s for s in stack_spec.services(StackOptions(), "t")}
    assert specs["pg2"].labels("r", "s")[labels.ZONE] == "b"
    assert specs["api3"].labels("r", "s")[labels.ZONE] == "c"
    lb2 = specs["haproxy2"].labels("r", "s")
    assert (lb2[labels.ZONE], lb2[labels.GROUP], lb2[labels.ROLE]) == ("b", "haproxy", "lb")
    for instrument in ("toxiproxy", "prometheus", "alertmanager"):
        assert labels.ZONE not in specs[instrument].labels("r", "s")


def test_the_zone_count_must_fit_the_nodes():
    assert StackOptions(zones=3).validate() == []
    problems = StackOptions(zones=4).validate()
    assert problems and "at most 3 zones" in problems[0]
    assert "2 API replicas" in StackOptions(zones=3, api_replicas=2).validate()[0]


# ---- the VIP ---------------------------------------------------------------------------------------------------


def test_the_vip_and_lb_addresses_are_outside_dockers_allocation_range():
    plan = zones.plan_addresses("172.20.0.0/16")
    assert plan.ip_range == "172.20.0.0/17"
    assert plan.vip == "172.20.255.254"
    assert plan.lb_ips == {"haproxy1": "172.20.255.253", "haproxy2": "172.20.255.252"}
    alloc = ipaddress.ip_network(plan.ip_range)
    for ip in (plan.vip, *plan.lb_ips.values()):
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(plan.subnet)
        assert ipaddress.ip_address(ip) not in alloc
    assert zones.plan_addresses("192.168.48.0/20").vip == "192.168.63.254"
    with pytest.raises(ValueError, match="/28 or larger"):
        zones.plan_addresses("10.0.0.0/30")


def test_the_plan_is_read_back_from_the_network_only_when_we_made_its_subnet():
    attrs = {"IPAM": {"Config": [{"Subnet": "172.21.0.0/16", "IPRange": "172.21.0.0/17"}]}}
    found = zones.addresses_of_network(attrs, ["haproxy1", "haproxy2"])
    assert found is not None and found.vip == "172.21.255.254"
    assert zones.addresses_of_network({"IPAM": {"Config": [{"Subnet": "172.22.0.0/16"}]}}, ["haproxy"]) is None


def test_keepalived_uses_unicast_to_the_peer_and_holds_the_vip():
    plan = zones.plan_addresses("172.20.0.0/16")
    conf1 = zones.render_keepalived("zs", "haproxy1", plan)
    conf2 = zones.render_keepalived("zs", "haproxy2", plan)
    assert "${" not in conf1
    assert "unicast_src_ip 172.20.255.253" in conf1 and "        172.20.255.252" in conf1
    assert "unicast_src_ip 172.20.255.252" in conf2 and "        172.20.255.253" in conf2
    assert "172.20.255.254/16 dev eth0" in conf1 and "nopreempt" in conf1
    assert f"virtual_router_id {zones.router_id('zs')}" in conf2 and 1 <= zones.router_id("zs") <= 255
    assert "priority 110" in conf1 and "priority 100" in conf2
    assert "ping -n -q -c 1 -W 1 172.20.0.1" in conf1 and "chk_clients" in conf1.split("track_script")[-1]
    assert plan.gateway == "172.20.0.1"


def test_each_lb_names_itself_in_x_lb_and_opens_the_runtime_api():
    opts = StackOptions()
    cfg = stack_spec.render_haproxy(opts, "haproxy2")
    assert "http-after-response set-header X-LB haproxy2" in cfg
    assert f"stats socket ipv4@0.0.0.0:{zones.ADMIN_PORT} level admin" in cfg
    assert "${" not in cfg
    specs = {s.service: s for s in stack_spec.services(opts, "t", zones.plan_addresses("172.20.0.0/16"))}
    lb1 = specs["haproxy1"]
    assert lb1.ipv4_address == "172.20.255.253" and lb1.cap_add == ("NET_ADMIN",)
    assert f"{zones.ADMIN_PORT}/tcp" in lb1.ports
    assert "172.20.255.254" in lb1.files[stack_spec.KEEPALIVED_CONFIG]
    assert stack_spec.toxiproxy_proxies(opts, zones.plan_addresses("172.20.0.0/16"))[0]["upstream"] == \
        "172.20.255.254:5432"


def test_who_holds_the_vip_is_read_from_ip_addr_output():
    # `ip -o` output: one line per address, continuation marked with a backslash
    out = ("11: eth0    inet 172.20.255.252/16 brd 172.20.255.255 scope global eth0\\       valid_lft forever\n"
           "11: eth0    inet 172.20.255.254/16 scope global secondary eth0\\       valid_lft forever\n")
    assert zones.holds(out, "172.20.255.254")
    assert not zones.holds(out.splitlines()[0], "172.20.255.254")
    assert not zones.holds("inet 172.20.255.2540/16", "172.20.255.254")

    class C:
        def __init__(self, output: str, status: str = "running") -> None:
            self.output, self.status = output, status

        def exec_run(self, cmd):
            return 0, self.output.encode()

    lbs = {"haproxy1": C(out.splitlines()[0]), "haproxy2": C(out), "haproxy3": C(out, status="exited")}
    assert zones.vip_holders(lbs, "172.20.255.254") == ["haproxy2"]


def test_endpoints_with_a_vip_point_the_clients_at_it_and_list_each_lb():
    def lb(stats: str, admin: str) -> SimpleNamespace:
        return SimpleNamespace(labels={labels.ROLE: "lb"}, attrs={"NetworkSettings": {"Ports": {
            "8404/tcp": [{"HostPort": stats}], "9999/tcp": [{"HostPort": admin}], "8080/tcp": [{"HostPort": "1"}],
            "5432/tcp": [{"HostPort": "2"}]}}})

    found = _endpoints({"haproxy2": lb("41002", "42002"), "haproxy1": lb("41001", "42001")}, "172.20.255.254")
    assert found["api"] == "http://172.20.255.254:8080"
    assert found["postgres"] == "postgresql://ticketing:***@172.20.255.254:5432/ticketing"
    assert found["haproxy_stats"] == "http://127.0.0.1:41001"   # the first LB's, as a one-LB stack had
    assert found["haproxy_stats_all"] == {"haproxy1": "http://127.0.0.1:41001", "haproxy2": "http://127.0.0.1:41002"}
    assert found["haproxy_admin"] == {"haproxy1": "127.0.0.1:42001", "haproxy2": "127.0.0.1:42002"}
    assert found["api_direct"] == {"haproxy1": "http://127.0.0.1:1", "haproxy2": "http://127.0.0.1:1"}


def test_an_api_replica_problem_names_the_lbs_that_disagree():
    assert _api_problem("api2", {"haproxy1": "DOWN", "haproxy2": "DOWN"}) == \
        "api2 is DOWN in haproxy (GET /readyz)"
    assert _api_problem("api2", {"haproxy1": "UP", "haproxy2": "DOWN"}) == \
        "api2 is UP in haproxy1, DOWN in haproxy2 (GET /readyz)"


# ---- the scenario side -----------------------------------------------------------------------------------------


def test_zones_left_out_is_three_or_what_the_api_replicas_fill():
    assert scenario_from_dict({"name": "z"}).stack.zones == 3
    assert scenario_from_dict({"name": "z", "stack": {"reference": {"api_replicas": 2}}}).stack.zones == 2
    assert scenario_from_dict({"name": "z", "stack": {"reference": {"zones": 1}}}).stack.zones == 1


def test_more_zones_than_the_nodes_fill_is_an_error_with_file_and_line(tmp_path: Path):
    path = tmp_path / "z.yaml"
    path.write_text("name: z\nstack:\n  reference:\n    api_replicas: 2\n    zones: 3\n")
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path)
    (issue,) = caught.value.issues
    assert (issue.line, issue.path) == (5, "stack.reference.zones")
    assert "at most 2 zones" in str(issue) and "2 API replicas" in str(issue) and "z.yaml" in str(issue)


def test_targets_may_name_one_lb_the_group_or_the_vip_holder():
    kill = {"id": "k", "type": "kill", "at": "10s", "duration": "5s"}
    for target in ({"service": "haproxy1"}, {"service": "haproxy"}, {"role": "lb_active"}):
        scenario_from_dict({"name": "z", "faults": [{**kill, "target": target}]})
    with pytest.raises(ScenarioInvalid, match="lb_active"):
        scenario_from_dict({"name": "z", "stack": {"reference": {"zones": 1}},
                            "faults": [{**kill, "target": {"role": "lb_active"}}]})
    with pytest.raises(ScenarioInvalid, match="haproxy1"):
        scenario_from_dict({"name": "z", "stack": {"reference": {"zones": 1}},
                            "faults": [{**kill, "target": {"service": "haproxy1"}}]})


def test_the_haproxy_group_counts_two_nodes():
    topo = topology_of(scenario_from_dict({"name": "z"}).stack)
    assert most_nodes(topo, "haproxy", None) == (2, "`haproxy` names the reference stack's 2 load balancers")
    assert most_nodes(topo, None, "lb_active")[0] == 1
    assert most_nodes(topo, None, "lb")[0] == 2
