"""Timers of the realtime side, run by one background task per process.

Auth deadlines of legacy sockets and token-expiry warnings and expiries (a heap), and each
tick the presence store's own timers (grace periods, typing timeouts): one loop per process
instead of a timer per socket.
"""
import heapq
import itertools
import logging
import threading
import time

log = logging.getLogger(__name__)
FAILURE_LOG_EVERY = 100  # consecutive failed ticks between two log lines


class Housekeeper:
    """Runs due timers every `tick` seconds until stopped."""

    def __init__(self, app, socketio, on_timer, on_tick):
        self.app = app
        self.socketio = socketio
        self.on_timer = on_timer
        self.on_tick = on_tick
        config = app.config
        self.tick = max(0.02, min(0.25, config["PRESENCE_GRACE_SECONDS"] / 5,
                                  config["TYPING_TIMEOUT_SECONDS"] / 5,
                                  config["AUTH_TIMEOUT_SECONDS"] / 5))
        self._lock = threading.Lock()
        self._heap = []
        self._order = itertools.count()
        self._started = False
        self._stopped = False

    def start(self):
        """Start the loop once (lazily, on the first connection)."""
        with self._lock:
            if self._started or self._stopped:
                return
            self._started = True
        self.socketio.start_background_task(self._run)

    def stop(self):
        """Let the loop end at its next tick."""
        self._stopped = True

    def at(self, when, kind, sid, generation=0):
        """Call on_timer(kind, sid, generation) at `when` (time.time())."""
        with self._lock:
            heapq.heappush(self._heap, (when, next(self._order), kind, sid, generation))

    def run_due(self, now=None):
        """Run everything due by `now`; one tick of the loop."""
        now = time.time() if now is None else now
        with self._lock:
            due = []
            while self._heap and self._heap[0][0] <= now:
                due.append(heapq.heappop(self._heap))
        for _when, _n, kind, sid, generation in due:
            self.on_timer(kind, sid, generation)
        self.on_tick(now)

    def _run(self):
        failing = 0
        while not self._stopped:
            self.socketio.sleep(self.tick)
            if self._stopped:
                break
            try:
                with self.app.app_context():
                    self.run_due()
                failing = 0
            except Exception as exc:  # one bad tick must not stop presence for the whole process
                failing += 1
                if failing == 1:
                    log.exception("housekeeping tick failed")
                elif failing % FAILURE_LOG_EVERY == 0:  # an outage fails ten ticks a second
                    log.error("housekeeping ticks still failing (%d in a row): %s", failing, exc)
