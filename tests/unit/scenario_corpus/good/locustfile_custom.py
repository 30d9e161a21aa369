"""A stand-in locustfile for attach.yaml (only its existence is checked)."""
