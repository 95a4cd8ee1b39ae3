"""Settings that shape the wire: heartbeat, CORS allowlist, auth timeout, connection limit."""
import json
import time

import pytest
import requests

ALLOWED = "https://app.devtracker.example"


@pytest.fixture
def server_settings():
    return {"CORS_ALLOWED_ORIGINS": ALLOWED, "AUTH_TIMEOUT_SECONDS": 1}


def handshake(live_server, **headers):
    return requests.get(live_server.url + "/socket.io/?EIO=4&transport=polling", headers=headers,
                        timeout=5)


def test_the_handshake_announces_the_notes_heartbeat(live_server):
    response = handshake(live_server)
    assert response.status_code == 200
    opening = json.loads(response.text[1:])  # Engine.IO "open" packet: 0{...}
    assert opening["pingInterval"] == 25000 and opening["pingTimeout"] == 60000


def test_only_allowed_origins_may_open_sockets(live_server):
    assert handshake(live_server, Origin=ALLOWED).status_code == 200
    assert handshake(live_server, Origin="https://elsewhere.example").status_code == 400


def test_a_socket_that_never_authenticates_is_dropped_after_the_timeout(live_server, connect):
    idle = connect(transport="websocket")
    deadline = time.time() + 10
    while idle.sio.connected and time.time() < deadline:
        time.sleep(0.05)
    assert not idle.sio.connected
    assert idle.named("error") == [{"code": "AUTH_TIMEOUT", "message": "No authentication in time.",
                                    "event": None}]


def test_the_servers_own_origin_is_always_allowed(live_server):
    assert handshake(live_server, Origin=live_server.url).status_code == 200
