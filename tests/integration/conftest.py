"""A real reference stack for the integration tests (real Docker, Patroni, Toxiproxy, HAProxy)."""

from __future__ import annotations

import os
import time

import pytest

from drills.platform import engine
from drills.platform.stack import Stack
from drills.platform.stack_spec import StackOptions
from drills.platform.ticketing import TicketingClient

STACK_NAME = f"{os.environ.get('DRILLS_IT_STACK_PREFIX', 'it')}{os.getpid()}"  # e.g. one engineer's prefix
SMALL_EVENT_SEATS = 40  # the cold events are small, so buyers outnumber seats


@pytest.fixture(scope="session")
def docker_client():
    return engine.connect()


@pytest.fixture(scope="session")
def stack(docker_client):
    """The stack, from nothing to healthy; removed after the session whatever happened."""
    s = Stack(docker_client, STACK_NAME)
    if s.exists():
        s.down(log=lambda _m: None)
    t0 = time.monotonic()
    status = s.up(StackOptions(name=STACK_NAME, cold_event_seats=SMALL_EVENT_SEATS, scrypt_n=4096),
                  log=lambda m: print(m), timeout=240)
    print(f"stack healthy after {time.monotonic() - t0:.1f}s")
    assert status.healthy, status.problems
    yield s
    s.down(log=lambda _m: None)


@pytest.fixture(scope="session")
def endpoints(stack):
    return stack.status().endpoints


@pytest.fixture()
def api(endpoints):
    return TicketingClient(endpoints["api"], timeout=15)


def wait_healthy(stack: Stack, timeout: float = 90) -> None:
    stack.wait_healthy(timeout=timeout, log=lambda _m: None)


@pytest.fixture()
def healthy_stack(stack):
    """The shared stack, healthy (a leader protected by a streaming synchronous standby) before the test and
    again after it: a test that leaves it broken fails itself instead of the tests that run after it."""
    wait_healthy(stack, timeout=120)
    yield stack
    wait_healthy(stack, timeout=120)
