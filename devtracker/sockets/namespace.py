"""The Socket.IO namespace `/` (SPEC §3, §4): one handler per client event.

Every client event passes the same door (`_dispatch`): known event, rate, size, authenticated.
Handlers validate their payload, call the same services the REST API calls, and return data
that goes back in the HTTP envelope as the ack (or as an `error` event when no ack was asked).
What a handshake brings is read in handshake.py; the namespace's timers are in upkeep.py.
"""
import logging
import re
import time
from functools import partial

import sqlalchemy.exc
from flask import current_app, request
from flask_socketio import ConnectionRefusedError, Namespace

from ..auth import Principal, principal_from_token
from ..errors import (AppError, Forbidden, InvalidInput, RateLimited, Unauthorized, Unavailable,
                      error_body)
from ..errors import from_exception, load, ok_body
from ..extensions import db
from ..models.base import isoformat
from ..schemas.presence import TYPING_EVENT, VIEWER_EVENT
from ..schemas.socket import MarkReadSchema, PresenceUpdateSchema, TypingSchema
from ..services import notifications
from ..storage import group_for
from ..services.users import DIRECTORY_KEY
from ..strictjson import NESTING_MESSAGE, TOO_DEEP
from .acks import ack_requested
from .handshake import SocketState, parse_auth, task_id_of
from .upkeep import Housekeeper
from .limits import TokenBucket, message_size
from .replay import read_replay
from ..realtime.delivery.rooms import AUTHENTICATED_ROOM, task_room, user_room
from .upkeep import UpkeepMixin

log = logging.getLogger(__name__)

# Client event → handler method. Event names contain ':', so the dispatch is mapped here, once.
EVENTS = {
    "authenticate": "authenticate",
    "auth:refresh": "refresh_token",
    "task:join": "join_task",
    "task:leave": "leave_task",
    "task:typing": "typing",
    "presence:update": "update_presence",
    "notification:read": "read_notifications",
    "notification:read_all": "read_all_notifications",
}
TYPING, PRESENCE_UPDATE, MARK_READ = TypingSchema(), PresenceUpdateSchema(), MarkReadSchema()
EVENT_NAME_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def echoable(event):
    """The event name as errors may repeat it: a short name of safe characters, else None."""
    return event if isinstance(event, str) and EVENT_NAME_RE.fullmatch(event) else None


