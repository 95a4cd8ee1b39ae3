"""A bound on each Socket.IO connection's outgoing bytes not yet written (`MAX_SOCKET_BACKLOG_BYTES`).

Written for python-engineio 4.15.1 (`engineio.socket.Socket`: `send`, `queue`,
`_websocket_handler`, `close(wait, abort, reason)`; `Server.sockets`, `Server.reason`) and
eventlet 0.41.3 (`eventlet.greenio.GreenSocket.sendall`).

A client that stops reading keeps the server writing to it: python-engineio queues every packet
for it without limit, and only its ping timeout (or a send that blocks that long) ends it. Here
each socket's queue counts the bytes of the packets in it; with the frame its writer or the
broadcast fast path is writing right now (`GreenSocket.sendall`, counted while it runs), that
is the socket's backlog. When a packet sent to a socket takes the backlog over the bound, the
socket is dropped: from then on nothing more is queued for it, and a green thread of its own
shuts its connection (a writer stuck on the full send buffer ends at once) and closes the
Engine.IO socket, so the usual disconnect handling (presence, rooms) runs. The kernel's send
buffer is not counted: it is bounded by the kernel. Long-polling sockets are bounded the same
way (their queue waits for the next poll).

`install()` returns False, changing nothing, when the attributes are not there; without
eventlet's GreenSocket, frames being written are not counted (the queue still is).
"""
import logging
import socket as socket_module

log = logging.getLogger(__name__)

_installed = None  # the limit installed, once installed
drops = 0  # sockets dropped for their backlog in this process (/metrics)
_writing = {}  # id(connection) -> bytes of the sendall running on it
OTHER_PACKET_BYTES = 64  # packets whose data is not text or bytes (the handshake's)


def packet_bytes(pkt):
    """The size of an Engine.IO packet's data, as sent (UTF-8 for text)."""
    data = getattr(pkt, "data", None)
    if isinstance(data, str):
        return len(data) if data.isascii() else len(data.encode("utf-8", "surrogatepass"))
    if isinstance(data, (bytes, bytearray, memoryview)):
        return len(data)
    return OTHER_PACKET_BYTES


def backlog(eio_socket):
    """Bytes queued for a socket and not yet written, with the frame being written now."""
    queue = eio_socket.queue
    connection = getattr(queue, "_connection", None)
    writing = _writing.get(id(connection), 0) if connection is not None else 0
    return getattr(queue, "_backlog", 0) + writing


def install(limit):
    """Bound every Engine.IO socket's backlog to `limit` bytes (0: no bound); False when
    python-engineio's socket is not the expected one."""
    global _installed
    if not limit:
        return False
    if _installed is not None:
        if _installed != limit:
            log.warning("MAX_SOCKET_BACKLOG_BYTES is %s in this process already; %s ignored",
                        _installed, limit)
        return True
    from engineio import socket as eio_socket

    socket_class = eio_socket.Socket
    if not all(hasattr(socket_class, name) for name in ("send", "close", "_websocket_handler")):
        log.warning("socket backlog bound off: python-engineio's Socket is not the expected one")
        return False
    init, send, websocket_handler = socket_class.__init__, socket_class.send, socket_class._websocket_handler
    counting = {}  # queue class -> its counting subclass

    def counting_class(base):
        cls = counting.get(base)
        if cls is None:
            cls = counting[base] = type("Counting" + base.__name__, (CountingQueue, base), {})
        return cls

    def __init__(self, server, sid):
        init(self, server, sid)
        queue = self.queue
        try:
            queue.__class__ = counting_class(type(queue))
        except TypeError:  # a queue class that cannot be extended (compiled): not bounded
            pass

    def send_bounded(self, pkt):
        queue = self.queue
        if getattr(queue, "_dropping", True):  # dropping, or a queue that does not count
            if not isinstance(queue, CountingQueue):
                send(self, pkt)
            return
        send(self, pkt)
        if backlog(self) > limit:
            queue._dropping = True
            self.server.start_background_task(_drop, self)

    def websocket_handler_counted(self, ws):
        connection = getattr(ws, "socket", None)
        if isinstance(self.queue, CountingQueue) and connection is not None:
            self.queue._connection = connection
        return websocket_handler(self, ws)

    socket_class.__init__ = __init__
    socket_class.send = send_bounded
    socket_class._websocket_handler = websocket_handler_counted
    _count_writes()
    _installed = limit
    return True


class CountingQueue:
    """Mixed into a socket's queue class: counts the bytes of the packets in it. Once the socket
    is being dropped, only the close marker (None) is still queued."""

    _backlog = 0
    _dropping = False
    _connection = None

    def put(self, item, block=True, timeout=None):
        if item is not None:
            if self._dropping:
                return
            self._backlog += packet_bytes(item)
        return super().put(item, block, timeout)

    def get(self, block=True, timeout=None):
        item = super().get(block, timeout)
        if item is not None:
            self._backlog -= packet_bytes(item)
        return item


def _drop(eio_socket):
    """Shut the socket's connection and close it as a disconnect (its own green thread)."""
    global drops
    drops += 1
    log.info("socket %s dropped: over MAX_SOCKET_BACKLOG_BYTES unsent (%d bytes)",
             eio_socket.sid, backlog(eio_socket))
    connection = eio_socket.queue._connection
    if connection is not None:
        try:
            connection.shutdown(socket_module.SHUT_RDWR)
        except OSError:
            pass
    eio_socket.close(wait=False, abort=True, reason=eio_socket.server.reason.SERVER_DISCONNECT)


def _count_writes():
    """Count the bytes of each eventlet GreenSocket.sendall while it runs (the frame a
    socket's writer or the fast path is writing); False when eventlet is not there."""
    try:
        from eventlet.greenio import GreenSocket
    except ImportError:
        return False
    sendall = getattr(GreenSocket, "sendall", None)
    if sendall is None:
        log.warning("socket backlog bound: frames being written are not counted "
                    "(eventlet's GreenSocket is not the expected one)")
        return False
    writing = _writing

    def sendall_counted(self, data, flags=0):
        key = id(self)
        writing[key] = len(data)
        try:
            return sendall(self, data, flags)
        finally:
            writing.pop(key, None)

    GreenSocket.sendall = sendall_counted
    return True
