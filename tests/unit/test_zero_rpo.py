"""Zero-RPO backups without Docker: the scenario key and its conflicts, the stack's shape with the WAL stream,
the stream's state as `drill stack status` shows it, and the push script that hands the stream's WAL to the
archive before a restore (run for real, with a stand-in pgbackrest that records what it was asked)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from drills.platform import stack_spec, walstream
from drills.platform.backups import BackupError
from drills.platform.stack import Stack
from drills.platform.stack_spec import WALSTREAM, WALSTREAM_SLOT, StackCredentials, StackOptions
from drills.scenario import load_scenario, scenario_from_dict
from drills.scenario.zero_rpo import zero_rpo_conflict
from tests.unit.test_scenario_validate import issues
from tests.unit.test_stack_spec import _FakeDocker

ROOT = Path(__file__).resolve().parents[2]
PUSH = ROOT / "harness" / "images" / "postgres" / "walstream_push.sh"
SEGMENT = 16 * 2**20


# ---- the scenario key ------------------------------------------------------------------------------------------
def test_zero_rpo_is_off_by_default_and_read_when_on():
    assert scenario_from_dict({"name": "t"}).stack.zero_rpo_backups is False
    sc = scenario_from_dict({"name": "t", "stack": {"reference": {"zero_rpo_backups": True}}})
    assert sc.stack.zero_rpo_backups is True


@pytest.mark.parametrize("reference, named", [({"backups": False}, "backups: false"),
                                              ({"async_replication": True}, "async_replication: true")])
def test_zero_rpo_with_backups_off_or_async_replication_is_a_validation_error(reference, named):
    found = issues({"name": "t", "stack": {"reference": {**reference, "zero_rpo_backups": True}}})
    assert len(found) == 1, found
    assert "stack.reference.zero_rpo_backups" in found[0] and named in found[0]
    assert issues({"name": "t", "stack": {"reference": reference}}) == []  # the other key alone is fine


def test_the_conflict_points_at_the_line_of_the_key(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: t\nstack:\n  reference:\n    backups: false\n    zero_rpo_backups: true\n")
    with pytest.raises(Exception) as exc:
        load_scenario(path)
    assert f"{path}:5:" in str(exc.value) and "backups: false" in str(exc.value)


def test_stack_options_check_the_same_rule():
    assert zero_rpo_conflict(False, False, True) is None
    assert zero_rpo_conflict(True, True, False) is None
    assert zero_rpo_conflict(True, False, False)[0] == "backups"
    assert zero_rpo_conflict(True, True, True)[0] == "async_replication"
    problems = StackOptions(zero_rpo_backups=True, backups=False).validate()
    assert len(problems) == 1 and "zero_rpo_backups" in problems[0]
    assert StackOptions(zero_rpo_backups=True).validate() == []


def test_the_library_drill_budgets_rpo_zero_and_keeps_its_archive_based_twin():
    zero = load_scenario(ROOT / "scenarios" / "cluster-loss-restore-zero-rpo.yaml")
    twin = load_scenario(ROOT / "scenarios" / "cluster-loss-restore.yaml")
    assert zero.stack.zero_rpo_backups is True and twin.stack.zero_rpo_backups is False
    budgets = {b.metric: b.max for b in zero.budgets}
    for metric in ("rpo_s", "rpo_ops", "lost", "credential_changes_lost", "resold_seats", "revoked_sessions_working"):
        assert budgets[metric] == 0, metric
    assert [f.type for f in zero.faults] == [f.type for f in twin.faults]
    assert zero.phases == twin.phases           # the same drill but for the stream (its description says so)


# ---- the stack's shape -----------------------------------------------------------------------------------------
def test_without_zero_rpo_there_is_no_stream_and_no_slot():
    opts = StackOptions()
    assert WALSTREAM not in [s.service for s in stack_spec.services(opts, "tok")]
    cfg = yaml.safe_load(stack_spec.render_patroni(opts, "pg1"))
    assert cfg["bootstrap"]["dcs"]["slots"] == {}
    api = next(s for s in stack_spec.services(opts, "tok") if s.service == "api1")
    assert "BACKUP_STREAM" not in api.environment


def test_zero_rpo_adds_the_stream_its_permanent_slot_and_the_apis_wait():
    opts = StackOptions(zero_rpo_backups=True)
    specs = {s.service: s for s in stack_spec.services(opts, "tok")}
    stream = specs[WALSTREAM]
    assert stream.role == WALSTREAM and stream.ports == {} and stream.volume_path is None  # nothing of its own
    assert stream.shared_volumes == {"backups": stack_spec.BACKUP_REPO_PATH}  # the repository it writes into
    assert stream.command == ["/usr/local/bin/drills-walstream"]
    assert stream.environment["DRILLS_PATRONI_MEMBERS"] == "pg1 pg2 pg3"
    assert stream.environment["DRILLS_STREAM_SLOT"] == WALSTREAM_SLOT
    assert "/etc/pgbackrest/pgbackrest.conf" in stream.files
    for restore in (None, stack_spec.RestorePlan(sets=("s1",))):  # a restored cluster declares it again
        cfg = yaml.safe_load(stack_spec.render_patroni(opts, "pg1", restore))
        assert cfg["bootstrap"]["dcs"]["slots"] == {WALSTREAM_SLOT: {"type": "physical"}}
    for api in ("api1", "api2", "api3"):
        env = specs[api].environment
        assert env["BACKUP_STREAM"] == WALSTREAM_SLOT
        assert float(env["BACKUP_STREAM_WAIT_S"]) == stack_spec.WALSTREAM_WAIT_S


def test_the_stream_gets_the_replication_password_and_nothing_else():
    docker = _FakeDocker()
    creds = StackCredentials.generate("tok")
    Stack(docker, "s")._create(StackOptions(name="s", zero_rpo_backups=True), "s-run", creds)
    env = docker.created[WALSTREAM].kw["environment"]
    secrets = [creds.superuser_password, creds.replication_password, creds.app_password, creds.audit_token]
    assert env["PGPASSWORD"] == creds.replication_password
    assert [s for s in secrets if s in json.dumps(env)] == [creds.replication_password]


# ---- the stream's state ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("rows, state, lag", [
    ("streaming|0", walstream.STREAMING, 0),
    ("streaming|4096", walstream.STREAMING, 4096),
    (f"streaming|{walstream.BEHIND_BYTES + 1}", walstream.BEHIND, walstream.BEHIND_BYTES + 1),
    ("catchup|123", walstream.BEHIND, 123),
    ("streaming|-1", walstream.BEHIND, None),            # connected, nothing flushed yet
    ("", walstream.DOWN, None),                          # no connection with its application_name
    ("startup|-1\nstreaming|10", walstream.STREAMING, 10),  # a reconnect next to the live one: the live one counts
])
def test_stream_state_from_the_leaders_pg_stat_replication(rows, state, lag):
    found = walstream.classify(rows)
    assert (found.state, found.lag_bytes) == (state, lag)
    assert found.healthy is (state == walstream.STREAMING)
    assert found.detail


def test_the_push_summary_is_the_last_json_line():
    out = "drills-walstream-push: x\n{\"pushed\": 2, \"already\": 1, \"differs\": 0, \"failed\": 0, \"last\": \"A\"}\n"
    assert walstream.parse_push_report(out)["pushed"] == 2
    with pytest.raises(BackupError, match="no summary"):
        walstream.parse_push_report("pgbackrest: command not found\n")


# ---- the push script, for real ---------------------------------------------------------------------------------
FAKE_PGBACKREST = """#!/bin/sh
# Records each archive-push; answers like pgBackRest 2.45 for files named in $FAKE_ALREADY / $FAKE_DIFFERS.
for last; do :; done
name=$(basename "$last")
echo "$*" >> "$FAKE_LOG"
case " $FAKE_DIFFERS " in *" $name "*)
    echo "ERROR: [045]: WAL file '$name' already exists in the repo1 archive with a different checksum"; exit 45;; esac
