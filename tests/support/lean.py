"""A lean Socket.IO client on asyncio + websockets, for holding thousands of sockets per process
(the integration tests and the bench's client processes).

It speaks just enough of Engine.IO 4 / Socket.IO 5 over websocket, namespace `/`, no binary:
open, namespace connect with auth (or none), pings, events (`42[...]`), acks (`43<id>[...]`),
and the time at which `replay:done` arrived. Events are dispatched cheaply: the name is cut out
of the raw `42["name",...]` frame and only events somebody listens to are JSON-decoded.
Per socket, permessage-deflate may be offered in the websocket handshake, the receive buffer
made small (`rcvbuf`) and reading put off (`connect(read=False)`, then `start_reading()`) to
play a slow reader, and every frame kept in order (`keep=True`).
"""
import asyncio
import itertools
import json
import socket
import time
from urllib.parse import urlsplit

import websockets

OPEN_TIMEOUT = 60


def event_name(message):
    """`42["name",...]` → "name" (None when the frame is not a plain event)."""
    if not message.startswith('42["'):
        return None
    end = message.find('"', 4)
    return message[4:end] if end > 0 else None


class LeanSocket:
    """One websocket connection to the `/` namespace.

    `handlers` maps event names to `handler(sock, data, received_at)`; `on_event(sock, name,
    data, received_at)`, when given, sees every event (replay:done too). received_at is
    time.time() when the frame was read, so it compares with a sender's time.time().
    With `keep`, `messages` holds every text frame that came after replay:done (pings aside).
    """

    def __init__(self, url, auth=None, handlers=None, deflate=False, tag=None, *, on_event=None,
                 keep=False, rcvbuf=None, max_queue=16):
        self.ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.auth = auth
        self.handlers = handlers if handlers is not None else {}
        self.on_event = on_event
        self.deflate = deflate
        self.tag = tag
        self.rcvbuf = rcvbuf
        self.max_queue = max_queue
        self.messages = [] if keep else None
        self.ready = asyncio.Event()   # replay:done arrived
        self.ready_at = None
        self.negotiated_deflate = False
        self.refused = None
        self.closed = False
        self.dropped_at = None            # the server ended the connection (we did not close it)
        self.drop_reason = None
        self.ws = None
        self.reader = None
        self._connected = asyncio.Event()
        self._acks = {}
        self._ack_ids = itertools.count(1)

    async def _open(self, timeout):
        sock = None
        if self.rcvbuf:
            parts = urlsplit(self.ws_url)
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            sock.setblocking(False)
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(
                sock, (parts.hostname, parts.port)), timeout)
        return await asyncio.wait_for(websockets.connect(
            self.ws_url, sock=sock, compression="deflate" if self.deflate else None,
            ping_interval=None, max_size=None, max_queue=self.max_queue, open_timeout=timeout,
            close_timeout=2), timeout)

    async def connect(self, timeout=OPEN_TIMEOUT, wait_ready=True, read=True):
        """Open, connect the namespace (with the auth, if any), then read in the background; by
        default wait for replay:done first. With `read=False` nothing is read after that until
        `start_reading()`."""
        self.ws = await self._open(timeout)
        extensions = self.ws.response.headers.get("Sec-WebSocket-Extensions", "") if self.ws.response else ""
        self.negotiated_deflate = "permessage-deflate" in extensions
        opening = await asyncio.wait_for(self.ws.recv(), timeout)
        if not opening.startswith("0"):
            raise ConnectionError(f"unexpected opening packet {opening[:40]!r}")
        await self.ws.send("40" + (json.dumps(self.auth) if self.auth is not None else ""))
        if read and not wait_ready:
            self.start_reading()
            await asyncio.wait_for(self._connected.wait(), timeout)
        else:
            await asyncio.wait_for(self._read_until(self._connected), timeout)
        if self.refused is not None:
            raise ConnectionError(f"refused: {self.refused}")
        if wait_ready and not self.ready.is_set():
            await asyncio.wait_for(self._read_until(self.ready), timeout)
        if read and self.reader is None:
            self.start_reading()
        return self

    def start_reading(self):
        """Read and dispatch every frame from now on, in a task of its own."""
        if self.reader is None:
            self.reader = asyncio.create_task(self._read())

    async def _read_until(self, event):
        while not event.is_set():
            message = await self.ws.recv()
            if not isinstance(message, str):
                continue
            await self._handle(message)
            if self.refused is not None:
                return

    async def _handle(self, message):
        if self.messages is not None and message != "2" and self.ready.is_set():
            self.messages.append(message)
        if message.startswith("42"):
            name = event_name(message)
            if name == "replay:done" and not self.ready.is_set():
                self.ready_at = time.time()
                self.ready.set()
                if self.on_event is None:
                    return
            handler = self.handlers.get(name)
            if handler is not None or self.on_event is not None:
                at = time.time()
                args = json.loads(message[2:])
                data = args[1] if len(args) > 1 else None
                if handler is not None:
                    handler(self, data, at)
                if self.on_event is not None:
                    self.on_event(self, args[0], data, at)
        elif message == "2":
            await self.ws.send("3")
        elif message.startswith("43"):
            self._ack(message)
        elif message.startswith("40"):
            self._connected.set()
        elif message.startswith("44"):
            self.refused = message[2:]
            self._connected.set()
        elif message == "1" or message.startswith("41"):
            self.drop_reason = "engine.io close" if message == "1" else "socket.io disconnect"

    async def _read(self):
        try:
            async for message in self.ws:
                if isinstance(message, str):
                    await self._handle(message)
            if not self.closed:
                self._dropped("websocket closed")
        except websockets.ConnectionClosed as exc:
            if not self.closed:
                code = exc.rcvd.code if exc.rcvd else None
                self._dropped(f"websocket closed ({code})" if code else "websocket closed, no close frame")
        except OSError as exc:
            if not self.closed:
                self._dropped(f"{type(exc).__name__}")
        finally:
            self.closed = True
            self._connected.set()
            for future in self._acks.values():
                if not future.done():
                    future.set_exception(ConnectionError("socket closed"))

    def _dropped(self, how):
        self.dropped_at = time.time()
        self.drop_reason = self.drop_reason or how

    def _ack(self, message):
        bracket = message.find("[")
        if bracket < 0:
            return
        future = self._acks.pop(int(message[2:bracket] or 0), None)
        if future is not None and not future.done():
            args = json.loads(message[bracket:])
            future.set_result(args[0] if args else None)

    async def emit(self, name, data):
        """Send an event without an ack."""
        await self.ws.send("42" + json.dumps([name, data]))

    async def call(self, name, data, timeout=30):
        """Send an event with an ack and return the ack's first argument."""
        ack_id = next(self._ack_ids)
        future = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        await self.ws.send(f"42{ack_id}" + json.dumps([name, data]))
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._acks.pop(ack_id, None)

    async def wait_for(self, predicate, timeout=10):
        """Wait until `predicate(self)` holds (polled every 20 ms)."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                tail = self.messages[-5:] if self.messages is not None else None
                raise AssertionError(f"timed out after {timeout} s; last frames {tail}")
            await asyncio.sleep(0.02)

    async def close(self):
        """Close the websocket (the server sees a transport close)."""
        self.closed = True
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 5)
            except (asyncio.TimeoutError, OSError, websockets.WebSocketException):
                pass
        if self.reader is not None:
            self.reader.cancel()


async def open_many(url, auths, on_event=None, concurrency=200, wait_ready=False):
    """Open one LeanSocket per auth dict (None: no auth), `concurrency` handshakes at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(auth):
        async with gate:
            return await LeanSocket(url, auth, on_event=on_event).connect(wait_ready=wait_ready)

    return await asyncio.gather(*(one(auth) for auth in auths))
