"""Profile math (users and rates over time), backoff, the operation mix and password derivation."""

from __future__ import annotations

import collections
import hashlib
import hmac
import random

import pytest

from drills.load.locust_side.choices import HotSeats, Mix, backoff
from drills.load.profiles import ProfileError, make_plan
from drills.rundir.passwords import derive_password
from drills.scenario.model import LoadProfile, Stage


def test_constant_users() -> None:
    plan = make_plan(LoadProfile(type="constant_users", users=20, spawn_rate=5), duration=60, grace=10)
    assert plan.mode == "users" and plan.users_at(0) == (20, 5.0) and plan.users_at(69.9) == (20, 5.0)
    assert plan.users_at(70) is None and plan.rate_at(10) is None


def test_arrival_rate_keeps_a_pool_and_a_constant_rate() -> None:
    plan = make_plan(LoadProfile(type="arrival_rate", rate=50, max_users=80, spawn_rate=40), duration=30)
    assert plan.mode == "rate" and plan.users_at(0) == (80, 40.0) and plan.rate_at(12.3) == 50.0
    assert plan.tokens_between(0, 10) == pytest.approx(500)


def test_user_stages_ramp_hold_spike_decay() -> None:
    stages = [Stage(duration=10, users=10, spawn_rate=1), Stage(duration=20, users=10),
              Stage(duration=5, users=50, spawn_rate=50), Stage(duration=10, users=5)]
    plan = make_plan(LoadProfile(type="stages", spawn_rate=2, stages=stages), duration=60, grace=0)
    assert plan.users_at(0) == (10, 1.0)       # ramp at 1 user/s
    assert plan.users_at(15) == (10, 2.0)      # hold (profile spawn rate)
    assert plan.users_at(31) == (50, 50.0)     # spike
    assert plan.users_at(40) == (5, 2.0)       # decay
    assert plan.users_at(55) == (5, 2.0)       # the last stage holds until the load stops
    assert plan.users_at(60) is None


def test_rate_stages_ramp_linearly_or_jump() -> None:
    stages = [{"duration": 10, "rate": 100, "spawn_rate": 10},  # ramp 0 -> 100 over 10 s
              {"duration": 10, "rate": 100},                     # hold
              {"duration": 5, "rate": 300},                      # spike: jump
              {"duration": 10, "rate": 50, "spawn_rate": 50}]    # decay 300 -> 50 over 5 s, then hold
    plan = make_plan({"type": "stages", "max_users": 300, "stages": stages}, duration=40, grace=0)
    assert plan.mode == "rate" and plan.users_at(3) == (300, 10.0)
    assert [plan.rate_at(t) for t in (0, 5, 10, 15, 20, 24.9)] == [0, 50, 100, 100, 300, 300]
    assert [plan.rate_at(t) for t in (25, 27, 30, 34, 39)] == [300, 200, 50, 50, 50]
    assert plan.tokens_between(0, 10) == pytest.approx(500, rel=1e-3)
    assert plan.tokens_between(20, 25) == pytest.approx(1500, rel=1e-3)


@pytest.mark.parametrize("profile, message", [
    ({"type": "constant_users", "users": 0}, "users >= 1"),
    ({"type": "arrival_rate"}, "positive rate"),
    ({"type": "arrival_rate", "rate": 5, "max_users": 0}, "max_users"),
    ({"type": "stages", "stages": []}, "at least one stage"),
    ({"type": "stages", "stages": [{"duration": 5}]}, "exactly one of users or rate"),
    ({"type": "stages", "stages": [{"duration": 5, "users": 1, "rate": 2}]}, "exactly one of users or rate"),
    ({"type": "stages", "stages": [{"duration": 0, "users": 1}]}, "duration must be positive"),
    ({"type": "stages", "stages": [{"duration": 5, "users": 1}, {"duration": 5, "rate": 3}]}, "not a mix"),
    ({"type": "waves"}, "unknown profile type"),
    ({"type": "constant_users", "users": 3, "spawn_rate": 0}, "spawn_rate"),
])
def test_invalid_profiles(profile: dict, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        make_plan(profile, duration=10)


def test_backoff_is_exponential_capped_and_jittered() -> None:
    rng = random.Random(1)
    for attempt, low, high in ((1, 0.1, 0.2), (2, 0.2, 0.4), (3, 0.4, 0.8), (8, 1.5, 3.0)):
        values = [backoff(attempt, rng) for _ in range(200)]
        assert low <= min(values) and max(values) <= high and len(set(values)) > 100


def test_mix_follows_the_weights() -> None:
    mix = Mix({"purchase": 70, "browse": 20, "rotate_password": 5, "login": 5, "unknown": 50, "zero": 0})
    rng = random.Random(7)
    counts = collections.Counter(mix.pick(rng) for _ in range(20000))
    assert set(counts) == {"purchase", "browse", "rotate_password", "login"}
    assert counts["purchase"] / 20000 == pytest.approx(0.7, abs=0.02)
    assert counts["rotate_password"] / 20000 == pytest.approx(0.05, abs=0.01)


def test_password_is_the_documented_derivation() -> None:
    expected = hmac.new(b"run-secret", b"u-1:3", hashlib.sha256).hexdigest()[:24]
    assert derive_password("run-secret", "u-1", 3) == expected and len(expected) == 24
    assert derive_password("run-secret", "u-1", 4) != expected


def test_hot_seats_forget_what_was_sold() -> None:
    hot, rng = HotSeats(10), random.Random(3)
    picks = [hot.pick(rng, 4) for _ in range(50)]
    assert all(p == sorted(p) and len(set(p)) == 4 and set(p) <= set(range(1, 11)) for p in picks)
    hot.sold([1, 2, 3, 99, "x"])
    hot.sold(None)
    assert len(hot) == 7 and all(not {1, 2, 3} & set(hot.pick(rng, 4)) for _ in range(50))
    hot.sold(list(range(4, 10)))
    assert hot.pick(rng, 4) == [10]
    hot.sold([10])
    assert len(hot) == 0 and hot.pick(rng, 4) == []
