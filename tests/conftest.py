"""Fixtures: app, client, db, token_for, auth, socket_client, postgres_url.

The suite runs on SQLite by default (a fresh database file per test). With
TEST_DATABASE_URL pointing at PostgreSQL it runs there instead, in a database of its own
created for the session and emptied between tests.

Tests that need a service (PostgreSQL, Redis) say so loudly when it is missing:
skipped locally with the reason, and a failure when REQUIRE_SERVICES=1 (CI).

Every JSON body the Flask test client receives and every packet the server sends a
Socket.IO test client must be strict JSON (tests/strictjson.py), or the test fails.
"""
import os

import pytest
from flask_socketio.test_client import SocketIOTestClient
from sqlalchemy import text

from devtracker import create_app
from devtracker.config import TestConfig, normalise_database_url
from devtracker.extensions import db as _db
from devtracker.extensions import socketio
from devtracker.storage import commits
from tests.databases import fresh_database, postgres_problem
from tests.strictjson import StrictJSONClient, watch_test_client_packets
from tests.support.tokens import SECRET, mint_token

PG_DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def require_service(name, reason):
    """Skip with the reason, or fail when REQUIRE_SERVICES=1 (CI must not skip)."""
    message = f"{name} is not available: {reason}"
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url():
    """A URL of a PostgreSQL database of this test session's own (dropped at the end)."""
    base = os.environ.get("PG_TEST_URL", PG_DEFAULT_URL)
    problem = postgres_problem(base)
    if problem:
        require_service("PostgreSQL", f"{base}: {problem}")
    with fresh_database(base, "devtracker_test") as url:
        yield url


def _test_database_url(request):
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured and configured.startswith(("postgres://", "postgresql")):
        return request.getfixturevalue("postgres_url_for_suite")
    # A file, not `sqlite://`: an in-memory database is one connection shared by every thread,
    # and the realtime side's background thread writes too.
    return configured or f"sqlite:///{request.getfixturevalue('tmp_path') / 'test.db'}"


@pytest.fixture(scope="session")
def postgres_url_for_suite():
    """The suite's PostgreSQL database (TEST_DATABASE_URL names the server), migrated once."""
    base = os.environ["TEST_DATABASE_URL"]
    os.environ.setdefault("PG_TEST_URL", base)
    problem = postgres_problem(base)
    if problem:
        pytest.exit(f"TEST_DATABASE_URL is set but PostgreSQL is not reachable: {problem}", returncode=3)
    with fresh_database(base, "devtracker_suite") as url:
        app = create_app(make_config(url))
        with app.app_context():
            from flask_migrate import upgrade
            upgrade()
            _db.engine.dispose()
        yield url


def make_config(database_url, **overrides):
    """A TestConfig on the given database, with a known secret and any overrides."""
    config = TestConfig()
    config.SQLALCHEMY_DATABASE_URI = normalise_database_url(database_url)
    config.SQLALCHEMY_ENGINE_OPTIONS = {} if database_url.startswith("sqlite") else {"pool_pre_ping": True}
    config.JWT_SECRET_KEY = SECRET
    config.SECRET_KEY = SECRET
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


@pytest.fixture
def config_overrides():
    """Override settings for one test: `@pytest.mark.parametrize` or redefine this fixture."""
    return {}


@pytest.fixture
def app(request, config_overrides):
    """A fresh app on a clean database."""
    url = _test_database_url(request)
    app = create_app(make_config(url, **config_overrides))
    app.test_client_class = StrictJSONClient  # every JSON body a test receives is strict JSON
    with app.app_context():
        if url.startswith("sqlite"):
            _db.create_all()
        else:
            tables = ", ".join(t.name for t in _db.metadata.sorted_tables)
            _db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            _db.session.commit()
        yield app
        app.extensions["devtracker.namespace"].stop()
        commits.group_for(app).close()
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def db(app):
    """The SQLAlchemy handle, inside the app context."""
    return _db


@pytest.fixture
def client(app):
    """Flask's test client."""
    return app.test_client()


@pytest.fixture
def token_for():
    """Mint a token the way another DevTracker service would (plain PyJWT, HS256):
    token_for(user_id, role="user", username=None, expires_in=3600, secret=SECRET, **claims)."""
    return mint_token


@pytest.fixture
def auth(token_for):
    """Authorization headers for a user id and role."""

    def headers(user_id, role="user", username=None, **extra):
        return {"Authorization": f"Bearer {token_for(user_id, role, username)}", **extra}

    return headers


@pytest.fixture
def socket_client(app, client):
    """Connect Socket.IO test clients and place them in rooms; returns a factory.

    Until the realtime namespace exists, rooms are entered on the server directly, which is
    exactly what the namespace will do on authentication and `task:join`.
    """
    clients = []

    def connect(*rooms):
        sock = socketio.test_client(app, flask_test_client=client)
        sid = socketio.server.manager.sid_from_eio_sid(sock.eio_sid, "/")
        for room in rooms:
            socketio.server.enter_room(sid, room, namespace="/")
        sock.get_received()
        clients.append(sock)
        return sock

    yield connect
    for sock in clients:
        if sock.is_connected():
            sock.disconnect()



def _strict_connect(self, *args, **kwargs):
    """SocketIOTestClient.connect; every packet the server sends test clients is strict JSON."""
    watch_test_client_packets(self.socketio.server)
    return _test_client_connect(self, *args, **kwargs)


_test_client_connect = SocketIOTestClient.connect
SocketIOTestClient.connect = _strict_connect


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (screenshots on failure need it)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
