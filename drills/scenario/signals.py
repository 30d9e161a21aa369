"""Which signals `kill` may send, and why each other real signal is refused.

A refused signal that exists must be told apart from a typo: "did you mean SIGINT?" for SIGSTOP sends the
user to a different signal when the real answer is "that one is not allowed, here is why (and what to use)".
"""

from __future__ import annotations

import re

# Signals `kill` may send: each ends the process or makes it react, and starting the container heals it.
SIGNALS = ("SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGABRT", "SIGSEGV", "SIGUSR1", "SIGUSR2")

_STOPS = ("it stops the process instead of ending it, and kill's heal (starting the container) would not resume "
          "it: use the fault type `freeze`, which pauses the container and heals by resuming it")
_IGNORED = "processes ignore it unless they ask for it: the fault would do nothing"
_REASONS = {
    "SIGSTOP": _STOPS, "SIGTSTP": _STOPS, "SIGTTIN": _STOPS, "SIGTTOU": _STOPS,
    "SIGCONT": "it resumes a stopped process: there is nothing to break (`freeze` heals by sending it)",
    "SIGCHLD": _IGNORED, "SIGCLD": _IGNORED, "SIGWINCH": _IGNORED, "SIGURG": _IGNORED,
    "SIGIOT": "it is an old name of SIGABRT: write SIGABRT",
}
# The other POSIX and Linux signals: real, but not what a drill means by killing a process.
_OTHERS = ("SIGALRM", "SIGBUS", "SIGFPE", "SIGILL", "SIGIO", "SIGPOLL", "SIGPIPE", "SIGPROF", "SIGPWR", "SIGSTKFLT",
           "SIGSYS", "SIGTRAP", "SIGVTALRM", "SIGXCPU", "SIGXFSZ", "SIGEMT", "SIGINFO", "SIGLOST", "SIGUNUSED")
_REALTIME = re.compile(r"SIGRTM(IN|AX)([+-][0-9]+)?", re.ASCII)
_GENERIC = ("kill sends a signal that ends the process (SIGKILL, SIGTERM, SIGINT, SIGQUIT, SIGABRT, SIGSEGV) or "
            "that it is expected to handle (SIGHUP, SIGUSR1, SIGUSR2), so the drill knows what it did")


def refused_reason(name: str) -> str | None:
    """Why `name`, a real signal, may not be sent by `kill`; None when it is allowed or no signal at all."""
    if name in SIGNALS:
        return None
    if name in _REASONS:
        return _REASONS[name]
    if name in _OTHERS or _REALTIME.fullmatch(name):
        return _GENERIC
    return None


def alias_of(name: str) -> str | None:
    """The allowed signal `name` is another spelling of (SIGIOT is SIGABRT), or None."""
    return "SIGABRT" if name == "SIGIOT" else None
