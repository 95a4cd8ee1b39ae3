"""RealtimeClient: a python-socketio client for DevTracker Realtime that survives reconnects.

Run against `make run` with a token from `make token ARGS="--user-id alice"`::

    from devtracker.client import RealtimeClient

    client = RealtimeClient("http://127.0.0.1:5000", token)

    @client.on("notification")
    def show(note):
        print(note["id"], note["title"])

    client.connect()                      # returns once replay:done arrived
    print(client.join_task("task_123"))   # {"taskId": ..., "viewingUsers": [...], ...}
    client.set_typing("task_123", True)   # debounced; false follows by itself after typing_idle
    client.disconnect()
"""
import logging
import threading
import time

import socketio

from .ordered import OrderedStreams
from .service import ServiceClient
from ..engine.client import drop, new_client
from .types import ReadState, ResyncEvent, ResyncStats, UserPresence, ViewersState

log = logging.getLogger(__name__)

CURSOR_STREAMS = {"notification": "notification", "activity:feed": "activity"}
STATUSES = ("online", "away")


class RealtimeError(Exception):
    """An error envelope from the server, or a client-side failure with a code of its own."""

    def __init__(self, code, message, details=None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details


class _TypingDebouncer:
    """Send typing on change, refresh it while typing goes on, send false after `idle` seconds."""

    def __init__(self, send, idle, refresh):
        self._send = send  # non-blocking (a queue put), so it is called under the lock, in order
        self.idle = idle
        self.refresh = refresh
        self._state = {}  # task id -> [last set_typing(True), last true sent], monotonic seconds
        self._cond = threading.Condition()
        self._thread = None

    def set(self, task_id, typing):
        """Note a keystroke (True) or a stop (False); send only what changes."""
        now = time.monotonic()
        with self._cond:
            entry = self._state.get(task_id)
            if typing and entry is not None:
                entry[0] = now
            elif typing:
                self._state[task_id] = [now, now]
                self._send(task_id, True)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name="devtracker-realtime-typing")
                    self._thread.start()
                self._cond.notify()
            elif entry is not None:
                del self._state[task_id]
                self._send(task_id, False)

    def forget(self, task_id=None):
        """Drop local state without sending (the server already cleared it)."""
        with self._cond:
            if task_id is None:
                self._state.clear()
            else:
                self._state.pop(task_id, None)
            self._cond.notify()

    def _run(self):
        with self._cond:
            while self._state:
                now = time.monotonic()
                wake = now + self.refresh
                for task_id, entry in list(self._state.items()):
                    if now - entry[0] >= self.idle:
                        del self._state[task_id]
                        self._send(task_id, False)
                        continue
                    if now - entry[1] >= self.refresh:
                        entry[1] = now  # the server drops typing after TYPING_TIMEOUT_SECONDS unless refreshed
                        self._send(task_id, True)
                    wake = min(wake, entry[0] + self.idle, entry[1] + self.refresh)
                self._cond.wait(max(0.01, wake - now))
            self._thread = None


