"""Less memory per connected socket under eventlet: lean sockets and a heap trimmer.

Most of a held socket's memory is green threads (each keeps a copy of its C stack and its own
frame memory, as deep as it ever went), and python-engineio keeps three per websocket. Here:
- `install_shallow_receive`: each Socket.IO message from a websocket is handled in a
  short-lived green thread the reader waits for (same order, same errors), so the reader
  stays shallow;
- `install_ping_timer`: the next ping is a hub timer instead of a sleeping green thread;
- `install_lazy_writer`: the websocket writer runs only while there is something to send;
- `share_environ`: the socket keeps the server's WSGI environ instead of a copy of it;
- `short_deques`: eventlet's per-socket deques of an item or two become short lists.
`MallocTrimmer` gives free C-heap pages back to the kernel after connect storms (glibc).
"""
import ctypes
import ctypes.util
import logging
import os
import time

log = logging.getLogger(__name__)
_installed = False
running_trimmer = None  # the process's MallocTrimmer, once started


def install_shallow_receive():
    """Handle each websocket message of python-engineio's Socket in a short-lived green thread."""
    global _installed
    if _installed:
        return True
    import eventlet
    from engineio import packet
    from engineio import socket as eio_socket

    receive = eio_socket.Socket.receive
    message = packet.MESSAGE
    spawn = eventlet.spawn

    def receive_shallow(self, pkt):
        if pkt.packet_type == message and self.upgraded:
            spawn(receive, self, pkt).wait()  # re-raises what the handler raised
        else:
            receive(self, pkt)

    eio_socket.Socket.receive = receive_shallow
    _installed = True
    return True


def install_ping_timer():
    """python-engineio's next ping as a hub timer, not a green thread sleeping ping_interval."""
    import eventlet
    import eventlet.hubs
    from engineio import packet
    from engineio import socket as eio_socket

    ping = packet.PING
    spawn_n = eventlet.spawn_n
    get_hub = eventlet.hubs.get_hub

    def ping_now(self):
        if not self.closing and not self.closed:
            self.last_ping = time.time()
            self.send(packet.Packet(ping))

    def schedule_ping_on_timer(self):
        # only schedule a new ping if the previous ping wait cycle completed
        if self.last_ping:
            self.last_ping = None
            get_hub().schedule_call_global(self.server.ping_interval, spawn_n, ping_now, self)

    eio_socket.Socket.schedule_ping = schedule_ping_on_timer
    return True


def share_environ():
    """Flask-SocketIO's middleware copies each request's WSGI environ to add `flask.app`, and
    python-engineio keeps that copy for the socket's life while the server keeps the original:
    add the key to the original instead (nothing else differs between the two)."""
    try:
        from flask_socketio import _SocketIOMiddleware
    except ImportError:
        return False
    base_call = _SocketIOMiddleware.__mro__[1].__call__

    def call(self, environ, start_response):
        environ["flask.app"] = self.flask_app
        return base_call(self, environ, start_response)

    _SocketIOMiddleware.__call__ = call
    return True


class ShortDeque(list):
    """A list with the one deque method eventlet's short queues use besides the list's own
    (`popleft`): 56 bytes empty, where a `collections.deque` is 760 (its first 64-slot block
    comes with it). For queues of a few items at most; `popleft` moves what is left."""

    __slots__ = ()

    def popleft(self):
        return self.pop(0)


def short_deques():
    """eventlet gives every websocket three deques that hold an item or two at most: the waiters
    of its send lock (a `Semaphore`, as is every monkey-patched lock), the frames read but not
    yet returned by `wait()`, and the exit callbacks of the connection's green thread. At 760
    bytes each, those were ~2.2 KiB per socket. They become `ShortDeque`s (the methods those
    modules call on them: append, extend, remove, clear, popleft, len, in). False, changing
    nothing, when the modules do not make them the expected way."""
    import collections
    import types

    from eventlet import greenthread, semaphore, websocket

    if not (getattr(semaphore, "collections", None) is collections
            and getattr(websocket, "collections", None) is collections
            and getattr(greenthread, "deque", None) is collections.deque):
        log.warning("short deques off: eventlet's modules are not the expected ones")
        return False
    short = types.SimpleNamespace(deque=ShortDeque)
    semaphore.collections = short  # Semaphore.__init__: self._waiters = collections.deque()
    websocket.collections = short  # RFC6455WebSocket.__init__: self._msgs = collections.deque()
    greenthread.deque = ShortDeque  # GreenThread.link: self._exit_funcs = deque()
    return True


WRITER_QUALNAME = "Socket._websocket_handler.<locals>.writer"


def install_lazy_writer():
    """Start python-engineio's websocket writers lazily (see `LazyWriter`); False when its
    writer is not the expected closure (then every socket keeps the stock writer)."""
    from engineio import server as eio_server

    server_class = eio_server.Server
    start_background_task = server_class.start_background_task

    def start_task(self, target, *args, **kwargs):
        if getattr(target, "__qualname__", None) == WRITER_QUALNAME and not args and not kwargs:
            lazy = LazyWriter.from_writer(target)
            if lazy is not None:
                return lazy
        return start_background_task(self, target, *args, **kwargs)

    server_class.start_background_task = start_task
    return True


