"""The namespace's timers, run by one background task per process (`Housekeeper`): auth
deadlines, token-expiry warnings and expiries (a heap), and each tick the presence store's own
timers (grace periods, typing timeouts) and, with several processes, this node's heartbeat in
Redis. One loop per process instead of a timer per socket; `UpkeepMixin` is what it runs."""
import heapq
import itertools
import logging
import threading
import time

from ..auth import Principal
from ..models.base import isoformat
from ..services.users import touch_last_seen
from ..realtime.delivery.rooms import AUTHENTICATED_ROOM

log = logging.getLogger(__name__)


class UpkeepMixin:
    """Run by the namespace's Housekeeper (below): `_on_timer` for the timers of one
    socket, `_on_tick` about once a second for everything else."""

    def _schedule_expiry(self, state):
        state.generation += 1
        expires = state.principal.expires_at
        if expires is None:
            return
        at = expires.timestamp()
        self.housekeeper.at(at - self.config["AUTH_EXPIRY_WARNING_SECONDS"], "warn", state.sid,
                            state.generation)
        self.housekeeper.at(at, "expire", state.sid, state.generation)

    def _on_timer(self, kind, sid, generation):
        state = self.sockets.get(sid)
        if state is None:
            return
        if kind == "auth" and state.principal is None:
            self._drop(sid, "AUTH_TIMEOUT", "No authentication in time.")
        elif kind == "warn" and generation == state.generation:
            self.emit_to("auth:expired", {"expiresAt": isoformat(state.principal.expires_at)}, to=sid)
        elif kind == "expire" and generation == state.generation:
            self._drop(sid, "TOKEN_EXPIRED", "The token expired; connect again with a new one.")

    def _drop(self, sid, code, message):
        self.emit_to("error", {"code": code, "message": message, "event": None}, to=sid)
        self.disconnect(sid)

    def _on_tick(self, now):
        if hasattr(self.store, "heartbeat") and now >= self._next_heartbeat:
            self._next_heartbeat = now + self.config["NODE_TTL_SECONDS"] / 3
            self._heartbeat()
        if self._store_lost:
            return  # nothing to expire until the store is back (the heartbeat notices)
        for presence in self.store.expire_offline(now):
            try:
                touch_last_seen(presence["userId"])  # before anyone is told, so REST agrees at once
            except Exception:  # the database being down must not keep the user online
                log.warning("could not record when %s was last seen", presence["userId"], exc_info=True)
            self.emit_to("user:offline", presence, to=AUTHENTICATED_ROOM)
        self._expire_typing(now)

    def _heartbeat(self):
        """Cluster mode: stay alive in Redis, take over dead nodes' sockets, recover from a lost Redis."""
        try:
            known = self.store.heartbeat()
            for sid in self.store.dead_node_sockets():
                self._remove_socket(sid)
        except Exception as exc:  # Redis unreachable: keep serving; recover when it is back
            if not self._store_lost:
                log.error("presence store unreachable: %s", exc)
            self._store_lost = True
            return
        if self._store_lost or not known:
            log.warning("presence store lost this node's state (Redis restarted or unreachable); "
                        "reconnecting this node's %d sockets so they re-register and replay", len(self.sockets))
            self._store_lost = False
            self._reconnect_everyone()

    def _reconnect_everyone(self):
        """Drop every local socket's transport, as a network failure would (no close packet, which
        clients take as "do not come back"): they reconnect with their cursors and replay what the
        message queue may have lost meanwhile."""
        server = self.socketio.server
        for sid in list(self.sockets):
            eio_sid = server.manager.eio_sid_from_sid(sid, self.namespace)
            socket = server.eio.sockets.pop(eio_sid, None) if eio_sid else None
            if socket is not None:
                socket.close(wait=False, abort=True)

    def _expire_typing(self, now):
        for task_id, user_id in self.store.expire_typing(now):
            presence = self.store.get_user(user_id)
            user = Principal(user_id, presence["username"] if presence else user_id)
            self._typing_event(user, task_id, False, self.store.user_sockets(user_id))
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