class RealtimeClient:
    """A DevTracker Realtime socket with replay cursors, holes filled (SPEC §9), reconnection and room restore."""

    def __init__(self, url, token, *, transports=("websocket", "polling"), reconnect=True,
                 backoff_initial=0.5, backoff_max=30, typing_idle=3.0, typing_refresh=2.0,
                 last_notification_id=None, last_activity_id=None, last_notification_seq=None,
                 last_activity_seq=None, api_url=None, call_timeout=10, **options):
        self.url = url
        self._token = token
        self._transports = list(transports)
        self._call_timeout = call_timeout
        self._lock = threading.RLock()
        self._handlers = {}
        # The REST API fills holes in the streams (SPEC §9); one quick retry, then a reconnect does.
        self._rest = ServiceClient(api_url or url, token, retries=1, timeout=call_timeout,
                                   backoff_initial=0.2, backoff_max=1)
        self._streams = OrderedStreams(
            self._rest, {"notification": last_notification_id, "activity": last_activity_id},
            {"notification": last_notification_seq, "activity": last_activity_seq})
        self._tasks = {}  # joined task ids, in join order
        self._status = "online"
        self._ready = threading.Event()
        self._connecting = False
        self._connect_error = None
        self.last_replay = None
        self._typing = _TypingDebouncer(self._send_typing, typing_idle, typing_refresh)
        # python-socketio's jitter is +/- randomization_factor seconds, not a fraction: scale it.
        self._sio = new_client(reconnection=reconnect, reconnection_delay=backoff_initial,
                               reconnection_delay_max=backoff_max,
                               randomization_factor=backoff_initial / 2, **options)
        self._sio.on("connect", self._on_connect)
        self._sio.on("disconnect", self._on_disconnect)
        self._sio.on("connect_error", self._on_connect_error)
        self._sio.on("*", self._on_event)

    # --- connection --------------------------------------------------------------------------
    def connect(self, timeout=10):
        """Connect and return once the replay is done (`replay:done` arrived)."""
        self._ready.clear()
        self._connect_error = None
        self._connecting = True
        self._sio.start_dispatcher()
        try:
            self._sio.connect(self.url, auth=self._auth, transports=self._transports,
                              wait_timeout=timeout)
        except socketio.exceptions.ConnectionError as exc:
            raise self._connect_error or RealtimeError("CONNECTION_FAILED", str(exc)) from None
        finally:
            self._connecting = False
        if not self._ready.wait(timeout):
            self.disconnect()
            raise RealtimeError("TIMEOUT", f"No replay:done within {timeout} s.")
        return self

    def disconnect(self):
        """Close the socket and stop reconnecting."""
        self._typing.forget()
        self._sio.shutdown()
        self._sio.stop_dispatcher()
        self._rest.close()

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.disconnect()

    @property
    def connected(self):
        """Whether the socket is connected right now."""
        return self._sio.connected

    @property
    def notification_cursor(self):
        """The largest notification id delivered (sent as lastNotificationId on reconnect)."""
        return self._streams.ids["notification"]

    @property
    def activity_cursor(self):
        """The largest activity id delivered (sent as lastActivityId on reconnect)."""
        return self._streams.ids["activity"]

    @property
    def notification_seq(self):
        """The user's notification stream position delivered (sent as lastNotificationSeq)."""
        return self._streams.seqs["notification"]

    @property
    def activity_seq(self):
        """The activity stream position delivered (sent as lastActivitySeq)."""
        return self._streams.seqs["activity"]

    @property
    def resyncs(self) -> ResyncStats:
        """Counts: repeats dropped, holes filled over REST or by reconnecting, items passed over."""
        return dict(self._streams.stats)

    @property
    def joined_tasks(self):
        """Task ids this client has joined, restored after every reconnect."""
        with self._lock:
            return list(self._tasks)

    def _auth(self):
        # python-socketio calls this on every (re)connect, so the replay starts where we are.
        with self._lock:
            return {"token": self._token, **self._streams.auth()}

    # --- handlers ----------------------------------------------------------------------------
    def on(self, event, handler=None):
        """Add a handler for an event ("*" gets every event); usable as a decorator."""
        def register(fn):
            with self._lock:
                self._handlers.setdefault(event, []).append(fn)
            return fn
        return register(handler) if handler is not None else register

    def _fire(self, event, *args):
        with self._lock:
            handlers = list(self._handlers.get(event, ()))
            catch_all = list(self._handlers.get("*", ())) if event not in (
                "connect", "disconnect", "connect_error", "reconnect", "resync") else []
        for handler in handlers:
            self._safely(handler, *args)
        for handler in catch_all:
            self._safely(handler, event, *args)

    @staticmethod
    def _safely(handler, *args):
        try:
            handler(*args)
        except Exception:  # a failing handler must not stop the others or the stream
            log.exception("handler %r failed", handler)

    def _on_connect(self):
        self._streams.start_replay()
        self._fire("connect")

    def _on_event(self, event, data=None, *rest):
        stream = CURSOR_STREAMS.get(event)
        if stream and isinstance(data, dict):
            # On the events' thread: a hole's REST read holds back everything after it.
            items, resync = self._streams.admit(stream, data)
            for item in items:
                self._fire(event, item, *rest)
            if resync is not None:
                self._on_resync(resync)
            return
        self._fire(event, data, *rest)
        if event == "replay:done":
            self.last_replay = data
            self._streams.end_replay(data)
            reconnected = self._ready.is_set()  # cleared only by connect(): this is a reconnect
            with self._lock:
                restore = bool(self._tasks) or self._status != "online"
            if restore:
                # Not on this thread: the joins wait for acks and may need pacing.
                threading.Thread(target=self._restore, args=(reconnected,), daemon=True,
                                 name="devtracker-realtime-restore").start()
            elif reconnected:
                self._fire("reconnect")
            self._ready.set()

    def _on_resync(self, resync: ResyncEvent):
        if resync["via"] == "reconnect":
            drop(self._sio)  # the replay from the seq cursor brings the hole and what followed
        self._fire("resync", resync)

    def _on_disconnect(self, reason=None):
        self._typing.forget()  # the server clears typing when a socket goes
        self._fire("disconnect", reason)

    def _on_connect_error(self, data=None):
        error = data.get("data") if isinstance(data, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        token = self._token
        if code:
            self._connect_error = RealtimeError(code, error.get("message", ""), error.get("details"))
        self._fire("connect_error", data)
        if not self._connecting and str(code).startswith("TOKEN_") and token == self._token:
            # A refused token does not get better by retrying; a handler may call refresh_token.
            threading.Thread(target=self._sio.shutdown, daemon=True).start()

    def _restore(self, reconnected):
        """Re-join the task rooms and re-send `away`: the server forgot them with the old socket."""
        with self._lock:
            tasks, status = list(self._tasks), self._status
        for task_id in tasks:
            for attempt in range(6):
                try:
                    self._call("task:join", task_id)
                    break
                except RealtimeError as exc:
                    if exc.code == "RATE_LIMITED":  # JOIN_EVENT_RATE: space the joins out
                        time.sleep(0.25 * (attempt + 1))
                        continue
                    if exc.code in ("NOT_CONNECTED", "TIMEOUT"):
                        return  # the next reconnect tries again
                    log.warning("could not re-join %s: %s", task_id, exc)
                    with self._lock:
                        self._tasks.pop(task_id, None)
                    break
        if status != "online":
            try:
                self._call("presence:update", status)
            except RealtimeError as exc:
                log.warning("could not restore presence %s: %s", status, exc)
        if reconnected:
            self._fire("reconnect")

    # --- client events -----------------------------------------------------------------------
    def _call(self, event, data=None):
        try:
            envelope = self._sio.call(event, data, timeout=self._call_timeout)
        except socketio.exceptions.BadNamespaceError:
            raise RealtimeError("NOT_CONNECTED", "The socket is not connected.") from None
        except socketio.exceptions.TimeoutError:
            raise RealtimeError("TIMEOUT", f"No answer to {event} within {self._call_timeout} s.") from None
        if not isinstance(envelope, dict):
            raise RealtimeError("BAD_RESPONSE", f"Unexpected ack for {event}: {envelope!r}")
        if envelope.get("success"):
            return envelope.get("data")
        error = envelope.get("error") or {}
        raise RealtimeError(error.get("code", "ERROR"), error.get("message", ""), error.get("details"))

    def call(self, event, data=None):
        """Emit any client event with an ack; return the ack's data or raise RealtimeError."""
        return self._call(event, data)

    def join_task(self, task_id) -> ViewersState:
        """Join a task room; return `{taskId, viewingUsers, typingUsers, totalViewing}`."""
        state = self._call("task:join", task_id)
        with self._lock:
            self._tasks[task_id] = True
        return state

    def leave_task(self, task_id):
        """Leave a task room (and stop restoring it after reconnects)."""
        with self._lock:
            self._tasks.pop(task_id, None)
        self._typing.forget(task_id)  # leaving clears typing on the server
        return self._call("task:leave", task_id)

    def set_typing(self, task_id, is_typing):
        """Say whether the user types in a task; debounced, never blocks (failures come as `error`)."""
        self._typing.set(task_id, bool(is_typing))

    def _send_typing(self, task_id, is_typing):
        try:
            self._sio.emit("task:typing", {"taskId": task_id, "isTyping": is_typing})
        except Exception as exc:  # disconnected: the server cleared typing with the socket anyway
            log.debug("typing not sent: %s", exc)

    def update_presence(self, status) -> UserPresence:
        """Set this device `online` or `away` (kept across reconnects); return the user's presence."""
        if status not in STATUSES:
            raise RealtimeError("VALIDATION_ERROR", "status must be online or away.")
        with self._lock:
            self._status = status
        return self._call("presence:update", status)

    def mark_read(self, ids) -> ReadState:
        """Mark one notification id or a list of ids read; every device of the user is told."""
        ids = [ids] if isinstance(ids, int) else list(ids)
        return self._call("notification:read", {"ids": ids})

    def mark_all_read(self) -> ReadState:
        """Mark every notification of the user read."""
        return self._call("notification:read_all")

    def refresh_token(self, token):
        """Use a new token for the same user (answer to `auth:expired`) here and on reconnects."""
        result = self._call("auth:refresh", token) if self._sio.connected else None
        with self._lock:
            self._token = token  # only once the server took it: a refused one must not be reused
            self._rest.token = token
        return result
