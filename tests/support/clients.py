"""python-socketio clients that record every event, for tests over real TCP."""
import threading
import time

import socketio

from devtracker.engine.client import InlineEngineIO
from tests.strictjson import NotStrictJSON, StrictPacket


class _InOrderClient(socketio.Client):
    """Stock python-socketio hands each message to a new thread; record them in arrival order."""

    def _engineio_client_class(self):
        return InlineEngineIO


class RecordingClient:
    """A python-socketio client keeping (event, payload) pairs in arrival order.

    It decodes packets as strict JSON (tests/strictjson.py): a packet that is not fails the
    test at its next look at the events, as a browser's client would drop the connection.
    """

    def __init__(self, url, token=None, transport="websocket", reconnect=False, **auth):
        self.url = url
        self.token = token
        self.auth = {"token": token, **auth} if token else None
        self.transport = transport
        self.events = []
        self.not_strict = []
        self._cond = threading.Condition()
        self.sio = _InOrderClient(reconnection=reconnect, reconnection_delay=0.2,
                                   reconnection_delay_max=1, serializer=self._packet_class())
        self.sio.on("*", self._record)
        self.sio.on("connect_error", lambda data: self._record("connect_error", data))

    def _packet_class(self):
        recording = self

        class RecordingStrictPacket(StrictPacket):
            def decode(self, encoded_packet):
                try:
                    return super().decode(encoded_packet)
                except NotStrictJSON as exc:
                    with recording._cond:
                        recording.not_strict.append(f"{str(encoded_packet)[:200]!r}: {exc}")
                        recording._cond.notify_all()
                    raise

        return RecordingStrictPacket

    def check_strict(self):
        """Fail when the server sent a packet that is not strict JSON."""
        if self.not_strict:
            raise NotStrictJSON(f"the server sent packets that are not strict JSON: {self.not_strict}")

    def _record(self, event, data=None):
        with self._cond:
            self.events.append((event, data))
            self._cond.notify_all()

    def cursor_auth(self):
        """Handshake auth with the largest notification and activity ids seen (reconnects)."""
        notes = [n["id"] for n in self.named("notification")]
        feed = [a["id"] for a in self.named("activity:feed")]
        auth = dict(self.auth)
        if notes:
            auth["lastNotificationId"] = max(notes)
        if feed:
            auth["lastActivityId"] = max(feed)
        return auth

    def connect(self, wait_replay=True):
        """Connect (handshake auth when a token was given) and wait for replay:done."""
        auth = self.cursor_auth if self.auth else None
        self.sio.connect(self.url, auth=auth, transports=[self.transport], wait_timeout=10)
        if self.auth and wait_replay:
            self.wait_for("replay:done")
        return self

    def disconnect(self):
        if self.sio.connected:
            self.sio.disconnect()

    def call(self, event, payload=None, timeout=10):
        """Emit with an ack; return the ack envelope."""
        try:
            return self.sio.call(event, payload, timeout=timeout)
        finally:
            self.check_strict()

    def named(self, name):
        """Payloads of every event with this name, in order."""
        self.check_strict()
        with self._cond:
            return [data for event, data in self.events if event == name]

    def wait_for(self, name, predicate=lambda data: True, timeout=10, count=1):
        """Wait until `count` events named `name` match; return their payloads."""
        deadline = time.time() + timeout
        with self._cond:
            while True:
                self.check_strict()
                found = [d for e, d in self.events if e == name and predicate(d)]
                if len(found) >= count:
                    return found
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f"{name} x{count} not received in {timeout} s; got "
                                         f"{[e for e, _ in self.events]}")
                self._cond.wait(left)

    def clear(self):
        with self._cond:
            self.events.clear()
