"""Checks: Jepsen-style verdicts from a run directory's recorded history (see docs/run-directory.md).

`judge(run_dir, scenario)` reads only files and returns result.json's document; `write_result()` writes it;
`exit_code()` maps it to the CLI's exit code. `truth.collect()` is the one step that talks to the stack.
"""

from drills.checks.result import judge, write_result
from drills.checks.verdict import exit_code

__all__ = ["judge", "write_result", "exit_code"]
