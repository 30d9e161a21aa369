"""Disasters and restores without Docker: the scenario rules, the restore-mode Patroni config, the choice of
backup sets, and the heal actions' round trip through the ledger."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from drills.faults.ledger import HealAction
from drills.platform import restore, stack_spec
from drills.platform.backups import BackupSet, _set
from drills.platform.stack_spec import RestorePlan, StackOptions
from drills.scenario import scenario_from_dict
from tests.unit.test_scenario_validate import issues

OOPS = {"id": "oops", "type": "operator_error", "at": "20s", "params": {"mistake": "truncate", "table": "orders"}}
PITR = {"id": "pitr", "type": "restore_cluster", "after": {"fault": "oops", "event": "injected", "delay": "5s"},
        "params": {"before_fault": "oops"}}


def test_disaster_and_restore_are_valid_with_defaults_filled_in():
    sc = scenario_from_dict({"name": "t", "faults": [OOPS, PITR, {"id": "gone", "type": "destroy_cluster",
                                                                  "at": "40s"}]})
    oops, pitr, gone = sc.faults
    assert oops.params == {"mistake": "truncate", "table": "orders"}
    assert pitr.params == {"before_fault": "oops", "timeout": 300.0}
    assert gone.params == {} and gone.duration is None and gone.target is None


def test_restore_must_name_an_existing_fault():
    found = issues({"name": "t", "faults": [OOPS, {**PITR, "params": {"before_fault": "opps"}}]})
    assert len(found) == 1 and "before_fault" in found[0] and "'opps'" in found[0] and "oops" in found[0]


@pytest.mark.parametrize("extra, word", [({"target": {"role": "leader"}}, "expected no target"),
                                         ({"link": "api1_db"}, "expected no link"),
                                         ({"duration": "10s"}, "expected no duration")])
def test_disasters_take_no_target_link_or_duration(extra, word):
    found = issues({"name": "t", "faults": [{"id": "g", "type": "destroy_cluster", "at": "10s", **extra}]})
    assert len(found) == 1 and word in found[0], found


def test_disasters_need_the_reference_stack():
    found = issues({"name": "t", "stack": {"attach": {"api_url": "http://127.0.0.1:8080"}},
                    "faults": [{"id": "g", "type": "destroy_cluster", "at": "10s"}]})
    assert len(found) == 1 and "reference stack" in found[0]


def test_backup_settings_are_read_and_checked():
    sc = scenario_from_dict({"name": "t", "stack": {"reference": {"backup_interval": "30s", "backup_type": "diff",
                                                                  "archive_timeout": "5s"}}})
    ref = sc.stack
    assert (ref.backups, ref.backup_interval, ref.backup_type, ref.archive_timeout) == (True, 30.0, "diff", 5.0)
    found = issues({"name": "t", "stack": {"reference": {"backup_interval": "3s", "backup_type": "incremental"}}})
    assert len(found) == 2 and any("at least 10s" in f for f in found) and any("incr" in f for f in found)


def test_archiving_follows_the_backups_switch():
    on = yaml.safe_load(stack_spec.render_patroni(StackOptions(archive_timeout_s=7), "pg1"))["postgresql"]["parameters"]
    assert on["archive_mode"] == "on" and "archive-push" in on["archive_command"] and on["archive_timeout"] == "7s"
    off = yaml.safe_load(stack_spec.render_patroni(StackOptions(backups=False), "pg1"))["postgresql"]["parameters"]
    assert off["archive_mode"] == "off"


def test_restore_mode_bootstraps_from_the_repository_and_stops_before_the_mistake():
    cfg = yaml.safe_load(stack_spec.render_patroni(StackOptions(), "pg2", RestorePlan(("B2", "B1"), "T", 4711)))
    boot = cfg["bootstrap"]
    assert boot["method"] == "pgbackrest" and boot["pgbackrest"]["command"] == "/usr/local/bin/drills-restore"
    rc = boot["pgbackrest"]["recovery_conf"]
    assert rc["recovery_target_xid"] == "4711" and rc["recovery_target_inclusive"] == "false"
    assert "recovery_target_time" not in rc  # the transaction id is exact; the time only picked the set
    assert rc["recovery_target_action"] == "promote" and "archive-get" in rc["restore_command"]
    assert cfg["bootstrap"]["dcs"]["ttl"] == stack_spec.PATRONI_TTL  # everything else unchanged
    spec = stack_spec.db_service(StackOptions(), "pg2", RestorePlan(("B2", "B1")))
    assert spec.environment["DRILLS_RESTORE_SETS"] == "B2 B1"
    assert spec.shared_volumes == {"backups": stack_spec.BACKUP_REPO_PATH}


def test_latest_restore_has_no_target():
    cfg = yaml.safe_load(stack_spec.render_patroni(StackOptions(), "pg1", RestorePlan(("B1",))))
    rc = cfg["bootstrap"]["pgbackrest"]["recovery_conf"]
    assert not any(k.startswith("recovery_target_") and k not in ("recovery_target_action",
                                                                   "recovery_target_timeline") for k in rc)


def _bs(label: str, stop: float) -> BackupSet:
    return BackupSet(label, "full", stop - 2, stop, 1, 1, None, None)


def test_sets_are_tried_newest_first_and_must_end_before_the_target():
    sets = [_bs("A", 100), _bs("B", 200), _bs("C", 300)]
    assert [s.label for s in restore.choose_sets(sets, None)] == ["C", "B", "A"]
    assert [s.label for s in restore.choose_sets(sets, 250)] == ["B", "A"]
    assert [s.label for s in restore.choose_sets(sets, 200.5)] == ["A"]  # whole seconds: 1 s margin
    assert restore.choose_sets(sets, 50) == []


def test_pgbackrest_info_entries_become_backup_sets():
    raw = {"label": "20261126-123414F_20261126-123447I", "type": "incr",
           "timestamp": {"start": 1795696487, "stop": 1795696489},
           "info": {"size": 33000000, "repository": {"size": 120000}},
           "archive": {"start": "000000010000000000000007", "stop": "000000010000000000000007"}}
    s = _set(raw)
    assert (s.type, s.duration_s, s.size, s.repo_size, s.wal_start) == ("incr", 2.0, 33000000, 120000,
                                                                        "000000010000000000000007")


def test_recovery_point_comes_from_postgres_own_log_line():
    assert restore.pg_time(0) == "1970-01-01 00:00:00.000000+00"
    line = "LOG:  last completed transaction was at log time 2026-11-26 12:34:54.788643+00"
    stamp = restore._LAST_TX.findall(line)[-1]
    assert stamp == "2026-11-26 12:34:54.788643+00"
    expected = dt.datetime(2026, 11, 26, 12, 34, 54, 788643, tzinfo=dt.timezone.utc).timestamp()

    class Node:
        def logs(self):
            return ("recovery stopping before commit of transaction 1262, time 2026-11-26 12:40:02.3+00\n"
                    + line + "\n").encode()

    assert restore._recovered_to(Node()) == pytest.approx(expected)


def test_restore_heals_round_trip_through_the_ledger_format():
    action = HealAction("restore_cluster", stack="s1", name="database cluster", before=12.5, xid=99,
                        ports={"pg1": 40001})
    again = HealAction.from_dict(action.to_dict())
    assert again == action
    assert "ports" not in HealAction("take_backup", stack="s1").to_dict()


def test_a_heal_reports_the_restore_it_ran_even_when_it_failed(monkeypatch):
    from drills.faults import heal
    from drills.faults.family import Healed, HealFailed

    outcomes = iter([Healed("restored", {"restore": {"ok": True}}),
                     HealFailed("restore failed: x", {"restore": {"ok": False}})])

    def fake_execute(action, client):
        out = next(outcomes)
        if isinstance(out, Exception):
            raise out
        return out

    monkeypatch.setattr(heal, "execute", fake_execute)
    entry = {"heal": [{"action": "restore_cluster", "stack": "s"}]}
    assert heal.heal_entry_with_data(entry, None) == (["restored"], [], {"restore": {"ok": True}})
    assert heal.heal_entry_with_data(entry, None) == ([], ["restore failed: x"], {"restore": {"ok": False}})


def heal_during_a_restore(env, action: HealAction, finish) -> str:
    """heal.execute(action) while a scheduled restore holds the drill's restore gate for 0.2 s, calling
    `finish` before it lets go: the heal's answer."""
    import threading
    import time

    from drills.faults import heal

    started = threading.Event()

    def scheduled_restore():
        with env.restores.lock:
            started.set()
            time.sleep(0.2)
            finish()

    t = threading.Thread(target=scheduled_restore)
    t.start()
    started.wait()
    try:
        return heal.execute(action, env)
    finally:
        t.join()


