"""Synthetic passwords: derived, never written anywhere — one rule for the load that sets them and the
audit that tries them.

The audit re-derives any user's password at any credential version from the run secret (kept owner-only in
the state directory, drills/rundir/vault.py), so the history only needs the user name and the version
(docs/run-directory.md).
"""

from __future__ import annotations

import hashlib
import hmac


def derive_password(run_secret: str, user: str, credential_version: int) -> str:
    """hmac_sha256(run_secret, f"{user}:{credential_version}").hexdigest()[:24]"""
    msg = f"{user}:{credential_version}".encode()
    return hmac.new(run_secret.encode(), msg, hashlib.sha256).hexdigest()[:24]
