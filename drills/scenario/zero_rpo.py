"""The rule for zero-RPO backups' companions, in one place: the scenario validator (with file:line) and the
stack's own options check (`drill stack up`) both ask it.

Zero-RPO backups stream WAL into the backup repository and hold each acknowledgement until the stream has the
commit. That needs the repository (backups on: the stream lives in it, a restore reads it from there) and
synchronous replication: with asynchronous replication a failover may promote a replica that lacks commits the
stream (and the buyer) already had, so the cluster itself loses them and the stream must follow the new
timeline past them — RPO 0 in the repository would be a promise the cluster breaks first.
"""

from __future__ import annotations


def zero_rpo_conflict(zero_rpo: bool, backups: bool, async_replication: bool) -> tuple[str, str] | None:
    """(the conflicting key, what is wrong) or None."""
    if not zero_rpo:
        return None
    if not backups:
        return ("backups", "expected backups: true with zero_rpo_backups: true (the WAL stream writes into the "
                           "backup repository and a restore replays it from there), found backups: false")
    if async_replication:
        return ("async_replication", "expected async_replication: false with zero_rpo_backups: true (after a "
                                     "failover an asynchronous replica may lack commits the stream already "
                                     "acknowledged, so the cluster loses them anyway), found async_replication: true")
    return None
