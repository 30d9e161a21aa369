"""drills: failover drills for high-availability ticketing and credential stacks."""

__version__ = "0.1.0"
