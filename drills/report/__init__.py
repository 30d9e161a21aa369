"""Reports of a drill run: report.html, junit.xml, the live console view and summaries, comparisons, index.

The report presents; it does not compute: every number comes from the checks' result (drills/checks/
result_model.py), read back through the model. A run without result.json is judged by the checks first
(drills.checks.stored), so a crashed run is rendered too. Names are imported on first use, so the live console
view does not pay for loading matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers only; at run time __getattr__ imports on first use
    from drills.report.compare import compare_runs  # noqa: F401
    from drills.report.index import write_index  # noqa: F401
    from drills.report.live import LiveView  # noqa: F401
    from drills.report.render import NotARunDir, ReportError, render_run, require_run_dir  # noqa: F401
    from drills.report.summary import print_compare, print_summary  # noqa: F401

_EXPORTS = {
    "LiveView": "drills.report.live",
    "print_summary": "drills.report.summary",
    "print_compare": "drills.report.summary",
    "render_run": "drills.report.render",
    "ReportError": "drills.report.render",
    "NotARunDir": "drills.report.render",
    "require_run_dir": "drills.report.render",
    "compare_runs": "drills.report.compare",
    "write_index": "drills.report.index",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'drills.report' has no attribute {name!r}")