case " $FAKE_ALREADY " in *" $name "*)
    echo "WARN: WAL file '$name' already exists in the repo1 archive with the same checksum"; exit 0;; esac
case " $FAKE_BROKEN " in *" $name "*) echo "ERROR: [055]: unable to open missing file"; exit 55;; esac
exit 0
"""
# pg_receivewal "runs" for the first $FAKE_RUNNING calls (the supervisor stopping it after the hold), then not.
FAKE_PGREP = """#!/bin/sh
n=$(cat "$FAKE_PGREP_COUNT" 2>/dev/null || echo 0)
echo $((n + 1)) > "$FAKE_PGREP_COUNT"
[ "$n" -lt "${FAKE_RUNNING:-0}" ] && [ -e "$DRILLS_STREAM_DIR.hold" ]
"""


def _stream(tmp_path: Path, files: dict[str, int]) -> tuple[Path, dict[str, str]]:
    bin_dir, stream = tmp_path / "bin", tmp_path / "repo" / "stream"
    bin_dir.mkdir()
    stream.mkdir(parents=True)
    for name, size in files.items():
        with open(stream / name, "wb") as fh:
            fh.truncate(size)
    for name, text in (("pgbackrest", FAKE_PGBACKREST), ("pgrep", FAKE_PGREP)):
        fake = bin_dir / name
        fake.write_text(text)
        fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "DRILLS_STREAM_DIR": str(stream), "DRILLS_STANZA": "drills",
           "FAKE_LOG": str(tmp_path / "pushed.log"), "FAKE_ALREADY": "", "FAKE_DIFFERS": "", "FAKE_BROKEN": "",
           "FAKE_PGREP_COUNT": str(tmp_path / "pgrep.count"), "FAKE_RUNNING": "0"}
    return stream, env


def _push(env: dict[str, str]) -> tuple[int, dict, list[str], str]:
    proc = subprocess.run(["sh", str(PUSH)], env=env, capture_output=True, text=True, timeout=60)
    log = Path(env["FAKE_LOG"])
    pushed = [line.split()[-1].rsplit("/", 1)[-1] for line in log.read_text().splitlines()] if log.exists() else []
    return proc.returncode, walstream.parse_push_report(proc.stdout), pushed, proc.stdout + proc.stderr


def test_push_hands_history_then_segments_in_order_the_partial_under_its_name(tmp_path):
    stream, env = _stream(tmp_path, {"000000010000000000000005": SEGMENT, "00000002.history": 42,
                                     "000000010000000000000006.partial": SEGMENT,
                                     "000000020000000000000006.partial": SEGMENT})
    env["FAKE_ALREADY"] = "000000010000000000000005"
    env["FAKE_RUNNING"] = "3"  # the receiver takes a moment to stop after the hold
    code, report, pushed, out = _push(env)
    assert code == 0, out
    assert int(Path(env["FAKE_PGREP_COUNT"]).read_text()) == 4   # waited for it, with the hold in place
    assert pushed == ["00000002.history", "000000010000000000000005", "000000010000000000000006",
                      "000000020000000000000006"]
    assert report == {"pushed": 3, "already": 1, "differs": 0, "failed": 0, "last": "000000020000000000000006"}
    assert "--reset-pg1-path" in Path(env["FAKE_LOG"]).read_text()  # no PostgreSQL beside the stream
    assert stream.is_dir() and list(stream.iterdir()) == []           # emptied for the restored cluster
    assert not Path(f"{stream}.hold").exists()                        # the stream may go on


def test_push_keeps_the_archives_copy_when_it_differs(tmp_path):
    stream, env = _stream(tmp_path, {"000000010000000000000007": SEGMENT,
                                     "000000010000000000000008.partial": SEGMENT})
    env["FAKE_DIFFERS"] = "000000010000000000000007"
    code, report, _, out = _push(env)
    assert code == 0, out
    assert (report["pushed"], report["differs"], report["failed"]) == (1, 1, 0)


def test_a_failed_push_or_a_short_partial_keeps_the_stream_and_fails(tmp_path):
    stream, env = _stream(tmp_path, {"000000010000000000000007": SEGMENT,
                                     "000000010000000000000008.partial": 1000})   # not padded: never renamed
    env["FAKE_BROKEN"] = "000000010000000000000007"
    code, report, _, out = _push(env)
    assert code != 0 and report["failed"] == 2, out
    assert sorted(p.name for p in stream.iterdir()) == ["000000010000000000000007",
                                                       "000000010000000000000008.partial"]


def test_a_receiver_that_never_stops_is_not_pushed_under(tmp_path):
    stream, env = _stream(tmp_path, {"000000010000000000000007.partial": SEGMENT})
    env["FAKE_RUNNING"], env["DRILLS_HOLD_WAIT_TENTHS"] = "1000", "5"
    code, report, pushed, out = _push(env)
    assert code != 0 and pushed == [] and "still runs" in out
    assert (stream / "000000010000000000000007.partial").exists()
    assert not Path(f"{stream}.hold").exists()


def test_nothing_to_push_is_fine(tmp_path):
    stream, env = _stream(tmp_path, {})
    stream.rmdir()
    code, report, pushed, out = _push(env)
    assert code == 0 and pushed == [] and report["pushed"] == 0, out


def test_the_api_configured_like_the_stack_starts_it_waits_for_the_stream():
    """The one contract the API and the harness share without sharing code: the environment the stack gives
    the API replicas turns the wait on, for the stream's application_name, for WALSTREAM_WAIT_S."""
    from tests.unit.test_api_guards import config as api_config

    env = {"DATABASE_URL": "host=x", **stack_spec.api_stream_environment(StackOptions(zero_rpo_backups=True))}
    cfg = api_config.Config.from_env(env)
    assert (cfg.backup_stream, cfg.backup_stream_wait_s) == (WALSTREAM_SLOT, stack_spec.WALSTREAM_WAIT_S)
    assert api_config.Config.from_env({"DATABASE_URL": "host=x"}).backup_stream == ""   # off: acknowledged at COMMIT
    with pytest.raises(api_config.ConfigError):
        api_config.Config.from_env({"BACKUP_STREAM_WAIT_S": "soon"})


def test_the_wal_stream_is_a_fault_target_only_when_zero_rpo_is_on():
    from drills.scenario.model import ReferenceStack
    from drills.scenario.topology import reference_services

    assert "walstream" not in reference_services(ReferenceStack())
    assert "walstream" in reference_services(ReferenceStack(backups=True, zero_rpo_backups=True))
