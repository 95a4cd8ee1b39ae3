"""The broadcast fast path (eventlet): one encoded frame, one non-blocking send() per idle socket.

Stock python-socketio puts a broadcast's packet in every recipient's queue, and a writer green
thread per socket takes it, frames it and sends it. Here the websocket frame is built once per
broadcast and written straight to each socket that is idle: websocket transport, upgraded and
not upgrading, not closing, nothing queued, send lock free, no compression. Every other socket
(long-polling, busy, compressed) takes the stock path. Under eventlet nothing between the idle
check and the send() yields, so a socket with anything queued or being written is never written
here; a partial write keeps the socket's send lock until a green thread has written the rest.

`install()` keeps each python-engineio socket's eventlet websocket reachable
(`Socket._websocket_handler`); `attach(manager, server)` gives the manager (realtime/delivery)
the writer and wraps `socketio.Server._send_packet` so that a packet sent around the manager
(an ack, the handshake) first flushes what the manager holds for that socket.
"""
import errno
import logging
import struct

import eventlet.websocket
from engineio import socket as eio_socket

log = logging.getLogger(__name__)
_installed = False


def frame_text(text):
    """An unmasked, final websocket text frame (RFC 6455 §5.2) carrying `text`."""
    payload = text.encode("utf-8")
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x81, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, length)
    else:
        header = struct.pack("!BBQ", 0x81, 127, length)
    return header + payload


def install():
    """Keep each engine.io socket's websocket reachable; return False when this versions' internals differ."""
    global _installed
    if _installed:
        return True
    ws_class = getattr(eventlet.websocket, "RFC6455WebSocket", None)
    handler = getattr(eio_socket.Socket, "_websocket_handler", None)
    if ws_class is None or handler is None or not hasattr(ws_class, "_send"):
        log.warning("broadcast fast path off: python-engineio or eventlet internals are not the expected ones")
        return False

    def websocket_handler(self, ws):
        self._fast_ws = ws if _usable(ws) else None
        try:
            return handler(self, ws)
        finally:
            self._fast_ws = None

    eio_socket.Socket._websocket_handler = websocket_handler
    _installed = True
    return True


def _usable(ws):
    return (hasattr(ws, "_sendlock") and hasattr(getattr(ws, "socket", None), "fd")
            and not getattr(ws, "extensions", {}).get("permessage-deflate"))


def send_idle(eio_socket_, frame):
    """Write `frame` to a socket if it is idle; True when written (or being finished), False to take the stock path."""
    ws = getattr(eio_socket_, "_fast_ws", None)
    if (ws is None or eio_socket_.closed or eio_socket_.closing or eio_socket_.upgrading
            or not eio_socket_.upgraded or eio_socket_.queue.qsize()):
        return False
    lock = ws._sendlock
    if not lock.acquire(blocking=False):
        return False
    try:
        sent = ws.socket.fd.send(frame)
    except BlockingIOError:
        sent = 0
    except OSError as exc:
        lock.release()
        if exc.errno not in (errno.EPIPE, errno.ECONNRESET, errno.EBADF, errno.ENOTCONN):
            log.debug("fast path send failed: %s", exc)
        return False
    if sent == len(frame):
        lock.release()
        return True
    if sent == 0:
        lock.release()
        return False
    # The lock stays held until the rest is out; a view, not a copy, of what is left.
    eventlet.spawn_n(_finish, ws, memoryview(frame)[sent:], lock)
    return True


def call_after(delay, fn):
    """Run `fn` in a green thread of its own after `delay` seconds; returns the hub timer.

    Not `eventlet.spawn_after`: cancelling the green thread that returns kills it, and killing
    yields to the hub (an emit that moved the flush earlier let others emit in its middle), and
    the kill's traceback kept the emit's frames alive. Cancelling a hub timer yields nothing
    and keeps nothing."""
    from eventlet import hubs

    return hubs.get_hub().schedule_call_global(delay, eventlet.spawn_n, fn)


def attach(manager, server):
    """Switch `manager`'s fast path on (`use_fast_path`) and make every packet python-socketio
    sends around it (`Server._send_packet`) come after what the manager holds for that socket."""
    manager.use_fast_path(send_idle, frame_text, call_after)
    send_packet = server._send_packet

    def send_packet_after_flush(eio_sid, pkt):
        manager.flush_socket(eio_sid)
        return send_packet(eio_sid, pkt)

    server._send_packet = send_packet_after_flush


def _finish(ws, rest, lock):
    try:
        ws.socket.sendall(rest)
    except OSError:
        pass  # the connection is gone; its reader notices and closes it
    finally:
        lock.release()
