"""Idempotent writes: a retried request with the same `Idempotency-Key` gets the first answer.

The record is written in the same transaction as the rows it describes, so a retry can never
store anything twice, even when two copies of a request race each other.
"""
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict
from ..extensions import db, executor, pooled_connection
from ..models import IdempotencyRecord
from ..models.base import utcnow


@dataclass(frozen=True)
class IdempotencyKey:
    """A key scoped to its caller and route, with the fingerprint of the request it came with."""

    scope: str
    fingerprint: str

    @classmethod
    def build(cls, key, principal_id, route, body):
        """Scope `key` to who sent it and where; fingerprint the body."""
        scope = hashlib.sha256(f"{principal_id}\n{route}\n{key}".encode()).hexdigest()
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        return cls(scope, hashlib.sha256(canonical.encode()).hexdigest())


@dataclass
class Outcome:
    """What a write answered, and whether it was done now (False: a replayed answer)."""

    status: int
    body: object
    fresh: bool


def replay(key, connection=None):
    """The first answer given for `key` (None when there is none yet); 409 for another body.

    A plain SELECT on `connection` (the session when None), so it also sees a record added
    earlier in the current transaction."""
    row = executor(connection)[0].execute(
        select(IdempotencyRecord.fingerprint, IdempotencyRecord.status, IdempotencyRecord.response)
        .where(IdempotencyRecord.scope == key.scope)).first()
    if row is None:
        return None
    if row.fingerprint != key.fingerprint:
        raise key_reused()
    return Outcome(row.status, row.response, fresh=False)


def key_reused():
    """The 409 for a key that came back with a different request."""
    return Conflict("This Idempotency-Key was already used with a different request.",
                    code="IDEMPOTENCY_KEY_REUSED")


def record_outcome(key, status, body, connection=None):
    """Add the record of a write's answer to the current transaction (of `connection`, or the session)."""
    executor(connection)[0].execute(insert(IdempotencyRecord.__table__).values(
        scope=key.scope, fingerprint=key.fingerprint, status=status, response=body,
        created_at=utcnow()))


def run_once(key, status, write):
    """Run `write()` (adds rows, returns the response body) and commit, once per key."""
    if key is not None:
        outcome = replay(key)
        if outcome is not None:
            db.session.rollback()
            return outcome
    try:
        body = write()
        if key is not None:
            record_outcome(key, status, body)
        durable_commit()
    except IntegrityError:
        db.session.rollback()
        outcome = replay(key) if key is not None else None
        if outcome is None:
            raise
        return outcome
    except BaseException:
        db.session.rollback()
        raise
    return Outcome(status, body, fresh=True)


_blocking_runner = None  # runs a blocking call, e.g. off eventlet's hub; None: in place


def set_blocking_runner(run):
    """Make SQLite's commits go through `run(call)` (engine.install: off eventlet's hub while
    it has other work); None: commit in place."""
    global _blocking_runner
    _blocking_runner = run


def durable_commit(connection=None):
    """Commit `connection`'s transaction (db.session's when None); under eventlet, SQLite's
    commit (its fsync) runs off the hub unless the hub has nothing else to do.

    sqlite3 releases the GIL while it waits on the disk, so on another OS thread the hub keeps
    serving sockets meanwhile instead of stalling for the fsync (`set_blocking_runner`:
    engine/offload.py). When nothing else waits, handing the commit
    to that thread only adds two wake-ups."""
    target, dialect = executor(connection)
    if _blocking_runner is not None and dialect.name == "sqlite":
        _blocking_runner(pooled_connection(connection).dbapi_connection.commit)
    target.commit()  # SQLAlchemy's bookkeeping; the sqlite3 commit above left nothing to do


def prune_idempotency_keys(now=None):
    """Delete records older than IDEMPOTENCY_TTL_HOURS; return how many went."""
    cutoff = (now or utcnow()) - timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"])
    result = db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff))
    db.session.commit()
    return result.rowcount
