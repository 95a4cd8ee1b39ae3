"""The benchmark's reference servers (bench/reference/) speak the benchmark's protocol.

Each reference is started as a process on a free port, the way bench/run.py starts it; three
python-socketio clients (websocket transport) connect with a token, two of them join a task
room, and /bench/room and /bench/broadcast must reach exactly the right sockets, once each, with
the payloads bench/reference/README.md gives. A raw websocket that offers permessage-deflate
must work too, compressed or not.

Events reach python-socketio's handlers in threads of their own, so every wait polls with a
deadline; "nothing more arrived" is checked behind a barrier (a task:join ack sent after the
broadcast, on the same socket).
"""
import contextlib
import json
import os
import re
import shutil
import sys
import threading
import time
from collections import defaultdict

import pytest
import requests
import socketio
from websockets.sync.client import connect as ws_connect

from tests.conftest import require_service
from tests.support.ports import free_port
from tests.support.server import ROOT, ServerProcess

REFERENCE = os.path.join(ROOT, "bench", "reference")
NODE_DIR = os.path.join(REFERENCE, "node")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TASK = "task_bench"
SENT = {"success": True, "data": {"sent": True}}
EVENTS = ("replay:done", "system:bench", "task:updated")


def wait_for(predicate, timeout=10, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def command(kind, port, *extra):
    if kind == "flask":
        return [sys.executable, os.path.join(REFERENCE, "flask_app.py"), "--port", str(port), *extra]
    node = shutil.which("node")
    if not node or not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "socket.io")):
        require_service("Node.js reference server", "run npm ci in bench/reference/node")
    return [node, os.path.join(NODE_DIR, "server.mjs"), "--port", str(port), *extra]


class Reference(ServerProcess):
    """One reference server process, stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, kind, log_path, *extra):
        port = free_port()
        super().__init__(command(kind, port, *extra), log_path, ready_path="/bench/stats", port=port,
                         name=f"the {kind} reference")

    def post(self, path, body):
        response = requests.post(self.url + path, json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def stats(self):
        response = requests.get(self.url + "/bench/stats", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()


def start(kind, tmp_path, *extra):
    return Reference(kind, tmp_path / f"{kind}.log", *extra).start()


@pytest.fixture(params=["flask", "node"])
def reference(request, tmp_path):
    server = start(request.param, tmp_path)
    yield server
    server.stop()


class Recorder:
    """A python-socketio client that records every benchmark event it receives."""

    def __init__(self, name):
        self.name = name
        self.events = defaultdict(list)
        self.lock = threading.Lock()
        self.client = socketio.Client(reconnection=False)
        for event in EVENTS:
            self.client.on(event, self._recorder(event))

    def _recorder(self, event):
        def record(data=None):
            with self.lock:
                self.events[event].append(data)
        return record

    def got(self, event):
        with self.lock:
            return list(self.events[event])

    def connect(self, url):
        self.client.connect(url, auth={"token": "x"}, transports=["websocket"], wait_timeout=10)
        return self


@pytest.fixture
def clients():
    made = []
    yield lambda name: made.append(Recorder(name)) or made[-1]
    for recorder in made:
        recorder.client.disconnect()


def test_room_and_broadcast_reach_exactly_the_right_sockets(reference, clients):
    a, b, c = (clients(name).connect(reference.url) for name in "abc")
    for client in (a, b, c):
        wait_for(lambda client=client: client.got("replay:done"), what=f"replay:done on {client.name}")
        assert client.got("replay:done") == [{}]

    for client in (a, b):
        ack = client.client.call("task:join", TASK, timeout=10)
        assert ack == {"success": True, "data": {"taskId": TASK}}

    stats = reference.stats()
    assert stats["success"] is True
    assert stats["data"]["connectedSockets"] == 3
    assert isinstance(stats["data"]["rssKiB"], int) and stats["data"]["rssKiB"] > 0

    task = {"id": TASK, "title": "Fan-out", "labels": ["x", "y"], "n": 1}
    assert reference.post("/bench/room", {"taskId": TASK, "data": task}) == SENT
    for client in (a, b):
        wait_for(lambda client=client: client.got("task:updated"), what=f"task:updated on {client.name}")

    data = {"seq": 7, "sentAt": 1234.5, "pad": "z" * 100}
    assert reference.post("/bench/broadcast", {"data": data}) == SENT
    for client in (a, b, c):
        wait_for(lambda client=client: client.got("system:bench"), what=f"system:bench on {client.name}")
    # Barrier: an ack sent after the broadcast, on each socket, so anything extra would be in.
    for client in (a, b, c):
        client.client.call("task:join", "task_barrier", timeout=10)

    for client in (a, b):
        [update] = client.got("task:updated")
        assert ISO_Z.match(update.pop("timestamp")), update
        assert update == {"taskId": TASK, "action": "updated", "task": task,
                          "userId": "bench", "username": "bench"}
    assert c.got("task:updated") == []
    for client in (a, b, c):
        [event] = client.got("system:bench")
        assert ISO_Z.match(event.pop("timestamp")), event
        assert event == {"message": "bench", "data": data}
        assert client.got("replay:done") == [{}]


def test_stats_follow_disconnects(reference, clients):
    a, b = (clients(name).connect(reference.url) for name in "ab")
    wait_for(lambda: reference.stats()["data"]["connectedSockets"] == 2, what="2 sockets")
    a.client.disconnect()
    wait_for(lambda: reference.stats()["data"]["connectedSockets"] == 1, what="1 socket")


@contextlib.contextmanager
def raw_session(url, compression):
    """A raw websocket after the Socket.IO handshake (auth, replay:done); yields (ws, negotiated)."""
    with ws_connect(url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket",
                    compression=compression, open_timeout=10, ping_interval=None) as ws:
        opening = ws.recv(timeout=10)
        assert opening.startswith("0"), opening
        ws.send("40" + json.dumps({"token": "x"}))
        frames = [ws.recv(timeout=10) for _ in range(2)]
        assert frames[0].startswith("40"), frames
        assert json.loads(frames[1][2:]) == ["replay:done", {}], frames
        yield ws, bool(ws.protocol.extensions)


@pytest.mark.parametrize("kind, extra, negotiated", [
    ("flask", (), True),                                # eventlet accepts permessage-deflate
    ("flask", ("--decline-compression",), False),
    ("node", (), False),                                # socket.io 4 declines it by default
    ("node", ("--per-message-deflate",), True),
])
def test_permessage_deflate_offer(kind, extra, negotiated, tmp_path):
    server = start(kind, tmp_path, *extra)
    try:
        with raw_session(server.url, "deflate") as (ws, compressed):
            assert compressed is negotiated
            big = {"pad": "y" * 5000}  # over any compression threshold
            assert server.post("/bench/broadcast", {"data": big}) == SENT
            frame = ws.recv(timeout=10)  # the first Engine.IO ping comes after 25 s
            name, event = json.loads(frame[2:])
            assert name == "system:bench" and event["data"] == big
    finally:
        server.stop()
