"""Fault families own both halves: the catalogue's families each have a behavioural module, every heal action a
family writes has a handler, heals dispatch by name, and a Toxiproxy toxic (slow_close) works end to end
without Docker."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from drills.faults import heal, nemesis, toxics
from drills.faults.context import FaultContext, HealEnv
from drills.faults.ledger import HealAction, Ledger
from drills.platform.inventory import StackView
from drills.platform.toxiproxy import TOXIC_ATTRIBUTES
from drills.scenario import scenario_from_dict
from drills.scenario.fault_families import FAMILIES
from drills.scenario.fault_types import FAULTS, family_of, types_acting_on
from drills.scenario.model import Fault
from tests.unit.test_scenario_validate import one_issue, with_faults

FAULTS_DIR = Path(nemesis.__file__).parent


def _heal_actions_written(path: Path) -> set[str]:
    """Every `HealAction("<name>", ...)` a module writes to the ledger."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "HealAction" and node.args:
            first = node.args[0]
            assert isinstance(first, ast.Constant), f"{path.name}: name heal actions literally"
            found.add(first.value)
    return found


def test_every_catalogue_family_has_a_behavioural_module_and_back():
    used = {spec.family for spec in FAULTS.values()}
    assert used == set(FAMILIES) == set(nemesis.FAMILIES)
    for name, fam in nemesis.FAMILIES.items():
        assert fam.name == name


def test_every_heal_action_a_family_writes_has_its_handler():
    written: dict[str, set[str]] = {}
    for path in sorted(FAULTS_DIR.glob("*.py")):
        written[path.stem] = _heal_actions_written(path)
    families = {fam.inject.__module__.rsplit(".", 1)[-1]: fam for fam in nemesis.FAMILIES.values()}
    for module, actions in written.items():
        assert actions <= set(nemesis.HEALERS), f"{module} writes heal actions nobody handles"
        if module in families:
            assert actions <= set(families[module].heals), f"{module} writes heals its family does not declare"
    everything = set().union(*written.values())
    assert set(nemesis.HEALERS) == everything, "a handler for a heal action nothing writes"
    assert {"start", "unpause", "iptables_remove", "remove_container", "remove_toxic", "enable_proxy",
            "restore_cluster", "take_backup"} <= everything  # the heals older ledgers hold still run


def test_heals_dispatch_by_action_name(monkeypatch):
    seen = []
    monkeypatch.setitem(nemesis.HEALERS, "start", lambda action, env: seen.append((action.container, env)) or "ok")
    env = HealEnv(None)
    assert heal.execute(HealAction("start", container="c1"), env) == "ok"
    assert seen == [("c1", env)]
    with pytest.raises(RuntimeError, match="unknown heal action 'bogus'"):
        heal.execute(HealAction("bogus"), env)
    # a Docker heal without a client fails cleanly (a ledger read by a process with no Docker)
    with pytest.raises(RuntimeError, match="a Docker client is needed"):
        heal.execute(HealAction("unpause", container="c1"), env)


def test_where_each_family_acts_drives_validator_and_schema():
    assert set(types_acting_on("link")) == {t for t, s in FAULTS.items() if s.family == "toxic"}
    assert set(types_acting_on("cluster")) == {t for t, s in FAULTS.items() if s.family in ("disaster", "action")}
    assert family_of("isolate").cuts_off and not family_of("kill").cuts_off
    assert family_of("destroy_cluster").may_not_recover and family_of("nonsense") is None


def test_every_toxic_maps_its_params_to_toxiproxy_attributes_and_takes_catalogue_defaults():
    toxic_types = set(types_acting_on("link")) - {"link_down"}
    assert set(toxics.ATTRIBUTES) == toxic_types
    for name, mapping in toxics.ATTRIBUTES.items():
        assert set(mapping) == set(FAULTS[name].params) - {"stream", "toxicity"}, name
        assert set(mapping.values()) <= set(TOXIC_ATTRIBUTES[name]), name
    assert toxics.attributes(Fault("s", "slicer")) == {"average_size": 64, "size_variation": 32, "delay": 10}
    with pytest.raises(ValueError, match="latency needs params.latency_ms"):
        toxics.attributes(Fault("l", "latency"))


def test_the_declarative_half_imports_neither_faults_nor_platform():
    code = ("import sys, drills.scenario.fault_types, drills.report.charts; "
            "print(sorted(m for m in sys.modules if m.startswith(('drills.faults', 'drills.platform'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---- slow_close, end to end without Docker -----------------------------------------------------------

class FakeToxiproxy:
    url = "http://127.0.0.1:8474"

    def __init__(self) -> None:
        self.toxics: dict[tuple[str, str], tuple[str, dict, str, float]] = {}

    def proxies(self) -> dict[str, dict]:
        return {"api1_db": {}, "api2_db": {}, "lb_api1": {}}

    def add_toxic(self, proxy: str, name: str, toxic_type: str, attributes: dict, stream: str = "downstream",
                  toxicity: float = 1.0) -> None:
        assert set(attributes) <= set(TOXIC_ATTRIBUTES[toxic_type])
        self.toxics[(proxy, name)] = (toxic_type, attributes, stream, toxicity)

    def remove_toxic(self, proxy: str, name: str) -> bool:
        return self.toxics.pop((proxy, name), None) is not None

    def leftovers(self) -> list[str]:
        return [f"{p}: toxic {n}" for p, n in self.toxics]


def test_slow_close_is_validated_with_its_defaults_and_range():
    s = scenario_from_dict(with_faults({"id": "sc", "type": "slow_close", "link": "api1_db", "at": 5}))
    assert s.faults[0].params == {"delay_ms": 1000, "stream": "downstream", "toxicity": 1.0}
    one_issue(with_faults({"type": "slow_close", "link": "api1_db", "at": 5, "params": {"delay_ms": -1}}),
              "delay_ms")
    one_issue(with_faults({"type": "slow_close", "link": "api1_db", "target": {"role": "leader"}, "at": 5}),
              "expected no target", "Toxiproxy")


def test_slow_close_injects_a_toxic_and_its_heal_removes_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DRILLS_STATE_DIR", str(tmp_path / "state"))
    tox = FakeToxiproxy()
    monkeypatch.setattr(toxics, "ToxiproxyClient", lambda url: tox)  # the heal reaches the same server
    ledger = Ledger(tmp_path, "run1")
    ctx = FaultContext(None, StackView(None), ledger, "run1", toxiproxy=tox)  # type: ignore[arg-type]
    fault = scenario_from_dict(with_faults({"id": "sc", "type": "slow_close", "link": "api*_db", "at": 5,
                                            "params": {"delay_ms": 250, "stream": "both"}})).faults[0]

    inj = nemesis.inject(ctx, fault, "sc-0")

    assert inj.links == ["api1_db", "api2_db"]
    assert inj.detail == "slow_close delay=250 on api1_db, api2_db (both)"
    assert tox.toxics[("api1_db", "drills-sc-0-upstream")] == ("slow_close", {"delay": 250}, "upstream", 1.0)
    assert len(tox.toxics) == 4
    entry = ledger.pending()["sc-0"]
    assert {h["action"] for h in entry["heal"]} == {"remove_toxic"} and len(entry["heal"]) == 4
    assert nemesis.leftovers(ctx)[0] == "ledger entry sc-0 still pending"

    done, errors = heal.heal_entry(entry, ctx)
    assert errors == [] and len(done) == 4 and tox.toxics == {}
    ledger.resolve("sc-0")
    assert nemesis.leftovers(ctx) == []
