"""`python app.py` serves a real client on every async mode: eventlet (default), gevent, threading."""
import re
import time

import pytest

from tests.support.clients import RecordingClient
from tests.support.server import LiveServer


@pytest.mark.parametrize("mode", ["gevent", "threading"])
def test_every_async_mode_serves_websocket_and_polling_clients(database_url, tmp_path, mode):
    server = LiveServer(database_url, tmp_path / f"{mode}.log", ASYNC_MODE=mode).start()
    try:
        for transport in ("websocket", "polling"):
            # New users per transport: a user back within PRESENCE_GRACE_SECONDS is never
            # announced again (a reload must not flap), so the same two would make user:online
            # depend on how long the previous disconnect took.
            alice_id, bob_id = f"alice-{transport}", f"bob-{transport}"
            alice = RecordingClient(server.url, server.token(alice_id), transport).connect()
            bob = RecordingClient(server.url, server.token(bob_id), transport).connect()
            alice.wait_for("user:online", lambda p: p["userId"] == bob_id)
            note = server.api("POST", f"/notify/{bob_id}", server.token("svc", "service"),
                              json={"type": "mention", "title": mode, "message": transport})
            assert bob.wait_for("notification", lambda n: n["id"] == note["id"])
            assert alice.call("task:join", "task_1")["data"]["totalViewing"] == 1
            for client in (alice, bob):
                started = time.monotonic()
                client.disconnect()
                # Prompt: the server closes the connection; CLOSE is not left for the next ping.
                took = time.monotonic() - started
                assert took < 2, f"{transport} disconnect took {took:.1f} s"
    finally:
        server.stop()
    # A websocket's last frames are never read as the next HTTP request on its connection.
    log = server.log_path.read_text(errors="replace")
    assert not re.search(r"Bad request|Bad HTTP|Invalid HTTP method|Expected GET method", log)
