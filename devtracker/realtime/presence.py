"""Presence: who is connected, on how many devices, viewing which task, typing where.

`PresenceStore` is the interface every caller uses; `MemoryPresenceStore` keeps it in this
process. A Redis store implements the same interface for several processes, chosen once in
the factory (python-socketio's BaseManager / RedisManager shape).

Presence is per user (SPEC §4): a user's sockets are aggregated into one entry whose
status is `online` if any socket is online and `away` only if all are away. When the last
socket goes, the user stays listed (with `devices: 0`) until `finish_offline` is called
after the grace period, so a page reload does not flap anywhere: not in events, not in REST.
"""
import itertools
import json
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from ..models.base import isoformat, utcnow
from .encoded import EncodedList

ONLINE, AWAY, OFFLINE = "online", "away", "offline"
SOCKET_STATUSES = (ONLINE, AWAY)


@dataclass
class Joined:
    """What `add_socket` did: the user's presence after, and whether this was their first device."""

    presence: dict
    first_device: bool


@dataclass
class Left:
    """What `remove_socket` did: the tasks the socket left and what each left behind."""

    user_id: str
    presence: dict
    last_device: bool
    left_tasks: list = field(default_factory=list)  # [(task_id, user_left_room)]
    typing_cleared: list = field(default_factory=list)  # [task_id] where this user stopped typing


@dataclass
class TaskLeft:
    """What `leave_task` did."""

    was_member: bool
    user_left_room: bool
    typing_cleared: bool


class PresenceStore(ABC):
    """The one interface to presence; callers never see how it is kept."""

    @abstractmethod
    def add_socket(self, sid, user_id, username, status=ONLINE):
        """Register an authenticated socket; return a `Joined`."""

    @abstractmethod
    def remove_socket(self, sid, offline_at=None):
        """Forget a socket, leaving its rooms; return a `Left`, or None for an unknown socket.

        When it was the user's last device and `offline_at` is given, the user goes offline at
        that time (see `expire_offline`) unless a device comes back first.
        """

    @abstractmethod
    def set_status(self, sid, status):
        """Set one socket's status; return (presence, changed) where changed is the user's status."""

    @abstractmethod
    def publish(self, user_id):
        """Compare a user's presence with what was last announced and record it.

        Returns (presence, event): event is `user:online` when nothing was announced yet,
        `presence:update` when status, devices, current task or name changed, else None.
        A user within the grace period (no device) is never announced: a reload must not flap.
        """

    @abstractmethod
    def finish_offline(self, user_id):
        """After the grace period: drop a user who still has no socket; return the final presence or None."""

    @abstractmethod
    def expire_offline(self, now):
        """Finish every user whose grace period ended by `now`; return their final presences."""

    @abstractmethod
    def get_user(self, user_id):
        """The UserPresence of a listed user, or None."""

    @abstractmethod
    def list_users(self):
        """UserPresence of every listed user (connected, or within the grace period)."""

    def presence_list(self):
        """`list_users()` for a `presence:list` event: may be shared and cached; never modify it."""
        return self.list_users()

    @abstractmethod
    def socket_user(self, sid):
        """The user id of a registered socket, or None."""

    @abstractmethod
    def user_sockets(self, user_id):
        """The sids of every socket of a user."""

    @abstractmethod
    def join_task(self, sid, task_id):
        """Put a socket in a task room; return True when it is the user's first socket there."""

    @abstractmethod
    def leave_task(self, sid, task_id):
        """Take a socket out of a task room; return a `TaskLeft`."""

    @abstractmethod
    def socket_tasks(self, sid):
        """The task ids a socket is in."""

    @abstractmethod
    def task_viewers(self, task_id):
        """`[{userId, username, status}]` of the users viewing a task."""

    @abstractmethod
    def set_typing(self, sid, task_id, is_typing, expires_at=None):
        """Set the socket's user typing (until `expires_at`) or not; return True when that changed."""

    @abstractmethod
    def typing_users(self, task_id):
        """User ids typing in a task."""

    @abstractmethod
    def expire_typing(self, now):
        """Clear typing that ran past its expiry; return [(task_id, user_id)] cleared."""

    @abstractmethod
    def stats(self):
        """`{connectedSockets, connectedUsers, onlineUsers, activeRooms}`."""

    def task_state(self, task_id):
        """`{taskId, viewingUsers, typingUsers, totalViewing}` for REST and the join ack."""
        viewers = self.task_viewers(task_id)
        return {"taskId": task_id, "viewingUsers": viewers,
                "typingUsers": self.typing_users(task_id), "totalViewing": len(viewers)}

    def check(self):
        """Raise when the backing store is unreachable (health checks)."""


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
                viewers.append({"userId": user_id, "username": user.username,
                                "status": self._status(user)})
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
        return {
            "userId": user.user_id,
            "username": user.username,
            "status": self._status(user),
            "lastSeen": isoformat(user.last_seen),
            "currentTask": user.current_task,
            "devices": len(user.sids),
        }

