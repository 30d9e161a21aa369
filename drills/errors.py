"""Errors the CLI turns into one clear message and an exit code (never a traceback)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes CI can act on; documented in the README."""

    PASS = 0
    BUDGET_FAILED = 1
    ABORTED = 2
    INFRASTRUCTURE = 3
    INVALID_SCENARIO = 4
    INCONCLUSIVE = 5
    # `drill compare --fail-on-regression`: the run is worse than its baseline. Not 1: a run can hold every
    # budget and still be slower than last time, and CI should be able to tell the two apart.
    REGRESSION = 6
    # `drill run` refused to start: a precondition of the system under test does not hold (an alert already
    # fires). Not 3: nothing broke in the harness, and nothing was injected.
    PRECONDITION = 7
    USAGE = 64
    INTERRUPTED = 130       # Ctrl-C (128 + SIGINT)
    OUTPUT_CLOSED = 141     # the reader of the output went away (`drill validate … | head -1`; 128 + SIGPIPE)


class DrillError(Exception):
    """Base of every error we expect and explain; `hint` tells the user what to do next."""

    exit_code: ExitCode = ExitCode.INFRASTRUCTURE

    def __init__(self, message: str, hint: str | None = None, details: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details


class InfrastructureError(DrillError):
    """Docker, images, the stack or the harness itself failed (not the system under test)."""

    exit_code = ExitCode.INFRASTRUCTURE


class EngineUnavailable(InfrastructureError):
    """No Docker engine answers."""


class ImageBuildError(InfrastructureError):
    """An image of the reference stack could not be built."""


class StackError(InfrastructureError):
    """The reference stack could not be started, found or made healthy."""


class UsageError(DrillError):
    """The command line itself is wrong."""

    exit_code = ExitCode.USAGE


class PreconditionFailed(DrillError):
    """The system under test is not fit to start a drill on (an alert already fires): nothing was injected."""

    exit_code = ExitCode.PRECONDITION
