"""The largest value each kind of number in a scenario may take: one table for the validator, the JSON schema
and docs/scenario-format.md#limits (its table is generated from LIMITS by `python -m drills.checks.regenerate`).

Without maxima a slip of the finger (`steady: 10000000h`, `latency_ms: 1e23`, `timeout: 1e300`) validates and
only fails when the drill runs, or never ends. Each maximum is far above any sensible drill and far below what
breaks the tools underneath (Toxiproxy's int32 fields, Locust, timers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TIME_UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6}


@dataclass(frozen=True)
class Limit:
    """One kind of value: its maximum in `unit`, the keys it applies to and why it is where it is."""

    kind: str
    noun: str                # for messages: "expected an integer between 0 and 600000 (a latency of at most ...)"
    maximum: float
    unit: str                # "s" for every time kind (convertible to ms and us), else the unit of the keys
    shown: str               # the maximum as people read it: "24 h", "1 GiB"
    applies_to: str          # for the docs table
    why: str

    def cap(self, unit: str | None = None) -> float:
        """The maximum in `unit` (ms or us for a time kind written in milliseconds or microseconds)."""
        if unit is None or unit == self.unit:
            return self.maximum
        if self.unit != "s" or unit not in _TIME_UNITS:
            raise ValueError(f"{self.kind} is in {self.unit}, not {unit}")
        return self.maximum * _TIME_UNITS[unit]

    @property
    def note(self) -> str:
        """What the maximum is, for messages: "a timeout of at most 1 h"."""
        return f"{self.noun} of at most {self.shown}"


HOUR = 3600.0

# The range of a drill's random seed: a scenario's `seed`, its schema and `drill run --seed` take the same.
SEED_MIN, SEED_MAX = 0, 2**32 - 1

_ROWS = (
    Limit("duration", "a duration", 24 * HOUR, "s", "24 h",
          "every duration not listed below: `phases.*`, a fault's `at`, `duration`, `repeat_every`, `after.delay` "
          "and `params.restart_after`, a stage's `duration`, `reference.backup_interval`, an abort `window`, a "
          "budget `max` in seconds",
          "a drill rehearses minutes of failure, not a soak test; a day is already far beyond any sensible one"),
    Limit("phase_total", "the phases together", 24 * HOUR, "s", "24 h",
          "`warmup` + `steady` + `recovery`; the durations of a profile's `stages` together",
          "the whole run holds a load generator, a stack and every fault: a day is the most one drill may take"),
    Limit("timeout", "a timeout", HOUR, "s", "1 h",
          "`load.request_timeout`, `params.timeout` (`stop`, `restart`, `restore_cluster`), `params.timeout_ms` "
          "(`timeout`, `reset_peer`), `reference.archive_timeout`, a target's `wait`",
          "a wait longer than an hour is a hang, not a timeout"),
    Limit("latency", "a latency", 600.0, "s", "10 min",
          "`params.latency_ms`, `jitter_ms`, `delay_ms` (`slow_close`), `delay_us` (`slicer`); an abort's `p99_ms` "
          "`above`; a budget `max` in milliseconds",
          "every client and health check has long timed out by then: for an outage write a `timeout` or `link_down` "
          "fault"),
    Limit("bytes", "a byte count", 2.0 ** 30, "bytes", "1 GiB",
          "`params.bytes` (`limit_data`), `average_size` and `size_variation` (`slicer`), "
          "`reference.maximum_lag_on_failover`",
          "far more than a drill moves through one link or lags by; Toxiproxy's fields are 32-bit integers"),
    Limit("bandwidth", "a bandwidth", 2.0 ** 20, "KB/s", "1 GiB/s",
          "`params.rate_kbps` (`bandwidth`)",
          "a cap above what a container network link carries caps nothing"),
    Limit("rate", "a rate", 10_000.0, "per second", "10000 per second",
          "`profile.rate`, `profile.spawn_rate`, a stage's `rate` and `spawn_rate`",
          "well above what one load generator starts (see `make bench`): a higher rate measures the generator"),
    Limit("users", "a number of users", 100_000.0, "users", "100000",
          "`profile.users`, `profile.max_users`, a stage's `users`",
          "each user is a greenlet with its own connections; more exhausts the machine, not the system under test"),
    Limit("repetitions", "a number of injections", 10_000.0, "injections", "10000",
          "a fault's `repeat_count`",
          "every injection is an event, a heal and a line of the report"),
    Limit("targets", "a number of containers", 100.0, "containers", "100",
          "`target.count`, which is also at most the number of nodes its service or role can have in the stack",
          "a fault acts on a handful of containers; see the stack's own size for the real bound"),
    Limit("alert_delay", "an alert delay", HOUR, "s", "1 h",
          "`alerts.grace`, an expected alert's `fire_within` and `resolve_within`",
          "an alert that pages an hour after the fault is no alert for a drill to wait for: fix the rule's `for` "
          "and Alertmanager's group timings"),
    Limit("alerts", "a number of alerts", 100.0, "alerts", "100",
          "`alerts.expected` entries, `alerts.abort_on` names, the label matchers of one expected alert",
          "a drill checks the handful of alerts its faults should raise; hundreds belong in the rule files"),
)

LIMITS: dict[str, Limit] = {limit.kind: limit for limit in _ROWS}
if len(LIMITS) != len(_ROWS):
    raise ValueError("a limit is declared twice")

# -- the docs table -------------------------------------------------------------------------------------------------

COMMAND = "python -m drills.checks.regenerate --write"
_BEGIN = f"<!-- BEGIN GENERATED from drills/scenario/limits.py by `{COMMAND}`: do not edit by hand -->"
_END = "<!-- END GENERATED limits table -->"
_TABLE = re.compile(r"^<!-- BEGIN GENERATED from drills/scenario/limits\.py .*?^<!-- END GENERATED limits table -->$",
                    re.M | re.S)


class LimitsMarkersMissing(ValueError):
    """The hand-written doc lost the markers its generated limits table sits between: put them back."""


def limits_table() -> str:
    """The Markdown table of LIMITS, with its markers."""
    rows = [_BEGIN, "| kind | maximum | applies to | why |", "|---|---|---|---|"]
    rows += [f"| {limit.kind} | {limit.shown} | {limit.applies_to} | {limit.why} |" for limit in _ROWS]
    return "\n".join([*rows, _END])


def with_limits_table(doc: str) -> str:
    """`doc` with its generated limits table replaced by LIMITS'."""
    if not _TABLE.search(doc):
        raise LimitsMarkersMissing("no BEGIN/END GENERATED limits table markers")
    return _TABLE.sub(lambda _: limits_table(), doc, count=1)
