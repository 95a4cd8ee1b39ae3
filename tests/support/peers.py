"""Raw TCP peers for the slow and greedy peer tests and bench/slow_peers.py: half-sent request
heads, and a websocket client that authenticates and then never reads."""
import base64
import json
import os
import re
import socket
import struct
import time

import requests


def server_rss(pid):
    """A process's resident memory, bytes (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def metric(url, name):
    """One unlabelled sample of /metrics, or None when it is not there."""
    text = requests.get(url + "/metrics", timeout=10).text
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(found.group(1)) if found else None


def timed_health(url, timeout=30):
    """(status, seconds) of one GET /health on a new connection; status None when it failed."""
    started = time.perf_counter()
    try:
        status = requests.get(url + "/api/v1/realtime/health", timeout=timeout,
                              headers={"Connection": "close"}).status_code
    except requests.RequestException:
        status = None
    return status, time.perf_counter() - started


def half_head(port, host="127.0.0.1"):
    """A connection that sent a request line and one header, and then nothing."""
    sock = socket.create_connection((host, port), timeout=10)
    sock.sendall(b"GET /api/v1/realtime/health HTTP/1.1\r\nHost: x\r\n")
    return sock


def closed_by_server(sock, timeout):
    """True when the server closes `sock` (EOF or reset) within `timeout` seconds."""
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except (socket.timeout, TimeoutError):
        return False


def ws_frame(text, opcode=0x1):
    """A masked client frame carrying `text` (RFC 6455 §5.2)."""
    payload = text.encode() if isinstance(text, str) else text
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def raw_websocket(port, rcvbuf=None, host="127.0.0.1"):
    """An Engine.IO websocket opened by hand; returns the socket after the 101 answer."""
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect((host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("closed during the websocket handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(head.decode(errors="replace"))
    return sock


def never_reading_socket(port, token, rcvbuf=4096):
    """A websocket that connects to `/` with `token` and then never reads again.

    It reads up to the OPEN packet, sends the namespace connect, and stops: whatever the
    server sends next fills its small receive buffer, then the server's send buffer."""
    sock = raw_websocket(port, rcvbuf)
    first = sock.recv(2)  # the OPEN frame's header; its payload stays unread with the rest
    if len(first) < 2:
        raise ConnectionError("no OPEN packet")
    sock.sendall(ws_frame("40" + json.dumps({"token": token})))
    return sock