def test_a_heal_that_waited_for_a_restore_does_not_restore_again(monkeypatch):
    """A disaster's heal (end of steady, Ctrl-C) that meets a scheduled restore waits for it, then skips."""
    from drills.faults import disaster
    from drills.faults.context import HealEnv

    class FakeStack:
        def __init__(self, client, name):
            self.name = name

        def exists(self):
            raise AssertionError("must not look at the stack: a restore finished while the heal waited")

    monkeypatch.setattr(disaster, "Stack", FakeStack)
    env = HealEnv(object())  # the drill's restore gate lives on its fault context (a HealEnv)
    out = heal_during_a_restore(env, HealAction("restore_cluster", stack="s9"),
                                lambda: env.restores.mark_restored("s9"))
    assert out == "a restore finished meanwhile: nothing to restore"
    assert env.restores.restored_since("s9", 0) and not env.restores.restored_since("other", 0)


def test_sidecars_are_healed_after_the_faults_that_need_them():
    from drills.faults.ledger import heal_order

    pending = {"sidecars": {"heal": []}, "iso-0": {"heal": []}, "lat-0": {"heal": []}}
    assert list(heal_order(pending)) == ["iso-0", "lat-0", "sidecars"]


def test_only_a_plain_segment_name_says_a_segment_is_archived():
    seg = "000000010000000000000005"
    assert restore.archived_through("000000010000000000000005", seg)
    assert restore.archived_through("000000020000000000000006", seg)  # a later segment, another timeline
    assert not restore.archived_through("000000010000000000000004", seg)
    # the backup label of a backup that started in segment 5: segment 5 itself may not be archived yet
    assert not restore.archived_through("000000010000000000000005.00000028.backup", seg)
    assert not restore.archived_through("00000002.history", seg) and not restore.archived_through("", seg)


