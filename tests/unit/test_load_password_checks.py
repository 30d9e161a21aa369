"""The built-in workload asks a password check again while it gets no answer, and only then.

A login shed with 503 overloaded (the API's hashing gate) changed nothing; one such answer used to leave an
acknowledged rotation's verify_password `info` (inconclusive) in a fault-free run. Locust monkey-patches
the standard library when imported, so the workload runs in a child Python, against canned answers.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

ASK = """
import json, sys, types
from drills.load.locust_side import workload
from drills.load.locust_side.classify import Classified

workload.gevent.sleep = lambda s: SLEPT.append(s)
SLEPT = []

def run(answers, stopping=False, max_retries=3):
    SLEPT.clear()
    queue = list(answers)
    asked = []
    def sub(method, path, name, json=None, token=None):
        asked.append(path)
        status = queue.pop(0)
        outcome = "ok" if status and status < 300 else ("info" if status is None or status >= 500 else "fail")
        return Classified(status, {}, {}, outcome, None)
    me = types.SimpleNamespace(_sub=sub, rng=__import__("random").Random(1),
                               shop=types.SimpleNamespace(config=types.SimpleNamespace(max_retries=max_retries)),
                               rt=types.SimpleNamespace(stopping=stopping))
    me._retry_after = lambda r, attempt: workload.TicketBuyer._retry_after(me, r, attempt)
    r = workload.TicketBuyer._ask(me, "POST", "/sessions", "sub:verify_password")
    return {"asked": len(asked), "verdict": workload._verdict(r), "slept": len(SLEPT)}

print(json.dumps({
    "shed_then_refused": run([503, 401]),
    "timeout_then_accepted": run([None, 201]),
    "no_answer_ever": run([None, 503, 502, 504, 201]),
    "no_retries_allowed": run([503, 401], max_retries=0),
    "refused_at_once": run([401]),
    "bad_request": run([400, 401]),
    "stopping": run([503, 401], stopping=True),
}))
"""


@pytest.fixture(scope="module")
def asked() -> dict:
    proc = subprocess.run([sys.executable, "-c", ASK], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_shed_or_timed_out_check_is_asked_again_until_it_is_answered(asked: dict) -> None:
    assert asked["shed_then_refused"] == {"asked": 2, "verdict": "rejected", "slept": 1}
    assert asked["timeout_then_accepted"] == {"asked": 2, "verdict": "accepted", "slept": 1}


def test_it_gives_up_after_max_retries_and_stays_unknown(asked: dict) -> None:
    assert asked["no_answer_ever"] == {"asked": 4, "verdict": "unknown", "slept": 3}
    assert asked["no_retries_allowed"] == {"asked": 1, "verdict": "unknown", "slept": 0}


def test_an_answer_or_a_request_error_is_not_asked_again(asked: dict) -> None:
    assert asked["refused_at_once"] == {"asked": 1, "verdict": "rejected", "slept": 0}
    assert asked["bad_request"] == {"asked": 1, "verdict": "unknown", "slept": 0}


def test_nothing_is_asked_again_once_the_load_is_stopping(asked: dict) -> None:
    assert asked["stopping"] == {"asked": 1, "verdict": "unknown", "slept": 0}
