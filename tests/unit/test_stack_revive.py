"""Bring-up's one restart of a Patroni that stopped being a member (Stack._revive_hung_members): when, how often,
and that the node's thread dump reaches our log first. Fakes for the containers; the real dump is checked by hand
against the image (harness/images/postgres/patroni_run.py)."""

from __future__ import annotations

import pytest

from drills.platform import stack as stack_mod
from drills.platform.stack import HUNG_MEMBER_S, ServiceStatus, Stack, StackStatus

DUMP = (b"2026-12-02 05:19:07,107 INFO: no action\nThread 0x00007f14 (most recent call first):\n"
        b"  File \"/usr/local/lib/python3.11/dist-packages/patroni/ha.py\", line 1 in run_cycle\n")


class FakeContainer:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def kill(self, signal: str) -> None:
        self.calls.append(f"kill {signal}")

    def logs(self, since: int) -> bytes:
        self.calls.append("logs")
        return DUMP

    def restart(self, timeout: int) -> None:
        self.calls.append("restart")


def status(*missing: str, answers: bool = True) -> StackStatus:
    st = StackStatus(name="t", run_id="t-1", options={})
    for svc in ("pg1", "pg2", "pg3"):
        st.services.append(ServiceStatus(svc, f"drills-t-{svc}", "id", "unknown" if svc in missing else "replica",
                                         "running", "unhealthy" if svc in missing else "healthy"))
        if svc in missing:
            st.problems.append(f"{svc} is not a member of the Patroni cluster yet")
    if not answers:
        st.problems.append("no Patroni node answers")
    return st


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(stack_mod.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(stack_mod.time, "sleep", lambda _s: None)
    return now


def make_stack(container: FakeContainer) -> Stack:
    s = Stack.__new__(Stack)
    s.containers = lambda: {"pg3": container}   # type: ignore[method-assign]
    return s


def test_a_member_missing_long_enough_gets_its_dump_logged_then_one_restart(clock: list[float]) -> None:
    pg3, lines = FakeContainer(), []
    s, absent, revived = make_stack(pg3), {}, set()
    s._revive_hung_members(status("pg3"), absent, revived, lines.append)
    clock[0] += HUNG_MEMBER_S - 1
    s._revive_hung_members(status("pg3"), absent, revived, lines.append)
    assert pg3.calls == []                      # not yet: a replica may take a while to register
    clock[0] += 2
    s._revive_hung_members(status("pg3"), absent, revived, lines.append)
    assert pg3.calls == ["kill SIGUSR2", "logs", "restart"]
    assert any("pg3's Patroni has not been a member" in x for x in lines)
    assert any("ha.py" in x and "run_cycle" in x for x in lines)
    assert not any("no action" in x for x in lines)     # only the dump, not the log before it
    clock[0] += 10 * HUNG_MEMBER_S
    s._revive_hung_members(status("pg3"), absent, revived, lines.append)
    assert pg3.calls.count("restart") == 1      # once per bring-up


def test_a_member_that_comes_back_starts_its_clock_again(clock: list[float]) -> None:
    pg3 = FakeContainer()
    s, absent, revived = make_stack(pg3), {}, set()
    s._revive_hung_members(status("pg3"), absent, revived, print)
    clock[0] += HUNG_MEMBER_S - 5
    s._revive_hung_members(status(), absent, revived, print)
    clock[0] += 10
    s._revive_hung_members(status("pg3"), absent, revived, print)
    assert pg3.calls == [] and absent == {"pg3": clock[0]}


def test_nothing_is_restarted_while_no_patroni_answers_at_all(clock: list[float]) -> None:
    pg3 = FakeContainer()
    s, absent, revived = make_stack(pg3), {}, set()
    for _ in range(5):
        s._revive_hung_members(status("pg1", "pg2", "pg3", answers=False), absent, revived, print)
        clock[0] += HUNG_MEMBER_S
    assert pg3.calls == [] and not absent
