"""Validation: typed values and defaults for good input, and one precise issue per mistake for bad input."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from drills.errors import DrillError, ExitCode
from drills.scenario import ScenarioInvalid, default_budgets, load_scenario, scenario_from_dict
from drills.scenario.model import After, LoadSection, Phases, ReferenceStack, Scenario

CORPUS = Path(__file__).resolve().parent / "scenario_corpus"
KILL = {"id": "k", "type": "kill", "target": {"role": "leader"}, "at": "30s", "duration": "10s"}


def issues(data: object) -> list[str]:
    """The issue lines for `data`; [] when it is valid."""
    try:
        scenario_from_dict(data)
    except ScenarioInvalid as exc:
        return [str(i) for i in exc.issues]
    return []


def one_issue(data: object, *words: str) -> str:
    found = issues(data)
    assert len(found) == 1, "\n".join(found)
    for word in words:
        assert word in found[0], found[0]
    return found[0]


def with_faults(*faults: dict, **extra: object) -> dict:
    return {"name": "t", "faults": list(faults), **extra}


# -- good input: types and defaults -------------------------------------------------------------------------------

def test_a_name_alone_is_a_complete_scenario_with_defaults():
    s = scenario_from_dict({"name": "minimal"})
    assert isinstance(s, Scenario) and s.name == "minimal" and s.path is None
    assert s.stack == ReferenceStack()
    assert s.phases == Phases() and s.load == LoadSection()
    assert s.faults == [] and s.abort == [] and s.expect == "pass"
    assert s.budgets == default_budgets()


def test_the_file_name_is_the_default_name(tmp_path: Path):
    path = tmp_path / "leader-kill.yaml"
    path.write_text("faults: []\n")
    assert load_scenario(path).name == "leader-kill"
    one_issue({}, "name", "found none")


def test_full_example_has_the_right_types():
    s = load_scenario(CORPUS / "good" / "full.yaml")
    assert isinstance(s.stack, ReferenceStack)
    assert (s.seed, s.tags, s.stack.api_replicas) == (42, ["failover", "ci"], 2)
    assert (s.phases.warmup, s.phases.steady, s.phases.recovery) == (15.0, 120.0, 30.0)
    assert all(isinstance(v, float) for v in (s.phases.warmup, s.phases.steady, s.load.request_timeout))
    profile = s.load.profile
    assert (profile.type, profile.rate, profile.max_users, profile.spawn_rate) == ("arrival_rate", 50.0, 150, 20.0)
    assert s.load.mix == {"purchase": 80, "browse": 10, "login": 5, "rotate_password": 5}
    kill, latency, freeze, cut = s.faults
    assert (kill.at, kill.duration, kill.params) == (30.0, 15.0, {"signal": "SIGKILL", "restart_after": 15.0})
    assert latency.after == After(fault="kill-leader", event="healed", delay=5.0)
    assert latency.params == {"latency_ms": 200, "jitter_ms": 50, "stream": "both", "toxicity": 0.5}
    assert freeze.after == After(fault="flaky-db-link") and freeze.target.select == "random"
    assert (freeze.repeat_every, freeze.repeat_count) == (15.0, 3)
    assert cut.params == {"groups": [["haproxy"], ["api1", "api2"]]} and cut.duration == 0.5
    assert kill.source is not None and (kill.source.line, kill.source.column) == (41, 5)
    names = [b.display for b in s.budgets]
    assert names[:len(default_budgets())] == [b.display for b in default_budgets()]
    assert "buyers served during faults" in names and "failover_s[purchase,all]" in names
    failover = next(b for b in s.budgets if b.metric == "failover_s")
    assert failover.max == 20.0 and failover.source.line > 0
    assert [(a.metric, a.window) for a in s.abort] == [("error_ratio", 15.0), ("probe_failing", 60.0)]
    assert (s.slo.target, s.slo.period_days) == (0.999, 28.0)


def test_fault_defaults_and_param_defaults():
    s = scenario_from_dict(with_faults(
        {"type": "kill", "target": {"role": "leader"}, "at": 10},
        {"type": "stop", "target": {"service": "pg1"}, "at": 10, "duration": 5},
        {"type": "latency", "link": "api1_db", "at": "1m", "params": {"latency_ms": 100}},
        {"type": "slicer", "link": "lb_api1", "at": 5},
    ))
    kill, stop, latency, slicer = s.faults
    assert [f.id for f in s.faults] == ["kill-1", "stop-2", "latency-3", "slicer-4"]
    assert kill.params == {"signal": "SIGKILL"} and kill.duration is None and kill.target.select == "one"
    assert stop.params == {"timeout": 10.0}
    assert latency.params == {"latency_ms": 100, "jitter_ms": 0, "stream": "downstream", "toxicity": 1.0}
    assert slicer.params == {"average_size": 64, "size_variation": 32, "delay_us": 10, "stream": "downstream",
                             "toxicity": 1.0}


def test_kill_signal_names_are_normalised_and_restart_after_is_the_duration():
    s = scenario_from_dict(with_faults({**KILL, "duration": None, "params": {"signal": "term", "restart_after": 7}}))
    assert s.faults[0].params["signal"] == "SIGTERM" and s.faults[0].duration == 7.0
    one_issue(with_faults({**KILL, "params": {"restart_after": 7}}), "faults[0].duration", "found both")
    one_issue(with_faults({**KILL, "params": {"signal": "SIGSTOP"}}), "params.signal", "freeze" * 0 or "signal")


def test_after_shorthand_and_chains_resolve():
    s = scenario_from_dict(with_faults(KILL, {"id": "f", "type": "freeze", "target": {"role": "replica"},
                                              "after": "k", "duration": 5}))
    assert s.faults[1].after == After(fault="k", event="healed", delay=0.0)


def test_custom_locustfile_operations_may_be_used_in_mix_and_budgets(tmp_path: Path):
    (tmp_path / "shop.py").write_text("")
    data = {"name": "c", "load": {"locustfile": "shop.py", "mix": {"checkout": 1}},
            "budgets": [{"metric": "success_ratio", "min": 0.9, "op": "checkout"}]}
    assert scenario_from_dict(data, base_dir=tmp_path).budgets[0].op == "checkout"
    data["load"]["locustfile"] = "nope.py"
    with pytest.raises(ScenarioInvalid, match="no such file"):
        scenario_from_dict(data, base_dir=tmp_path)
    one_issue({"name": "c", "load": {"mix": {"checkout": 1}}}, "load.mix.checkout", "builtin")


# -- the error itself ---------------------------------------------------------------------------------------------

def test_scenario_invalid_is_a_drill_error_with_exit_code_4_listing_every_issue():
    with pytest.raises(ScenarioInvalid) as caught:
        scenario_from_dict({"name": "x", "seed": "a", "expect": "maybe"})
    exc = caught.value
    assert isinstance(exc, DrillError) and exc.exit_code == ExitCode.INVALID_SCENARIO == 4
    assert len(exc.issues) == 2 and str(exc).splitlines() == [str(i) for i in exc.issues]
    assert exc.hint and "scenario-format" in exc.hint
    assert str(exc.issues[0]) == "<dict>: seed: expected an integer between 0 and 4294967295, found 'a'"


def test_all_errors_are_collected_in_document_order(tmp_path: Path):
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nslo: {target: 2}\nphases: {steady: -1}\nseed: x\n")
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path)
    assert [(i.line, i.path) for i in caught.value.issues] == [(2, "slo.target"), (3, "phases.steady"),
                                                               (4, "seed")]


# -- bad input, one rule at a time --------------------------------------------------------------------------------

@pytest.mark.parametrize("data, path, suggestion", [
    ({"name": "x", "faultz": []}, "faultz", "faults"),
    ({"name": "x", "stack": {"reference": {"api_replica": 2}}}, "stack.reference.api_replica", "api_replicas"),
    ({"name": "x", "stack": {"attach": {"api_url": "http://127.0.0.1:1", "container": {}}}},
     "stack.attach.container", "containers"),
    ({"name": "x", "phases": {"stedy": 5}}, "phases.stedy", "steady"),
    ({"name": "x", "load": {"profile": {"usres": 5}}}, "load.profile.usres", "users"),
    ({"name": "x", "load": {"profile": {"type": "stages", "stages": [{"duraton": 5, "users": 1}]}}},
     "load.profile.stages[0].duraton", "duration"),
    (with_faults({**KILL, "target": {"rol": "leader"}}), "faults[0].target.rol", "role"),
    (with_faults(KILL, {**KILL, "id": "f", "at": None, "after": {"fualt": "k"}}), "faults[1].after.fualt", "fault"),
    (with_faults({**KILL, "params": {"signl": "SIGTERM"}}), "faults[0].params.signl", "signal"),
    ({"name": "x", "budgets": [{"metric": "lost", "max": 0, "phse": "all"}]}, "budgets[0].phse", "phase"),
    ({"name": "x", "abort": [{"metric": "error_ratio", "above": 0.5, "windw": 5}]}, "abort[0].windw", "window"),
    ({"name": "x", "slo": {"targt": 0.99}}, "slo.targt", "target"),
])
def test_unknown_keys_at_every_level_suggest_the_right_one(data, path, suggestion):
    found = one_issue(data, f"{path}: ")
    assert found.endswith(f"(did you mean '{suggestion}'?)")


@pytest.mark.parametrize("data, words", [
    ({"name": "x", "seed": 1.5}, ("seed", "integer", "1.5")),
    ({"name": "x", "tags": "ci"}, ("tags", "list", "'ci'")),
    ({"name": "x", "stack": {"reference": {"keep": "yes"}}}, ("keep", "true or false")),
    ({"name": "x", "stack": {"reference": {"api_replicas": True}}}, ("api_replicas", "integer", "boolean")),
    ({"name": "x", "phases": []}, ("phases", "mapping", "empty list")),
    ({"name": "x", "load": {"hot_share": "most"}}, ("hot_share", "number")),
    ({"name": "x", "load": {"request_timeout": 0}}, ("request_timeout", "positive duration")),
    ({"name": "x", "faults": {"type": "kill"}}, ("faults", "list of faults", "mapping")),
    (with_faults({**KILL, "at": "soon"}), ("faults[0].at", "duration", "'soon'")),
    (with_faults({**KILL, "at": -1}), ("faults[0].at", "negative")),
    (with_faults({**KILL, "duration": 0}), ("faults[0].duration", "positive")),
    (with_faults({**KILL, "target": "leader"}), ("faults[0].target", "mapping")),
    ({"name": "x", "budgets": {"metric": "lost"}}, ("budgets", "list")),
    ({"name": "x", "name2": None, "expect": "pass"} | {"name2": 1}, ("name2",)),
])
def test_wrong_types_say_what_was_expected_and_found(data, words):
    found = one_issue(data)
    assert "expected" in found and "found" in found
    for word in words:
        assert word in found, found


def test_unknown_fault_type_role_and_service_suggest_names():
    one_issue(with_faults({**KILL, "type": "partiton"}), "faults[0].type", "did you mean 'partition'?")
    one_issue(with_faults({**KILL, "target": {"role": "sync-standby"}}), "did you mean 'sync_standby'?")
    one_issue(with_faults({**KILL, "target": {"service": "pg4"}}), "reference stack", "pg1")
    one_issue(with_faults({**KILL, "target": {"service": "api3"}},
                          stack={"reference": {"api_replicas": 2}}), "api3")


def test_targets_and_links_belong_to_the_right_kind_of_fault():
    latency = {"type": "latency", "at": 5, "params": {"latency_ms": 10}}
    one_issue(with_faults(latency), "faults[0].link", "found none")
    one_issue(with_faults({**latency, "link": "api1_db", "target": {"role": "api"}}), "faults[0].target",
              "acts on a link")
    one_issue(with_faults({**KILL, "link": "api1_db"}), "faults[0].link", "acts on a target")
    one_issue(with_faults({**KILL, "target": None}), "faults[0].target", "found none")
    one_issue(with_faults({**latency, "link": "api1-db"}), "did you mean 'api1_db'?")
    one_issue(with_faults({**latency, "link": "db_*"}), "pattern")
    assert not issues(with_faults({**latency, "link": "lb_api*"}))
    one_issue(with_faults({**KILL, "target": {"role": "api", "service": "api1"}}), "exactly one of service")


def test_type_specific_params_are_checked():
    loss = {"type": "packet_loss", "target": {"role": "leader"}, "at": 5}
    one_issue(with_faults(loss), "params.percent", "found none")
    one_issue(with_faults({**loss, "params": {"percent": -1}}), "between 0 and 100")
    assert not issues(with_faults({**loss, "params": {"percent": 12.5}}))
    one_issue(with_faults({**KILL, "type": "freeze", "params": {"x": 1}}), "freeze takes none")
    one_issue(with_faults({"type": "latency", "link": "api1_db", "at": 1,
                           "params": {"latency_ms": 1.5}}), "latency_ms", "integer")
    one_issue(with_faults({"type": "latency", "link": "api1_db", "at": 1,
                           "params": {"latency_ms": 1, "stream": "upstrem"}}), "did you mean 'upstream'?")
    one_issue(with_faults({"type": "slicer", "link": "api1_db", "at": 1,
                           "params": {"average_size": 8, "size_variation": 8}}), "below average_size")
    one_issue(with_faults({**KILL, "type": "partition_oneway", "params": {"direction": "sideways"}}), "in, out")
    one_issue(with_faults({**KILL, "type": "restart"}), "faults[0].duration", "heals by itself")


def test_partition_groups():
    part = {"type": "partition", "at": 5, "duration": 5}
    assert not issues(with_faults({**part, "params": {"groups": [["leader", "etcd1"], ["api"]]}}))
    assert not issues(with_faults({**part, "target": {"role": "leader"}}))
    one_issue(with_faults(part), "target", "params.groups")
    one_issue(with_faults({**part, "params": {"groups": [["pg1"]]}}), "at least two groups")
    one_issue(with_faults({**part, "params": {"groups": [["pg1"], ["pg1"]]}}), "groups[1][0]", "one group only")
    one_issue(with_faults({**part, "params": {"groups": [["pg1"], ["hapoxy"]]}}), "did you mean 'haproxy'?")
    one_issue(with_faults({**part, "target": {"role": "leader"}, "params": {"groups": [["pg1"], ["pg2"]]}}),
              "found both")


def test_fault_ids_and_after_references():
    one_issue(with_faults(KILL, {**KILL, "at": 50}), "faults[1].id", "unique")
    one_issue(with_faults({**KILL, "id": "has space"}), "faults[0].id")
    one_issue(with_faults({**KILL, "at": None}), "faults[0]: ", "found neither")
    one_issue(with_faults(KILL, {**KILL, "id": "f", "after": "k"}), "faults[1].after", "found both")
    one_issue(with_faults(KILL, {**KILL, "id": "f", "at": None, "after": {"fault": "kk"}}),
              "faults[1].after.fault", "did you mean 'k'?")
    one_issue(with_faults({**KILL, "at": None, "after": "k"}), "without a cycle, found k -> k")
    one_issue(with_faults({**KILL, "at": None, "after": {"fault": "k2", "event": "heal"}},
                          {**KILL, "id": "k2"}), "did you mean 'healed'?")


def test_the_schedule_fits_inside_warmup_and_steady():
    phases = {"warmup": 10, "steady": 60}
    assert not issues(with_faults({**KILL, "at": 69, "duration": 1}, phases=phases))
    one_issue(with_faults({**KILL, "at": 70}, phases=phases), "faults[0].at", "end of steady at 70 s")
    one_issue(with_faults({**KILL, "at": 65, "duration": 10}, phases=phases), "faults[0].duration", "until 75 s")
    follow = {**KILL, "id": "f", "at": None, "after": {"fault": "k", "delay": "25s"}}
    one_issue(with_faults({**KILL, "at": 40}, follow, phases=phases), "faults[1].after", "75 s")
    follow = {**KILL, "id": "f", "at": None, "after": "k", "duration": 5}
    one_issue(with_faults({**KILL, "duration": None}, follow, phases=phases), "faults[1].after")
    # the schedule is not judged against phases that are themselves wrong
    one_issue(with_faults({**KILL, "at": 500}, phases={"steady": "x"}), "phases.steady")


def test_repeating_faults():
    flip = {**KILL, "duration": 5, "repeat_every": 10}
    assert not issues(with_faults({**flip, "repeat_count": 3}))
    one_issue(with_faults({**flip, "repeat_count": 5}), "repeat_count", "last one at 70 s")
    one_issue(with_faults({**flip, "repeat_every": 5}), "repeat_every", "longer than the duration")
    one_issue(with_faults({**flip, "duration": None}), "repeat_every", "duration")
    one_issue(with_faults({**KILL, "repeat_count": 2}), "repeat_count", "repeat_every")


def test_budgets():
    def budget(**b: object) -> dict:
        return {"name": "b", "budgets": [b]}

    one_issue(budget(metric="success_ratio", max=0.9), "budgets[0].max", "floor with `min`")
    one_issue(budget(metric="lost", min=0), "budgets[0].min", "ceiling with `max`")
    one_issue(budget(metric="lost"), "exactly one of min or max", "neither")
    one_issue(budget(metric="lost", min=0, max=0), "budgets[0].max")
    one_issue(budget(metric="lost", max=0.5), "integer")
    one_issue(budget(metric="success_ratio", min=1.5), "between 0 and 1")
    one_issue(budget(metric="latency_p99_ms", max=-1), "between 0 and 600000")
    one_issue(budget(metric="sucess_ratio", min=1), "did you mean 'success_ratio'?")
    one_issue(budget(metric="lost", max=0, phase="during"), "did you mean 'during_fault'?")
    one_issue(budget(metric="lost", max=0, op="purchases"), "did you mean 'purchase'?")
    assert scenario_from_dict(budget(metric="longest_outage_s", max="1m")).budgets[0].max == 60.0
    one_issue({"name": "b", "budgets": []}, "budgets: ", "leave `budgets` out")
    one_issue({"name": "b", "budgets": ["defaults", {"metric": "lost", "max": 1}]}, "lost[purchase,all] again")
    assert len(scenario_from_dict({"name": "b", "budgets": [
        "defaults", {"metric": "lost", "max": 1, "name": "lenient"}]}).budgets) == len(default_budgets()) + 1
    one_issue({"name": "b", "budgets": ["default"]}, "did you mean 'defaults'?")


def test_default_budgets_are_sensible():
    budgets = {b.display: b for b in default_budgets()}
    for metric in ("lost", "duplicated", "oversold", "credential_changes_lost"):
        assert any(b.metric == metric and b.max == 0 for b in budgets.values()), metric
    assert budgets["success_ratio[purchase,all]"].min == 0.9
    assert budgets["longest_outage_s[purchase,all]"].max == 30
    assert all((b.min is None) != (b.max is None) for b in budgets.values())
    assert default_budgets() is not default_budgets() and default_budgets()[0] is not default_budgets()[0]
    assert all(b.phase != "recovery" for b in default_budgets(Phases(recovery=0)))
    assert scenario_from_dict({"name": "n", "phases": {"recovery": 0}}).budgets == default_budgets(Phases(recovery=0))


def test_abort_conditions_and_slo():
    one_issue({"name": "a", "abort": [{"metric": "error_ratio"}]}, "abort[0].above", "found none")
    one_issue({"name": "a", "abort": [{"metric": "error_ratio", "above": 2}]}, "between 0 and 1")
    one_issue({"name": "a", "abort": [{"metric": "probe_failing"}]}, "abort[0].probe", "no_leader")
    one_issue({"name": "a", "abort": [{"metric": "probe_failing", "probe": "no_leadr"}]}, "did you mean 'no_leader'?")
    one_issue({"name": "a", "abort": [{"metric": "p99_ms", "above": 900, "probe": "no_leader"}]}, "abort[0].probe")
    one_issue({"name": "a", "abort": [{"metric": "error_rate", "above": 0.5}]}, "did you mean 'error_ratio'?")
    one_issue({"name": "a", "slo": {"target": 1}}, "slo.target", "no error budget")
    one_issue({"name": "a", "slo": {"period_days": 0}}, "slo.period_days")


def test_stack_section():
    one_issue({"name": "s", "stack": {}}, "stack: ", "found neither")
    one_issue({"name": "s", "stack": {"reference": {}, "attach": {"api_url": "http://127.0.0.1:1"}}}, "found both")
    assert scenario_from_dict({"name": "s", "stack": {"reference": None}}).stack == ReferenceStack()
    one_issue({"name": "s", "stack": {"reference": {"api_replicas": 10}}}, "between 1 and 9")
    one_issue({"name": "s", "stack": {"attach": {}}}, "stack.attach.api_url", "found none")


@pytest.mark.parametrize("url, ok", [
    ("http://127.0.0.1:8080", True), ("http://localhost:8080", True), ("http://127.0.0.1:8080/api/", True),
    ("http://10.0.0.5:8080", False), ("http://example.com:80", False), ("https://127.0.0.1:8443", False),
    ("http://127.0.0.1", False), ("http://127.0.0.2:8080", False), ("http://0.0.0.0:8080", False),
    ("http://localhost:99999", False), ("http://localhost.evil.com:80", False), ("http://user@127.0.0.1:80", False),
    ("http://127.0.0.1:80?x=1", False), ("http://localhost:8474@evil.com", False), ("http://localhost:８４７４", False),
    (" http://127.0.0.1:80", False), ("http://127.0.0.1:80/a b", False), ("http://127.0.0.1:80/#x", False),
    ("http://127.0.0.1:0", False), ("http://LOCALHOST:80", False), ("http://[::1]:80", False),
    ("http://127.0.0.1:80\\@evil.com", False), ("http://127.0.0.1:80/ä", False), ("127.0.0.1:80", False),
    ("http://127.0.0.1:08080/a/b;c=d/%20", True),
])
def test_attached_stacks_only_talk_to_loopback(url, ok):
    data = {"name": "a", "stack": {"attach": {"api_url": url}}}
    assert (issues(data) == []) is ok
    if not ok:
        one_issue(data, "stack.attach.api_url", "loopback")


@pytest.mark.parametrize("url, reason", [
    ("http://localhost:8474@evil.com", "user info 'localhost:8474@' before its real host 'evil.com', which is not "
                                       "loopback"),
    ("http://me:secret@127.0.0.1:80", "user info 'me:secret@': a scenario holds no user names or passwords"),
    ("http://localhost:８４７４", "the port '８４７４' is not a number of ASCII digits 0-9 (U+FF18"),
    ("http://localhost:８４７４/", "ASCII digits"),
    ("http://127.0.0.1:80 ", "whitespace (U+0020)"),
    ("http://127.0.0.1:80/x?debug=1", "a query (?...) or fragment (#...)"),
    ("https://127.0.0.1:8443", "the scheme https:// is not allowed"),
    ("localhost:80", "no scheme"),
    ("http://127.0.0.1", "no port: write http://127.0.0.1:PORT"),
    ("http://127.0.0.1:99999", "outside 1-65535"),
    ("http://10.0.0.5:8080", "the host '10.0.0.5' is not loopback"),
    ("http://ⅼocalhost:80", "not ASCII"),
    ("http://127.0.0.2:80", "loopback but not one of 127.0.0.1 or localhost"),
])
def test_a_refused_url_says_what_is_really_wrong(url, reason):
    found = one_issue({"name": "a", "stack": {"attach": {"api_url": url}}}, "stack.attach.api_url")
    assert reason in found
    assert "give the scheme http:// and a port" not in found


@pytest.mark.parametrize("key", ["toxiproxy_url", "patroni_urls"])
def test_every_url_of_an_attached_stack_follows_the_same_rule(key):
    value = {"db1": "http://localhost:8474@evil.com"} if key == "patroni_urls" else "http://localhost:8474@evil.com"
    attach = {"api_url": "http://127.0.0.1:80", "containers": {"db1": "db"}, key: value}
    one_issue({"name": "a", "stack": {"attach": attach}}, f"stack.attach.{key}", "user info")


def test_locustfile_is_a_regular_file_inside_the_scenarios_folder(tmp_path: Path):
    import os

    (tmp_path / "shop.py").write_text("")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "inner.py").write_text("")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.py"
    outside.write_text("")
    (tmp_path / "link.py").symlink_to(outside)
    os.mkfifo(tmp_path / "fifo.py")

    def problem(locustfile: str, base: Path | None = tmp_path) -> str:
        try:
            scenario_from_dict({"name": "l", "load": {"locustfile": locustfile}}, base_dir=base)
        except ScenarioInvalid as exc:
            (issue,) = exc.issues
            assert issue.path == "load.locustfile"
            return issue.message
        return ""

    assert problem("shop.py") == problem("pkg/inner.py") == problem("./shop.py") == problem("builtin") == ""
    assert "an absolute path" in problem(str(tmp_path / "shop.py"))
    assert "an absolute path" in problem("/etc/passwd", None)            # refused even without a folder
    assert "an absolute path" in problem("~/shop.py")
    assert "'..' leads out" in problem("../x.py", None)
    assert "'..' leads out" in problem("pkg/../shop.py")
    assert "a directory" in problem("pkg")
    assert "no such file" in problem("nope.py")
    assert "no such file" in problem("shop.py/x.py")
    assert "not a regular file" in problem("fifo.py")                   # never opened: it would block
    assert "symbolic link" in problem("link.py")
    assert "control character U+0000" in problem("shop\x00.py")
    assert "an empty string" in problem("")
    assert "cannot be read" in problem("x" * 5000 + ".py")


def test_a_real_signal_that_kill_may_not_send_says_why_and_suggests_nothing():
    def signal(value: object) -> str:
        return one_issue(with_faults({**KILL, "params": {"signal": value}}), "faults[0].params.signal")

    stop = signal("SIGSTOP")
    assert "freeze" in stop and "SIGKILL, SIGTERM" in stop and "did you mean" not in stop
    assert "did you mean" not in signal("STOP") and "freeze" in signal("tstp")
    assert "nothing to break" in signal("SIGCONT") and "do nothing" in signal("SIGWINCH")
    for name in ("SIGPIPE", "SIGALRM", "SIGRTMIN+3", "SIGBUS"):
        found = signal(name)
        assert "ends the process" in found and "did you mean" not in found, found
    assert signal("SIGIOT").endswith("(did you mean 'SIGABRT'?)")
    assert signal("SIGKIL").endswith("(did you mean 'SIGKILL'?)")            # a typo still gets a suggestion
    assert signal("sigtrem").endswith("(did you mean 'SIGTERM'?)")
    assert "did you mean" not in signal("SIGFOO")                             # not close to any: no guess
    assert "the number 9" in signal(9) and "write the name" in signal(9)


def test_a_known_operation_refused_in_the_builtin_mix_says_why_instead_of_suggesting():
    found = one_issue({"name": "m", "load": {"mix": {"verify_password": 1}}}, "load.mix.verify_password")
    assert "happens on its own" in found and "did you mean" not in found


def test_attached_stack_declares_what_faults_may_touch():
    attach = {"api_url": "http://127.0.0.1:8080", "containers": {"db1": "shop-db-1", "web": "shop-web"},
              "roles": {"web": "api"}}
    one_issue(with_faults(KILL, stack={"attach": attach}), "faults[0].target.role", "patroni_urls")
    assert not issues(with_faults({**KILL, "target": {"role": "api"}}, stack={"attach": attach}))
    one_issue(with_faults({**KILL, "target": {"service": "db2"}}, stack={"attach": attach}),
              "did you mean 'db1'?")
    roles = {"web": "api", "db9": "api"}
    one_issue(with_faults({**KILL, "target": {"role": "api"}}, stack={"attach": {**attach, "roles": roles}}),
              "roles.db9", "did you mean 'db1'?")
    one_issue(with_faults({**KILL, "target": {"role": "api"}},
                          stack={"attach": {"api_url": "http://127.0.0.1:8080"}}), "containers")
    latency = {"type": "latency", "link": "anything", "at": 5, "params": {"latency_ms": 10}}
    one_issue(with_faults(latency, stack={"attach": attach}), "toxiproxy_url")
    assert not issues(with_faults(latency, stack={"attach": {**attach, "toxiproxy_url": "http://localhost:8474"}}))
    assert not issues(with_faults(KILL, stack={"attach": {"api_url": "http://127.0.0.1:8080",
                                                           "label_selector": "com.example.stack=shop"}}))
    one_issue({"name": "a", "stack": {"attach": {**attach, "roles": {"web": "leader"}}}}, "patroni_urls")


def test_load_profiles_must_be_consistent():
    def profile(**p: object) -> dict:
        return {"name": "l", "load": {"profile": p}}

    one_issue(profile(type="arrival_rate"), "load.profile.rate", "found none")
    one_issue(profile(type="arrival_rate", rate=5, users=3), "load.profile.users")
    one_issue(profile(rate=5), "load.profile.rate", "set type: arrival_rate")
    one_issue(profile(type="stages"), "load.profile.stages", "found none")
    one_issue(profile(stages=[{"duration": 5, "users": 1}]), "stages belong to type stages")
    one_issue(profile(type="stages", stages=[]), "at least one stage")
    one_issue(profile(type="stages", stages=[{"duration": 5}]), "users (closed loop) or rate")
    one_issue(profile(type="stages", stages=[{"duration": 5, "users": 1}, {"duration": 5, "rate": 1}]), "a mix")
    s = scenario_from_dict(profile(type="stages", stages=[{"duration": "30s", "users": 10, "spawn_rate": 5},
                                                          {"duration": "1m", "users": 0}]))
    assert [(st.duration, st.users, st.spawn_rate) for st in s.load.profile.stages] == [(30.0, 10, 5.0),
                                                                                     (60.0, 0, None)]
    one_issue(profile(type="constant", users=3), "did you mean 'constant_users'?")


def test_builtin_mix_operations_match_the_load_generator():
    config = pytest.importorskip("drills.load.config")
    from drills.scenario.validate_load import BUILTIN_MIX_OPERATIONS

    assert set(BUILTIN_MIX_OPERATIONS) == set(config.BUILTIN_OPS)
    assert set(LoadSection().mix) <= set(BUILTIN_MIX_OPERATIONS)


def test_mix_and_load_numbers():
    one_issue({"name": "m", "load": {"mix": {"register": 1}}}, "load.mix.register", "builtin")
    one_issue({"name": "m", "load": {"mix": {"purchase": -1}}}, "load.mix.purchase", "at least 0")
    one_issue({"name": "m", "load": {"mix": {"purchase": 0}}}, "positive sum")
    one_issue({"name": "m", "load": {"mix": {"purchse": 1}}}, "did you mean 'purchase'?")
    one_issue({"name": "m", "load": {"mix": []}}, "load.mix", "mapping")
    one_issue({"name": "m", "load": {"hot_seats": 30000}}, "hot_event_seats (20000)")
    assert scenario_from_dict({"name": "m", "load": {"mix": {"purchase": 1}}}).load.mix == {"purchase": 1.0}


def _paths(data: object, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*prefix, index))
    return found


def test_no_value_anywhere_causes_anything_but_scenario_invalid():
    """Never a traceback for bad user input: every position of the full example gets every kind of junk."""
    base = yaml.safe_load((CORPUS / "good" / "full.yaml").read_text())
    junk = [None, True, -1, 0, 1e308, 10**400, float("nan"), "x", "", "9" * 400 + "s", [], [[]], [None], {},
            {"x": 1}, {1: 2}]
    for path in _paths(base):
        for value in junk:
            data = copy.deepcopy(base)
            parent = data
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = value
            try:
                scenario_from_dict(data)
            except ScenarioInvalid as exc:
                assert exc.issues and all(i.message for i in exc.issues)


def test_every_url_the_rule_accepts_goes_to_loopback_for_urllib_and_urllib3_too():
    """Mangle URLs at random: whatever loopback_problem lets through, the HTTP stack reads as loopback, with no
    user info, query or fragment (so no spelling sends the tool elsewhere)."""
    import random
    import string
    from urllib.parse import urlsplit

    from drills.scenario.loopback import HOSTS, loopback_problem

    urllib3 = pytest.importorskip("urllib3.util")
    rng, alphabet, accepted = random.Random(7), string.printable + "٣８ⅼ@:/?#[]%\\.~", 0
    for _ in range(20_000):
        chars = list(rng.choice(["http://127.0.0.1:80/a", "http://localhost:8474", "http://localhost:8474@evil.com"]))
        for _ in range(rng.randint(1, 4)):
            at = rng.randint(0, len(chars))
            if rng.random() < 0.6:
                chars.insert(at, rng.choice(alphabet))
            elif chars:
                del chars[min(at, len(chars) - 1)]
        url = "".join(chars)
        if loopback_problem(url) is None:
            accepted += 1
            split, parsed = urlsplit(url), urllib3.parse_url(url)
            assert split.hostname in HOSTS and split.username is None and not split.query and not split.fragment
            assert parsed.host in HOSTS and parsed.auth is None and parsed.port == split.port and split.port
    assert accepted > 100
