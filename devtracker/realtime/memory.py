"""Less memory per connected socket under eventlet (issue 6).

Measured on 1,000 authenticated idle websockets, most of a socket's memory is not Python
objects but green threads: each live greenlet keeps a copy of its C stack on the heap and,
on Python 3.11+, its own 16 KiB chunk of frame memory (the "data stack") that stays resident
as deep as the greenlet ever went. python-engineio keeps three per websocket:

- the connection's own green thread, which reads frames and, with `async_handlers=False`,
  runs every Socket.IO event handler itself: authentication, presence, database writes and
  emits go hundreds of frames deep once, and all 16 KiB of its frame chunk stay resident for
  the socket's life;
- a green thread that sleeps `ping_interval` before each ping;
- a writer green thread waiting on the socket's queue.

Here (`install()`, eventlet only):

- `receive`: each Socket.IO message from a websocket is handled in a short-lived green
  thread that the reader waits for. Order and error handling stay as they were (the reader
  does nothing else until the handler is done, and its exceptions reach the reader as
  before), but the deep frames live and die with the short-lived thread, so the reader stays
  shallow;
- `schedule_ping`: the next ping is a hub timer that starts a green thread when it is due,
  instead of a green thread sleeping for `ping_interval` (same interval, same checks);
- the websocket writer runs only while there is something to send (`LazyWriter`);
- the socket keeps the server's WSGI environ instead of a copy of it (`_share_environ`);
- eventlet's three per-socket deques of an item or two (send-lock waiters, frames read ahead,
  exit callbacks) are lists with a `popleft` (`ShortDeque`, 56 bytes against 760).

A connect storm also leaves the C heap full of holes: transient allocations (the presence
lists and frames queued for sockets that have not read them yet, green threads' stack copies)
freed after longer-lived objects were allocated above them. glibc keeps those pages: a storm
of 1,000 users peaks at ~180 MiB of C heap and leaves ~120 MiB of it free in holes. `MallocTrimmer` checks the heap every second (a `mallinfo2()`, well under a
millisecond) and gives free pages back to the kernel with `malloc_trim(0)` (glibc only) when
4 MiB more is free, or the process grew by that much, since its last trim.

Measured (1,000 authenticated websockets opened 250 at a time, each its own user, 30 % offering
permessage-deflate, after 200 warm-up sockets; server VmRSS after minus before, per socket):
71.5 KiB before; the ping timer alone 63.0; the short-lived handler threads alone 62.9 once
trimmed (95 untrimmed after a storm, 58.3 when the sockets come 10 at a time); both and the
trimmer 56.5; with the lazy writer 47.6. Of those ~48 KiB, tracemalloc sees 35.8 (it saw 44.8):
eventlet's green thread, timers, queue and fd listener 7.7, the WSGI request (environ, parsed
headers, HttpProtocol) 6.6, eventlet's rfile/wfile buffers 6.4, the reader's C-stack copy 6.4,
the app's own state 3.3, python-engineio/python-socketio 2.7, eventlet's websocket 2.3; the
rest is the reader's frame chunk (~8 KiB resident, 16 before) and allocator overhead.
bench/run.py --sizes 1000 --scenarios storm: 51.9 and 55.5 KiB per socket (195 with this
module off on the same tree, where the storm's heap holes were not given back); 10,000 held
unauthenticated connections (tests/integration/test_hold_10k.py): 60.6 → 43.8 KiB each.
Short deques, later: the 1,000 storm read 45.7-47.3 KiB per socket in eight runs before, 44.2-45.8
in five after.
"""
import ctypes
import ctypes.util
import logging
import os
import time

log = logging.getLogger(__name__)
_installed = False
running_trimmer = None  # the process's MallocTrimmer, once started


def install():
    """Patch python-engineio's socket (under eventlet); False when its internals differ."""
    global _installed
    if _installed:
        return True
    import eventlet
    import eventlet.hubs
    from engineio import packet
    from engineio import socket as eio_socket

    socket_class = eio_socket.Socket
    receive = getattr(socket_class, "receive", None)
    send_ping = getattr(socket_class, "_send_ping", None)
    if receive is None or send_ping is None or not hasattr(socket_class, "schedule_ping"):
        log.warning("per-socket memory tuning off: python-engineio internals are not the expected ones")
        return False
    message = packet.MESSAGE
    ping = packet.PING
    spawn = eventlet.spawn
    spawn_n = eventlet.spawn_n
    get_hub = eventlet.hubs.get_hub

    def receive_shallow(self, pkt):
        if pkt.packet_type == message and self.upgraded:
            spawn(receive, self, pkt).wait()  # re-raises what the handler raised
        else:
            receive(self, pkt)

    def ping_now(self):
        if not self.closing and not self.closed:
            self.last_ping = time.time()
            self.send(packet.Packet(ping))

    def schedule_ping_on_timer(self):
        # only schedule a new ping if the previous ping wait cycle completed
        if self.last_ping:
            self.last_ping = None
            get_hub().schedule_call_global(self.server.ping_interval, spawn_n, ping_now, self)

    socket_class.receive = receive_shallow
    socket_class.schedule_ping = schedule_ping_on_timer
    _install_lazy_writer()
    _share_environ()
    _short_deques()
    _installed = True
    return True


def _share_environ():
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


def _short_deques():
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


def _install_lazy_writer():
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
