"""Slow peers against the real server over TCP: request heads that never end, idle keep-alive
connections, and bodies over the limit (HTTP_HEADER_TIMEOUT_SECONDS, HTTP_IDLE_TIMEOUT_SECONDS,
the prompt 413)."""
import json
import socket
import time

import pytest
import requests

from tests.support.peers import closed_by_server, half_head, raw_websocket, timed_health, ws_frame

SLOW_CONNECTIONS = 200


@pytest.fixture
def server_settings():
    return {"MAX_CONNECTIONS": SLOW_CONNECTIONS, "HTTP_HEADER_TIMEOUT_SECONDS": 2,
            "HTTP_IDLE_TIMEOUT_SECONDS": 2, "PING_INTERVAL": 1, "PING_TIMEOUT": 5}


def test_a_slowloris_at_max_connections_is_cut_and_health_answers_again(live_server):
    stalled = [half_head(live_server.port) for _ in range(SLOW_CONNECTIONS)]
    try:
        started = time.monotonic()
        assert all(closed_by_server(sock, 6) for sock in stalled)
        assert time.monotonic() - started < 6
        status, seconds = timed_health(live_server.url, timeout=5)
        assert (status, seconds < 2) == (200, True)
    finally:
        for sock in stalled:
            sock.close()


def test_a_head_sent_a_byte_at_a_time_is_cut_at_the_deadline(live_server):
    sock = socket.create_connection(("127.0.0.1", live_server.port), timeout=10)
    started = time.monotonic()
    cut = None
    try:
        for byte in b"GET /api/v1/realtime/health HTTP/1.1\r\nX-Slow: " + b"a" * 40:
            sock.sendall(bytes([byte]))
            time.sleep(0.25)
    except (BrokenPipeError, ConnectionResetError):
        cut = time.monotonic() - started
    finally:
        sock.close()
    assert cut is not None and cut < 4, cut


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(live_server):
    sock = socket.create_connection(("127.0.0.1", live_server.port), timeout=10)
    try:
        sock.sendall(b"GET /api/v1/realtime/health HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert closed_by_server(sock, 6)
        assert 1.5 < time.monotonic() - started < 5
    finally:
        sock.close()


def test_quiet_websockets_and_long_polls_outlive_the_timeouts(live_server, connect):
    websocket = connect("alice")
    polling = connect("bob", transport="polling")
    time.sleep(5)  # longer than both timeouts; pings every second meanwhile
    assert websocket.sio.connected and polling.sio.connected
    admin = live_server.token("root", "admin")
    live_server.api("POST", "/broadcast", admin, json={"event": "system:hello", "message": "still here"})
    for client in (websocket, polling):
        assert client.wait_for("system:hello")[0]["message"] == "still here"


def polling_session(server, user="alice"):
    """An authenticated long-polling session; returns its sid."""
    opened = requests.get(server.url + "/socket.io/?EIO=4&transport=polling", timeout=5)
    sid = json.loads(opened.text[1:])["sid"]
    url = server.url + f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    assert requests.post(url, data="40" + json.dumps({"token": server.token(user)}), timeout=5).text == "OK"
    received = ""
    for _ in range(10):  # the namespace's answer comes first; `authenticated` after the replay
        received += requests.get(url, timeout=5).text
        if "authenticated" in received:
            return sid
    raise AssertionError(f"no `authenticated` in ten polls: {received[:300]!r}")


def test_a_10_mb_long_polling_post_gets_a_prompt_413_and_ends_its_session(live_server):
    sid = polling_session(live_server)
    url = live_server.url + f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    started = time.monotonic()
    answer = requests.post(url, data=b"4" + b"x" * (10 * 1024 * 1024), timeout=30)
    assert time.monotonic() - started < 5
    assert answer.status_code == 413
    assert answer.headers["Connection"] == "close"
    assert answer.json() == {"success": False, "error": {
        "code": "PAYLOAD_TOO_LARGE", "message": "The request body is larger than the server accepts."}}
    later = requests.get(url, timeout=5)  # the session is closed: a CLOSE packet, then gone
    assert later.text == "1" or later.status_code == 400


def raw_answer(port, request, timeout=5):
    """Send `request` on a new connection; return (answer bytes until the server closes, seconds)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    started = time.monotonic()
    sock.sendall(request)
    answer = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    except (socket.timeout, TimeoutError):
        answer += b"<still open>"
    finally:
        sock.close()
    return answer, time.monotonic() - started


def test_a_huge_content_length_without_a_body_is_answered_and_closed(live_server):
    sid = polling_session(live_server)
    for path in (f"/socket.io/?EIO=4&transport=polling&sid={sid}", "/api/v1/realtime/activity"):
        answer, seconds = raw_answer(live_server.port, (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {live_server.token('alice')}\r\n"
            f"Content-Length: {10 ** 12}\r\n\r\n{{").encode())
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert not answer.endswith(b"<still open>")
        assert seconds < 4


def test_a_chunked_long_polling_post_is_read_up_to_the_limit(live_server):
    sid = polling_session(live_server)
    path = f"/socket.io/?EIO=4&transport=polling&sid={sid}"

    def chunked(body):
        return (f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                "Connection: close\r\n\r\n").encode() + b"".join(
            b"%x\r\n%s\r\n" % (len(part), part) for part in body) + b"0\r\n\r\n"

    small, _ = raw_answer(live_server.port, chunked([b'42["presence:list"]']))
    assert small.startswith(b"HTTP/1.1 200") and small.endswith(b"OK"), small
    large, seconds = raw_answer(live_server.port, chunked([b"4" + b"x" * 65535] * 40))
    assert large.startswith(b"HTTP/1.1 413"), large[:200]
    assert seconds < 4


def test_a_websocket_frame_over_the_limit_closes_the_socket_at_once(live_server):
    sock = raw_websocket(live_server.port)
    try:
        sock.recv(65536)  # OPEN
        # The header of a 10 MB text frame, and a little of it: nothing more is sent.
        sock.sendall(ws_frame(b"4" + b"x" * (10 * 1024 * 1024))[:4096])
        started = time.monotonic()
        assert closed_by_server(sock, 5)
        assert time.monotonic() - started < 4
    finally:
        sock.close()
    assert timed_health(live_server.url)[0] == 200


def test_the_gevent_server_cuts_half_heads_and_idle_connections_too(database_url, tmp_path):
    from tests.support.server import LiveServer

    server = LiveServer(database_url, tmp_path / "gevent.log", ASYNC_MODE="gevent",
                        HTTP_HEADER_TIMEOUT_SECONDS=1, HTTP_IDLE_TIMEOUT_SECONDS=1).start()
    try:
        stalled = half_head(server.port)
        idle = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        idle.sendall(b"GET /api/v1/realtime/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert idle.recv(65536).startswith(b"HTTP/1.1 200")
        assert closed_by_server(stalled, 4) and closed_by_server(idle, 4)
        assert timed_health(server.url)[0] == 200
    finally:
        server.stop()
    assert "Traceback" not in (tmp_path / "gevent.log").read_text()
