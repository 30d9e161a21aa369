"""One problem found in a scenario, and the error that carries all of them.

Every problem points at file:line:column and a path inside the document, so a user can fix a whole file in
one go instead of rerunning the validator once per mistake.
"""

from __future__ import annotations

from dataclasses import dataclass

from drills.errors import DrillError, ExitCode

FORMAT_DOC = "docs/scenario-format.md"


@dataclass(frozen=True)
class Issue:
    """A single validation problem; `line`/`column` are 1-based, None when unknown (a dict, an unreadable file)."""

    file: str
    line: int | None
    column: int | None
    path: str          # inside the document, e.g. faults[2].target.role; "" for the document itself
    message: str       # "expected <what>, found <what>" or an explanation
    suggestion: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}:{self.column or 1}"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        if self.suggestion:
            text += f" (did you mean '{self.suggestion}'?)"
        return text


class ScenarioInvalid(DrillError):
    """A scenario file could not be turned into a drill; str() lists every issue, one per line."""

    exit_code = ExitCode.INVALID_SCENARIO

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues),
                         hint=f"the scenario format is described in {FORMAT_DOC}")
