"""The load a scenario offers, in words for `drill run --dry-run`: the profile, each stage of a staged one, the
mix and the Locust processes. Only what the profile type uses is shown (no `rate=None` for a closed loop)."""

from __future__ import annotations

from drills.scenario.model import LoadSection


def load_lines(load: LoadSection) -> list[str]:
    """One line for the profile, then one per stage of a staged profile, then the mix and the processes."""
    p = load.profile
    if p.type == "constant_users":
        lines = [f"load: constant_users, {p.users} users (started at {p.spawn_rate:g}/s)"]
    elif p.type == "arrival_rate":
        lines = [f"load: arrival_rate, {p.rate:g} operations/s offered (at most {p.max_users} users)"
                 if p.rate is not None else f"load: arrival_rate (at most {p.max_users} users)"]
    else:
        total = sum(s.duration for s in p.stages)
        lines = [f"load: stages, {len(p.stages)} stage(s) over {total:g}s, the last holding until the load stops"
                 + (f" (at most {p.max_users} users)" if any(s.rate is not None for s in p.stages) else "")]
        start = 0.0
        for i, s in enumerate(p.stages, 1):
            what = (f"{s.rate:g} operations/s" if s.rate is not None else
                    f"{s.users} users" if s.users is not None else "no load")
            ramp = f", ramp {s.spawn_rate:g}/s" if s.spawn_rate is not None else ""
            lines.append(f"  stage {i}: {start:g}s to {start + s.duration:g}s: {what}{ramp}")
            start += s.duration
    mix = "mix: " + ", ".join(f"{op} {weight:g}" for op, weight in load.mix.items())
    if load.locustfile != "builtin" and load.mix == LoadSection().mix:   # the builtin's default: not this one's
        mix = "the locustfile's own tasks"
    workers = "one Locust process" if load.workers == 0 else f"a Locust master and {load.workers} workers"
    lines.append(f"{mix}; {workers}; locustfile {load.locustfile}")
    return lines
