"""Integration fixtures: a real server process (`python app.py`) and real Socket.IO clients.

Every test under tests/integration is marked `integration` by tests/conftest.py."""
import os

import pytest

from devtracker.client import ServiceClient
from tests.databases import fresh_database
from tests.support.clients import RecordingClient
from tests.support.server import LiveServer

from .frame_proxy import FrameProxy


@pytest.fixture
def database_url(request, tmp_path):
    """A fresh database for one server: a SQLite file, or on PostgreSQL runs a new database."""
    configured = os.environ.get("TEST_DATABASE_URL", "")
    if not configured.startswith(("postgres://", "postgresql")):
        yield f"sqlite:///{tmp_path / 'live.db'}"
        return
    with fresh_database(configured, "devtracker_it") as url:
        yield url


@pytest.fixture
def server_settings():
    """Extra environment for the server; override per module."""
    return {}


@pytest.fixture
def live_server(database_url, server_settings, tmp_path):
    """The server as the README runs it, on a free port."""
    server = LiveServer(database_url, tmp_path / "server.log", **server_settings)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def connect(live_server):
    """Open recording clients: connect("alice", transport="polling", lastNotificationId=3)."""
    clients = []

    def open_client(user_id=None, transport="websocket", wait_replay=True, username=None, role="user",
                    **cursors):
        token = live_server.token(user_id, role, username) if user_id else None
        client = RecordingClient(live_server.url, token, transport, **cursors)
        clients.append(client)
        return client.connect(wait_replay=wait_replay)

    yield open_client
    for client in clients:
        client.disconnect()


@pytest.fixture
def service(live_server):
    """The Python SDK's ServiceClient with a service token."""
    with ServiceClient(live_server.url, live_server.token("svc-tasks", "service")) as client:
        yield client


@pytest.fixture
def proxy(live_server):
    """A FrameProxy in front of the live server (drops or repeats chosen websocket frames)."""
    proxy = FrameProxy(live_server.port)
    yield proxy
    proxy.close()
