"""The user directory: everyone the server has seen, with their last-seen time."""
from ..extensions import db
from .base import ID_MAX_LENGTH, utcnow


class User(db.Model):
    """A principal seen in a token (or named as an actor by a service)."""

    __tablename__ = "users"

    id = db.Column(db.String(ID_MAX_LENGTH), primary_key=True)
    username = db.Column(db.String(255), nullable=False)
    role = db.Column(db.String(16), nullable=False, default="user")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_seen = db.Column(db.DateTime, nullable=True)
