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
import shutil

import pytest
from flask_socketio.test_client import SocketIOTestClient
from sqlalchemy import create_engine, text

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
    """(URL, whether its tables exist already) of the database for one test."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured and configured.startswith(("postgres://", "postgresql")):
        return request.getfixturevalue("postgres_url_for_suite"), True
    if configured:
        return configured, False
    # A file, not `sqlite://`: an in-memory database is one connection shared by every thread,
    # and the realtime side's background thread writes too. It starts as a copy of the session's
    # empty schema: creating the tables in each test costs tens of milliseconds of DDL.
    path = request.getfixturevalue("tmp_path") / "test.db"
    shutil.copyfile(request.getfixturevalue("sqlite_schema"), path)
    return f"sqlite:///{path}", True


@pytest.fixture(scope="session")
def sqlite_schema(tmp_path_factory):
    """A SQLite file holding every table, empty: each test's database is a copy of it."""
    import devtracker.models  # noqa: F401  (every table is on the metadata)

    path = tmp_path_factory.mktemp("schema") / "schema.db"
    engine = create_engine(f"sqlite:///{path}")
    _db.metadata.create_all(engine)
    engine.dispose()
    return path


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
    url, tables_exist = _test_database_url(request)
    app = create_app(make_config(url, **config_overrides))
    app.test_client_class = StrictJSONClient  # every JSON body a test receives is strict JSON
    with app.app_context():
        if url.startswith("sqlite"):
            if not tables_exist:
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


# Every test is marked by where it lives (pytest.ini describes the markers); `make test-fast`
# runs `-m unit`, `make test` everything. A prefix is a folder, a file, or file::test name.
INTEGRATION = (  # start server processes and talk to them over TCP
    "tests/integration/", "tests/chaos/", "tests/fuzz/test_socket_events.py",
    "tests/bench/test_reference_servers.py", "tests/bench/test_ab.py::test_two_revisions",
    "tests/bench/test_ab.py::test_on_postgresql",
    "tests/bench/test_bulk.py::test_bulk_and_precise_sockets_against_the_flask_reference",
)
BROWSER = ("tests/integration/test_dashboard_browser.py", "tests/integration/test_web_security_browser.py")
SLOW = (  # minutes or many seconds each: thousands of sockets, long runs, fuzzing
    "tests/integration/test_smoke_connections.py",  # 2,000 sockets
    "tests/integration/test_hold_10k.py",  # 10,000 sockets
    "tests/integration/test_memory.py", "tests/integration/test_slow_peers_bench.py",
    "tests/chaos/", "tests/fuzz/test_socket_events.py", "tests/fuzz/test_rest_schema.py",
    "tests/bench/test_ab.py::test_two_revisions", "tests/bench/test_ab.py::test_on_postgresql",
    "tests/bench/test_bench_command.py::test_quick_run", "tests/bench/test_bench_command.py::test_one_scenario",
    "tests/bench/test_bench_command.py::test_postgresql_column",
    # A second or more each on a 2-core machine: waits for an expiry, a fresh interpreter per
    # check (tests/support/eventlet_run.py, the bench's commands), whole-tree scans.
    "tests/api/test_group_commit.py::test_concurrent_activity_and_task_updates_stream_in_id_order",
    "tests/api/test_auth.py::test_a_token_accepted_before_is_refused_once_it_expires",
    "tests/realtime/test_auth_events.py::test_auth_refresh_for_the_same_user_keeps_the_socket_past",
    "tests/realtime/test_auth_events.py::test_auth_expired_comes_before_expiry",
    "tests/realtime/test_event_context.py::test_events_leave_no_exception_in_a_reference_cycle",
    "tests/test_engine_boundary.py",
    "tests/bench/test_bulk.py::test_every_delivery_counted_once_however_the_reads_are_cut",
    "tests/test_engine.py::test_under_eventlet", "tests/test_engine.py::test_a_library_version_outside",
    "tests/test_engine.py::test_a_missing_attribute",
    "tests/test_group_commit_eventlet.py", "tests/test_garbage_collection.py", "tests/test_offload.py",
    "tests/realtime/test_flush_timer.py::test_moving_the_flush_earlier",
    "tests/realtime/test_memory_tuning.py::test_eventlets_per_socket_deques_become_short_ones",
    "tests/realtime/test_unmask.py::test_an_eventlet_server", "tests/test_server_socket.py",
    "tests/realtime/test_freezer.py::test_frozen_objects_are_still_freed",
    "tests/realtime/test_freezer.py::test_garbage_left_in_the_middle_generation",
    "tests/bench/test_ab.py::test_help_exits_zero", "tests/bench/test_ab.py::test_an_unknown_base_revision",
    "tests/bench/test_bench_command.py::test_help_exits_zero",
    "tests/realtime/test_task_rooms.py::test_joins_are_rate_limited",  # waits for the refill
    "tests/realtime/test_limits.py::test_events_beyond_the_burst_are_rate_limited",
    "tests/realtime/test_typing.py::test_typing_times_out_without_a_refresh_once",
    "tests/api/test_group_commit.py::test_batches_are_written_on_a_connection_of_their_own",
    "tests/api/test_group_commit.py::test_postgresql_stream_locks_taken_with_an_insert",
    "tests/api/test_inserts.py::test_postgresql_batches_refuse_a_value_too_long",
)


def pytest_collection_modifyitems(config, items):
    """Mark each test unit, integration (browser too, for Playwright's), and/or slow; a test
    that uses a live server, or carries `integration` itself, is integration wherever it is."""
    for item in items:
        where = item.nodeid
        browser = where.startswith(BROWSER) or "browser" in item.fixturenames
        integration = (browser or where.startswith(INTEGRATION) or "live_server" in item.fixturenames
                       or item.get_closest_marker("integration") is not None)
        slow = where.startswith(SLOW)
        if browser:
            item.add_marker(pytest.mark.browser)
        if integration and item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.integration)
        if slow:
            item.add_marker(pytest.mark.slow)
        if not (integration or slow):
            item.add_marker(pytest.mark.unit)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (screenshots on failure need it)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
