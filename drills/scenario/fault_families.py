"""The declarative half of each fault family: where its faults act and how the report draws them.

Like a Jepsen `combined.clj` package, a family carries its faults, its heal and its colour. The half that
scenario and report code may read lives here (they must not import drills/faults); the behavioural half —
inject, heal handlers, leftover check — is the family's module under drills/faults/ (see nemesis.FAMILIES).
Fault types name their family in the catalogue (fault_types.FAULTS).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FamilyName = Literal["process", "network", "toxic", "disaster", "action", "zone"]
ActsOn = Literal["target", "link", "cluster"]


@dataclass(frozen=True)
class FamilySpec:
    name: FamilyName
    doc: str
    acts_on: ActsOn                    # target: containers; link: a Toxiproxy proxy; cluster: the reference DB
    colour: str                        # fault bands and marks in the report
    label: str                         # the report's legend
    always_in_legend: bool = True      # False: listed only when the run had one of its faults
    cuts_off: bool = False             # its targets are unreachable while it is active (probes, console)
    may_not_recover: bool = False      # the stack not coming back after it is a finding, not a harness failure


FAMILIES: dict[str, FamilySpec] = {f.name: f for f in (
    FamilySpec("process", "Docker acts on the container's processes", "target", "#cf222e", "process"),
    FamilySpec("network", "iptables in the target's network namespace, through a sidecar", "target", "#e16f24",
               "network", cuts_off=True),
    FamilySpec("toxic", "Toxiproxy toxics on a declared link", "link", "#8250df", "Toxiproxy link"),
    FamilySpec("disaster", "the reference stack's database cluster or its backups are lost or damaged", "cluster",
               "#24292f", "disaster", always_in_legend=False, may_not_recover=True),
    FamilySpec("action", "a recovery action scheduled like a fault; nothing to heal", "cluster", "#1b7c83",
               "restore (from its start to its end)", always_in_legend=False),
    FamilySpec("zone", "a whole zone of the reference stack loses power or its network, or is shifted away from "
               "(target: {zone: ...})", "target", "#9a6700", "zone", always_in_legend=False),
)}

# A hand-edited run may name a type no catalogue knows: the report draws it in this family's colour.
FALLBACK = FAMILIES["toxic"]
