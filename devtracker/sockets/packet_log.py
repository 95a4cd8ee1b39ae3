"""One log line per packet the Socket.IO stack cannot handle, rate limited.

python-engineio logs a full traceback for every client message its handlers raise on, and a
malformed packet (`42[`, `42`, an event list that is not one) raises inside python-socketio
before the namespace sees it: a client could write tracebacks as fast as it sends packets.
This filter turns each such record into one warning line, at most `limit` lines per `window`
seconds (then one line saying how many were left out), and counts them for /metrics. A
traceback that runs through this project's code is a bug of ours, not a client's: it keeps
its traceback (still rate limited).
"""
import logging
import os
import threading
import time

LOGGERS = ("engineio.server", "socketio.server")
PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# Decoding a packet runs through strictjson.py: its errors are the packet's fault, not ours.
DECODER = os.path.join(PROJECT_DIR, "strictjson.py")


def _through_project(tb):
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(PROJECT_DIR) and filename != DECODER:
            return True
        tb = tb.tb_next
    return False


class PacketErrorFilter(logging.Filter):
    """Shortens and rate-limits the error records of python-engineio and python-socketio."""

    def __init__(self, limit=10, window=60.0, clock=time.monotonic):
        super().__init__()
        self.limit = limit
        self.window = window
        self.clock = clock
        self.lock = threading.Lock()
        self.total = 0
        self.window_start = None
        self.in_window = 0
        self.dropped = 0

    def filter(self, record):
        if record.levelno < logging.ERROR or not str(record.msg).endswith("handler error"):
            return True  # only python-engineio's "<event> handler error": a packet's handling
        with self.lock:
            self.total += 1
            now = self.clock()
            if self.window_start is None or now - self.window_start >= self.window:
                dropped, self.dropped = self.dropped, 0
                self.window_start, self.in_window = now, 0
            else:
                dropped = 0
            self.in_window += 1
            if self.in_window > self.limit:
                self.dropped += 1
                return False
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and _through_project(exc.__traceback__):
            return True
        detail = f": {type(exc).__name__}: {str(exc)[:160]}" if exc is not None else ""
        note = f" ({dropped} more in the last {self.window:g} s not logged)" if dropped else ""
        message = record.getMessage()
        record.msg = "%s (a client packet the server could not handle)%s%s"
        record.args = (message, detail, note)
        record.exc_info = record.exc_text = record.stack_info = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def install():
    """Attach one filter to the libraries' loggers; return it (its `total` feeds /metrics).

    Called before the Socket.IO server is built: a logger whose level is set gets no handler
    of the library's own, so each record is written once, by the app's handlers. The level is
    the libraries' own default (ERROR): their warnings (`Cannot send to sid`, unknown acks) are
    a client's doing, one per packet, and are not logged."""
    first = logging.getLogger(LOGGERS[0])
    for existing in first.filters:
        if isinstance(existing, PacketErrorFilter):
            return existing
    packet_filter = PacketErrorFilter()
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.ERROR)
        logger.addFilter(packet_filter)
    return packet_filter
