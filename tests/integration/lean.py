"""A lean Socket.IO client on asyncio + websockets, for holding thousands of sockets in one process.

It speaks just enough of Engine.IO 4 / Socket.IO 5 over websocket: open, namespace connect
with auth, pings, and events (`42[...]`). No acks, no binary, no polling.
"""
import asyncio
import json
import time

import websockets


class LeanSocket:
    """One websocket connection to the `/` namespace."""

    def __init__(self, url, auth, on_event=None):
        self.ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.auth = auth
        self.on_event = on_event or (lambda sock, name, data, at: None)
        self.connected = asyncio.Event()
        self.refused = None
        self.ws = None
        self.reader = None

    async def connect(self, timeout=120):
        """Open, authenticate in the handshake, and start reading."""
        self.ws = await asyncio.wait_for(websockets.connect(
            self.ws_url, compression=None, ping_interval=None, max_size=None, open_timeout=timeout),
            timeout)
        opening = await self.ws.recv()
        if not opening.startswith("0"):
            raise ConnectionError(f"unexpected opening packet {opening[:40]!r}")
        await self.ws.send("40" + (json.dumps(self.auth) if self.auth else ""))
        self.reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self.connected.wait(), timeout)
        if self.refused is not None:
            raise ConnectionError(f"refused: {self.refused}")
        return self

    async def _read(self):
        try:
            async for message in self.ws:
                at = time.perf_counter()
                if message == "2":
                    await self.ws.send("3")
                elif message.startswith("42"):
                    name, *args = json.loads(message[2:])
                    self.on_event(self, name, args[0] if args else None, at)
                elif message.startswith("40"):
                    self.connected.set()
                elif message.startswith("44"):
                    self.refused = message[2:]
                    self.connected.set()
        except websockets.ConnectionClosed:
            pass

    async def emit(self, name, data):
        """Send an event (no ack)."""
        await self.ws.send("42" + json.dumps([name, data]))

    async def close(self):
        if self.reader:
            self.reader.cancel()
        if self.ws:
            await self.ws.close()


async def open_many(url, auths, on_event, concurrency=200):
    """Open one LeanSocket per auth dict, `concurrency` handshakes at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(auth):
        async with gate:
            return await LeanSocket(url, auth, on_event).connect()

    return await asyncio.gather(*(one(auth) for auth in auths))
