"""The fault catalogue: each fault type's family and the `params` it takes, with defaults and ranges.

The validator, the JSON schema, the fault families' injects and docs/scenario-format.md are all derived from or
checked against this table, so a new fault type or parameter is added here first (then, for a new Toxiproxy
toxic, its attribute names in drills/faults/toxics.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from drills.scenario.fault_families import FAMILIES, ActsOn, FamilyName, FamilySpec
from drills.scenario.limits import LIMITS, Limit
from drills.scenario.signals import SIGNALS  # SIGSTOP is left out on purpose: `freeze` stops a container, healably

ParamKind = Literal["int", "number", "duration", "choice", "signal", "groups", "fault_ref"]

STREAMS = ("upstream", "downstream", "both")
DIRECTIONS = ("in", "out")
MISTAKES = ("drop_table", "truncate", "delete_rows")
TABLES = ("tickets", "orders", "users", "sessions", "seats", "events")
LOST_BACKUPS = ("latest", "all")
LOST_BACKUP_LEADER_WAIT_S = 90.0   # lose_backup's heal waits this long for a leader to take the new backup from
ZONE_DOWN_MODES = ("power", "network")


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a fault type. `default` None with `required` False means optional, no default."""

    kind: ParamKind
    doc: str
    default: object = None
    required: bool = False
    lo: float | None = None
    hi: float | None = None
    above: bool = False                # lo is exclusive
    choices: tuple[str, ...] = ()
    limit: str | None = None           # a kind of drills/scenario/limits.py: the maximum when `hi` is not given
    unit: str | None = None            # the unit the value is written in, when not the limit's (ms, us)
    toxic_attr: str | None = None      # a toxic's parameter: the Toxiproxy attribute it sets (in Toxiproxy's unit)

    @property
    def bound(self) -> Limit | None:
        """The LIMITS row that caps this parameter, if any."""
        return LIMITS[self.limit] if self.limit is not None else None

    @property
    def maximum(self) -> float | None:
        """The largest value accepted, in the parameter's own unit (`hi`, else its limit's)."""
        if self.hi is not None or self.limit is None:
            return self.hi
        return LIMITS[self.limit].cap(self.unit)


@dataclass(frozen=True)
class FaultSpec:
    family: FamilyName                 # drills/scenario/fault_families.py
    doc: str
    params: dict[str, ParamSpec] = field(default_factory=dict)
    instantaneous: bool = False        # heals by itself at once: `duration` means nothing


_TOXIC_COMMON = {
    "stream": ParamSpec("choice", "which direction of the link the toxic acts on (both = two toxics)",
                        default="downstream", choices=STREAMS),
    "toxicity": ParamSpec("number", "share of connections affected, 0 to 1", default=1.0, lo=0, hi=1),
}


def _toxic(doc: str, **params: ParamSpec) -> FaultSpec:
    return FaultSpec("toxic", doc, {**params, **_TOXIC_COMMON})


