"""A TCP proxy in front of the live server that can drop or repeat one websocket frame.

Clients connect to `proxy.url`; bytes go to the server unchanged, except that in a websocket's
server-to-client direction each frame is parsed and, when it carries the Socket.IO event named
by a rule (`42["notification",{... "seq": 3 ...}]`), it is dropped or sent twice. That makes a
real hole (or a real repeat) in what a client receives from a real server. Compression is off on
the server by default (WEBSOCKET_COMPRESSION), so frames are plain text.
"""
import json
import socket
import struct
import threading

from tests.support.ports import free_port


def _read_exact(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _frame(sock):
    """One whole websocket frame from an unmasked (server) stream: (raw bytes, payload)."""
    head = _read_exact(sock, 2)
    length = head[1] & 0x7F
    extra = b""
    if length == 126:
        extra = _read_exact(sock, 2)
        length = struct.unpack("!H", extra)[0]
    elif length == 127:
        extra = _read_exact(sock, 8)
        length = struct.unpack("!Q", extra)[0]
    mask = _read_exact(sock, 4) if head[1] & 0x80 else b""
    payload = _read_exact(sock, length)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + extra + mask + payload, payload


def event_of(payload):
    """(event, data) of a Socket.IO EVENT packet in a text frame, or (None, None)."""
    try:
        text = payload.decode()
    except UnicodeDecodeError:
        return None, None
    if not text.startswith("42"):
        return None, None
    try:
        message = json.loads(text[2:])
    except ValueError:
        return None, None
    if isinstance(message, list) and message and isinstance(message[0], str):
        return message[0], message[1] if len(message) > 1 else None
    return None, None


class FrameProxy:
    """Forward 127.0.0.1:port to the server; drop or repeat chosen event frames (each rule once)."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.rules = []  # [action, event, seq], removed once applied
        self.applied = []  # (action, event, seq), in order
        self._lock = threading.Lock()
        self._sockets = []
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def drop(self, event, seq):
        """Drop the next frame carrying `event` with this `seq`."""
        with self._lock:
            self.rules.append(["drop", event, seq])

    def repeat(self, event, seq):
        """Send the next frame carrying `event` with this `seq` twice."""
        with self._lock:
            self.rules.append(["repeat", event, seq])

    def cut(self):
        """Cut every open connection (as a network failure would); keep listening."""
        sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self):
        """Stop listening and cut every connection."""
        self._listener.close()
        self.cut()

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [client, server]
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()
            threading.Thread(target=self._downstream, args=(server, client), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _downstream(self, server, client):
        """Server to client: pass the HTTP head through; after a 101, frame by frame."""
        head = b""
        try:
            while b"\r\n\r\n" not in head:
                chunk = server.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                head += chunk
            if not head.startswith(b"HTTP/1.1 101"):
                client.sendall(head)
                return self._pipe(server, client)  # plain HTTP (REST, long-polling): untouched
            end = head.index(b"\r\n\r\n") + 4
            client.sendall(head[:end])
            buffered = _Buffered(server, head[end:])
            while True:
                raw, payload = _frame(buffered)
                client.sendall(raw * self._copies(raw[0] & 0x0F, payload))
        except (OSError, ConnectionError):
            for sock in (server, client):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        return None

    def _copies(self, opcode, payload):
        if opcode != 1:
            return 1
        event, data = event_of(payload)
        seq = data.get("seq") if isinstance(data, dict) else None
        with self._lock:
            for rule in self.rules:
                if rule[1] == event and rule[2] == seq:
                    self.rules.remove(rule)
                    self.applied.append(tuple(rule))
                    return 0 if rule[0] == "drop" else 2
        return 1


class _Buffered:
    """A socket whose first bytes were already read with the HTTP head."""

    def __init__(self, sock, data):
        self.sock = sock
        self.data = data

    def recv(self, count):
        if self.data:
            chunk, self.data = self.data[:count], self.data[count:]
            return chunk
        return self.sock.recv(count)
