"""Notifications: per recipient, read or unread, ids increasing in commit order per user, and
`seq` numbering each recipient's stream 1, 2, 3 ... with no hole (SPEC §9)."""
from ..extensions import db
from .base import ID_MAX_LENGTH, JsonData, SerialId, utcnow

NOTIFICATION_TYPES = ("mention", "assignment", "comment", "update", "deadline", "system")


class Notification(db.Model):
    """One notification for one user."""

    __tablename__ = "notifications"
    __table_args__ = (
        db.Index("ix_notifications_user_id_id", "user_id", "id"),
        db.Index("ix_notifications_user_id_read_id", "user_id", "read", "id"),
        db.Index("ix_notifications_user_id_seq", "user_id", "seq", unique=True),
        {"sqlite_autoincrement": True},
    )

    id = db.Column(SerialId, primary_key=True, autoincrement=True)
    user_id = db.Column(db.String(ID_MAX_LENGTH), nullable=False)
    seq = db.Column(db.BigInteger, nullable=False)  # storage/ordering.py assigns it
    type = db.Column(db.String(32), nullable=False)
    title = db.Column(db.Text, nullable=False)
    message = db.Column(db.Text, nullable=False)
    task_id = db.Column(db.String(ID_MAX_LENGTH), nullable=True)
    data = db.Column(JsonData, nullable=True)
    read = db.Column(db.Boolean, nullable=False, default=False)
    read_at = db.Column(db.DateTime, nullable=True)
    created_by = db.Column(db.String(ID_MAX_LENGTH), nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