class _Node:
    """A database node whose exec_run answers from a script of (exit code, output)."""

    def __init__(self, answers):
        self.answers, self.calls = list(answers), []

    def exec_run(self, cmd, user=None):
        self.calls.append(cmd)
        return self.answers.pop(0)


LOCKED = (50, b"ERROR: [050]: unable to acquire lock on file '/tmp/pgbackrest/drills-backup.lock': "
              b"Resource temporarily unavailable")


def test_pgbackrest_waits_while_the_scheduled_backup_holds_the_stanza_lock(monkeypatch):
    from drills.platform import backups
    monkeypatch.setattr(backups.time, "sleep", lambda _s: None)
    node = _Node([LOCKED, LOCKED, (0, b"")])
    assert backups.pgbackrest_when_free(node, "stanza-create") == (0, "")
    assert len(node.calls) == 3
    other = _Node([(56, b"ERROR: [056]: unable to find primary cluster"), (0, b"")])   # not the lock: at once
    assert backups.pgbackrest_when_free(other, "backup")[0] == 56 and len(other.calls) == 1
    stuck = _Node([LOCKED] * 3)
    assert backups.pgbackrest_when_free(stuck, "backup", lock_wait=-1)[0] == 50 and len(stuck.calls) == 1


def test_a_lost_backup_heal_waits_for_the_restore_and_a_leader(monkeypatch):
    """The heal of lose_backup at the end of steady met a restore still running (no leader: it failed), or the
    scheduled backup's lock (stanza-create exit 50): both seen in drills. It now waits for both."""
    import threading

    from drills.faults import disaster, heal
    from drills.faults.context import HealEnv
    from drills.platform import backups

    restored = threading.Event()
    leader_asks = []

    class FakeStack:
        def __init__(self, client, name):
            self.name = name

        def exists(self):
            return True

    def fake_leader(stack):
        leader_asks.append(restored.is_set())
        if len(leader_asks) < 3:
            raise backups.BackupError("no single running Patroni leader to back up from (leaders: none)")
        return "pg1", object()

    made = BackupSet(label="20261202-000000F", type="full", start=0.0, stop=2.0, size=0, repo_size=0,
                     wal_start=None, wal_stop=None)
    monkeypatch.setattr(disaster, "Stack", FakeStack)
    monkeypatch.setattr(disaster.backups, "leader", fake_leader)
    monkeypatch.setattr(disaster.backups, "first_backup", lambda stack: made)
    monkeypatch.setattr(disaster.time, "sleep", lambda _s: None)
    env = HealEnv(object())
    out = heal_during_a_restore(env, HealAction("take_backup", stack="s9"), restored.set)
    assert out == "took a new full backup 20261202-000000F (2s)"
    assert leader_asks == [True, True, True]          # asked only once the restore had ended, until a leader came

    monkeypatch.setattr(disaster, "LOST_BACKUP_LEADER_WAIT_S", -1.0)
    leader_asks.clear()
    with pytest.raises(RuntimeError, match="new full backup failed: no single running Patroni leader"):
        heal.execute(HealAction("take_backup", stack="s9"), env)
