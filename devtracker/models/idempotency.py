"""Idempotency records: the first result of a retried write, kept at least 24 h."""
from ..extensions import db
from .base import JsonData, utcnow


class IdempotencyRecord(db.Model):
    """What a write with an `Idempotency-Key` answered, keyed by principal, route and key."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (db.Index("ix_idempotency_keys_created_at", "created_at"),)

    scope = db.Column(db.String(64), primary_key=True)  # sha256 of principal, route and key
    fingerprint = db.Column(db.String(64), nullable=False)  # sha256 of the request body
    status = db.Column(db.Integer, nullable=False)
    response = db.Column(JsonData, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
