"""The user directory: remember who was seen, and when."""
import logging
import threading

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import User
from ..models.base import utcnow

log = logging.getLogger(__name__)
SEEN_CACHE_KEY = "devtracker.users_seen"
SEEN_CACHE_LIMIT = 50_000
DIRECTORY_KEY = "devtracker.directory"


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
    _remember([(user_id, username, role)])


def remember_principals(principals):
    """remember_principal for many callers, in one transaction."""
    _remember([(p.user_id, p.username, p.role) for p in principals])


def _known(cache, user_id, username, role):
    """Written already with this name (and this role, or no role said)."""
    return cache.get(user_id) in ((username, role), (username, None))


def _remember(entries):
    """Write the (user_id, username, role) entries not known yet, in one transaction."""
    cache = _seen_cache()
    fresh = [entry for entry in entries if not _known(cache, *entry)]
    if not fresh:
        return
    stored = {user.id: user for user in db.session.execute(
        select(User).where(User.id.in_([user_id for user_id, _, _ in fresh]))).scalars()}
    for user_id, username, role in fresh:
        user = stored.get(user_id)
        if user is None:
            db.session.add(User(id=user_id, username=username, role=role or "user"))
        else:
            user.username = username
            if role:
                user.role = role
    try:
        db.session.commit()
    except IntegrityError:  # another request or process inserted one of them first
        db.session.rollback()
        if len(fresh) > 1:  # one by one: the others are still new
            for entry in fresh:
                _remember([entry])
            return
        # alone: theirs stands
    if len(cache) + len(fresh) >= SEEN_CACHE_LIMIT:
        cache.clear()
    for user_id, username, role in fresh:
        cache[user_id] = (username, role)


class DirectoryWriter:
    """Directory entries of socket users, written off the connect path, in batches.

    In a connect storm, one commit (and fsync) per new user inside the event loop holds up
    every other socket. Here entries wait up to `delay` seconds and are written together in a
    background task; `count_users` writes what is waiting first, so reads agree with sockets.
    The directory is best effort: a failed write is logged, never a refused connection.
    """

    def __init__(self, app, spawn, sleep, delay=0.2):
        self.app = app
        self._spawn = spawn
        self._sleep = sleep
        self.delay = delay
        self._lock = threading.Lock()
        self._pending = {}
        self._running = False
        self._stopped = False

    def stop(self):
        """Write what is waiting now; later entries are written at once, by their caller."""
        with self._lock:
            self._stopped = True
        with self.app.app_context():
            self.flush()

    def add(self, principal):
        """Remember a principal soon (at once when it is known already)."""
        cache = self.app.extensions.setdefault(SEEN_CACHE_KEY, {})
        if _known(cache, principal.user_id, principal.username, principal.role):
            return
        with self._lock:
            self._pending[principal.user_id] = principal
            if self._stopped:
                write_now = True
            elif self._running:
                return
            else:
                write_now = False
                self._running = True
        if write_now:
            self.flush()
        else:
            self._spawn(self._run)

    def _run(self):
        while True:
            self._sleep(self.delay)
            with self._lock:
                if self._stopped:  # stop() wrote what was waiting
                    self._running = False
                    return
            with self.app.app_context():
                self.flush()
            with self._lock:
                if not self._pending:
                    self._running = False
                    return

    def flush(self):
        """Write what is waiting (inside an app context)."""
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return
        try:
            remember_principals(list(batch.values()))
        except Exception:  # logged; presence works without the directory entries
            db.session.rollback()
            log.warning("could not record %d users in the directory", len(batch), exc_info=True)


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
    writer = current_app.extensions.get(DIRECTORY_KEY)
    if writer is not None:
        writer.flush()
    return db.session.execute(
        select(func.count()).select_from(User).where(User.role != "service")).scalar_one()
