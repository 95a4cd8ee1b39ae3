"""`python app.py` serves a real client on every async mode: eventlet (default), gevent, threading."""
import pytest

from .clients import RecordingClient
from .server import LiveServer


@pytest.mark.parametrize("mode", ["gevent", "threading"])
def test_every_async_mode_serves_websocket_and_polling_clients(database_url, tmp_path, mode):
    server = LiveServer(database_url, tmp_path / f"{mode}.log", ASYNC_MODE=mode).start()
    try:
        for transport in ("websocket", "polling"):
            alice = RecordingClient(server.url, server.token("alice"), transport).connect()
            bob = RecordingClient(server.url, server.token("bob"), transport).connect()
            alice.wait_for("user:online", lambda p: p["userId"] == "bob")
            note = server.api("POST", "/notify/bob", server.token("svc", "service"),
                              json={"type": "mention", "title": mode, "message": transport})
            assert bob.wait_for("notification", lambda n: n["id"] == note["id"])
            assert alice.call("task:join", "task_1")["data"]["totalViewing"] == 1
            alice.disconnect()
            bob.disconnect()
    finally:
        server.stop()
