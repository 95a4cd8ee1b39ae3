"""devtracker/engine/memory.py: the lazy websocket writer, the heap trimmer and the short deques
(those under eventlet in a fresh interpreter: they change eventlet's modules)."""
import collections
import sys
import warnings

import pytest

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
import eventlet  # noqa: E402  (after the warning filter)
from eventlet.queue import Queue  # noqa: E402

from devtracker.engine.memory import (WRITER_QUALNAME, LazyWriter, MallocTrimmer,  # noqa: E402
                                        ShortDeque)
from tests.conftest import require_service  # noqa: E402
from tests.support.eventlet_run import run_under_eventlet  # noqa: E402


class Pkt:
    def __init__(self, n):
        self.n = n

    def encode(self):
        return f"p{self.n}"


class FakeSocket:
    def __init__(self):
        self.queue = Queue()


class FakeWebSocket:
    def __init__(self, slow=0.0, fail_at=None):
        self.sent, self.closed, self.slow, self.fail_at = [], 0, slow, fail_at

    def send(self, data):
        if self.fail_at is not None and len(self.sent) == self.fail_at:
            raise OSError("gone")
        eventlet.sleep(self.slow)  # a send that yields, as a real one may
        self.sent.append(data)

    def close(self):
        self.closed += 1


def stock_writer_of(socket, ws):
    """A closure shaped like python-engineio's writer (what LazyWriter.from_writer reads)."""
    self = socket

    def writer():
        return self, ws

    writer.__qualname__ = WRITER_QUALNAME
    return writer


def test_packets_go_out_in_order_without_a_waiting_green_thread():
    socket, ws = FakeSocket(), FakeWebSocket(slow=0.001)
    socket.queue.put(Pkt(0))  # queued before the writer exists (the handshake's OPEN)
    writer = LazyWriter.from_writer(stock_writer_of(socket, ws))
    for n in range(1, 50):
        socket.queue.put(Pkt(n))
        if n % 7 == 0:
            eventlet.sleep(0.002)
    eventlet.sleep(0.3)
    assert ws.sent == [f"p{n}" for n in range(50)]
    assert not writer.running and not writer.done and ws.closed == 0
    socket.queue.put(Pkt(50))
    socket.queue.put(None)  # the close marker
    writer.join()
    assert ws.sent[-1] == "p50" and ws.closed == 1 and writer.done
    socket.queue.join()  # every get was matched by task_done, as close(wait=True) needs


def test_a_failed_send_closes_the_websocket_and_join_returns():
    socket, ws = FakeSocket(), FakeWebSocket(fail_at=2)
    writer = LazyWriter.from_writer(stock_writer_of(socket, ws))
    for n in range(5):
        socket.queue.put(Pkt(n))
    eventlet.sleep(0.05)
    assert ws.sent == ["p0", "p1"] and ws.closed == 1
    socket.queue.put(None)
    writer.join()  # does not hang


def test_an_unexpected_writer_shape_keeps_the_stock_writer():
    def writer():
        return None

    assert LazyWriter.from_writer(writer) is None


def test_the_trimmer_trims_only_when_much_more_is_free():
    trimmer = MallocTrimmer(min_free=1 << 20)
    if not trimmer.available:
        require_service("glibc's malloc_trim", "this C library has no mallinfo2/malloc_trim")
    trimmer.check()
    blocks = [bytearray(4000) for _ in range(2000)]
    keep = [bytearray(100) for _ in range(2000)]  # noqa: F841  (pins the heap above the holes)
    del blocks
    assert trimmer.check() is True
    assert trimmer.check() is False  # nothing new to give back


def test_a_short_deque_is_a_fifo_with_the_methods_eventlet_uses():
    queue = ShortDeque()
    assert not queue and len(queue) == 0
    queue.append("a")
    queue.extend(["b", "c", "d"])
    assert "b" in queue and len(queue) == 4
    queue.remove("c")
    assert [queue.popleft(), queue.popleft()] == ["a", "b"]
    assert queue.popleft() == "d" and not queue
    queue.append("e")
    queue.clear()
    assert not queue
    with pytest.raises(IndexError):
        queue.popleft()
    assert sys.getsizeof(ShortDeque()) < sys.getsizeof(collections.deque()) / 10


SHORT_DEQUES = '''
    import eventlet
    import json, socket, threading
    from eventlet import greenthread, semaphore, websocket
    from devtracker.engine import memory

    assert memory.short_deques() is True
    lock, order = semaphore.Semaphore(1), []

    def holder(n):
        with lock:
            order.append(n)
            eventlet.sleep(0.01)

    threads = [eventlet.spawn(holder, n) for n in range(5)]  # four wait, in order
    exits = []
    threads[0].link(lambda gt: exits.append("first"))
    threads[0].link(lambda gt: exits.append("second"))
    for thread in threads:
        thread.wait()
    eventlet.sleep(0)
    a, b = socket.socketpair()
    ws = websocket.RFC6455WebSocket(a, {}, 13)
    frame = lambda text: bytes([0x81, 0x80 | len(text), 0, 0, 0, 0]) + text  # masked (by zeros)
    b.sendall(frame(b"hi") + frame(b"yo"))  # two text frames, read together
    received = [ws.wait(), ws.wait()]
    print(json.dumps({
        "order": order, "exits": exits, "received": received,
        "types": [type(lock._waiters).__name__, type(threads[0]._exit_funcs).__name__,
                  type(ws._msgs).__name__, type(threading.Lock()._waiters).__name__],
    }))
'''


def test_eventlets_per_socket_deques_become_short_ones_and_keep_working():
    result = run_under_eventlet(SHORT_DEQUES)
    assert result["order"] == [0, 1, 2, 3, 4]  # waiters woken first come, first served
    assert result["exits"] == ["first", "second"]
    assert result["received"] == ["hi", "yo"]
    assert result["types"] == ["ShortDeque"] * 4
