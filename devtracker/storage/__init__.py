"""Durable writes: what services call to store notifications and activity.

`commit_write` is the one entry point for a write that is acknowledged only once committed: it
joins the group commit (commits.py), which inserts rows through compiled statements
(inserts.py), numbers each stream under its ordering locks (ordering.py) and records the
write's Idempotency-Key outcome in the same transaction (idempotency.py).
"""
from .commits import commit_write, group_for
from .idempotency import IdempotencyKey, prune_idempotency_keys, run_once
from .ordering import ACTIVITY_STREAM, NOTIFICATION_STREAM

__all__ = ["ACTIVITY_STREAM", "NOTIFICATION_STREAM", "IdempotencyKey", "commit_write", "group_for",
           "prune_idempotency_keys", "run_once"]
