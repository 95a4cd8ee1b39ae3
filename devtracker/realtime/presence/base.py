"""Presence: who is connected, on how many devices, viewing which task, typing where.

`PresenceStore` is the interface every caller uses; `MemoryPresenceStore` (memory_store.py)
keeps it in this process, `RedisPresenceStore` (redis_store.py) in Redis for several
processes, chosen once in the factory (python-socketio's BaseManager / RedisManager shape).

Presence is per user (SPEC §4): a user's sockets are aggregated into one entry whose
status is `online` if any socket is online and `away` only if all are away. When the last
socket goes, the user stays listed (with `devices: 0`) until `finish_offline` is called
after the grace period, so a page reload does not flap anywhere: not in events, not in REST.
"""
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

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
