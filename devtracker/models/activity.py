"""Activity: the team's feed and audit trail, ids increasing in commit order, and `seq`
numbering the stream 1, 2, 3 ... with no hole (SPEC §9)."""
from ..extensions import db
from .base import ID_MAX_LENGTH, JsonData, SerialId, utcnow

ACTIVITY_TYPES = ("task", "comment", "user", "project")


class Activity(db.Model):
    """One thing someone did."""

    __tablename__ = "activity"
    __table_args__ = (
        db.Index("ix_activity_user_id_id", "user_id", "id"),
        db.Index("ix_activity_task_id_id", "task_id", "id"),
        db.Index("ix_activity_type_id", "type", "id"),
        db.Index("ix_activity_created_at", "created_at"),
        db.Index("ix_activity_seq", "seq", unique=True),
        {"sqlite_autoincrement": True},
    )

    id = db.Column(SerialId, primary_key=True, autoincrement=True)
    seq = db.Column(db.BigInteger, nullable=False)  # storage/ordering.py assigns it
    user_id = db.Column(db.String(ID_MAX_LENGTH), nullable=False)
    username = db.Column(db.String(255), nullable=False)
    type = db.Column(db.String(32), nullable=False)
    action = db.Column(db.String(64), nullable=False)
    target = db.Column(db.String(500), nullable=False)
    task_id = db.Column(db.String(ID_MAX_LENGTH), nullable=True)
    data = db.Column(JsonData, nullable=True)
    recorded_by = db.Column(db.String(ID_MAX_LENGTH), nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
