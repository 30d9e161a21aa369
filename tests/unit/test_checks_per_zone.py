"""Zones judged from a constructed run directory (no Docker): per-zone serving and gaps outside the zone's
faults, per-LB traffic and outages, the VIP's moves, the leader's zone; the report shows them; runs without
zones are unchanged."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest

from drills.checks.per_zone import ZONES_EVENT, fault_zones, longest_gap, placement
from drills.checks.regenerate import RESULT_SCHEMA
from drills.checks.result import judge, write_result
from drills.checks.result_model import read_result
from drills.checks.window import FaultRecord
from drills.load.locust_side.recorder import Recorder
from drills.probes.sampler import ProbeSampler
from drills.report import render_run
from drills.rundir.tolerant import read_complete
from drills.rundir.writers import BufferedLineWriter, EventLog
from drills.runner.placement import client_probe_url, record_zones
from drills.scenario import scenario_from_dict

T0 = 1764150000.0
PLACEMENT = {"etcd1": "a", "etcd2": "b", "etcd3": "c", "pg1": "a", "pg2": "b", "pg3": "c",
             "api1": "a", "api2": "b", "api3": "c", "haproxy1": "a", "haproxy2": "b"}
SCENARIO = {"name": "zones-unit", "phases": {"warmup": "10s", "steady": "40s", "recovery": "10s"},
            "load": {"profile": {"type": "arrival_rate", "rate": 10, "max_users": 20}}}


def _event(t: float, kind: str, **fields: object) -> dict:
    return {"t": round(T0 + t, 3), "mono": round(t, 3), "kind": kind, **fields}


def make_run(root: Path, zones: dict[str, str] | None = PLACEMENT, with_lb: bool = True) -> Path:
    """60 s of purchases every 0.1 s, round robin over api1..3. Zone c is powered off 10-20 s and its replica
    serves again only at 25 s; the VIP moves from haproxy1 to haproxy2 at 30 s (nothing answers until 32 s);
    haproxy2 answers 503 from 45 s to 48 s; the leader moves from pg1 (zone a) to pg2 (zone b) at 40 s."""
    run = root / "run"
    run.mkdir(parents=True)
    (run / "scenario.yaml").write_text(json.dumps(SCENARIO))
    (run / "meta.json").write_text(json.dumps({"run_id": "zones-unit-1", "scenario": "zones-unit", "seed": 1}))
    events = [_event(-5, "run", name="started"), _event(-2, "run", name="stack_ready")]
    if zones is not None:
        events.append(_event(-2, "run", name=ZONES_EVENT, zones=zones))
    events += [_event(0, "run", name="load_started"),
               _event(0, "phase", name="warmup", start_s=0, end_s=10),
               _event(10, "phase", name="steady", start_s=10, end_s=50),
               _event(50, "phase", name="recovery", start_s=50, end_s=60),
               _event(10, "fault", phase="inject", fault_id="power-c", type="kill", iteration=0,
                      target={"zone": "c"}, link=None, params={}, scheduled_s=10, ok=True, error=None),
               _event(20, "fault", phase="heal", fault_id="power-c", type="kill", iteration=0, ok=True, error=None),
               _event(60, "run", name="load_stopped"), _event(61, "run", name="finished")]
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    lines = []
    for k in range(600):
        t = k * 0.1 + 0.05
        replicas = ["api1", "api2"] if 10 <= t < 25 else ["api1", "api2", "api3"]
        replica = replicas[k % len(replicas)]
        lb: str | None = "haproxy1" if t < 30 else "haproxy2"
        outcome, status = "ok", 201
        if 30 <= t < 32:
            lb, replica, outcome, status = None, None, "info", None       # nobody holds the VIP
        elif 45 <= t < 48:
            replica, outcome, status = None, "info", 503                  # haproxy2: no server available
        line = {"op": "purchase", "worker": "w0", "user": f"u{k}", "invoke": round(T0 + t - 0.04, 3),
                "complete": round(T0 + t, 3), "outcome": outcome, "status": status, "error": None, "key": f"k{k}",
                "attempt": 1, "replica": replica}
        if with_lb:
            line["lb"] = lb
        lines.append(line)
    (run / "history.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    probes = []
    for k in range(120):
        t = k * 0.5
        active = "haproxy1" if t < 30 else (None if t < 31.9 else "haproxy2")
        nodes = {s: {"container": "exited" if s.endswith("3") and s != "etcd3" and 10 <= t < 20 else "running",
                     "role": "api" if s.startswith("api") else ("lb" if s.startswith("haproxy") else "etcd")}
                 for s in PLACEMENT if not s.startswith("pg")}
        leader = "pg1" if t < 40 else "pg2"
        for pg in ("pg1", "pg2", "pg3"):
            nodes[pg] = {"container": "running", "role": "leader" if pg == leader else "replica"}
        probes.append({"t": round(T0 + t, 3), "leader": leader, "nodes": nodes, "cut_off": [], "faults_active": [],
                       "lb_active": active})
    (run / "probes.jsonl").write_text("".join(json.dumps(p) + "\n" for p in probes))
    return run


def judged(run: Path) -> dict:
    result = judge(run, scenario_from_dict(SCENARIO))
    write_result(run, result)
    return json.loads(json.dumps(result))


def test_zones_per_zone_per_lb_vip_and_leader(tmp_path: Path) -> None:
    z = judged(make_run(tmp_path))["zones"]
    assert z["placement"] == dict(sorted(PLACEMENT.items()))
    by = {row["zone"]: row for row in z["zones"]}
    assert [by[x]["replicas"] for x in "abc"] == [["api1"], ["api2"], ["api3"]]
    # zone c: off 10-20 s by its fault (cut out), back at 25 s: the gap nobody asked for is 20 -> 25
    assert by["c"]["targeted"] == [[10.0, 20.0]]
    assert by["c"]["longest_gap_s"] == pytest.approx(5.0, abs=0.2)
    assert by["c"]["longest_gap"]["start"] == pytest.approx(20.0, abs=0.01)
    # zones a and b: the longest gap is the VIP move (30 -> 32 s) or haproxy2's 503s (45 -> 48 s)
    assert by["a"]["longest_gap_s"] == pytest.approx(3.0, abs=0.3)
    assert by["a"]["targeted"] == [] and by["b"]["targeted"] == []
    served = sum(r["served"] for r in z["zones"])
    assert served == 600 - 20 - 30
    assert sum(r["share"] for r in z["zones"]) == pytest.approx(1.0)
    assert by["a"]["served"] > by["c"]["served"]
    assert by["a"]["per_second"] == pytest.approx(by["a"]["served"] / 60.0, abs=0.01)
    lbs = {row["lb"]: row for row in z["lbs"]}
    assert lbs["haproxy1"]["ops"] == 300 and lbs["haproxy1"]["zone"] == "a"
    assert lbs["haproxy1"]["not_served"] == 0
    assert lbs["haproxy2"]["ops"] == 280 and lbs["haproxy2"]["not_served"] == 30
    assert lbs["haproxy2"]["longest_outage_s"] == pytest.approx(3.0, abs=0.15)
    assert lbs["haproxy2"]["longest_outage"]["start"] == pytest.approx(44.95, abs=0.1)
    assert z["unrouted"] == {"ops": 20, "served": 0}
    (move,) = z["vip_moves"]
    assert (move["from_lb"], move["to_lb"]) == ("haproxy1", "haproxy2")
    assert move["t_s"] == pytest.approx(32.0, abs=0.01)
    assert move["client_gap_s"] == pytest.approx(2.1, abs=0.05)   # 29.95 (last via haproxy1) -> 32.05
    assert [s["lb_active"] for s in z["vip"]] == ["haproxy1", None, "haproxy2"]
    assert [s["zone"] for s in z["leader_zone"]] == ["a", "b"]
    assert z["leader_zone"][1]["start_s"] == pytest.approx(40.0, abs=0.01)


def test_zones_round_trip_through_the_result_model_and_schema(tmp_path: Path) -> None:
    result = judged(make_run(tmp_path))
    back, notes = read_result(result)
    assert back is not None and back.get("zones") == result["zones"] and not notes
    schema = json.loads(RESULT_SCHEMA.read_text())
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(result)]
    assert errors == []
    broken = json.loads(json.dumps(result))
    broken["zones"]["vip_moves"][0]["from"] = broken["zones"]["vip_moves"][0].pop("from_lb")
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(broken))


@pytest.mark.parametrize("zones", [None, {s: "a" for s in PLACEMENT}], ids=["no zones event", "one zone"])
def test_no_zone_section_without_two_zones(tmp_path: Path, zones: dict | None) -> None:
    run = make_run(tmp_path, zones=zones)
    result = judged(run)
    assert "zones" not in result
    html = render_run(run)[0].read_text()
    assert 'id="zones"' not in html and 'class="vip-span"' not in html and "a · pg1" not in html


def test_history_without_lb_has_no_lb_rows(tmp_path: Path) -> None:
    z = judged(make_run(tmp_path, with_lb=False))["zones"]
    assert z["lbs"] == [] and z["unrouted"]["ops"] == 600
    assert {r["zone"]: r["served"] for r in z["zones"]}["a"] > 0
    assert z["vip_moves"][0]["client_gap_s"] is None    # nothing says which LB served


def test_report_shows_zones_lanes_vip_and_tables(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    judged(run)
    html = render_run(run)[0].read_text()
    assert 'id="zones"' in html and 'href="#zones"' in html
    assert 'class="zones"' in html and 'class="lbs"' in html and 'class="vip-moves"' in html
    for label in ("a · pg1", "b · api2", "c · etcd3", "b · haproxy2"):
        assert label in html
    assert html.index("a · pg1") < html.index("b · pg2") < html.index("c · pg3")
    assert 'class="vip-span" data-lb="haproxy1"' in html and 'class="vip-span" data-lb="haproxy2"' in html
    assert "holds the virtual IP" in html
    assert "Leader&#x27;s zone over time" in html or "Leader's zone over time" in html


def test_fault_zones_by_zone_service_link_and_leader() -> None:
    probes = [{"t": T0, "leader": "pg2"}, {"t": T0 + 5, "leader": "pg3"}]

    def rec(target: object, link: object = None) -> FaultRecord:
        return FaultRecord("f", 0, "kill", target, link, None, T0 + 1, True, None)  # type: ignore[arg-type]

    assert fault_zones(rec({"zone": "c"}), PLACEMENT, probes) == {"c"}
    assert fault_zones(rec({"zone": "leader"}), PLACEMENT, probes) == {"b"}    # pg2 led at injection
    assert fault_zones(rec({"service": "api3", "container": "drills-x-api3"}), PLACEMENT, probes) == {"c"}
    assert fault_zones(rec([{"service": "pg1"}, {"service": "haproxy2"}]), PLACEMENT, probes) == {"a", "b"}
    assert fault_zones(rec(None, "lb_api2"), PLACEMENT, probes) == {"b"}
    assert fault_zones(rec(None, ["api1_db", "api3_db"]), PLACEMENT, probes) == {"a", "c"}
    assert fault_zones(rec({"service": "toxiproxy"}), PLACEMENT, probes) == set()
    resolved = rec({"zone": "leader"})
    resolved.data = {"zone": "a", "mode": "power"}
    assert fault_zones(resolved, PLACEMENT, probes) == {"a"}   # the line's own word before the probes' guess


def test_longest_gap_cuts_out_the_targeted_time() -> None:
    times = [1.0, 2.0, 10.0, 11.0]
    assert longest_gap(times, 0.0, 12.0, []) == (2.0, 10.0)
    assert longest_gap(times, 0.0, 12.0, [(2.0, 8.5)]) == (8.5, 10.0)
    assert longest_gap(times, 0.0, 12.0, [(2.0, 10.0)]) == (0.0, 1.0)
    assert longest_gap([], 0.0, 5.0, [(1.0, 2.0)]) == (2.0, 5.0)


def test_placement_reads_the_last_zones_event() -> None:
    assert placement([]) == {}
    events = [{"kind": "run", "name": ZONES_EVENT, "zones": {"pg1": "a"}},
              {"kind": "run", "name": ZONES_EVENT, "zones": {"pg1": "b", "x": None, "y": 3}}]
    assert placement(events) == {"pg1": "b"}
    assert placement([{"kind": "run", "name": ZONES_EVENT, "zones": "damaged"}]) == {}


def test_runner_records_the_placement_of_zoned_nodes_only(tmp_path: Path) -> None:
    nodes = {"pg1": SimpleNamespace(zone="a"), "api2": SimpleNamespace(zone="b"),
             "toxiproxy": SimpleNamespace(zone="")}
    log = EventLog(tmp_path / "events.jsonl")
    assert record_zones(SimpleNamespace(nodes=nodes), log) == {"api2": "b", "pg1": "a"}  # type: ignore[arg-type]
    assert record_zones(SimpleNamespace(nodes={"x": SimpleNamespace(zone="")}), log) == {}  # type: ignore[arg-type]
    log.close()
    lines = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [(x["name"], x["zones"]) for x in lines] == [(ZONES_EVENT, {"api2": "b", "pg1": "a"})]
    assert client_probe_url({"api": "http://172.30.255.254:8080",
                             "haproxy_admin": {"haproxy1": "127.0.0.1:1", "haproxy2": "127.0.0.1:2"}}) \
        == "http://172.30.255.254:8080"
    assert client_probe_url({"api": "http://127.0.0.1:8080", "haproxy_admin": {"haproxy": "127.0.0.1:1"}}) is None
    assert client_probe_url({"api": "http://127.0.0.1:8080"}) is None


class _LbHandler(BaseHTTPRequestHandler):
    answer = "haproxy2"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        if self.answer:
            self.send_header("X-LB", self.answer)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_sampler_asks_which_lb_answers_through_the_client_address() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LbHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        sampler = ProbeSampler(SimpleNamespace(), None, None, client_url=url)  # type: ignore[arg-type]
        assert sampler._lb_active() == "haproxy2"
        _LbHandler.answer = ""
        assert sampler._lb_active() is None
        sampler.client_url = "http://127.0.0.1:1"    # nothing listens: no holder seen
        assert sampler._lb_active() is None
        assert ProbeSampler(SimpleNamespace(), None, None)._lb_pool is None  # type: ignore[arg-type]
    finally:
        _LbHandler.answer = "haproxy2"
        server.shutdown()
        server.server_close()


def test_recorder_writes_the_lb_that_answered(tmp_path: Path) -> None:
    writer = BufferedLineWriter(tmp_path / "history.jsonl", flush_interval=3600)
    rec = Recorder("w0", writer, None, clock=lambda: 2000.2)
    reply = SimpleNamespace(status_code=201, headers={"Content-Type": "application/json", "X-Replica": "api2",
                                                      "X-LB": "haproxy1"}, content=b'{"order_id": 1}')
    rec.on_request("POST", "/p", 200.0, 10, reply, {"op": "purchase", "key": "k"}, None, start_time=2000.0)
    rec.on_request("POST", "/p", 200.0, 10, None, {"op": "purchase", "key": "k2"}, ConnectionRefusedError(),
                   start_time=2000.0)
    writer.close()
    first, second = read_complete(writer.path).records
    assert (first["lb"], first["replica"]) == ("haproxy1", "api2")
    assert second["lb"] is None


def test_a_remote_workers_clock_offset_is_taken_off(tmp_path: Path) -> None:
    """A worker whose clock ran 2.5 s ahead: its history is judged on the master's clock, as if it had not."""
    expected = judged(make_run(tmp_path / "plain"))["zones"]
    run = make_run(tmp_path / "worker")
    lines = [json.loads(x) for x in (run / "history.jsonl").read_text().splitlines()]
    for x in lines:
        x["invoke"], x["complete"] = round(x["invoke"] + 2.5, 3), round(x["complete"] + 2.5, 3)
    (run / "history.jsonl").unlink()
    (run / "history-r-host-1.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    with (run / "events.jsonl").open("a") as f:
        f.write(json.dumps(_event(-1, "worker", name="joined", worker="r-host-1", offset_s=2.5, rtt_s=0.002)) + "\n")
    assert judged(run)["zones"] == expected


def test_zone_served_gap_budget(tmp_path: Path) -> None:
    budgets = [{"metric": "zone_served_gap_s", "max": "4s", "name": "tight"},
               {"metric": "zone_served_gap_s", "max": "10s", "name": "loose", "op": "all"}]
    scenario = scenario_from_dict({**SCENARIO, "budgets": budgets})
    rows = judge(make_run(tmp_path / "zoned"), scenario)["budgets"]
    assert [r["passed"] for r in rows] == [False, True]
    assert rows[0]["observed"] == pytest.approx(5.0, abs=0.2) and "zone c" in rows[0]["detail"]
    rows = judge(make_run(tmp_path / "plain", zones=None), scenario)["budgets"]
    assert [r["passed"] for r in rows] == [None, None] and "no `zones` event" in rows[0]["detail"]


def test_an_outage_through_an_lb_ends_at_its_last_answer(tmp_path: Path) -> None:
    """haproxy1 answers 503 from 28 s until the VIP leaves it at 30 s: its outage is 2 s, not 28 s to load stop."""
    run = make_run(tmp_path)
    lines = [json.loads(x) for x in (run / "history.jsonl").read_text().splitlines()]
    for x in lines:
        if 28 <= x["complete"] - T0 < 30:
            x.update(outcome="info", status=503, replica=None)
    (run / "history.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    lbs = {row["lb"]: row for row in judged(run)["zones"]["lbs"]}
    assert lbs["haproxy1"]["longest_outage_s"] == pytest.approx(2.0, abs=0.1)
    assert lbs["haproxy1"]["longest_outage"]["open"] is True
    assert lbs["haproxy1"]["longest_outage"]["end"] == pytest.approx(29.95, abs=0.01)
    assert lbs["haproxy2"]["longest_outage_s"] == pytest.approx(3.0, abs=0.15)


class _StatsHandler(BaseHTTPRequestHandler):
    """Two LBs' stats pages (/lb1, /lb2: api1 UP in the first, DOWN in the second) and the clients' address."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        status = {"/lb1/;csv": "UP", "/lb2/;csv": "DOWN"}.get(self.path)
        body = f"# pxname,svname,status\napi,api1,{status}\n".encode() if status else b""
        self.send_response(200)
        if self.path == "/healthz":
            self.send_header("X-LB", "haproxy2")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_sampler_reads_the_lb_view_of_the_vip_holder() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StatsHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        client = SimpleNamespace(containers=SimpleNamespace(get=lambda _id: SimpleNamespace(status="running")))
        view = SimpleNamespace(nodes={"api1": SimpleNamespace(container_id="c1", role="api")}, patroni_urls={},
                               label_filter=None, client=client)
        sampler = ProbeSampler(view, None, f"{base}/lb1", client_url=base,  # type: ignore[arg-type]
                               stats_by_lb={"haproxy1": f"{base}/lb1", "haproxy2": f"{base}/lb2"})
        first = sampler.sample()
        assert first["lb_active"] == "haproxy2" and first["nodes"]["api1"]["lb"] == "UP"   # no holder known yet
        sampler.latest = first
        second = sampler.sample()
        assert second["nodes"]["api1"]["lb"] == "DOWN"     # haproxy2's view: the LB the clients go through
        sampler.stop()
    finally:
        server.shutdown()
        server.server_close()


def test_console_summary_has_a_zones_line_only_with_zones(tmp_path: Path) -> None:
    from rich.console import Console

    from drills.report.summary import print_summary

    def printed(result: dict) -> str:
        console = Console(record=True, width=200)
        print_summary(console, result)
        return console.export_text()

    text = printed(judged(make_run(tmp_path / "zoned")))
    assert "zones: a 37" in text and "VIP haproxy1→haproxy2 at 32 s (client gap 2.1 s)" in text
    assert "zones:" not in printed(judged(make_run(tmp_path / "plain", zones=None)))


def test_each_zones_gap_is_exported(tmp_path: Path) -> None:
    from drills.checks.exported import samples_of

    samples = dict(samples_of(judged(make_run(tmp_path / "zoned")))["drills_zone_served_gap_seconds"])
    assert set(samples) == {("a",), ("b",), ("c",)} and samples[("c",)] == pytest.approx(5.0, abs=0.2)
    assert "drills_zone_served_gap_seconds" not in samples_of(judged(make_run(tmp_path / "plain", zones=None)))
