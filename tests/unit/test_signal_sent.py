"""A kill is in once the engine says it sent the signal; Docker's slow teardown goes on in the background and the
heal waits for it. The engine is a small fake here: a kill request that answers late and an event stream."""

from __future__ import annotations

import threading
import time

import pytest
from docker.errors import APIError

from drills.faults import process
from drills.faults.context import HealEnv
from drills.faults.ledger import HealAction
from drills.faults.signal_sent import send_signal


class FakeStream:
    def __init__(self, events: list[tuple[float, dict]]) -> None:
        self.events, self.closed = events, threading.Event()

    def __iter__(self):
        for delay, event in self.events:
            if self.closed.wait(delay):
                raise OSError("closed")
            yield event
        self.closed.wait(30)
        raise OSError("closed")

    def close(self) -> None:
        self.closed.set()


class FakeApi:
    """`kill` answers after `answer_s` (or fails); the event stream reports the signal after `event_s`."""

    def __init__(self, answer_s: float, event_s: float | None, fail: bool = False, no_events: bool = False) -> None:
        self.answer_s, self.event_s, self.fail, self.no_events = answer_s, event_s, fail, no_events
        self.streams: list[FakeStream] = []
        self.killed = threading.Event()

    def events(self, since: str, decode: bool, filters: dict) -> FakeStream:
        assert decode and filters["container"] == "cid" and filters["event"] == "kill"
        if self.no_events:
            raise APIError("events are not available")
        sent = float(since) + 0.05
        events = [] if self.event_s is None else [
            (0.0, {"status": "kill", "timeNano": int((sent - 10) * 1e9)}),   # an older kill: not this one
            (self.event_s, {"status": "kill", "timeNano": int(sent * 1e9)})]
        self.streams.append(FakeStream(events))
        return self.streams[-1]

    def kill(self, container_id: str, signal: str) -> None:
        time.sleep(self.answer_s)
        if self.fail:
            raise APIError("409 container is not running")
        self.killed.set()


def test_the_inject_returns_when_the_signal_is_sent_not_when_docker_answers():
    api = FakeApi(answer_s=2.0, event_s=0.05)
    t0 = time.monotonic()
    call, sent_at = send_signal(api, "cid", "SIGKILL")
    assert time.monotonic() - t0 < 1.5 and sent_at is not None
    assert not call.done()          # Docker is still tearing the container down
    call.result(timeout=10)
    assert api.killed.is_set()
    assert all(s.closed.is_set() for s in api.streams)   # the subscription is not left open


def test_a_failed_request_is_an_error_even_when_nothing_was_sent():
    with pytest.raises(APIError, match="not running"):
        send_signal(FakeApi(answer_s=0.01, event_s=None, fail=True), "cid", "SIGKILL")


def test_without_events_the_answer_decides():
    api = FakeApi(answer_s=0.2, event_s=None, no_events=True)
    call, sent_at = send_signal(api, "cid", "SIGTERM")
    assert call.done() and sent_at is None and api.killed.is_set()


def test_the_heal_waits_for_the_teardown_before_it_starts_the_container():
    order: list[str] = []
    teardown_done = threading.Event()

    def teardown() -> None:
        time.sleep(0.3)
        order.append("teardown")
        teardown_done.set()

    class Container:
        name, status = "api3", "exited"

        def start(self) -> None:
            order.append("start")

    class Client:
        class containers:   # noqa: N801 - docker's name
            @staticmethod
            def get(_cid: str) -> Container:
                order.append("inspect")
                return Container()

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        env = HealEnv(Client())   # type: ignore[arg-type]
        env.unsettled["cid"] = pool.submit(teardown)
        assert process._start(HealAction("start", container="cid", name="api3"), env) == "started api3"
    assert order == ["teardown", "inspect", "start"]
    assert env.unsettled == {}
