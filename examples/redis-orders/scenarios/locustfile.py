"""Load for the example order service: plain Locust, nothing drills-specific to import.

Every request goes through Locust's client, so drills' recorder (hooked to `events.request`) writes each one to
the run's history with its outcome (ok / fail / info) classified from the answer. The `context` makes the line
say more: `op` names the operation and `key` carries the order's id, which is how the scenario's audit
(`id: {context: key}`) knows which order each acknowledged write created, and which ones the final read misses.

* create_order: POST /orders with a fresh id (unique across users, workers and runs), never retried: an
  answer the service could not vouch for (503 with X-Outcome: indeterminate, a timeout) stays indeterminate.
* list_orders: GET /orders, the first page; a read, for the availability budgets.

The locustfile lives beside the scenarios because a scenario may only name files inside its own folder.
"""

from __future__ import annotations

import uuid

from locust import FastHttpUser, between, task


class OrderClient(FastHttpUser):
    """A client placing orders. Closed loop on its own; under an arrival-rate profile drills' rate gate
    paces the tasks (and sets wait_time to zero)."""

    wait_time = between(0.05, 0.2)
    max_retries = 0                      # a retry hidden in the client would be a write nobody recorded
    network_timeout = 5.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        self.prefix = uuid.uuid4().hex[:12]
        self.seq = 0

    @task(9)
    def create_order(self) -> None:
        self.seq += 1
        order_id = f"{self.prefix}-{self.seq}"
        self.client.post("/orders", json={"id": order_id, "item": f"item-{self.seq % 50}"}, name="/orders",
                         context={"op": "create_order", "key": order_id})

    @task(1)
    def list_orders(self) -> None:
        self.client.get("/orders?limit=20", name="/orders?limit=20", context={"op": "list_orders"})
