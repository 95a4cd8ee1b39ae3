"""Idempotent writes: a retried request with the same `Idempotency-Key` gets the first answer.

The record is written in the same transaction as the rows it describes, so a retry can never
store anything twice, even when two copies of a request race each other.
"""
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict
from ..extensions import db
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


def _replay(key):
    record = db.session.get(IdempotencyRecord, key.scope)
    if record is None:
        return None
    if record.fingerprint != key.fingerprint:
        raise Conflict("This Idempotency-Key was already used with a different request.",
                       code="IDEMPOTENCY_KEY_REUSED")
    return Outcome(record.status, record.response, fresh=False)


def run_once(key, status, write):
    """Run `write()` (adds rows, returns the response body) and commit, once per key."""
    if key is not None:
        outcome = _replay(key)
        if outcome is not None:
            db.session.rollback()
            return outcome
    try:
        body = write()
        if key is not None:
            db.session.add(IdempotencyRecord(scope=key.scope, fingerprint=key.fingerprint,
                                             status=status, response=body))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        outcome = _replay(key) if key is not None else None
        if outcome is None:
            raise
        return outcome
    except BaseException:
        db.session.rollback()
        raise
    return Outcome(status, body, fresh=True)


def prune_idempotency_keys(now=None):
    """Delete records older than IDEMPOTENCY_TTL_HOURS; return how many went."""
    cutoff = (now or utcnow()) - timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"])
    result = db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff))
    db.session.commit()
    return result.rowcount