FAULTS: dict[str, FaultSpec] = {
    "kill": FaultSpec("process", "send a signal to the container's main process; healing starts it again", {
        "signal": ParamSpec("signal", "signal to send", default="SIGKILL", choices=SIGNALS),
        "restart_after": ParamSpec("duration", "start the container again this long after the kill (the same "
                                   "as the fault's `duration`; give one of the two)", lo=0, above=True),
    }),
    "stop": FaultSpec("process", "docker stop (SIGTERM, then SIGKILL after `timeout`); healing starts it again", {
        "timeout": ParamSpec("duration", "grace period before SIGKILL", default=10.0, lo=0, limit="timeout"),
    }),
    "freeze": FaultSpec("process", "pause every process of the container (cgroup freezer); healing resumes them"),
    "restart": FaultSpec("process", "docker restart: stop then start at once (no `duration`)", {
        "timeout": ParamSpec("duration", "grace period before SIGKILL", default=10.0, lo=0, limit="timeout"),
    }, instantaneous=True),
    "isolate": FaultSpec("network", "drop every packet to and from the target (iptables in its namespace)"),
    "partition": FaultSpec("network", "split the stack into groups that cannot reach each other; without "
                           "`groups` the target is cut off from the rest", {
        "groups": ParamSpec("groups", "list of groups (lists of services or roles); services in no group "
                            "keep talking to everyone"),
    }),
    "partition_oneway": FaultSpec("network", "drop traffic in one direction only", {
        "direction": ParamSpec("choice", "in: the target receives nothing; out: what it sends is dropped",
                               default="in", choices=DIRECTIONS),
    }),
    "packet_loss": FaultSpec("network", "drop a share of the target's packets at random (netem)", {
        "percent": ParamSpec("number", "share of packets dropped, 0 to 100", required=True, lo=0, hi=100),
    }),
    "latency": _toxic("add delay to every piece of data on the link",
                      latency_ms=ParamSpec("int", "added delay in milliseconds", required=True, lo=0,
                                           limit="latency", unit="ms", toxic_attr="latency"),
                      jitter_ms=ParamSpec("int", "random variation of the delay in milliseconds", default=0, lo=0,
                                          limit="latency", unit="ms", toxic_attr="jitter")),
    "bandwidth": _toxic("cap the link's throughput",
                        rate_kbps=ParamSpec("int", "kilobytes per second (Toxiproxy's `rate`)", required=True,
                                            lo=0, limit="bandwidth", toxic_attr="rate")),
    "timeout": _toxic("stop all data on the link and close it after `timeout_ms` (0: never close)",
                      timeout_ms=ParamSpec("int", "milliseconds before the connection is closed; 0 = never",
                                           default=0, lo=0, limit="timeout", unit="ms", toxic_attr="timeout")),
    "reset_peer": _toxic("reset connections (TCP RST) after `timeout_ms`",
                         timeout_ms=ParamSpec("int", "milliseconds before the reset; 0 = at once", default=0,
                                              lo=0, limit="timeout", unit="ms", toxic_attr="timeout")),
    "slicer": _toxic("cut data into small packets with a delay between them",
                     average_size=ParamSpec("int", "average packet size in bytes", default=64, lo=1, limit="bytes",
                                            toxic_attr="average_size"),
                     size_variation=ParamSpec("int", "variation of the packet size in bytes (below average_size)",
                                              default=32, lo=0, limit="bytes", toxic_attr="size_variation"),
                     delay_us=ParamSpec("int", "delay between packets in microseconds", default=10, lo=0,
                                        limit="latency", unit="us", toxic_attr="delay")),
    "limit_data": _toxic("close the connection after `bytes` bytes have passed",
                         bytes=ParamSpec("int", "bytes allowed through before closing", required=True, lo=0,
                                         limit="bytes", toxic_attr="bytes")),
    "slow_close": _toxic("delay the TCP close: when one side closes the connection, the other sees it "
                         "`delay_ms` later",
                         delay_ms=ParamSpec("int", "milliseconds the close is delayed (Toxiproxy's `delay`)",
                                            default=1000, lo=0, limit="latency", unit="ms", toxic_attr="delay")),
    "link_down": FaultSpec("toxic", "disable the link: connections are refused, open ones closed"),
    "destroy_cluster": FaultSpec("disaster", "lose the whole database cluster: SIGKILL every PostgreSQL/Patroni node "
                                 "and delete the containers and their data volumes (the backup repository "
                                 "survives); healing restores the latest backup unless a restore_cluster action "
                                 "already did", instantaneous=True),
    "operator_error": FaultSpec("disaster", "an operator's mistake on the leader, as the superuser, committed and "
                                "replicated like any write; the database time just before it is recorded as "
                                "the point-in-time target for restore_cluster's before_fault", {
        "mistake": ParamSpec("choice", "drop_table: DROP TABLE ... CASCADE; truncate: TRUNCATE ... CASCADE; "
                             "delete_rows: DELETE FROM (every row)", default="drop_table", choices=MISTAKES),
        "table": ParamSpec("choice", "the ticketing table it hits", default="tickets", choices=TABLES),
    }, instantaneous=True),
    "lose_backup": FaultSpec("disaster", "delete backup sets' files from the repository, as a lost or purged bucket "
                             "would (the catalogue still lists them, so a restore finds out when it reads them); "
                             "healing takes a new full backup once a leader serves (it waits for a running restore, "
                             f"then up to {LOST_BACKUP_LEADER_WAIT_S:.0f} s for a leader, and a scheduled backup "
                             "holding the repository's lock is waited out)", {
        "which": ParamSpec("choice", "latest: the newest backup set; all: every set and the WAL archive",
                           default="latest", choices=LOST_BACKUPS),
    }, instantaneous=True),
    "restore_cluster": FaultSpec("action", "restore the database cluster from the backup repository: re-create every "
                                 "node empty, bootstrap Patroni from the newest usable backup and replay archived "
                                 "WAL; a failed restore is recorded (and fails the RTO budget), it does not stop "
                                 "the drill", {
        "before_fault": ParamSpec("fault_ref", "id of a fault (usually operator_error): recover to the moment just "
                                  "before it was injected (point in time); without it, to the end of the archive"),
        "timeout": ParamSpec("duration", "give up when no restored leader accepts writes after this long",
                             default=300.0, lo=0, above=True, limit="timeout"),
    }, instantaneous=True),
    "zone_down": FaultSpec("zone", "a whole zone fails: power (SIGKILL every container of the zone at once; "
                           "healing starts them again) or network (the zone's containers cut from everything "
                           "outside the zone and, for a load balancer in it, from the clients; healing removes "
                           "the rules)", {
        "mode": ParamSpec("choice", "power: every container of the zone is killed; network: the zone is cut off "
                          "(docs/scenario-format.md says exactly what is cut)", default="power",
                          choices=ZONE_DOWN_MODES),
    }),
    "zonal_shift": FaultSpec("zone", "an operator's zonal shift: every load balancer drains the zone's API "
                             "replicas (HAProxy runtime API: state drain), so new requests go to the other "
                             "zones; healing sets them ready again"),
}

FAULT_TYPES = tuple(FAULTS)
assert all(spec.family in FAMILIES for spec in FAULTS.values()), "a fault type names an unknown family"
# Every number a fault takes has a maximum (durations have theirs in reader.duration): a missing one would let
# `latency_ms: 1e23` through to Toxiproxy.
assert all(p.maximum is not None for spec in FAULTS.values() for p in spec.params.values()
           if p.kind in ("int", "number")), "a numeric fault parameter has no maximum"


def family_of(fault_type: str) -> FamilySpec | None:
    """The family a fault type belongs to; None for a type no catalogue knows (e.g. a hand-edited run)."""
    spec = FAULTS.get(fault_type)
    return FAMILIES[spec.family] if spec else None


def types_acting_on(where: ActsOn) -> tuple[str, ...]:
    """Fault types whose family acts on targets, links or the whole cluster (validator and schema rules)."""
    return tuple(name for name, spec in FAULTS.items() if FAMILIES[spec.family].acts_on == where)
