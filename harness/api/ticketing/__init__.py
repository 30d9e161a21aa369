"""Ticketing & credential service: the system under test for failover drills."""