class LazyWriter:
    """python-engineio's websocket writer, without a green thread per idle socket.

    The stock writer is a green thread per websocket blocked on the socket's queue for the
    socket's whole life. This one runs only while there is something to write: a put on the
    queue starts a short-lived green thread that sends what is queued, in order, and ends when
    the queue is empty. The end is as before: the close marker (None) closes the websocket, a
    failed send closes it, and `join()` waits for that. (The stock writer also closed a socket
    that sent nothing for ping_interval + ping_timeout; a socket that stops answering pings is
    closed after ping_timeout by python-engineio's service task either way.)

    Ordering with the broadcast fast path holds: it writes only to a socket whose queue is empty
    and whose send lock is free, and while this writer has a packet in hand it holds that lock.
    """

    __slots__ = ("socket", "ws", "queue", "running", "done", "_waiter")

    def __init__(self, socket, ws):
        import eventlet

        self.socket = socket
        self.ws = ws
        self.queue = queue = socket.queue
        self.running = False
        self.done = False
        self._waiter = None
        put = queue.put
        spawn_n = eventlet.spawn_n
        drain = self._drain

        def put_and_write(item, block=True, timeout=None):
            put(item, block, timeout)
            if not self.running and not self.done:
                self.running = True
                spawn_n(drain)

        queue.put = put_and_write
        if queue.qsize():  # the handshake's OPEN packet, or anything queued during the upgrade
            self.running = True
            spawn_n(drain)

    @classmethod
    def from_writer(cls, writer):
        """Take the socket and websocket from the stock writer's closure; None if they are not there."""
        try:
            cells = dict(zip(writer.__code__.co_freevars, writer.__closure__ or ()))
            socket, ws = cells["self"].cell_contents, cells["ws"].cell_contents
        except (KeyError, ValueError, AttributeError):
            return None
        if not hasattr(socket, "queue") or not hasattr(ws, "send") or not hasattr(ws, "close"):
            return None
        return cls(socket, ws)

    def _drain(self):
        queue, ws = self.queue, self.ws
        try:
            while True:
                if not queue.qsize():
                    return
                pkt = queue.get(block=False)
                queue.task_done()
                if pkt is None:
                    self._finish()
                    return
                try:
                    ws.send(pkt.encode())
                except Exception:  # as the stock writer: a failed send ends the socket's writing
                    self._finish()
                    return
        finally:
            self.running = False

    def _finish(self):
        self.done = True
        try:
            self.ws.close()
        finally:
            waiter, self._waiter = self._waiter, None
            if waiter is not None:
                waiter.send(True)

    def join(self):
        """Wait until the close marker has been handled (what the stock writer's join waits for)."""
        if self.done:
            return
        from eventlet.event import Event

        if self._waiter is None:
            self._waiter = Event()
        self._waiter.wait()


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]


class MallocTrimmer:
    """Return free C-heap pages to the kernel (glibc's `malloc_trim(0)`) when at least
    `min_free` bytes of the heap are free and, since the last trim, either that much more has
    been freed or the process has grown by that much (freed holes were used and freed again).
    A check costs a `mallinfo2()` and a read of /proc/self/statm."""

    def __init__(self, min_free=4 << 20):
        self.min_free = min_free
        self.trims = 0
        self._free_after_trim = 0
        self._rss_after_trim = 0
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self._libc = None
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            libc.mallinfo2.restype = _MallInfo2
            libc.malloc_trim.argtypes = [ctypes.c_size_t]
            self._libc = libc
        except (OSError, AttributeError):  # not glibc (or older than 2.33): nothing to do
            pass

    @property
    def available(self):
        return self._libc is not None

    def _rss(self):
        try:
            with open("/proc/self/statm", "rb") as statm:
                return int(statm.read().split()[1]) * self._page
        except (OSError, ValueError, IndexError):
            return 0

    def heap(self):
        """The C heap now, bytes: {"inUse", "free", "mmapped"} (None without glibc's mallinfo2)."""
        if self._libc is None:
            return None
        info = self._libc.mallinfo2()
        return {"inUse": info.uordblks, "free": info.fordblks, "mmapped": info.hblkhd}

    def check(self):
        """Trim if worth it; True when it trimmed."""
        if self._libc is None:
            return False
        free = self._libc.mallinfo2().fordblks
        if free < self.min_free:
            self._free_after_trim = free
            return False
        if free < self._free_after_trim:  # holes were reused: count from here
            self._free_after_trim = free
        if (free - self._free_after_trim < self.min_free
                and self._rss() - self._rss_after_trim < self.min_free):
            return False
        self._libc.malloc_trim(0)
        self._free_after_trim = free
        self._rss_after_trim = self._rss()
        self.trims += 1
        return True

    def run(self, interval, sleep):
        """Check every `interval` seconds, forever (a background green thread)."""
        while True:
            sleep(interval)
            try:
                self.check()
            except Exception:  # never let this take anything else down
                log.exception("malloc_trim check failed")
                return


def start_trimmer(interval=1.0):
    """Start the heap trimmer in a green thread; returns it (None when unavailable)."""
    import eventlet

    trimmer = MallocTrimmer()
    if not trimmer.available:
        return None
    eventlet.spawn_n(trimmer.run, interval, eventlet.sleep)
    global running_trimmer
    running_trimmer = trimmer
    return trimmer
