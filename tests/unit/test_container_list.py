"""A container from the engine's list (one request for all) reads like an inspected one for everything a node
is made of: the same Node comes out of either (entry captured from a real `GET /containers/json`)."""

from __future__ import annotations

import copy

from docker.models.containers import Container

from drills.platform.container_list import inspect_shape, listed
from drills.platform.inventory import _node

ENTRY = {
    "Id": "e02c615b298e", "Names": ["/drills-faultspeed-a-haproxy1"], "Image": "drills/haproxy:faultspeed",
    "ImageID": "sha256:1785e19a",
    "Ports": [{"IP": "127.0.0.1", "PrivatePort": 5432, "PublicPort": 47099, "Type": "tcp"},
              {"IP": "127.0.0.1", "PrivatePort": 8080, "PublicPort": 35805, "Type": "tcp"},
              {"IP": "::1", "PrivatePort": 8080, "PublicPort": 35805, "Type": "tcp"},
              {"PrivatePort": 9000, "Type": "tcp"}],
    "Labels": {"drills.group": "haproxy", "drills.role": "lb", "drills.service": "haproxy1",
               "drills.stack": "faultspeed-a", "drills.zone": "a"},
    "State": "running", "Status": "Up 3 minutes",
    "NetworkSettings": {"Networks": {"drills-faultspeed-a": {"Gateway": "172.27.0.1", "IPAddress": "172.27.255.253",
                                                              "IPPrefixLen": 16}}},
}
# what `docker inspect` says of the same container (the fields a node is made of)
INSPECTED = {
    "Id": "e02c615b298e", "Name": "/drills-faultspeed-a-haproxy1",
    "Config": {"Labels": ENTRY["Labels"]}, "State": {"Status": "running", "Running": True, "Paused": False},
    "NetworkSettings": {
        "Networks": ENTRY["NetworkSettings"]["Networks"],
        "Ports": {"5432/tcp": [{"HostIp": "127.0.0.1", "HostPort": "47099"}],
                  "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "35805"}, {"HostIp": "::1", "HostPort": "35805"}],
                  "9000/tcp": None}},
}


def test_a_listed_container_makes_the_same_node_as_an_inspected_one():
    fast, full = Container(attrs=inspect_shape(ENTRY)), Container(attrs=INSPECTED)
    assert (fast.id, fast.name, fast.status, fast.labels) == (full.id, full.name, full.status, full.labels)
    assert fast.name == "drills-faultspeed-a-haproxy1" and fast.status == "running"
    node = _node(fast, "haproxy1", "lb", "drills-faultspeed-a")
    assert node == _node(full, "haproxy1", "lb", "drills-faultspeed-a")
    assert (node.ips, node.gateways, node.published, node.zone, node.group) == \
        (("172.27.255.253",), ("172.27.0.1",), (35805, 47099), "a", "haproxy")


def test_a_stopped_container_has_no_addresses_and_says_so():
    entry = copy.deepcopy(ENTRY)
    entry.update(State="exited", Ports=[], NetworkSettings={"Networks": {"drills-faultspeed-a": {
        "Gateway": "", "IPAddress": ""}}})
    c = Container(attrs=inspect_shape(entry))
    assert c.status == "exited" and not c.attrs["State"]["Running"]
    assert _node(c, "haproxy1", "lb", "drills-faultspeed-a").ips == ()


def test_one_request_lists_them_all():
    class Api:
        calls: list[dict] = []

        def containers(self, all: bool, filters: dict) -> list[dict]:   # noqa: A002 - docker's name
            self.calls.append({"all": all, "filters": filters})
            return [ENTRY]

    class Client:
        api = Api()

        class containers:   # noqa: N801 - docker's name
            @staticmethod
            def prepare_model(attrs: dict) -> Container:
                return Container(attrs=attrs)

    got = listed(Client(), {"label": "drills.stack=faultspeed-a"})   # type: ignore[arg-type]
    assert [c.name for c in got] == ["drills-faultspeed-a-haproxy1"]
    assert Api.calls == [{"all": True, "filters": {"label": "drills.stack=faultspeed-a"}}]