class RealtimeNamespace(UpkeepMixin, Namespace):
    """Authentication, presence, task rooms, typing, read state and replay on `/`."""

    def __init__(self, app, store, gate):
        super().__init__("/")
        self.app = app
        self.store = store
        self.gate = gate
        self.config = app.config
        self.sockets = {}
        self.housekeeper = None
        self._next_heartbeat = 0.0
        self._store_lost = False

    # --- plumbing -----------------------------------------------------------------------------
    def start_upkeep(self):
        """Set up the namespace's timers; once it is registered (`socketio.on_namespace`)."""
        self.housekeeper = Housekeeper(self.app, self.socketio, self._on_timer, self._on_tick)

    def stop(self):
        """Stop the background timers and write what waits for the directory (tests, shutdown)."""
        if self.housekeeper:
            self.housekeeper.stop()
        self.app.extensions[DIRECTORY_KEY].stop()

    def trigger_event(self, event, *args):
        # A client event named `connect` or `disconnect` is just an unknown event: only the
        # server's own lifecycle calls (outside any client event) reach those handlers.
        if event in ("connect", "disconnect") and ack_requested() is None:
            return super().trigger_event(event, *args)
        # Every other event reaches `on_client_event` through Flask-SocketIO's own lookup
        # (`on_` + name), in the request context it sets up for each event: args are (sid, *data).
        return super().trigger_event("client_event", args[0], event, *args[1:])

    def on_client_event(self, event, *args):
        """Every client event but the lifecycle ones: the one door, `_dispatch`."""
        return self._dispatch(event, *args)

    def emit_to(self, event, data, to, skip_sid=None):
        """Emit on this namespace: rooms through the message queue, this node's sockets directly.

        A socket's own answers (replay, acks-as-events, held live events) skip the queue, so
        they reach it in the order they are sent here.
        """
        self.socketio.emit(event, data, to=to, skip_sid=skip_sid, namespace=self.namespace,
                           ignore_queue=isinstance(to, str) and to in self.sockets)

    def _dispatch(self, event, *args):
        sid = request.sid
        state = self.sockets.get(sid)
        too_deep, event = event is TOO_DEEP, echoable(event)
        try:
            if state is None:
                raise Unauthorized("This socket is not connected.", code="NOT_CONNECTED")
            if not state.events.take():  # every event counts, known or not
                raise RateLimited("Too many events from this socket; slow down.")
            if too_deep:
                raise InvalidInput(details={"_schema": [NESTING_MESSAGE]})
            if event not in EVENTS:
                raise AppError("Unknown event.", code="UNKNOWN_EVENT", status=400)
            if message_size(args) > self.config["MAX_SOCKET_MESSAGE_BYTES"]:
                raise AppError(f"Messages are limited to {self.config['MAX_SOCKET_MESSAGE_BYTES']} bytes.",
                               code="PAYLOAD_TOO_LARGE", status=413)
            if state.principal is None and event != "authenticate":
                raise Unauthorized("Authenticate first: send `authenticate` with your token.",
                                   code="NOT_AUTHENTICATED")
            return ok_body(getattr(self, EVENTS[event])(state, args[0] if args else None))
        except Exception as exc:  # every failure becomes an envelope, never a dropped socket
            error = from_exception(exc)
            wanted = ack_requested()
            if wanted is not True and not getattr(error, "announced", False):
                body = {"code": error.code, "message": error.message, "event": event}
                if error.details:
                    body["details"] = error.details
                self.emit_to("error", body, to=sid)
            return error_body(error)

    # --- connection -----------------------------------------------------------------------------
    def on_connect(self, auth=None):
        sid = request.sid
        self.housekeeper.start()
        state = self._new_state(sid)
        try:
            token, cursors = parse_auth(auth)
            principal = principal_from_token(token) if token else None
            self.sockets[sid] = state
            if principal is not None:
                self._start_session(state, principal)
        except AppError as exc:
            self.sockets.pop(sid, None)
            raise ConnectionRefusedError(exc.message, exc.to_dict()) from None
        if principal is None:
            self.housekeeper.at(time.time() + self.config["AUTH_TIMEOUT_SECONDS"], "auth", sid)
            return True
        # The handshake's answer (CONNECT) is sent after this returns; what follows must come after it.
        self.socketio.start_background_task(self._finish_handshake, sid, cursors)
        return True

    def on_disconnect(self, reason=None):
        sid = request.sid
        state = self.sockets.pop(sid, None)
        self.gate.discard(sid)
        self.socketio.server.manager.ordered.forget(sid)
        if state is None or state.principal is None:
            return
        self._remove_socket(sid)

    def _remove_socket(self, sid):
        """Take a socket (of this node, or of a dead one) out of presence and tell the others."""
        left = self.store.remove_socket(sid, offline_at=time.time() + self.config["PRESENCE_GRACE_SECONDS"])
        if left is None:
            return
        user = Principal(left.user_id, left.presence["username"] if left.presence else left.user_id)
        skip = self.store.user_sockets(user.user_id)
        for task_id, user_left in left.left_tasks:
            if task_id in left.typing_cleared:
                self._typing_event(user, task_id, False, skip)
            if user_left:
                self.emit_to("task:user_left", self._viewer(user, task_id), to=task_room(task_id))
        if not left.last_device:  # the last one goes offline later, after the grace period
            self._announce(user.user_id)

    def _new_state(self, sid):
        c = self.config
        return SocketState(sid, events=TokenBucket(c["SOCKET_EVENT_RATE"], c["SOCKET_EVENT_BURST"]),
                           typing=TokenBucket(c["TYPING_EVENT_RATE"], max(1, int(c["TYPING_EVENT_RATE"] * 2))),
                           joins=TokenBucket(c["JOIN_EVENT_RATE"], max(1, int(c["JOIN_EVENT_RATE"] * 2))))

    def _start_session(self, state, principal):
        """Register an authenticated socket: presence, rooms, expiry timers. Live events are held."""
        sid, user_id = state.sid, principal.user_id
        cap = self.config["MAX_SOCKETS_PER_USER"]
        if len(self.store.user_sockets(user_id)) >= cap:
            raise AppError(f"A user may hold at most {cap} connections; close one first.",
                           code="TOO_MANY_CONNECTIONS", status=429)
        self.gate.open(sid)
        try:
            self.store.add_socket(sid, user_id, principal.username)
        except Exception:  # the presence store (Redis) is unreachable: refuse, do not half-join
            self.gate.discard(sid)
            log.exception("could not register %s in presence", sid)
            raise Unavailable("Presence is unavailable right now; try again shortly.") from None
        state.principal = principal
        self.enter_room(sid, user_room(user_id))
        self.enter_room(sid, AUTHENTICATED_ROOM)
        self._schedule_expiry(state)
        self.app.extensions[DIRECTORY_KEY].add(principal)
        self._announce(user_id)

    def _finish_session(self, sid, cursors):
        """Answer, list presence, replay what was missed, then release the held live events."""
        state = self.sockets.get(sid)
        if state is None:
            return
        user = state.principal
        missed = self._read_replay(user.user_id, cursors)
        if not group_for(self.app).wait_published(self.socketio.sleep):
            log.warning("writes committed before %s's replay were slow to publish", sid)
        self.emit_to("authenticated", {"success": True, "userId": user.user_id,
                                       "username": user.username}, to=sid)
        self.emit_to("presence:list", self.store.presence_list(), to=sid)
        send = partial(self.emit_to, to=sid)
        missed.send_to(send)
        self.emit_to("replay:done", missed.summary, to=sid)
        manager = self.socketio.server.manager
        manager.ordered.release(sid, missed.positions, send, missed.keep,
                                send_message=partial(manager.send_to, self.namespace, sid),
                                loose=missed.loose)

    def _read_replay(self, user_id, cursors, attempts=5):
        """Read the replay, waiting out a busy database (a full pool during a connect storm)
        rather than dropping the socket at the first timeout."""
        for attempt in range(attempts):
            try:
                return read_replay(user_id, cursors.notification, cursors.activity,
                                   self.config["ACTIVITY_REPLAY_LIMIT"], cursors.notification_seq,
                                   cursors.activity_seq)
            except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.TimeoutError):
                db.session.rollback()
                if attempt == attempts - 1:
                    raise
                log.warning("replay for %s waited on the database; trying again", user_id)
                self.socketio.sleep(0.5 * 2 ** attempt)

    def _finish_handshake(self, sid, cursors):
        manager = self.socketio.server.manager
        deadline = time.time() + 10
        while not manager.is_connected(sid, self.namespace):
            if sid not in self.sockets or time.time() > deadline:
                return
            self.socketio.sleep(0.005)
        with self.app.app_context():
            try:
                self._finish_session(sid, cursors)
            except Exception:
                self._abandon_session(sid)

    def _abandon_session(self, sid):
        """The replay failed (the database, most likely): drop the socket so that it comes back
        and replays from its cursors, rather than leaving it with its live events held."""
        log.exception("could not replay for %s; disconnecting it", sid)
        self.gate.discard(sid)
        self.emit_to("error", {"code": "REPLAY_FAILED", "event": None,
                               "message": "Could not catch up; reconnect to try again."}, to=sid)
        self.disconnect(sid)

    # --- client events ----------------------------------------------------------------------
    def authenticate(self, state, payload):
        """Legacy flow: `authenticate` with a token string or `{token, ...cursors}`."""
        if state.principal is not None:
            raise AppError("This socket is already authenticated.", code="ALREADY_AUTHENTICATED",
                           status=409)
        try:
            token, cursors = parse_auth(payload)
            principal = principal_from_token(token)
        except AppError as exc:
            self.emit_to("authenticated", {"success": False, "error": exc.to_dict()}, to=state.sid)
            exc.announced = True  # `authenticated` carried the error: no `error` event as well
            raise
        self._start_session(state, principal)
        try:
            self._finish_session(state.sid, cursors)
        except Exception:
            self._abandon_session(state.sid)
            raise
        return {"userId": principal.user_id, "username": principal.username}

    def refresh_token(self, state, payload):
        """`auth:refresh` with a new token for the same user keeps the socket."""
        token, _ = parse_auth(payload)
        principal = principal_from_token(token)
        if principal.user_id != state.principal.user_id:
            raise Forbidden("A refreshed token must be for the same user.", code="USER_MISMATCH")
        state.principal = principal
        self._schedule_expiry(state)
        return {"userId": principal.user_id, "expiresAt": isoformat(principal.expires_at)}

    def join_task(self, state, payload):
        """Join a task room; the ack is `{taskId, viewingUsers, typingUsers, totalViewing}`."""
        task_id = task_id_of(payload)
        if not state.joins.take():
            raise RateLimited("Too many task joins; slow down.")
        sid, user = state.sid, state.principal
        tasks = self.store.socket_tasks(sid)
        if task_id not in tasks:
            if len(tasks) >= self.config["MAX_TASKS_PER_SOCKET"]:
                raise AppError(f"A socket can view at most {self.config['MAX_TASKS_PER_SOCKET']} tasks.",
                               code="TOO_MANY_TASKS", status=409)
            first = self.store.join_task(sid, task_id)
            self.enter_room(sid, task_room(task_id))
            if first:
                self.emit_to("task:user_joined", self._viewer(user, task_id), to=task_room(task_id),
                             skip_sid=sid)
            self._announce(user.user_id)
        return self.store.task_state(task_id)

    def leave_task(self, state, payload):
        """Leave a task room (leaving one not joined is a no-op)."""
        task_id = task_id_of(payload)
        sid, user = state.sid, state.principal
        result = self.store.leave_task(sid, task_id)
        if result.was_member:
            self.leave_room(sid, task_room(task_id))
            if result.typing_cleared:
                self._typing_event(user, task_id, False, self.store.user_sockets(user.user_id))
            if result.user_left_room:
                self.emit_to("task:user_left", self._viewer(user, task_id), to=task_room(task_id))
            self._announce(user.user_id)
        return {"taskId": task_id}

    def typing(self, state, payload):
        """`{taskId, isTyping}`: broadcast on change only, to the room, never to the typist."""
        fields = load(TYPING, payload)
        task_id, is_typing = fields["taskId"], fields["isTyping"]
        if not state.typing.take():
            raise RateLimited("Too many typing events; slow down.")
        sid, user = state.sid, state.principal
        if task_id not in self.store.socket_tasks(sid):
            raise Forbidden("Join the task before typing in it.", code="NOT_IN_TASK")
        expires = time.time() + self.config["TYPING_TIMEOUT_SECONDS"] if is_typing else None
        if self.store.set_typing(sid, task_id, is_typing, expires):
            self._typing_event(user, task_id, is_typing, self.store.user_sockets(user.user_id))
        return {"taskId": task_id, "isTyping": is_typing}

    def update_presence(self, state, payload):
        """`"online"` or `"away"` (or `{status}`) for this socket; the user's status aggregates."""
        self.store.set_status(state.sid, load(PRESENCE_UPDATE, payload)["status"])
        presence = self._announce(state.principal.user_id)
        return presence or self.store.get_user(state.principal.user_id)

    def read_notifications(self, state, payload):
        """`{id}` or `{ids}`: mark read; every device of the user gets `notification:read`."""
        fields = load(MARK_READ, payload)
        ids = fields.get("ids") or [fields["id"]]
        return notifications.mark_read(state.principal.user_id, ids)

    def read_all_notifications(self, state, _payload):
        """Mark every notification of the user read."""
        return notifications.mark_all_read(state.principal.user_id)

    # --- helpers ----------------------------------------------------------------------------
    def _announce(self, user_id):
        """Tell everyone about a presence change, if there was one; return the presence sent."""
        presence, event = self.store.publish(user_id)
        if event:
            self.emit_to(event, presence, to=AUTHENTICATED_ROOM)
            return presence
        return None

    def _typing_event(self, user, task_id, is_typing, skip):
        payload = TYPING_EVENT.build({"user_id": user.user_id, "username": user.username,
                                      "task_id": task_id, "is_typing": is_typing})
        self.emit_to("task:typing", payload, to=task_room(task_id), skip_sid=skip)

    @staticmethod
    def _viewer(user, task_id):
        return VIEWER_EVENT.build({"user_id": user.user_id, "username": user.username, "task_id": task_id})


def current_namespace():
    """The app's namespace."""
    return current_app.extensions["devtracker.namespace"]
