"""The built-in locustfile for the reference ticketing stack (`load.locustfile: builtin`).

The workload itself is drills.load.workload.TicketBuyer; this file only exposes it to Locust.
"""

from drills.load.workload import TicketBuyer

__all__ = ["TicketBuyer"]
