"""Throughput sockets: raw websocket connections whose deliveries are counted in bulk.

At 1,000 sockets and hundreds of broadcasts per second, a client that decodes every frame
(websockets + JSON, tens of microseconds each) is the limit long before the server is, and it
takes the CPU the server needs on a small machine. A `BulkSocket` speaks just enough websocket
and Engine.IO / Socket.IO to connect, authenticate and wait for `replay:done` (frame by frame,
like `tests/support/lean.py`'s LeanSocket); after that it never looks at frames one by one:

- **bulk** sockets are not read as data arrives. The worker polls them all every few
  milliseconds (`BulkPoller`), reads whatever is there in one large `recv`, and finds the
  `"seq":N` of every delivery in it with one regular-expression scan (C speed). Presence frames
  (a connect storm on DevTracker sends every `user:online` to every socket: N² frames) and
  anything else without a `seq` cost only that scan. The time of a delivery is the time of the
  read, so it is late by up to one poll interval: bulk sockets are counted, not timed.
- **precise** sockets (a sample spread over the population, or every viewer of a task room)
  are read as soon as the event loop sees data, one timestamp per read, and their frames are
  walked so that only the watched events count (a task update's `activity:feed` carries the
  same `seq`): their records give the latency percentiles. A few microseconds per frame, where
  a websockets client (tests/support/lean.py) takes tens: in a 100-viewer room, the last viewer
  of a client process was timed ~3 ms after the first by the client's own work alone.
- A socket given a `task` joins that task room (`task:join`, acknowledged) before it counts.

Pings (`2`) are found by their fixed frame bytes and answered. A socket that negotiated
permessage-deflate (the bare Flask-SocketIO reference accepts it) has its frames walked and
inflated one by one: its cost per frame is higher, and bounded by what that server can send.
Outgoing frames are masked with a zero key (legal, and no XOR to do).
"""
import asyncio
import base64
import json
import os
import re
import socket
import time
import zlib
from collections import Counter

try:
    from _collections import _count_elements   # what Counter.update runs, minus its checks
except ImportError:  # pragma: no cover
    def _count_elements(counts, items):
        for item in items:
            counts[item] = counts.get(item, 0) + 1
from itertools import repeat

SEQ = re.compile(rb'"seq":\s*(\d+)\s*[,}]')
SEQ_START = b'"seq"'
PING = b"\x81\x012"               # a complete, unmasked text frame holding "2"
PING_HEADS = (b"\x81", b"\x81\x01")
READ_SIZE = 1 << 18
OPEN_TIMEOUT = 60
POLL_INTERVAL = 0.1               # seconds between two reads of a bulk socket while counting
IDLE_INTERVAL = 0.02              # otherwise (connect storms: the server's queues stay short)
TAIL = 32                         # a partial `"seq":N` match at the end of a read is shorter


def frame(text, opcode=0x1):
    """A masked client frame (mask key 0000: the payload goes as is)."""
    n = len(text)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0xFF)) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + text


PONG = frame(b"3")
CLOSE = frame((1000).to_bytes(2, "big"), opcode=0x8)


def parse_frames(buf):
    """Complete frames at the start of `buf` → ([(fin, rsv1, opcode, payload)], bytes used)."""
    out, pos, size = [], 0, len(buf)
    while size - pos >= 2:
        b0, b1 = buf[pos], buf[pos + 1]
        n, p = b1 & 0x7F, pos + 2
        if n == 126:
            if size < p + 2:
                break
            n, p = int.from_bytes(buf[p:p + 2], "big"), p + 2
        elif n == 127:
            if size < p + 8:
                break
            n, p = int.from_bytes(buf[p:p + 8], "big"), p + 8
        if b1 & 0x80:
            p += 4  # a masked server frame is a protocol error; skip the key anyway
        if size < p + n:
            break
        out.append((b0 & 0x80, b0 & 0x40, b0 & 0x0F, buf[p:p + n]))
        pos = p + n
    return out, pos


