"""A lean Socket.IO client on asyncio + websockets, for holding thousands of sockets per process.

Derived from tests/integration/lean.py, with what the bench needs on top: per-socket
permessage-deflate (offered or not in the websocket handshake), acks (`task:join`), the time
at which `replay:done` arrived, and cheap event dispatch: the event name is cut out of the raw
`42["name",...]` frame and only events somebody listens to are JSON-decoded. Websocket only,
namespace `/`, Engine.IO 4 / Socket.IO 5, no binary.
"""
import asyncio
import itertools
import json
import time

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

    `handlers` maps event names to `handler(sock, data, received_at)`; received_at is
    time.time() when the frame was read, so it compares with a sender's time.time().
    """

    def __init__(self, url, auth, handlers=None, deflate=False, tag=None):
        self.ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.auth = auth
        self.handlers = handlers if handlers is not None else {}
        self.deflate = deflate
        self.tag = tag
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

    async def connect(self, timeout=OPEN_TIMEOUT, wait_ready=True):
        """Open, authenticate in the handshake, start reading; by default wait for replay:done."""
        self.ws = await asyncio.wait_for(websockets.connect(
            self.ws_url, compression="deflate" if self.deflate else None, ping_interval=None,
            max_size=None, open_timeout=timeout, close_timeout=2), timeout)
        extensions = self.ws.response.headers.get("Sec-WebSocket-Extensions", "") if self.ws.response else ""
        self.negotiated_deflate = "permessage-deflate" in extensions
        opening = await asyncio.wait_for(self.ws.recv(), timeout)
        if not opening.startswith("0"):
            raise ConnectionError(f"unexpected opening packet {opening[:40]!r}")
        await self.ws.send("40" + json.dumps(self.auth))
        self.reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self._connected.wait(), timeout)
        if self.refused is not None:
            raise ConnectionError(f"refused: {self.refused}")
        if wait_ready:
            await asyncio.wait_for(self.ready.wait(), timeout)
        return self

    async def _read(self):
        handlers = self.handlers
        try:
            async for message in self.ws:
                if message.startswith("42"):
                    name = event_name(message)
                    if name == "replay:done":
                        self.ready_at = time.time()
                        self.ready.set()
                        continue
                    handler = handlers.get(name)
                    if handler is not None:
                        at = time.time()
                        args = json.loads(message[2:])
                        handler(self, args[1] if len(args) > 1 else None, at)
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
        self.closed = True
