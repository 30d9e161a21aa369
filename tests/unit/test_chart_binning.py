"""A long drill's generator chart is binned like the series charts (drills/report/charts.py): at most
MAX_POINTS points, rates averaged, CPU the busiest second; a short one is drawn second by second."""

from __future__ import annotations

from drills.report.charts import MAX_POINTS, _generator_binned


def test_a_long_generator_series_is_binned_to_at_most_max_points() -> None:
    rows = [{"t": float(s), "offered": float(s % 10), "target": None if s % 2 else 10.0, "cpu": float(s % 7),
             "users": 5.0} for s in range(4 * 3600)]
    binned, k = _generator_binned(rows)
    assert k == 16 and len(binned) == 900 <= MAX_POINTS
    first = binned[0]
    assert first["t"] == 0.0 and first["offered"] == sum(s % 10 for s in range(16)) / 16
    assert first["target"] == 10.0 and first["cpu"] == 6.0
    assert binned[-1]["t"] == float(4 * 3600 - 16)


def test_a_short_generator_series_is_drawn_as_it_is() -> None:
    rows = [{"t": float(s), "offered": 1.0, "target": None, "cpu": None, "users": 1.0} for s in range(MAX_POINTS)]
    assert _generator_binned(rows) == (rows, 1)
    binned, _ = _generator_binned(rows + rows[:1])
    assert all(r["target"] is None and r["cpu"] is None for r in binned)
