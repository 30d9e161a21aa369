"""Load profiles as pure functions of time: how many users, and (open model) how many operations per second.

Kept free of Locust so the math is unit-tested and the harness can validate a profile before any process
starts. Time `t` is seconds since the load started.

* `constant_users`: `users` closed-loop users, spawned at `spawn_rate`, for the whole load.
* `arrival_rate`: `rate` operations started per second, offered by a pool of up to `max_users` users; a
  stalled request holds one user but does not lower the offered rate (open model).
* `stages`: consecutive stages, all with `users` (closed model: Locust ramps to each stage's users at its
  `spawn_rate`) or all with `rate` (open model: the rate moves to each stage's rate at `spawn_rate`
  operations/s per second, or jumps there when `spawn_rate` is not given). Ramp, hold, spike and decay are
  just stages. After the last stage its value holds until the load is stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Mode = Literal["users", "rate"]


class ProfileError(ValueError):
    """The profile cannot be run as written."""


@dataclass(frozen=True)
class StageSpan:
    start: float
    end: float
    users: int | None
    rate: float | None
    spawn_rate: float | None


@dataclass(frozen=True)
class Plan:
    """A validated profile; `end` is when Locust stops itself if the harness has not stopped it."""

    mode: Mode
    end: float
    spawn_rate: float
    users: int = 0                    # constant_users
    rate: float | None = None         # arrival_rate
    max_users: int = 0                # open model: size of the user pool
    stages: tuple[StageSpan, ...] = ()

    def users_at(self, t: float) -> tuple[int, float] | None:
        """(target users, spawn rate) at time t; None once the load is over (the shape's tick)."""
        if t >= self.end:
            return None
        if self.mode == "rate":
            return self.max_users, self.spawn_rate
        if not self.stages:
            return self.users, self.spawn_rate
        stage = self._stage_at(t)
        return int(stage.users or 0), float(stage.spawn_rate or self.spawn_rate)

    def rate_at(self, t: float) -> float | None:
        """Target operations started per second (all processes together); None for closed-model profiles."""
        if self.mode != "rate":
            return None
        if not self.stages:
            return float(self.rate or 0.0)
        previous = 0.0
        for stage in self.stages:
            target = float(stage.rate or 0.0)
            if t < stage.end or stage is self.stages[-1]:
                if not stage.spawn_rate:
                    return target
                moved = stage.spawn_rate * max(0.0, t - stage.start)
                return min(target, previous + moved) if target >= previous else max(target, previous - moved)
            previous = self._rate_at_end(stage, previous)
        return previous  # pragma: no cover (the loop always returns)

    def tokens_between(self, t0: float, t1: float, step: float = 0.01) -> float:
        """Operations the rate asks for in [t0, t1) (midpoint integration; exact for piecewise-linear rates)."""
        if self.mode != "rate" or t1 <= t0:
            return 0.0
        total, t = 0.0, t0
        while t < t1:
            dt = min(step, t1 - t)
            total += (self.rate_at(t + dt / 2) or 0.0) * dt
            t += dt
        return total

    def _stage_at(self, t: float) -> StageSpan:
        for stage in self.stages:
            if t < stage.end:
                return stage
        return self.stages[-1]

    @staticmethod
    def _rate_at_end(stage: StageSpan, previous: float) -> float:
        target = float(stage.rate or 0.0)
        if not stage.spawn_rate:
            return target
        moved = stage.spawn_rate * (stage.end - stage.start)
        return min(target, previous + moved) if target >= previous else max(target, previous - moved)


def _get(profile: Any, name: str, default: Any = None) -> Any:
    return profile.get(name, default) if isinstance(profile, dict) else getattr(profile, name, default)


def make_plan(profile: Any, duration: float, grace: float = 30.0) -> Plan:
    """Validate a `load.profile` (LoadProfile or its dict) for a load of `duration` seconds."""
    kind = _get(profile, "type", "constant_users")
    raw_spawn = _get(profile, "spawn_rate", 10.0)
    spawn_rate = float(10.0 if raw_spawn is None else raw_spawn)
    if spawn_rate <= 0:
        raise ProfileError(f"spawn_rate must be positive, not {spawn_rate}")
    end = float(duration) + float(grace)
    if kind == "constant_users":
        users = int(_get(profile, "users", 0) or 0)
        if users < 1:
            raise ProfileError(f"constant_users needs users >= 1, not {users}")
        return Plan("users", end, spawn_rate, users=users)
    max_users = int(_get(profile, "max_users", 200) or 0)
    if kind == "arrival_rate":
        rate = _get(profile, "rate")
        if rate is None or float(rate) <= 0:
            raise ProfileError("arrival_rate needs a positive rate (operations started per second)")
        if max_users < 1:
            raise ProfileError(f"arrival_rate needs max_users >= 1, not {max_users}")
        return Plan("rate", end, spawn_rate, rate=float(rate), max_users=max_users)
    if kind == "stages":
        return _stage_plan(_get(profile, "stages", []) or [], end, spawn_rate, max_users)
    raise ProfileError(f"unknown profile type {kind!r} (constant_users, arrival_rate or stages)")


def _stage_plan(raw: list, end: float, spawn_rate: float, max_users: int) -> Plan:
    if not raw:
        raise ProfileError("a stages profile needs at least one stage")
    spans, t = [], 0.0
    for i, stage in enumerate(raw, start=1):
        duration = float(_get(stage, "duration", 0) or 0)
        users, rate, srate = _get(stage, "users"), _get(stage, "rate"), _get(stage, "spawn_rate")
        if duration <= 0:
            raise ProfileError(f"stage {i}: duration must be positive")
        if (users is None) == (rate is None):
            raise ProfileError(f"stage {i}: give exactly one of users or rate")
        if users is not None and int(users) < 0:
            raise ProfileError(f"stage {i}: users must be >= 0")
        if rate is not None and float(rate) < 0:
            raise ProfileError(f"stage {i}: rate must be >= 0")
        if srate is not None and float(srate) <= 0:
            raise ProfileError(f"stage {i}: spawn_rate must be positive")
        spans.append(StageSpan(t, t + duration, None if users is None else int(users),
                               None if rate is None else float(rate), None if srate is None else float(srate)))
        t += duration
    kinds = {"users" if s.users is not None else "rate" for s in spans}
    if len(kinds) > 1:
        raise ProfileError("stages must all give users (closed model) or all give rate (open model), not a mix")
    mode: Mode = kinds.pop()  # type: ignore[assignment]
    if mode == "rate" and max_users < 1:
        raise ProfileError(f"rate stages need max_users >= 1, not {max_users}")
    return Plan(mode, end, spawn_rate, max_users=max_users, stages=tuple(spans))
