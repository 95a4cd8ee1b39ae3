"""The fast path's coalescing rules, on a manager whose sockets and clock are fakes."""
import time
from types import SimpleNamespace

from devtracker.realtime.delivery.manager import FastEmitMixin


class Manager(FastEmitMixin):
    def __init__(self):
        self.written = {}  # eio_sid -> [frames, in the order they were written]
        self.timers = []
        self.server = SimpleNamespace(eio=SimpleNamespace(sockets={"a": "A", "b": "B"}),
                                      _send_eio_packet=None)
        self.send_idle = self._send
        self.coalesce_seconds = 0.05
        self.lazy_events = frozenset({"user:online"})
        self._pending = {}
        self._recent = {}
        self._spawn_after = lambda delay, fn: self.timers.append((delay, fn)) or _Timer()

    def _send(self, engine_socket, blob):
        self.written.setdefault(engine_socket, []).append(blob)
        return True


class _Timer:
    def cancel(self):
        pass


def item(name):
    return (name.encode(), None)


def test_lazy_events_wait_for_the_long_quiet_period_and_urgent_ones_take_them_along():
    manager = Manager()
    manager._deliver(item("first"), ["a", "b"])  # nothing before it: written at once
    assert manager.written == {"A": [b"first"], "B": [b"first"]}
    manager._quiet_short = time.monotonic() - 1  # the short quiet period is over ...
    manager._recent.clear()  # ... for every socket ...
    manager._quiet_long = time.monotonic() + 60  # ... the long one (a slow delivery) is not
    manager._deliver(item("online1"), ["a", "b"], lazy=True)
    manager._deliver(item("online2"), ["a", "b"], lazy=True)
    assert manager.written == {"A": [b"first"], "B": [b"first"]}  # presence waits
    assert len(manager.timers) == 1  # one flush scheduled for both
    manager._deliver(item("feed"), ["a"])  # cannot wait: a gets its presence in the same write
    assert manager.written["A"] == [b"first", b"online1online2feed"]
    assert manager.written["B"] == [b"first"]  # b was not addressed: its presence still waits
    manager.timers[0][1]()  # the flush
    assert manager.written["B"] == [b"first", b"online1online2"]
    assert manager._pending == {}


def test_emits_inside_the_short_quiet_period_share_one_write_in_order():
    manager = Manager()
    manager._deliver(item("one"), ["a"])
    manager._deliver(item("two"), ["a"])  # within 50 ms of the first delivery
    manager._deliver(item("three"), ["a"], lazy=True)
    assert manager.written == {"A": [b"one"]}
    manager.timers[-1][1]()
    assert manager.written == {"A": [b"one", b"twothree"]}


def test_a_small_delivery_waits_only_for_sockets_written_within_the_quiet_period():
    manager = Manager()
    manager._deliver(item("one"), ["a"])
    manager._deliver(item("two"), ["b"])  # b was sent nothing lately: not held for a's period
    assert manager.written == {"A": [b"one"], "B": [b"two"]}
    manager._deliver(item("three"), ["a", "b"])  # both were: collected, one flush
    assert manager.written == {"A": [b"one"], "B": [b"two"]}
    assert len(manager.timers) == 1
    manager.timers[0][1]()
    assert manager.written == {"A": [b"one", b"three"], "B": [b"two", b"three"]}
    manager._deliver(item("four"), ["a"])  # the flush was a write: a collects again
    assert manager.written["A"] == [b"one", b"three"]
    manager._recent.clear()  # a's quiet period is over
    manager._deliver(item("five"), ["a"])  # written at once, after what a had collected
    assert manager.written["A"] == [b"one", b"three", b"fourfive"]
    assert manager._pending == {}


def test_a_delivery_to_many_sockets_starts_a_quiet_period_for_every_socket():
    manager = Manager()
    manager.small_delivery = 2  # two sockets are "many" here
    manager._deliver(item("broadcast"), ["a", "b"])
    assert manager.written == {"A": [b"broadcast"], "B": [b"broadcast"]}
    assert manager._recent == {}  # no per-socket bookkeeping for a large delivery
    manager._deliver(item("note"), ["b"])  # inside the quiet period every socket collects
    assert manager.written == {"A": [b"broadcast"], "B": [b"broadcast"]}
    manager.timers[-1][1]()
    assert manager.written["B"] == [b"broadcast", b"note"]


def test_emits_together_reach_each_socket_in_one_write_when_the_block_ends():
    manager = Manager()
    with manager.together():
        manager._deliver(item("update"), ["a"])  # nothing before it, yet it waits for the block
        with manager.together():  # nested: the outermost block decides
            manager._deliver(item("activity"), ["a", "b"])
        assert manager.written == {}
    assert manager.written == {"A": [b"updateactivity"], "B": [b"activity"]}
    assert manager.timers == [] and manager._pending == {}  # written at the end, not by a timer


def test_together_without_the_fast_path_changes_nothing():
    manager = Manager()
    manager.send_idle = None
    with manager.together():
        assert manager._together == 0


def test_the_emitter_works_together_without_a_socketio_server():
    from devtracker.realtime.delivery.emitter import together

    with together():
        pass
