"""SQLAlchemy models, one module per aggregate."""
from .activity import Activity
from .idempotency import IdempotencyRecord
from .notification import Notification
from .user import User

__all__ = ["Activity", "IdempotencyRecord", "Notification", "User"]
