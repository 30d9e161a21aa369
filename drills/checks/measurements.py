"""Everything a budget can be judged against, computed once per run and handed to every observer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drills.checks.alerting import AlertJudgement
    from drills.checks.availability import Availability
    from drills.checks.recovery import Recovery


@dataclass
class Measurements:
    availability: Availability
    audit: dict[str, Any]
    failovers: list[dict] = field(default_factory=list)
    detections: list[dict] = field(default_factory=list)
    probes_present: bool = True
    disaster: Recovery | None = None     # RTO / RPO (drills/checks/recovery.py)
    events: list[dict] = field(default_factory=list)   # events.jsonl, for metrics read straight from it
    alerting: AlertJudgement | None = None              # alerts.jsonl judged (drills/checks/alerting.py)
    zones: dict[str, Any] | None = None                 # result.json's `zones` (drills/checks/per_zone.py)
    _recovery: dict[str, list[dict]] = field(default_factory=dict)

    def recovery(self, op: str) -> list[dict]:
        """Per-fault recovery rows of `op` (availability's), computed once."""
        if op not in self._recovery:
            self._recovery[op] = self.availability.recovery(op)
        return self._recovery[op]
