"""Helpers for the Socket.IO namespace tests: connect, wait for events, pick packets apart.

After a handshake-auth connect the server finishes the session in a background thread, and
timers (grace, typing, auth, expiry) fire from the housekeeping thread, so events can arrive
after the call that caused them returns: wait for them by polling with a deadline.
"""
import re
import time

import pytest

from devtracker.extensions import socketio

API = "/api/v1/realtime"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def drain(sock):
    """Take every packet queued so far, in order.

    Like `get_received()`, but popping one packet at a time: a background thread may be
    appending meanwhile (get_received rebuilds the list and could drop such a packet), and it
    also works on a socket the server has just disconnected.
    """
    packets = []
    while sock.queue:
        packets.append(sock.queue.pop(0))
    return packets


def wait_for(sock, name, timeout=3, where=None):
    """Poll until event `name` (whose payload satisfies `where`) arrives; return every packet
    received up to and including it, in order. Later packets stay queued. Fails on timeout."""
    packets = []
    deadline = time.monotonic() + timeout
    while True:
        while sock.queue:
            pkt = sock.queue.pop(0)
            packets.append(pkt)
            if pkt["name"] == name and (where is None or where(payload_of(pkt))):
                return packets
        if not sock.is_connected() and not sock.queue:
            pytest.fail(f"disconnected before {name!r}; received {names(packets)}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {name!r} within {timeout}s; received {names(packets)}")
        time.sleep(0.01)


def collect(sock, seconds):
    """Everything that arrives within `seconds` (for asserting what must not happen after a timer)."""
    deadline = time.monotonic() + seconds
    packets = drain(sock)
    while time.monotonic() < deadline:
        time.sleep(0.01)
        packets += drain(sock)
    return packets


def wait_until(condition, timeout=3, message="condition", interval=0.01):
    """Poll `condition()` every `interval` seconds until it is true; fail on timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{message} not met within {timeout}s")
        time.sleep(interval)


def payload_of(pkt):
    """The first argument of a packet (every server event here has exactly one)."""
    return pkt["args"][0] if pkt["args"] else None


def names(packets):
    """The event names of packets, in order."""
    return [pkt["name"] for pkt in packets]


def payloads(packets, name):
    """The payloads of the packets named `name`, in order."""
    return [payload_of(pkt) for pkt in packets if pkt["name"] == name]


def without_last_seen(presence):
    """A UserPresence minus `lastSeen` (a clock value), after checking its format."""
    presence = dict(presence)
    assert ISO_Z.match(presence.pop("lastSeen")), presence
    return presence


def presence(user_id, username=None, status="online", devices=1, current_task=None):
    """An expected UserPresence without `lastSeen`."""
    return {"userId": user_id, "username": username or user_id.title(), "status": status,
            "currentTask": current_task, "devices": devices}


def ack_ok(ack):
    """Assert a success envelope; return its data."""
    assert isinstance(ack, dict) and set(ack) == {"success", "data"} and ack["success"] is True, ack
    return ack["data"]


def ack_error(ack, code):
    """Assert an error envelope with this code; return its `error` member."""
    assert isinstance(ack, dict) and set(ack) == {"success", "error"} and ack["success"] is False, ack
    error = ack["error"]
    assert error["code"] == code, ack
    assert isinstance(error["message"], str) and error["message"]
    assert set(error) <= {"code", "message", "details"}
    return error


def error_event(packets, code, event):
    """Assert exactly one `error` event among packets, with this code and event; return it."""
    errors = payloads(packets, "error")
    assert len(errors) == 1, packets
    error = errors[0]
    assert error["code"] == code and error["event"] == event, error
    assert isinstance(error["message"], str) and error["message"]
    assert set(error) <= {"code", "message", "event", "details"}
    return error


def sid_of(sock):
    """The server-side sid of a test client."""
    return socketio.server.manager.sid_from_eio_sid(sock.eio_sid, "/")


def open_socket(app, client, auth=None):
    """A raw test client: handshake `auth` as given, nothing waited for."""
    return socketio.test_client(app, flask_test_client=client, auth=auth)


def connect(app, client, token, **cursors):
    """Connect with handshake auth and wait for `replay:done`; the packets up to it are `.handshake`."""
    sock = open_socket(app, client, {"token": token, **cursors})
    assert sock.is_connected(), "the handshake was refused"
    sock.handshake = wait_for(sock, "replay:done")
    gate = socketio.server.manager.gate
    wait_until(lambda: sid_of(sock) not in gate._held, message="the held live events released")
    sock.handshake += drain(sock)  # the live events held during replay: own user:online and so on
    return sock


def clear(*socks):
    """Forget what these sockets received so far."""
    for sock in socks:
        drain(sock)


@pytest.fixture
def sockets(app, client, token_for):
    """Open sockets for users (username: the id titled); all are disconnected at teardown."""
    opened = []

    class Sockets:
        def token(self, user_id, **kwargs):
            kwargs.setdefault("username", user_id.title())
            return token_for(user_id, **kwargs)

        def open(self, auth=None):
            sock = open_socket(app, client, auth)
            opened.append(sock)
            return sock

        def connect(self, user_id, token=None, **cursors):
            sock = connect(app, client, token or self.token(user_id), **cursors)
            opened.append(sock)
            return sock

        def legacy(self):
            """A socket connected without auth (the note's flow: `authenticate` comes later)."""
            sock = self.open()
            assert sock.is_connected()
            return sock

    yield Sockets()
    for sock in opened:
        if sock.is_connected():
            sock.disconnect()
