"""A raw Socket.IO client over one blocking websocket: it sends any text or bytes, framed or
not (the fuzzer, the hostile-packet tests).

Engine.IO 4 / Socket.IO 5 just enough to fuzz: open, namespace connect (`40{auth}`), pings,
events (`42[...]`), acks (`43<id>[...]`), errors (`44`), disconnect (`41`). Whatever the server
sends is decoded as strict JSON (tests/strictjson.py): a packet that is not fails the test.
"""
import json
import time

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from tests.strictjson import loads

ENGINE_OPEN, ENGINE_CLOSE, ENGINE_PING, ENGINE_PONG, ENGINE_MESSAGE = "0", "1", "2", "3", "4"


class Closed(Exception):
    """The server closed the websocket or disconnected the namespace."""


class RawSocket:
    """One websocket to `/socket.io/`; `events` and `acks` keep what the server sent."""

    def __init__(self, url):
        self.ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws = None
        self.events = []  # (name, args)
        self.acks = {}  # ack id -> args
        self.refused = None
        self.closed = False
        self.received = []  # every text packet, as sent

    def connect(self, auth=None, raw_auth=None, timeout=10):
        """Open and connect the namespace; return the CONNECT (`40`) or error (`44`) data."""
        self.ws = ws_connect(self.ws_url, compression=None, max_size=None, open_timeout=timeout,
                             close_timeout=1, legacy=True)
        opening = self.ws.recv(timeout)
        if not opening.startswith(ENGINE_OPEN):
            raise AssertionError(f"unexpected opening packet {opening[:80]!r}")
        loads(opening[1:])
        body = raw_auth if raw_auth is not None else (json.dumps(auth) if auth is not None else "")
        self.ws.send("40" + body)
        deadline = time.monotonic() + timeout
        while True:
            packet = self._next(deadline)
            if packet is None:
                raise AssertionError(f"the handshake was not answered in {timeout} s")
            if packet.startswith("0"):
                return loads(packet[1:])
            if packet.startswith("4"):
                self.refused = loads(packet[1:])
                return self.refused

    def send(self, frame, text=None):
        """Send one websocket frame as is: text for str, binary for bytes (`text=True` sends bytes
        in a text frame, valid UTF-8 or not)."""
        try:
            self.ws.send(frame, text=text)
        except ConnectionClosed:
            self.closed = True
            raise Closed("closed while sending") from None

    def emit(self, name, payload, ack=None):
        """Send `42[<ack>][name, payload]` with Python values (strict JSON)."""
        self.send(f"42{'' if ack is None else ack}{json.dumps([name, payload], allow_nan=False)}")

    def wait_ack(self, ack, timeout=10):
        """The ack's arguments; Closed when the socket is gone first, TimeoutError after `timeout`."""
        deadline = time.monotonic() + timeout
        while ack not in self.acks:
            if self._next(deadline) is None:
                if self.closed:
                    raise Closed(f"closed before ack {ack}")
                raise TimeoutError(f"ack {ack} not received in {timeout} s")
        return self.acks.pop(ack)

    def wait_event(self, name, timeout=10):
        """The arguments of the first event of this name; TimeoutError after `timeout`."""
        deadline = time.monotonic() + timeout
        while not self.named(name):
            if self._next(deadline) is None:
                raise TimeoutError(f"no {name} within {timeout} s (closed: {self.closed})")
        return self.named(name)[0]

    def _next(self, deadline):
        """Read and dispatch one packet; None at the deadline or when closed."""
        while not self.closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                frame = self.ws.recv(left)
            except TimeoutError:
                return None
            except ConnectionClosed:
                self.closed = True
                return None
            if isinstance(frame, bytes):
                continue
            self.received.append(frame)
            if frame == ENGINE_PING:
                self.ws.send(ENGINE_PONG)
                continue
            if frame.startswith(ENGINE_CLOSE):
                self.closed = True
                return None
            if not frame.startswith(ENGINE_MESSAGE):
                continue
            packet = frame[1:]
            self._dispatch(packet)
            if packet.startswith("1"):
                self.closed = True
            return packet
        return None

    def _dispatch(self, packet):
        kind, rest = packet[:1], packet[1:]
        if kind not in ("2", "3"):
            return
        digits = len(rest) - len(rest.lstrip("0123456789"))
        ack, data = rest[:digits], loads(rest[digits:])
        if kind == "2":
            self.events.append((data[0], data[1:]))
        else:
            self.acks[int(ack)] = data

    def drain(self, seconds=0.05):
        """Read what arrives for a short while."""
        deadline = time.monotonic() + seconds
        while self._next(deadline) is not None:
            pass

    def named(self, name):
        """Arguments of every event of this name received so far."""
        return [args for event, args in self.events if event == name]

    def close(self):
        if self.ws is not None:
            self.ws.close()
