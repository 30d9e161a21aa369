"""Patroni with a thread dump on demand: SIGUSR2 makes its worker write every thread's stack to the log.

Why: about once in fifteen fresh stacks under load, a node's Patroni stops renewing its member key while its
PostgreSQL streams on ("not a member of the Patroni cluster"), and logs nothing. The harness sends SIGUSR2 to
such a node before it restarts it (drills/platform/stack.py), so the log shows where the HA loop waits.

As PID 1, Patroni's main() forks its worker (patroni_main) and passes SIGUSR2 on to it; the worker inherited
a handler that ignores it, so the dump is registered in the worker itself. Not PID 1: main() calls the worker
in-process, same thing.
"""

import faulthandler
import signal
import sys

import patroni.__main__ as entry

_worker = entry.patroni_main


def _worker_with_dump(*args: object) -> None:
    faulthandler.register(signal.SIGUSR2, file=sys.stderr, all_threads=True, chain=False)
    _worker(*args)


if __name__ == "__main__":  # Patroni starts the postmaster through multiprocessing's spawn, which imports this
    entry.patroni_main = _worker_with_dump   # file again (as __mp_main__): unguarded, that started a second Patroni
    sys.argv[0] = "patroni"
    entry.main()