class BulkSocket:
    """One raw websocket connection to the `/` namespace; see the module docstring.

    Attributes shared with `tests.support.lean.LeanSocket` (the worker's health and progress use
    them): ready_at, negotiated_deflate, closed, dropped_at, drop_reason.
    """

    def __init__(self, url, auth, sink, deflate=False, precise=False, task=None):
        host, port = url.split("://", 1)[1].rsplit(":", 1)
        self.addr = (host, int(port))
        self.auth = auth
        self.sink = sink                    # the worker: counting, records(), poller
        self.deflate = deflate
        self.precise = precise
        self.task = task                    # a task room to join (task:join, acknowledged) once ready
        self.ready_at = None
        self.negotiated_deflate = False
        self.refused = None
        self.closed = False
        self.dropped_at = None
        self.drop_reason = None
        self.sock = None
        self.fd = None
        self._inflate = None
        self._pending = b""                 # frame bytes not yet complete (frame-walking mode)
        self._fragments = None
        self._carry = b""                   # tail of the last read that may start a `"seq"` match
        self._tail = bytearray()            # last bytes received (pings across reads; close reason)

    # --- connecting (frame by frame) -------------------------------------------------------------
    async def connect(self, timeout=OPEN_TIMEOUT):
        await asyncio.wait_for(self._connect(), timeout)
        return self

    async def _connect(self):
        loop = asyncio.get_running_loop()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.fd = self.sock.fileno()
        await loop.sock_connect(self.sock, self.addr)
        key = base64.b64encode(os.urandom(16)).decode()
        offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if self.deflate else ""
        await loop.sock_sendall(self.sock, (
            f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {self.addr[0]}:{self.addr[1]}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{offer}\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = await loop.sock_recv(self.sock, 65536)
            if not data:
                raise ConnectionError("closed during the websocket handshake")
            buf += data
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise ConnectionError(f"websocket handshake refused: {lines[0][:80]}")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if "permessage-deflate" in headers.get("sec-websocket-extensions", ""):
            self.negotiated_deflate = True
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        self._pending = rest
        connected = False
        while self.ready_at is None:
            for text in self._messages():
                if text.startswith(b"0") and not connected:
                    await loop.sock_sendall(self.sock, frame(b"40" + json.dumps(self.auth).encode()))
                elif text.startswith(b"40"):
                    connected = True
                elif text.startswith(b"44"):
                    self.refused = text[2:].decode(errors="replace")
                    raise ConnectionError(f"refused: {self.refused}")
                elif text == b"2":
                    await loop.sock_sendall(self.sock, PONG)
                elif text.startswith(b'42["replay:done"'):
                    self.ready_at = time.time()
            if self.ready_at is None:
                await self._receive(loop, "closed before replay:done")
        if self.task is not None:
            await self._join(loop)
        self.sink.attach(self)

    async def _receive(self, loop, closed_message):
        data = await loop.sock_recv(self.sock, READ_SIZE)
        if not data:
            raise ConnectionError(closed_message)
        self._pending += data

    async def _join(self, loop):
        """task:join with ack id 1; wait for its acknowledgement (other events are let go)."""
        await loop.sock_sendall(self.sock, frame(b'421["task:join",' + json.dumps(self.task).encode() + b"]"))
        while True:
            for text in self._messages():
                if text == b"2":
                    await loop.sock_sendall(self.sock, PONG)
                elif text.startswith(b"431["):
                    answer = json.loads(text[3:])
                    ack = answer[0] if answer else None
                    if not (isinstance(ack, dict) and ack.get("success", True)):
                        raise ConnectionError(f"task:join refused: {ack}")
                    return
            await self._receive(loop, "closed before task:join was acknowledged")

    def _messages(self):
        """Complete messages in the pending bytes (inflated when compressed), as bytes."""
        frames, used = parse_frames(self._pending)
        self._pending = self._pending[used:]
        out = []
        for fin, rsv1, opcode, payload in frames:
            if opcode == 0x0 and self._fragments is not None:
                self._fragments[1].append(payload)
                if fin:
                    compressed, parts = self._fragments
                    self._fragments = None
                    out.append(self._text(compressed, b"".join(parts)))
            elif opcode == 0x1:
                if fin:
                    out.append(self._text(rsv1, payload))
                else:
                    self._fragments = (rsv1, [payload])
            elif opcode == 0x8:
                self.drop_reason = self.drop_reason or "websocket closed"
            elif opcode == 0x9:  # websocket ping: answer with a pong of the same payload
                try:
                    self.sock.send(frame(payload, opcode=0xA))
                except OSError:
                    pass
        return out

    def _text(self, compressed, payload):
        if compressed and self._inflate is not None:
            if self._inflate.eof:
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._inflate.decompress(payload + b"\x00\x00\xff\xff")
        return payload

    # --- reading once ready ------------------------------------------------------------------------
    def read(self, now):
        """Read what is there (one recv into the poller's buffer), count its deliveries, answer its
        pings. No copy of the data is made unless the socket inflates or a match straddles reads."""
        sink = self.sink
        buf = sink.buffer
        try:
            n = self.sock.recv_into(buf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._gone(type(exc).__name__)
            return
        if not n:
            self._gone(None)
            return
        if self._inflate is not None or self.precise:   # frame by frame, then the same scan
            self._pending += buf[:n]
            messages = self._messages()
            for text in messages:
                if text == b"2":
                    self._pong()
            if sink.counting:
                if sink.prefixes:           # only the watched events (a task update's activity
                    messages = [m for m in messages if m.startswith(sink.prefixes)]  # has its seq too)
                seqs = SEQ.findall(b"\n".join(messages))
                if seqs:
                    sink.count(seqs, now, self.precise)
            self._tail = (self._tail + buf[:n])[-8:]
            return
        pings = buf.count(PING, 0, n)
        tail = self._tail
        if tail.endswith(PING_HEADS):        # a ping frame cut by the previous read
            pings += (tail[-2:] + buf[:2]).count(PING)
        self._tail = buf[n - 8:n] if n >= 8 else (tail + buf[:n])[-8:]
        for _ in range(pings):
            self._pong()
        if not sink.counting:
            self._carry = b""
            return
        if self._carry:                      # a match cut by the previous read: rare, copy
            buf = self._carry + buf[:n]
            n = len(buf)
            self._carry = b""
        seqs = SEQ.findall(buf, 0, n)
        # Keep the end of this read when it may start a match not complete yet (a read that
        # ends with a frame's closing bracket cannot).
        if buf[n - 1] != 0x5D:
            start = buf.rfind(SEQ_START, max(0, n - TAIL), n)
            if start >= 0 and SEQ.match(buf, start, n) is None:
                self._carry = bytes(buf[start:n])
            else:
                for k in (4, 3, 2, 1):
                    if buf[n - k:n] == SEQ_START[:k]:
                        self._carry = SEQ_START[:k]
                        break
        if seqs:
            _count_elements(sink.counts, seqs)
            sink.last.update(zip(seqs, repeat(now)))
            sink.delivered += len(seqs)
            if self.precise:
                sink.seqs.extend(seqs)
                sink.recv.extend(repeat(now, len(seqs)))

    def read_now(self):
        """The event loop's reader callback of a precise socket: timed as it arrives."""
        self.read(time.time())

    def _pong(self):
        try:
            self.sock.send(PONG)
        except OSError:
            pass

    def _gone(self, how):
        self.sink.detach(self)
        if not self.closed:
            self.dropped_at = time.time()
            if how is None:
                tail = self._tail
                how = ("engine.io close" if tail.endswith(b"\x81\x011") else
                       "websocket closed" if b"\x88" in tail[-4:] else "websocket closed, no close frame")
            self.drop_reason = self.drop_reason or how
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    async def close(self):
        """Send a close frame and close the connection (the server sees a transport close)."""
        if self.sock is None or self.closed:
            self.closed = True
            return
        self.closed = True
        self.sink.detach(self)
        try:
            self.sock.send(CLOSE)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


class BulkPoller:
    """Reads the bulk sockets of one worker every `interval` seconds while deliveries are counted
    (`idle_interval` otherwise, so that presence frames do not pile up at a storm's sockets
    longer than a browser would let them); precise sockets get an event
    loop reader. Counts deliveries per seq (`counts`), the last time each seq was read (`last`),
    and for precise sockets a (seq, time) record per delivery (`seqs`, `recv`)."""

    def __init__(self, interval=POLL_INTERVAL, idle_interval=IDLE_INTERVAL):
        import select

        self.interval, self.idle_interval = interval, idle_interval
        self.buffer = bytearray(READ_SIZE)   # every read lands here (one process, one thread)
        self.epoll = select.epoll()
        self.by_fd = {}
        self.counting = False
        self.prefixes = ()                   # frames of the watched events start so (precise sockets)
        self.counts, self.last = Counter(), {}
        self.seqs, self.recv = [], []
        self.delivered = 0
        self.task = None

    def attach(self, sock):
        if sock.precise:
            asyncio.get_running_loop().add_reader(sock.fd, sock.read_now)
        else:
            self.epoll.register(sock.fd, 0x001)  # EPOLLIN
        self.by_fd[sock.fd] = sock
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())

    def detach(self, sock):
        if self.by_fd.get(sock.fd) is not sock:
            return
        del self.by_fd[sock.fd]
        if sock.precise:
            asyncio.get_running_loop().remove_reader(sock.fd)
        else:
            try:
                self.epoll.unregister(sock.fd)
            except (OSError, ValueError):
                pass

    def count(self, raw, now, precise):
        """`raw`: the seqs of one read, as the bytes of their digits (converted once, in drain)."""
        _count_elements(self.counts, raw)
        self.last.update(zip(raw, repeat(now)))
        self.delivered += len(raw)
        if precise:
            self.seqs.extend(raw)
            self.recv.extend(repeat(now, len(raw)))

    def drain(self):
        out = {"counts": {int(k): v for k, v in self.counts.items()},
               "last": {int(k): v for k, v in self.last.items()},
               "seqs": list(map(int, self.seqs)), "recv": self.recv}
        self.counts, self.last, self.seqs, self.recv = Counter(), {}, [], []
        return out

    async def _run(self):
        poll, by_fd = self.epoll.poll, self.by_fd
        while True:
            events = poll(0)
            if events:
                now = time.time()
                for fd, _ in events:
                    sock = by_fd.get(fd)
                    if sock is not None:
                        sock.read(now)
            await asyncio.sleep(self.interval if self.counting else self.idle_interval)
