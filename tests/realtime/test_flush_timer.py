"""Under eventlet, an emit that moves the fast path's flush earlier does not yield: nothing else
runs in its middle, nothing of it is kept once it is written, and every collected frame is
still written once, in order, when the earlier flush comes.

(It used to cancel an eventlet green thread, which kills it, and killing yields. The kill's
traceback held the emit's frames, and the old timer held the traceback until it fired. In a
connect storm those frames held `presence:list` answers, every user online, encoded: after a
5,000 storm, ~200 MiB of them still waited for a collection, or were frozen out of it.)

Run under eventlet in a fresh interpreter (tests/support/eventlet_run.py): its monkey-patching
must come before everything else and must not leak into the rest of the suite."""
from tests.support.eventlet_run import run_under_eventlet

SCRIPT = '''
    import eventlet
    import gc, json, time, weakref
    from types import SimpleNamespace
    from devtracker.engine import fastpath
    from devtracker.realtime.delivery import manager as realtime_manager

    class Manager(realtime_manager.FastEmitMixin):
        def __init__(self):
            self.written = []
            self.server = SimpleNamespace(eio=SimpleNamespace(sockets={"a": "A", "b": "B"}),
                                          _send_eio_packet=None)
            self.send_idle = lambda engine_socket, blob: self.written.append(
                [engine_socket, blob.decode()]) or True
            self.coalesce_seconds = 0.05
            self.lazy_events = frozenset({"user:online"})
            self._pending = {}
            self._recent = {}
            self._spawn_after = fastpath.call_after

    manager = Manager()
    others = []  # what other green threads did while the emits ran
    manager._deliver((b"first", None), ["a", "b"])  # written at once; a quiet period starts
    manager._quiet_short = time.monotonic() - 1  # the short period is over,
    manager._recent.clear()
    manager._quiet_long = time.monotonic() + 30  # the long one (after a slow delivery) is not
    eventlet.spawn_n(others.append, "ran")  # ready to run at the first yield
    manager._deliver((b"online", None), ["a", "b"], lazy=True)  # waits: a flush in 30 s
    long_flush = manager._flush_timer

    class Packet:  # the engine.io packet beside the frame: here, something to watch
        pass

    feed = Packet()
    feed_ref = weakref.ref(feed)
    manager._recent["a"] = time.monotonic() + 0.05  # a was written lately
    manager._deliver_few((b"feed", feed), ["a", "b"], time.monotonic())  # a's flush: in 50 ms
    during = list(others)
    del feed
    manager._deliver((b"later", None), ["b"], lazy=True)  # b collects it for the early flush
    eventlet.sleep(0.3)
    gc.collect()
    print(json.dumps({"during": during, "after": others, "feed_kept": feed_ref() is not None,
                      "written": manager.written,
                      "pending": list(manager._pending), "long_flush_cancelled": long_flush.called,
                      "flushes_left": manager._flush_timer is not None}))
'''


def test_moving_the_flush_earlier_does_not_yield_and_loses_nothing():
    result = run_under_eventlet(SCRIPT, timeout=60)
    assert result["during"] == [], "another green thread ran in the middle of an emit"
    assert result["feed_kept"] is False, "the emit's frames outlived it (a kill's traceback)"
    assert result["after"] == ["ran"]
    # b was not written lately: "feed" went out at once, with the presence b had collected.
    # a was: it collected "feed", and got everything in one write at the earlier flush.
    assert result["written"] == [["A", "first"], ["B", "first"], ["B", "onlinefeed"],
                                 ["A", "onlinefeed"], ["B", "later"]]
    assert result["pending"] == []
    assert result["long_flush_cancelled"] is True
    assert result["flushes_left"] is False
