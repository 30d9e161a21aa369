"""`drill clean` touches dead runs only: a live drill's faults and resources are never healed or removed, by
default only runs the state directory knows to be dead, `--run ID` one run, `--all` also unrecorded ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drills.cli import main
from drills.errors import ExitCode
from drills.faults.ledger import HealAction, Ledger, state_home
from drills.platform import cleanup, labels
from drills.rundir import owner, vault
from drills.rundir.owner import Owner
from tests.unit.owners import dead_owner


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DRILLS_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


class Item:
    """A container, network or volume: containers have `labels`, the others keep them in `attrs`."""

    def __init__(self, kind: str, name: str, lbls: dict[str, str], removed: list[str]) -> None:
        self.name, self.attrs, self._removed = name, {"Labels": lbls}, removed
        if kind == "container":
            self.labels = lbls

    def remove(self, **_kw: Any) -> None:
        self._removed.append(self.name)


class Engine:
    """Just enough of docker.DockerClient for cleanup.clean."""

    def __init__(self) -> None:
        self.removed: list[str] = []
        self.items: dict[str, list[Item]] = {"container": [], "network": [], "volume": []}

        def lister(kind: str):
            return lambda all=False, filters=None: list(self.items[kind])
        for kind, attr in (("container", "containers"), ("network", "networks"), ("volume", "volumes")):
            setattr(self, attr, type("Coll", (), {"list": staticmethod(lister(kind))})())

    def stack(self, name: str, run_label: str | None = None, **extra: str) -> Engine:
        """A reference stack named `name` (a drill's is named after its run id), with a network and a volume."""
        lbls = {labels.RUN: run_label or f"{name}-abc123", labels.STACK: name, **extra}
        self.items["container"].append(Item("container", f"drills-{name}-pg1", lbls, self.removed))
        self.items["network"].append(Item("network", f"drills-{name}", lbls, self.removed))
        self.items["volume"].append(Item("volume", f"drills-{name}-pg1-data", lbls, self.removed))
        return self

    def sidecar(self, run_id: str) -> Engine:
        lbls = {labels.RUN: run_id, labels.KIND: "netfault"}
        self.items["container"].append(Item("container", f"drills-nf-{run_id}", lbls, self.removed))
        return self


# ---- the scope ---------------------------------------------------------------------------------------------------

def test_scope_default_spares_live_and_unrecorded_runs() -> None:
    scope = cleanup.Scope({"live": Owner.me(), "dead": dead_owner(), "legacy": None})
    assert scope.spare(("dead",)) == ("dead", None)
    assert "still running" in (scope.spare(("live",))[1] or "") and str(Owner.me().pid) in scope.spare(("live",))[1]
    assert "--all" in (scope.spare(("legacy",))[1] or "") and "--all" in (scope.spare(("stranger",))[1] or "")


def test_scope_all_takes_unrecorded_runs_but_never_a_live_one() -> None:
    scope = cleanup.Scope({"live": Owner.me()}, orphans=True)
    assert scope.spare(("stranger",)) == ("stranger", None)
    assert scope.spare(("live",))[1]
    assert scope.spare(("stranger",), label_owner=Owner.me())[1]  # a live owner label protects it too


def test_scope_run_selects_one_run_by_stack_or_run_label() -> None:
    scope = cleanup.Scope({"dead": dead_owner(), "other": dead_owner()}, only="dead")
    assert scope.spare(("dead", "dead-abc123")) == ("dead", None)
    assert scope.spare(("x", "dead")) == ("dead", None)
    assert scope.spare(("other",)) == ("other", cleanup.NOT_SELECTED)


# ---- removing resources ---------------------------------------------------------------------------------------

def test_clean_removes_dead_runs_and_leaves_live_and_unrecorded_ones(tmp_path: Path) -> None:
    engine = Engine().stack("dead-run").sidecar("dead-run").stack("live-run").sidecar("live-run").stack("default")
    scope = cleanup.Scope({"dead-run": dead_owner(), "live-run": Owner.me()})
    lines: list[str] = []
    report = cleanup.clean(engine, scope, log=lines.append)  # type: ignore[arg-type]
    assert sorted(engine.removed) == ["drills-dead-run", "drills-dead-run-pg1", "drills-dead-run-pg1-data",
                                      "drills-nf-dead-run"]
    assert report.cleaned == {"dead-run"} and set(report.spared) == {"live-run", "default"}
    assert any(line.startswith("left alone: live-run: still running") for line in lines)


def test_clean_all_also_takes_unrecorded_stacks_but_not_a_live_one() -> None:
    engine = Engine().stack("live-run").stack("default").stack("labelled-live", **{labels.OWNER: Owner.me().encode()})
    report = cleanup.clean(engine, cleanup.Scope({"live-run": Owner.me()}, orphans=True),  # type: ignore[arg-type]
                           log=lambda _m: None)
    assert report.cleaned == {"default"} and set(report.spared) == {"live-run", "labelled-live"}
    assert all("default" in name for name in engine.removed)


def test_clean_dry_run_lists_every_removal_and_removes_nothing() -> None:
    engine = Engine().stack("dead-run")
    lines: list[str] = []
    report = cleanup.clean(engine, cleanup.Scope({"dead-run": dead_owner()}), dry_run=True,  # type: ignore[arg-type]
                           log=lines.append)
    assert engine.removed == [] and report.total == 3
    assert "  would remove container drills-dead-run-pg1" in lines and "  would remove network drills-dead-run" in lines


# ---- `drill clean` end to end (fake engine, fake heals) ------------------------------------------------------------

@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A dead drill (SIGKILLed with a freeze pending, stack left), a live drill (a freeze pending, stack up),
    and a `drill stack up` stack nobody recorded."""
    dead, live = dead_owner(), Owner.me()
    for run_id, who in (("dead-run", dead), ("live-run", live)):
        owner.claim(run_id, tmp_path / run_id, owner=who)
        vault.new_run_secret(run_id)
        (tmp_path / run_id).mkdir()
        Ledger(tmp_path / run_id, run_id, owned_by=who).register(
            "f-0", f"freeze-{run_id}", "pause", [HealAction("unpause", container=f"c-{run_id}", name=f"api1@{run_id}")])
    engine = Engine().stack("dead-run").stack("live-run").stack("default")
    healed: list[str] = []

    def heal_entry(entry: dict, _env: object) -> tuple[list[str], list[str]]:
        healed.append(entry["fault_id"])
        return [f"unpaused for {entry['fault_id']}"], []

    monkeypatch.setattr("drills.platform.engine.connect", lambda *a, **k: engine)
    monkeypatch.setattr("drills.faults.heal.heal_entry", heal_entry)
    return {"engine": engine, "healed": healed}


def test_clean_heals_and_removes_the_dead_run_only(world: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clean"]) == ExitCode.PASS
    err = capsys.readouterr().err
    assert world["healed"] == ["freeze-dead-run"]
    assert sorted(world["engine"].removed) == ["drills-dead-run", "drills-dead-run-pg1", "drills-dead-run-pg1-data"]
    assert "not healed: live-run: still running" in err and "left alone: default:" in err
    assert not (state_home() / "dead-run.json").exists() and (state_home() / "live-run.json").exists()
    assert vault.run_secret("dead-run") is None and vault.run_secret("live-run")
    assert set(owner.records()) == {"live-run"}


def test_heal_only_heals_dead_runs_keeps_stacks_and_the_record(world: dict) -> None:
    assert main(["clean", "--heal-only"]) == ExitCode.PASS
    assert world["healed"] == ["freeze-dead-run"] and world["engine"].removed == []
    assert set(owner.records()) == {"dead-run", "live-run"}  # a later `drill clean` still knows it is dead
    assert vault.run_secret("dead-run") is None
    assert main(["clean"]) == ExitCode.PASS  # ... and removes its stack then
    assert sorted(world["engine"].removed) == ["drills-dead-run", "drills-dead-run-pg1", "drills-dead-run-pg1-data"]


def test_dry_run_lists_heals_and_removals_and_does_nothing(world: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clean", "--dry-run"]) == ExitCode.PASS
    err = capsys.readouterr().err
    assert "would heal (dead-run/freeze-dead-run): unpause api1@dead-run" in err
    assert "would remove container drills-dead-run-pg1" in err and "live-run-pg1" not in err.split("left alone")[0]
    assert world["healed"] == [] and world["engine"].removed == []
    assert (state_home() / "dead-run.json").exists() and vault.run_secret("dead-run")


def test_run_of_a_live_drill_is_refused_with_the_reason(world: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clean", "--run", "live-run"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "live-run" in err and "still running" in err and f"pid {Owner.me().pid}" in err
    assert world["healed"] == [] and world["engine"].removed == []


def test_run_of_a_stack_whose_owner_label_is_live_is_refused(world: dict, capsys: pytest.CaptureFixture[str]) -> None:
    world["engine"].stack("labelled", **{labels.OWNER: Owner.me().encode()})
    assert main(["clean", "--run", "labelled"]) == ExitCode.USAGE
    assert "still running" in capsys.readouterr().err and world["engine"].removed == []


def test_run_takes_one_run_even_an_unrecorded_one(world: dict) -> None:
    assert main(["clean", "--run", "default"]) == ExitCode.PASS
    assert sorted(world["engine"].removed) == ["drills-default", "drills-default-pg1", "drills-default-pg1-data"]
    assert world["healed"] == []


def test_run_of_an_unknown_id_is_a_usage_error(world: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clean", "--run", "nope"]) == ExitCode.USAGE
    assert "no run nope" in capsys.readouterr().err and world["engine"].removed == []


def test_all_takes_dead_and_unrecorded_runs_never_the_live_one(world: dict) -> None:
    assert main(["clean", "--all"]) == ExitCode.PASS
    assert world["healed"] == ["freeze-dead-run"]
    assert not any("live-run" in name for name in world["engine"].removed)
    assert {n.split("-pg1")[0] for n in world["engine"].removed} == {"drills-dead-run", "drills-default"}


def test_run_and_all_exclude_each_other(world: dict) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["clean", "--run", "x", "--all"])
    assert exc.value.code == ExitCode.USAGE


def test_clean_help_says_what_the_default_is(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["clean", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "never touched" in out and "--all" in out and "--run ID" in out and "Default:" in out
