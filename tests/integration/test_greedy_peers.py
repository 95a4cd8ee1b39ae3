"""Greedy peers against the real server over TCP: sockets that never read what they are sent
(MAX_SOCKET_BACKLOG_BYTES)."""
import json
import time

import pytest
import requests

from tests.support.peers import metric, never_reading_socket, server_rss

BACKLOG = 256 * 1024
DATA_BYTES = 100_000
BROADCASTS = 60  # ~6 MiB to every socket


@pytest.fixture
def server_settings():
    return {"MAX_SOCKET_BACKLOG_BYTES": BACKLOG, "MAX_DATA_BYTES": DATA_BYTES + 1000}


def broadcast(server, admin, seq):
    response = requests.post(server.url + "/api/v1/realtime/broadcast", timeout=10,
                             headers={"Authorization": f"Bearer {admin}"},
                             json={"event": "system:load", "message": "m",
                                   "data": {"seq": seq, "pad": "x" * DATA_BYTES}})
    assert response.status_code == 200, response.text


def polling_session_that_never_polls(server, user):
    opened = requests.get(server.url + "/socket.io/?EIO=4&transport=polling", timeout=5)
    sid = json.loads(opened.text[1:])["sid"]
    url = server.url + f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    assert requests.post(url, data="40" + json.dumps({"token": server.token(user)}), timeout=5).text == "OK"
    return url


def test_sockets_that_never_read_are_dropped_and_the_others_get_everything(live_server, connect):
    reader = connect("reader")
    greedy = never_reading_socket(live_server.port, live_server.token("greedy"))
    poll_url = polling_session_that_never_polls(live_server, "sleeper")
    admin = live_server.token("root", "admin")
    time.sleep(0.5)
    online = live_server.api("GET", "/users/online", admin)
    assert {user["userId"] for user in online["users"]} == {"reader", "greedy", "sleeper"}
    rss_before = server_rss(live_server.process.pid)
    try:
        for seq in range(BROADCASTS):
            broadcast(live_server, admin, seq)
        got = reader.wait_for("system:load", count=BROADCASTS, timeout=30)
        assert [event["data"]["seq"] for event in got] == list(range(BROADCASTS))
        deadline = time.time() + 10
        while metric(live_server.url, "devtracker_socket_backlog_drops_total") != 2 and time.time() < deadline:
            time.sleep(0.2)
        assert metric(live_server.url, "devtracker_socket_backlog_drops_total") == 2
        time.sleep(1)  # the presence grace period (0.5 s) of the dropped sockets' users
        grown = server_rss(live_server.process.pid) - rss_before
        # ~6 MiB to each of the two greedy sockets: unbounded, they would hold ~12 MiB and more.
        assert grown < 8 * 1024 * 1024, grown
        online = live_server.api("GET", "/users/online", admin)
        assert {user["userId"] for user in online["users"]} == {"reader"}
        assert requests.get(poll_url, timeout=5).status_code == 400  # the session is gone
        assert reader.sio.connected
    finally:
        greedy.close()
