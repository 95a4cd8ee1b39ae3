"""Commit-order ids, and live delivery in that order.

Clients resume from an id cursor, so a row with a smaller id must never commit after a row
with a larger one has been seen. SQLite serialises writers, so ids are handed out in commit
order already. PostgreSQL hands out sequence values at insert time, so concurrent
transactions could commit out of order; a transaction-scoped advisory lock per stream
(per recipient for notifications, one for activity) makes the id order the commit order.
"""
import threading
import zlib
from contextlib import ExitStack, contextmanager

from sqlalchemy import text

from ..extensions import db

NOTIFICATION_STREAM = 1
ACTIVITY_STREAM = 2
_STRIPES = [threading.Lock() for _ in range(64)]


def _int32(value):
    value = zlib.crc32(value.encode()) & 0xFFFFFFFF
    return value - (1 << 32) if value >= (1 << 31) else value


def lock_streams(stream, keys=("",)):
    """Hold the stream locks for `keys` until this transaction ends (sorted: no deadlocks)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted({_int32(k) for k in keys}):
        db.session.execute(text("SELECT pg_advisory_xact_lock(:stream, :key)"),
                           {"stream": stream, "key": key})


@contextmanager
def ordered_delivery(stream, keys=("",)):
    """Hold this process's lock for the streams of `keys` from the write until its emits are done.

    The database lock orders commits; this keeps two writers of one process from emitting in
    the opposite order of their commits (green threads can interleave between the two).
    """
    stripes = sorted({(hash((stream, key)) % len(_STRIPES)) for key in keys})
    with ExitStack() as stack:
        for index in stripes:
            stack.enter_context(_STRIPES[index])
        yield
