"""Timers of the realtime side, run by one background task per process.

Auth deadlines of legacy sockets, token-expiry warnings and expiries, the presence grace
period, and typing timeouts: one loop and one heap instead of a timer per socket.
"""
import heapq
import itertools
import logging
import threading
import time

log = logging.getLogger(__name__)


class Housekeeper:
    """Runs due timers every `tick` seconds until stopped."""

    def __init__(self, app, socketio, on_timer, on_offline, on_typing_expired):
        self.app = app
        self.socketio = socketio
        self.on_timer = on_timer
        self.on_offline = on_offline
        self.on_typing_expired = on_typing_expired
        config = app.config
        self.tick = max(0.02, min(0.25, config["PRESENCE_GRACE_SECONDS"] / 5,
                                  config["TYPING_TIMEOUT_SECONDS"] / 5,
                                  config["AUTH_TIMEOUT_SECONDS"] / 5))
        self._lock = threading.Lock()
        self._heap = []
        self._order = itertools.count()
        self._offline = {}  # user_id -> when the grace period ends
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

    def offline_after(self, user_id, when):
        """Call on_offline(user_id) at `when` unless cancelled."""
        with self._lock:
            self._offline[user_id] = when

    def cancel_offline(self, user_id):
        """The user came back within the grace period."""
        with self._lock:
            self._offline.pop(user_id, None)

    def run_due(self, now=None):
        """Run everything due by `now`; one tick of the loop."""
        now = time.time() if now is None else now
        with self._lock:
            due = []
            while self._heap and self._heap[0][0] <= now:
                due.append(heapq.heappop(self._heap))
            offline = [uid for uid, when in self._offline.items() if when <= now]
            for uid in offline:
                del self._offline[uid]
        for _when, _n, kind, sid, generation in due:
            self.on_timer(kind, sid, generation)
        for user_id in offline:
            self.on_offline(user_id)
        self.on_typing_expired(now)

    def _run(self):
        while not self._stopped:
            self.socketio.sleep(self.tick)
            if self._stopped:
                break
            try:
                with self.app.app_context():
                    self.run_due()
            except Exception:  # one bad tick must not stop presence for the whole process
                log.exception("housekeeping tick failed")
