"""The built-in locustfile for the reference ticketing stack (`load.locustfile: builtin`).

The workload itself is drills.load.locust_side.workload.TicketBuyer; this file only exposes it to Locust.

Its HTTP goes direct: TicketBuyer is a FastHttpUser (geventhttpclient), which uses a proxy only when its
class names one (proxy_host), never from the environment; and drills/load/runner.py starts every Locust
process without HTTP(S)_PROXY / ALL_PROXY, so a user's own HttpUser (requests) is not proxied either
(tests/unit/test_http_direct.py).
"""

from drills.load.locust_side.workload import TicketBuyer

__all__ = ["TicketBuyer"]
