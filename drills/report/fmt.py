"""How numbers, times and limits read in every rendering (HTML, JUnit, console), so they always agree."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from drills.scenario.metrics import METRICS

# Metrics where a higher value is better; every other budget metric is "lower is better" (a maximum).
HIGHER_IS_BETTER = frozenset(name for name, spec in METRICS.items() if spec.higher_is_better)
_UNIT_TEXT = {"seconds": "s", "ms": "ms"}   # counts, burn and ratios (shown as %) carry no unit text


def as_float(value: object) -> float | None:
    """A finite float, or None for anything else (missing, text, NaN, bool)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def dict_at(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """`parent[key]` when it is an object, else {} (for what is handed over as plain dicts, e.g. the console's)."""
    value = parent.get(key)
    return value if isinstance(value, Mapping) else {}


def num(value: object, unit: str = "") -> str:
    """A number with sensible precision and a unit; '—' when unknown."""
    f = as_float(value)
    if f is None:
        return "—" if value is None else str(value)
    if abs(f) >= 1e15:   # no count or time is this large; a damaged file's 1e308 is not 309 digits wide
        text = f"{f:.3g}"
    elif f == int(f):
        text = f"{int(f):,}".replace(",", " ") if abs(f) >= 10000 else str(int(f))
    elif abs(f) >= 100:
        text = f"{f:.0f}"
    elif abs(f) >= 10:
        text = f"{f:.1f}".removesuffix(".0")
    else:
        text = f"{f:.2f}".rstrip("0").rstrip(".") if abs(f) >= 0.01 else f"{f:.3g}"
    return f"{text} {unit}".rstrip() if unit else text


def percent(ratio: object) -> str:
    """A ratio as a percentage with enough decimals that 0.99996 does not read as 100 %."""
    f = as_float(ratio)
    if f is None:
        return "—"
    if abs(f) >= 1e12:   # a damaged ratio (1e308): no percentage to show
        return num(f)
    pct = f * 100
    if abs(pct - round(pct)) < 1e-9:
        return f"{pct:.0f} %"
    digits = 2
    while digits < 6 and round(pct, digits) in (100.0, 0.0):
        digits += 1
    return f"{pct:.{digits}f} %"


def unit_of(metric: str | None) -> str:
    """The unit a metric's value is written with: the registry's for a budget metric, else from the name."""
    spec = METRICS.get(metric or "")
    if spec is not None:
        return _UNIT_TEXT.get(spec.unit, "")
    m = metric or ""
    if m.endswith("_ms"):
        return "ms"
    if m.endswith("_s"):
        return "s"
    return ""


def _is_ratio(metric: str | None) -> bool:
    spec = METRICS.get(metric or "")
    return spec.unit == "ratio" if spec is not None else (metric or "").endswith("_ratio")


def metric_value(metric: str | None, value: object) -> str:
    """A metric's value the way a reader expects it: ratios as %, durations with units, counts as integers."""
    if _is_ratio(metric):
        return percent(value)
    return num(value, unit_of(metric))


def meaning(metric: str | None) -> str:
    """What a budget metric measures, in one line (the registry's words); '' for anything else."""
    spec = METRICS.get(metric or "")
    return spec.meaning if spec is not None else ""


def limit_text(budget: Mapping[str, Any]) -> str:
    """A budget's limit ({min, max}) as written for a reader: '≤ 10 s', '≥ 99.9 %', '≥ 1 s and ≤ 5 s'."""
    metric = budget.get("metric")
    limit = budget.get("limit")
    limit = limit if isinstance(limit, Mapping) else {}
    parts = ([f"≥ {metric_value(metric, limit['min'])}"] if limit.get("min") is not None else []) + (
        [f"≤ {metric_value(metric, limit['max'])}"] if limit.get("max") is not None else [])
    return " and ".join(parts) or "—"


def observed_text(budget: Mapping[str, Any]) -> str:
    """The observed value; a censored one (still going when the record ended) is a lower bound: '≥ 12 s'."""
    text = metric_value(budget.get("metric"), budget.get("observed"))
    return f"≥ {text}" if budget.get("censored") and budget.get("observed") is not None else text


def passed_word(passed: object) -> str:
    """'pass', 'FAIL' or 'unknown' for a budget's tri-state `passed`."""
    if passed is True:
        return "pass"
    if passed is False:
        return "FAIL"
    return "unknown"


def when(value: object) -> str:
    """An epoch stamp as a moment in UTC, e.g. '2026-11-26 10:00:03 UTC'; '—' when unknown."""
    t = as_float(value)
    if t is None:
        return "—"
    try:
        return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return str(value)


def duration(seconds: object) -> str:
    """'42 s', '3 min 05 s', '1 h 02 min'; '—' when unknown."""
    s = as_float(seconds)
    if s is None:
        return "—"
    if s < 60 or s >= 1e9:   # 1e9 s is 30 years: a damaged value, shown as a number
        return num(s, "s")
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m} min {sec:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def size(nbytes: object) -> str:
    """Bytes for a reader: '812 B', '4.2 MB', '1.3 GB'; '—' when unknown."""
    f = as_float(nbytes)
    if f is None:
        return "—"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(f) < 1000 or unit == "TB":
            return num(round(f) if unit == "B" else f, unit)
        f /= 1000.0
    return num(f, "TB")  # pragma: no cover - the loop always returns
