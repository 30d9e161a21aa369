"""Arrival rates for any user class (Locust side only): under an open-model profile every task a user runs
first takes a token of the rate gate (drills/load/locust_side/gate.py), so a scenario's own locustfile offers the
profile's rate instead of running closed-loop at whatever rate its users manage.

Locust runs each task through `TaskSet.execute_task` (a User's own tasks through DefaultTaskSet's; nested,
sequential and Markov task sets through TaskSet's): `install` wraps those two, and a task that is a function
takes one token there -- a nested TaskSet is a container whose own tasks take theirs. A paced user does not
think between tasks (`prepare` sets its wait_time to 0): the gate is the pacing, and a user asleep is a user of
the pool that cannot take a token. A task that takes its token itself (the built-in workload's step) is marked
with `takes_own_token` and left alone.

Some user classes run code Locust never sees as tasks: one that replaces `User.run` (PytestUser, a hand-written
loop) or uses a TaskSet that replaces `execute_task`. They cannot be paced; `unpaceable` says why and they are
refused, by the harness before the drill (`python -m drills.load.locust_side.pacing LOCUSTFILE [CLASS ...]`) and by the
plugin in every Locust process.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

from locust import User, constant
from locust.exception import StopUser
from locust.user.task import DefaultTaskSet, TaskSet

OWN_TOKEN = "_drills_takes_own_token"
_PACED = "_drills_paced"


def takes_own_token(func: Any) -> Any:
    """Mark a task that takes its gate token itself (it must not be made to take a second one)."""
    setattr(func, OWN_TOKEN, True)
    return func


def _is_taskset(task: Any) -> bool:
    return isinstance(task, type) and issubclass(task, TaskSet)


def install(take: Callable[[], bool]) -> None:
    """Make every task execution in this process wait for `take()` first (False: the load is stopping, and
    the user stops). Idempotent."""
    for cls in (TaskSet, DefaultTaskSet):
        original = cls.__dict__["execute_task"]
        if getattr(original, _PACED, False):
            continue

        def execute_task(self: TaskSet, task: Any, _original: Any = original) -> None:
            if not _is_taskset(task) and not getattr(task, OWN_TOKEN, False) and not take():
                raise StopUser()
            _original(self, task)

        setattr(execute_task, _PACED, True)
        cls.execute_task = execute_task  # type: ignore[method-assign]


def task_sets(holder: Any, seen: set[type] | None = None) -> Iterator[type]:
    """The TaskSet classes a user class (or task set) can run, nested ones included."""
    seen = set() if seen is None else seen
    for task in getattr(holder, "tasks", None) or []:
        if _is_taskset(task) and task not in seen:
            seen.add(task)
            yield task
            yield from task_sets(task, seen)


def unpaceable(user_class: type) -> str | None:
    """Why the tasks of `user_class` cannot be paced by the gate, or None when they can."""
    name = user_class.__name__
    if getattr(user_class, "run", None) is not User.run:
        return (f"user class {name} replaces User.run(), so Locust does not run its work as tasks and the "
                "arrival rate cannot pace it")
    for ts in task_sets(user_class):
        if getattr(ts, "execute_task", None) not in (TaskSet.execute_task, DefaultTaskSet.execute_task):
            return (f"user class {name} runs TaskSet {ts.__name__}, which replaces execute_task(), so the arrival "
                    "rate cannot pace its tasks")
    return None


def prepare(user_classes: list[type]) -> list[str]:
    """Ready user classes for pacing: no think time between tasks. Returns why any cannot be paced (those are
    left as they are). A class whose every task takes its own token is left as it is too."""
    problems = []
    for cls in user_classes:
        problem = unpaceable(cls)
        if problem:
            problems.append(problem)
            continue
        tasks = getattr(cls, "tasks", None) or []
        if tasks and all(getattr(t, OWN_TOKEN, False) for t in tasks):
            continue
        holders: list[Any] = [cls, *task_sets(cls)]
        for holder in holders:
            holder.wait_time = constant(0)
    return problems


def check_locustfile(locustfile: str, names: list[str]) -> list[str]:
    """Load a locustfile the way Locust does and say which of the named user classes (all when none is
    named) cannot be paced; a name it does not define is left to Locust's own check."""
    from locust.main import merge_locustfiles_content
    available = merge_locustfiles_content([locustfile])[0]
    chosen = [available[n] for n in names if n in available] if names else list(available.values())
    return [p for p in (unpaceable(c) for c in chosen) if p]


if __name__ == "__main__":
    print(json.dumps(check_locustfile(sys.argv[1], sys.argv[2:])))
