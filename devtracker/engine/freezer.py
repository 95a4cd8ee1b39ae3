"""Keep the objects of long-lived sockets out of Python's full garbage collections.

A full collection walks every tracked object, and each held socket keeps ~150 of them, so at
thousands of sockets one such pause sets a broadcast's latency. `gc.freeze()` moves every
tracked object where no collection walks it (they are still freed when their last reference
goes; only cycles among them wait). `SocketFreezer` freezes once the process holds
`min_sockets` (and a fifth) more sockets than at the last freeze; once a quarter of those have
gone it unfreezes, collects in full once and freezes again; and it collects the middle
generation when nothing has for `sweep_after` seconds (tuning.GC_THRESHOLDS makes that rare).
"""
import gc
import logging
import time

log = logging.getLogger(__name__)


class SocketFreezer:
    """Decides when to freeze; `sids()` returns the ids of the sockets held now (a set view)."""

    def __init__(self, sids, min_sockets=500, grow=0.2, gone=0.25, sweep_after=10.0, gc_module=gc,
                 clock=time.monotonic):
        self.sids = sids
        self.min_sockets = min_sockets
        self.grow = grow
        self.gone = gone
        self.gc = gc_module
        self.sweep_after = sweep_after
        self.clock = clock
        self.frozen = frozenset()  # the sockets held at the last freeze
        self.freezes = 0
        self.refreshes = 0
        self.sweeps = 0
        self._middle = self._middle_collections()  # as of the last check
        self._middle_at = clock()  # when the middle generation was last seen collected
        # Objects frozen as of the last freeze (counting walks them all: ~10 ms at 1.5 million,
        # so it is counted when freezing, not when asked).
        self.frozen_objects = gc_module.get_freeze_count()

    def check(self):
        """Freeze, refresh or sweep when due; returns "freeze", "refresh", "sweep" or None."""
        done = self._freeze_or_refresh()
        now = self.clock()
        middle = self._middle_collections()
        if middle != self._middle:  # the middle generation was collected since the last check
            self._middle, self._middle_at = middle, now
        elif self.gc.get_count()[1] and now - self._middle_at >= self.sweep_after:
            self.gc.collect(1)  # and young collections since have left something in it
            self.sweeps += 1
            self._middle, self._middle_at = self._middle_collections(), now
            done = "sweep"
        return done

    def _middle_collections(self):
        """Collections of the middle generation so far, those of full collections included."""
        stats = self.gc.get_stats()
        return stats[1]["collections"] + stats[2]["collections"]

    def _freeze_or_refresh(self):
        held = self.sids()
        count = len(held)
        if self.frozen and len(self.frozen - held) > self.gone * len(self.frozen):
            self.gc.unfreeze()
            self.gc.collect()
            self.gc.freeze()
            self.frozen = frozenset(held)
            self.frozen_objects = self.gc.get_freeze_count()
            self.refreshes += 1
            return "refresh"
        if count >= max(len(self.frozen) + self.min_sockets, len(self.frozen) * (1 + self.grow)):
            self.gc.collect(1)
            self.gc.freeze()
            self.frozen = frozenset(held)
            self.frozen_objects = self.gc.get_freeze_count()
            self.freezes += 1
            return "freeze"
        return None

    def run(self, sleep, interval=5.0):
        """Check every `interval` seconds, forever (a background task)."""
        while True:
            sleep(interval)
            try:
                done = self.check()
            except Exception:  # never let this take anything else down
                log.exception("freezing socket objects failed")
                return
            if done == "sweep":
                log.debug("swept the middle generation of the garbage collector")
            elif done:
                log.info("%s: %d sockets' objects kept out of full collections (%d objects frozen)",
                         done, len(self.frozen), self.frozen_objects)


running = None  # this process's SocketFreezer, once started


def start(socketio):
    """Start the freezer for this process's engine.io sockets; returns it (None when no app has
    set up Socket.IO in this process)."""
    global running
    if socketio.server is None:
        return None
    eio = socketio.server.eio
    running = SocketFreezer(lambda: eio.sockets.keys())
    socketio.start_background_task(running.run, socketio.sleep)
    return running
