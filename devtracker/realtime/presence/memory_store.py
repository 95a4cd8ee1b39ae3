"""Presence in this process's memory: one process, no Redis (`PresenceStore` in base.py)."""
import itertools
import json
import threading

from ...models.base import isoformat, utcnow
from ...schemas.presence import USER_PRESENCE, VIEWER
from ..encoded import EncodedList
from .base import AWAY, OFFLINE, ONLINE, SOCKET_STATUSES, Joined, Left, PresenceStore, TaskLeft


class _User:
    __slots__ = ("user_id", "username", "sids", "last_seen", "current_task", "lingering_status",
                 "published", "encoded")

    def __init__(self, user_id, username):
        self.user_id = user_id
        self.username = username
        self.sids = set()
        self.last_seen = utcnow()
        self.current_task = None
        self.lingering_status = ONLINE  # shown within the grace period: a reload must not flap
        self.published = None  # the (username, status, devices, currentTask) last announced
        self.encoded = None  # (UserPresence, its JSON) until the user changes


class _Socket:
    __slots__ = ("user_id", "status", "tasks")

    def __init__(self, user_id, status):
        self.user_id = user_id
        self.status = status
        self.tasks = {}  # task_id -> join stamp; the user's current task is their latest join


class MemoryPresenceStore(PresenceStore):
    """Presence in this process's memory: one process, no Redis."""

    def __init__(self):
        self._lock = threading.RLock()
        self._users = {}
        self._sockets = {}
        self._rooms = {}  # task_id -> {user_id: set(sid)}
        self._typing = {}  # task_id -> {user_id: (sid, expires_at)}
        self._joins = itertools.count()
        self._offline = {}  # user_id -> when the grace period ends
        self._list = None  # the presence list as sent, until anyone changes

    # --- users and sockets -------------------------------------------------------------
    def add_socket(self, sid, user_id, username, status=ONLINE):
        with self._lock:
            user = self._users.get(user_id)
            first = user is None or not user.sids
            if user is None:
                user = self._users[user_id] = _User(user_id, username)
            user.username = username
            user.sids.add(sid)
            self._offline.pop(user_id, None)
            user.last_seen = utcnow()
            self._sockets[sid] = _Socket(user_id, status)
            self._changed(user)
            return Joined(self._presence(user), first)

    def remove_socket(self, sid, offline_at=None):
        with self._lock:
            sock = self._sockets.get(sid)
            if sock is None:
                return None
            left = Left(user_id=sock.user_id, presence={}, last_device=False)
            for task_id in list(sock.tasks):
                result = self.leave_task(sid, task_id)
                left.left_tasks.append((task_id, result.user_left_room))
                if result.typing_cleared:
                    left.typing_cleared.append(task_id)
            user = self._users[sock.user_id]
            user.lingering_status = self._status(user)
            del self._sockets[sid]
            user.sids.discard(sid)
            user.last_seen = utcnow()
            left.last_device = not user.sids
            self._changed(user)
            left.presence = self._presence(user)
            if left.last_device and offline_at is not None:
                self._offline[user.user_id] = offline_at
            return left

    def set_status(self, sid, status):
        if status not in SOCKET_STATUSES:
            raise ValueError(f"status must be one of {SOCKET_STATUSES}")
        with self._lock:
            sock = self._sockets[sid]
            user = self._users[sock.user_id]
            before = self._status(user)
            sock.status = status
            user.last_seen = utcnow()
            self._changed(user)
            presence = self._presence(user)
            return presence, presence["status"] != before

    def publish(self, user_id):
        with self._lock:
            user = self._users.get(user_id)
            if user is None or not user.sids:
                return None, None
            presence = self._presence(user)
            snapshot = (user.username, presence["status"], presence["devices"], user.current_task)
            if snapshot == user.published:
                return presence, None
            event = "user:online" if user.published is None else "presence:update"
            user.published = snapshot
            return presence, event

    def finish_offline(self, user_id):
        with self._lock:
            user = self._users.get(user_id)
            if user is None or user.sids:
                return None
            del self._users[user_id]
            self._list = None
            presence = self._presence(user)
            presence["status"] = OFFLINE
            presence["currentTask"] = None
            return presence

    def expire_offline(self, now):
        with self._lock:
            due = [user_id for user_id, when in self._offline.items() if when <= now]
            gone = []
            for user_id in due:
                del self._offline[user_id]
                presence = self.finish_offline(user_id)
                if presence is not None:
                    gone.append(presence)
            return gone

    def get_user(self, user_id):
        with self._lock:
            user = self._users.get(user_id)
            return self._presence(user) if user else None

    def list_users(self):
        with self._lock:
            return [self._presence(user) for user in self._users.values()]

    def presence_list(self):
        with self._lock:
            if self._list is None:
                entries = [self._encoded(user) for user in self._users.values()]
                self._list = EncodedList([presence for presence, _ in entries],
                                         "[" + ",".join([text for _, text in entries]) + "]")
            return self._list

    def socket_user(self, sid):
        with self._lock:
            sock = self._sockets.get(sid)
            return sock.user_id if sock else None

    def user_sockets(self, user_id):
        with self._lock:
            user = self._users.get(user_id)
            return list(user.sids) if user else []

    # --- task rooms ----------------------------------------------------------------------
    def join_task(self, sid, task_id):
        with self._lock:
            sock = self._sockets[sid]
            room = self._rooms.setdefault(task_id, {})
            sids = room.setdefault(sock.user_id, set())
            first = not sids
            sids.add(sid)
            sock.tasks[task_id] = next(self._joins)
            user = self._users[sock.user_id]
            user.current_task = task_id
            self._changed(user)
            return first

    def leave_task(self, sid, task_id):
        with self._lock:
            sock = self._sockets.get(sid)
            room = self._rooms.get(task_id, {})
            sids = room.get(sock.user_id) if sock else None
            if not sock or not sids or sid not in sids:
                return TaskLeft(False, False, False)
            sids.discard(sid)
            del sock.tasks[task_id]
            user_left = not sids
            if user_left:
                del room[sock.user_id]
                if not room:
                    del self._rooms[task_id]
            typing = self._typing.get(task_id, {})
            entry = typing.get(sock.user_id)
            cleared = bool(entry) and (user_left or entry[0] == sid)
            if cleared:
                self._drop_typing(task_id, sock.user_id)
            user = self._users[sock.user_id]
            if user.current_task == task_id and user_left:
                user.current_task = self._latest_task(user)
                self._changed(user)
            return TaskLeft(True, user_left, cleared)

    def socket_tasks(self, sid):
        with self._lock:
            sock = self._sockets.get(sid)
            return list(sock.tasks) if sock else []

    def task_viewers(self, task_id):
        with self._lock:
            viewers = []
            for user_id in self._rooms.get(task_id, {}):
                user = self._users[user_id]
                viewers.append(VIEWER.build({"userId": user_id, "username": user.username,
                                             "status": self._status(user)}))
            return viewers

    # --- typing -----------------------------------------------------------------------------
    def set_typing(self, sid, task_id, is_typing, expires_at=None):
        with self._lock:
            sock = self._sockets[sid]
            typing = self._typing.setdefault(task_id, {})
            was = sock.user_id in typing
            if is_typing:
                typing[sock.user_id] = (sid, expires_at)
            else:
                self._drop_typing(task_id, sock.user_id)
            if not typing:
                self._typing.pop(task_id, None)
            return was != bool(is_typing)

    def typing_users(self, task_id):
        with self._lock:
            return list(self._typing.get(task_id, {}))

    def expire_typing(self, now):
        with self._lock:
            expired = [(task_id, user_id)
                       for task_id, typing in self._typing.items()
                       for user_id, (_sid, expires_at) in typing.items()
                       if expires_at is not None and expires_at <= now]
            for task_id, user_id in expired:
                self._drop_typing(task_id, user_id)
            return expired

    # --- stats ------------------------------------------------------------------------------
    def stats(self):
        with self._lock:
            return {
                "connectedSockets": len(self._sockets),
                "connectedUsers": len(self._users),
                "onlineUsers": sum(1 for u in self._users.values() if self._status(u) == ONLINE),
                "activeRooms": len(self._rooms),
            }

    # --- internals --------------------------------------------------------------------------
    def _changed(self, user):
        user.encoded = None
        self._list = None

    def _encoded(self, user):
        if user.encoded is None:
            presence = self._presence(user)
            user.encoded = (presence, json.dumps(presence, separators=(",", ":")))
        return user.encoded

    def _drop_typing(self, task_id, user_id):
        typing = self._typing.get(task_id)
        if typing is not None:
            typing.pop(user_id, None)
            if not typing:
                del self._typing[task_id]

    def _latest_task(self, user):
        joins = [(stamp, task_id) for sid in user.sids
                 for task_id, stamp in self._sockets[sid].tasks.items()]
        return max(joins)[1] if joins else None

    def _status(self, user):
        if not user.sids:
            return user.lingering_status
        if any(self._sockets[sid].status == ONLINE for sid in user.sids):
            return ONLINE
        return AWAY

    def _presence(self, user):
        return USER_PRESENCE.build({
            "userId": user.user_id,
            "username": user.username,
            "status": self._status(user),
            "lastSeen": isoformat(user.last_seen),
            "currentTask": user.current_task,
            "devices": len(user.sids),
        })

