"""The user directory: remember who was seen, and when."""
import logging

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import User
from ..models.base import utcnow

log = logging.getLogger(__name__)
SEEN_CACHE_KEY = "devtracker.users_seen"
SEEN_CACHE_LIMIT = 50_000


def _seen_cache():
    return current_app.extensions.setdefault(SEEN_CACHE_KEY, {})


def remember_principal(principal):
    """Record an authenticated caller in the directory (writes only when new or changed)."""
    remember_user(principal.user_id, principal.username, principal.role)


def remember_principal_safely(principal):
    """remember_principal for the socket side: a database hiccup must not refuse the connection."""
    try:
        remember_principal(principal)
    except Exception:  # logged; presence works without the directory entry
        db.session.rollback()
        log.warning("could not record %s in the user directory", principal.user_id, exc_info=True)


def remember_user(user_id, username, role=None):
    """Insert or update a directory entry; role None keeps the stored role (actors named by services)."""
    cache = _seen_cache()
    if cache.get(user_id) in ((username, role), (username, None)):
        return
    user = db.session.get(User, user_id)
    if user is None:
        db.session.add(User(id=user_id, username=username, role=role or "user"))
    else:
        user.username = username
        if role:
            user.role = role
    try:
        db.session.commit()
    except IntegrityError:  # another request inserted the same user first: theirs stands
        db.session.rollback()
    if len(cache) >= SEEN_CACHE_LIMIT:
        cache.clear()
    cache[user_id] = (username, role)


def touch_last_seen(user_id, when=None):
    """Keep a user's last-seen time (on disconnect and status changes)."""
    user = db.session.get(User, user_id)
    if user is not None:
        user.last_seen = when or utcnow()
        db.session.commit()


def last_seen(user_id):
    """The directory's last-seen time of a user, or None."""
    return db.session.execute(select(User.last_seen).where(User.id == user_id)).scalar()


def count_users():
    """Users ever seen (services are callers, not users)."""
    return db.session.execute(
        select(func.count()).select_from(User).where(User.role != "service")).scalar_one()
