"""Bare extension instances, bound to an app by `init_app` in the factory."""
import hashlib
import logging

from flask import request
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, create_engine, event

log = logging.getLogger(__name__)

# Stable constraint names, so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def rate_limit_key():
    """Rate-limit per token (SPEC §4: per token); requests without one count per address."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer " and header[7:].strip():
        return "token:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()[:32]
    return "addr:" + (get_remote_address() or "unknown")


SQLITE_SYNCHRONOUS_MODES = ("FULL", "EXTRA", "NORMAL")


def sqlite_pragmas(journal_mode="WAL", synchronous="FULL", busy_timeout_ms=5000):
    """A `connect` listener that sets up every new SQLite connection.

    WAL with synchronous=FULL: a commit is one append and one fsync of the write-ahead log
    (rollback-journal mode, SQLite's default, writes and fsyncs the journal, the database and
    the directory), and it is still durable: a commit that returned survives a power cut.
    Readers and the one writer no longer block each other. synchronous=NORMAL skips that
    fsync and can lose the last commits on power loss, so it is only ever an explicit setting.
    """
    if synchronous not in SQLITE_SYNCHRONOUS_MODES:
        raise ValueError(f"synchronous must be one of {SQLITE_SYNCHRONOUS_MODES}, got {synchronous!r}")

    def on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            # In-memory databases answer "memory" and stay as they are.
            cursor.execute(f"PRAGMA journal_mode = {journal_mode}")
            # After journal_mode: the mode may bring its own default.
            cursor.execute(f"PRAGMA synchronous = {synchronous}")
        finally:
            cursor.close()

    return on_connect


class DevTrackerSQLAlchemy(SQLAlchemy):
    """Flask-SQLAlchemy with every SQLite connection set up by `sqlite_pragmas` from the config,
    and a request's session ended without failing the request when its connection broke."""

    def init_app(self, app):
        super().init_app(app)
        with app.app_context():  # the engines are made by init_app, before any connection
            for engine in self.engines.values():
                _set_up(engine, app)
        # Registered after Flask-SQLAlchemy's own teardown, so it runs first and leaves that
        # one nothing to do.
        app.teardown_appcontext(self.remove_session_safely)

    def remove_session_safely(self, _exc=None):
        """End the request's session. One whose connection died under its transaction (the
        database restarted) cannot be rolled back: it is invalidated and dropped instead, and
        the answer already made (a 503) stands rather than becoming a bare 500."""
        try:
            self.session.remove()
        except Exception as exc:  # the rollback on a dead connection
            log.warning("dropped a database session whose connection broke: %s",
                        (str(exc).splitlines() or [type(exc).__name__])[0][:200])
            try:
                self.session.invalidate()
            except Exception:
                pass
            self.session.registry.clear()

    def writer_engine(self, app):
        """An engine of its own for the group commit's batches (storage/commits.py): the app's
        database and settings, in a pool of one connection. None for an in-memory SQLite
        database, which only the app engine's one connection can see.

        Its own pool, so a batch never waits for a connection held by a request that is itself
        waiting for that batch; and a batch runs on a bare Connection, not a Session: ~100 µs
        less per batch (session begin and commit, the pool's reset on return), measured here."""
        url = self.engines[None].url
        if url.get_backend_name() == "sqlite" and (url.database in (None, "", ":memory:")
                                                   or url.query.get("mode") == "memory"):
            return None
        options = {**app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}), "pool_size": 1, "max_overflow": 0}
        return _set_up(create_engine(url, **options), app)


def _set_up(engine, app):
    """Every new SQLite connection of `engine` gets the pragmas the app is configured with."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", sqlite_pragmas(
            synchronous=app.config.get("SQLITE_SYNCHRONOUS", "FULL"),
            busy_timeout_ms=int(app.config.get("SQLITE_BUSY_TIMEOUT_SECONDS", 5.0) * 1000)))
    return engine


def pooled_connection(connection=None):
    """The pool's DBAPI connection under `connection` (the session's when None)."""
    return (db.session.connection() if connection is None else connection).connection


def executor(connection=None):
    """`(where to run statements, its dialect)`: a Connection of its own (group commit,
    storage/commits.py), or db.session when `connection` is None."""
    if connection is None:
        return db.session, db.session.get_bind().dialect
    return connection, connection.dialect


db = DevTrackerSQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate()
jwt = JWTManager()
socketio = SocketIO()
limiter = Limiter(key_func=rate_limit_key)
