"""Presence in Redis, shared by every node of a cluster (`REDIS_URL`).

Same interface and semantics as `MemoryPresenceStore`. Changes to one user are serialised by a
short per-user Redis lock, so two nodes never interleave the steps of, say, a last device
leaving on one node and a new one arriving on another. Each node heartbeats a key with a
TTL; when a node stops heartbeating (killed, partitioned), another node takes its sockets
out of presence, so its users go offline everywhere within NODE_TTL_SECONDS plus the grace
period. Every key starts with `REDIS_KEY_PREFIX`, so deployments can share one Redis.
"""
import json
import logging
import time
import uuid

import redis

from ...models.base import isoformat, utcnow
from ...schemas.presence import USER_PRESENCE, VIEWER
from .base import AWAY, OFFLINE, ONLINE, SOCKET_STATUSES, Joined, Left, PresenceStore, TaskLeft

log = logging.getLogger(__name__)
SEP = "\x1f"


class RedisPresenceStore(PresenceStore):
    """Presence for many processes, kept in Redis."""

    def __init__(self, url, prefix="devtracker", node_ttl=15.0, lock_timeout=5.0):
        self.redis = redis.Redis.from_url(url, decode_responses=True, health_check_interval=10,
                                          socket_timeout=5, socket_connect_timeout=5)
        self.p = f"{prefix}:presence:"
        self.node = uuid.uuid4().hex[:12]
        self.node_ttl = node_ttl
        self.lock_timeout = lock_timeout
        self._registered = False

    # --- keys ---------------------------------------------------------------------------------
    def _k(self, *parts):
        return self.p + ":".join(parts)

    def _lock(self, user_id):
        return self.redis.lock(self._k("lock", user_id), timeout=self.lock_timeout,
                               blocking_timeout=self.lock_timeout)

    # --- reading a user -----------------------------------------------------------------------
    def _statuses(self, sids):
        if not sids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for sid in sids:
            pipe.hget(self._k("sock", sid), "status")
        return [s for s in pipe.execute() if s]

    def _presence(self, user_id, user=None, sids=None):
        user = user if user is not None else self.redis.hgetall(self._k("user", user_id))
        if not user:
            return None
        sids = sids if sids is not None else self.redis.smembers(self._k("usersocks", user_id))
        statuses = self._statuses(sids)
        if not statuses:
            status = user.get("lingering", ONLINE)
        else:
            status = ONLINE if ONLINE in statuses else AWAY
        return USER_PRESENCE.build({
            "userId": user_id, "username": user.get("username", user_id), "status": status,
            "lastSeen": user.get("lastSeen"), "currentTask": user.get("currentTask") or None,
            "devices": len(statuses)})

    def _refresh_online(self, presence):
        if presence and presence["status"] == ONLINE:
            self.redis.sadd(self._k("online"), presence["userId"])
        elif presence:
            self.redis.srem(self._k("online"), presence["userId"])

    def _latest_task(self, user_id):
        best = None
        for sid in self.redis.smembers(self._k("usersocks", user_id)):
            top = self.redis.zrevrange(self._k("socktasks", sid), 0, 0, withscores=True)
            if top and (best is None or top[0][1] > best[1]):
                best = top[0]
        return best[0] if best else ""

    # --- users and sockets --------------------------------------------------------------------
    def add_socket(self, sid, user_id, username, status=ONLINE):
        with self._lock(user_id):
            first = self.redis.scard(self._k("usersocks", user_id)) == 0
            now = isoformat(utcnow())
            pipe = self.redis.pipeline()
            pipe.hset(self._k("sock", sid), mapping={"user": user_id, "status": status, "node": self.node})
            pipe.sadd(self._k("usersocks", user_id), sid)
            pipe.sadd(self._k("node", self.node), sid)
            # Registered with its sockets, so this node is never mistaken for a dead one.
            pipe.set(self._k("alive", self.node), str(time.time()), ex=max(1, round(self.node_ttl)))
            pipe.sadd(self._k("nodes"), self.node)
            pipe.sadd(self._k("socks"), sid)
            pipe.sadd(self._k("users"), user_id)
            pipe.hset(self._k("user", user_id), mapping={"username": username, "lastSeen": now})
            pipe.hsetnx(self._k("user", user_id), "currentTask", "")
            pipe.zrem(self._k("offline"), user_id)
            pipe.execute()
            presence = self._presence(user_id)
            self._refresh_online(presence)
            return Joined(presence, first)

    def remove_socket(self, sid, offline_at=None):
        user_id = self.redis.hget(self._k("sock", sid), "user")
        if user_id is None:
            return None
        with self._lock(user_id):
            left = Left(user_id=user_id, presence={}, last_device=False)
            for task_id in self.redis.zrange(self._k("socktasks", sid), 0, -1):
                result = self._leave_task(sid, user_id, task_id)
                left.left_tasks.append((task_id, result.user_left_room))
                if result.typing_cleared:
                    left.typing_cleared.append(task_id)
            before = self._presence(user_id)
            node = self.redis.hget(self._k("sock", sid), "node") or self.node
            pipe = self.redis.pipeline()
            pipe.srem(self._k("usersocks", user_id), sid)
            pipe.delete(self._k("sock", sid), self._k("socktasks", sid))
            pipe.srem(self._k("node", node), sid)
            pipe.srem(self._k("socks"), sid)
            pipe.hset(self._k("user", user_id), mapping={
                "lingering": before["status"] if before else ONLINE, "lastSeen": isoformat(utcnow())})
            pipe.execute()
            left.last_device = self.redis.scard(self._k("usersocks", user_id)) == 0
            if left.last_device and offline_at is not None:
                self.redis.zadd(self._k("offline"), {user_id: offline_at})
            left.presence = self._presence(user_id)
            self._refresh_online(left.presence)
            return left

    def set_status(self, sid, status):
        if status not in SOCKET_STATUSES:
            raise ValueError(f"status must be one of {SOCKET_STATUSES}")
        user_id = self.redis.hget(self._k("sock", sid), "user")
        if user_id is None:
            raise KeyError(sid)
        with self._lock(user_id):
            before = self._presence(user_id)
            self.redis.hset(self._k("sock", sid), "status", status)
            self.redis.hset(self._k("user", user_id), "lastSeen", isoformat(utcnow()))
            presence = self._presence(user_id)
            self._refresh_online(presence)
            return presence, presence["status"] != before["status"]

    def publish(self, user_id):
        with self._lock(user_id):
            user = self.redis.hgetall(self._k("user", user_id))
            sids = self.redis.smembers(self._k("usersocks", user_id))
            if not user or not sids:
                return None, None
            presence = self._presence(user_id, user, sids)
            snapshot = json.dumps([presence["username"], presence["status"], presence["devices"],
                                   presence["currentTask"]])
            if snapshot == user.get("published"):
                return presence, None
            event = "user:online" if not user.get("published") else "presence:update"
            self.redis.hset(self._k("user", user_id), "published", snapshot)
            return presence, event

    def finish_offline(self, user_id):
        with self._lock(user_id):
            if self.redis.scard(self._k("usersocks", user_id)):
                return None
            presence = self._presence(user_id)
            if presence is None:
                return None
            pipe = self.redis.pipeline()
            pipe.delete(self._k("user", user_id))
            pipe.srem(self._k("users"), user_id)
            pipe.srem(self._k("online"), user_id)
            pipe.zrem(self._k("offline"), user_id)
            pipe.execute()
            presence.update(status=OFFLINE, currentTask=None)
            return presence

    def expire_offline(self, now):
        gone = []
        for user_id in self.redis.zrangebyscore(self._k("offline"), "-inf", now):
            if self.redis.zrem(self._k("offline"), user_id):  # claimed: only one node announces
                presence = self.finish_offline(user_id)
                if presence is not None:
                    gone.append(presence)
        return gone

    def get_user(self, user_id):
        return self._presence(user_id)

    def list_users(self):
        return [p for p in (self._presence(uid) for uid in self.redis.smembers(self._k("users"))) if p]

    def socket_user(self, sid):
        return self.redis.hget(self._k("sock", sid), "user")

    def user_sockets(self, user_id):
        return list(self.redis.smembers(self._k("usersocks", user_id)))

    # --- task rooms ---------------------------------------------------------------------------
    def join_task(self, sid, task_id):
        user_id = self.redis.hget(self._k("sock", sid), "user")
        if user_id is None:
            raise KeyError(sid)
        with self._lock(user_id):
            first = self.redis.scard(self._k("roomsocks", task_id, user_id)) == 0
            pipe = self.redis.pipeline()
            pipe.sadd(self._k("roomsocks", task_id, user_id), sid)
            pipe.sadd(self._k("room", task_id), user_id)
            pipe.sadd(self._k("rooms"), task_id)
            pipe.zadd(self._k("socktasks", sid), {task_id: self.redis.incr(self._k("joinseq"))})
            pipe.hset(self._k("user", user_id), "currentTask", task_id)
            pipe.execute()
            return first

    def leave_task(self, sid, task_id):
        user_id = self.redis.hget(self._k("sock", sid), "user")
        if user_id is None:
            return TaskLeft(False, False, False)
        with self._lock(user_id):
            return self._leave_task(sid, user_id, task_id)

    def _leave_task(self, sid, user_id, task_id):
        if not self.redis.srem(self._k("roomsocks", task_id, user_id), sid):
            return TaskLeft(False, False, False)
        self.redis.zrem(self._k("socktasks", sid), task_id)
        user_left = self.redis.scard(self._k("roomsocks", task_id, user_id)) == 0
        if user_left:
            self.redis.srem(self._k("room", task_id), user_id)
            if self.redis.scard(self._k("room", task_id)) == 0:
                self.redis.srem(self._k("rooms"), task_id)
        typist = self.redis.hget(self._k("typing", task_id), user_id)
        cleared = typist is not None and (user_left or typist == sid)
        if cleared:
            self._drop_typing(task_id, user_id)
        if user_left and self.redis.hget(self._k("user", user_id), "currentTask") == task_id:
            self.redis.hset(self._k("user", user_id), "currentTask", self._latest_task(user_id))
        return TaskLeft(True, user_left, cleared)

    def socket_tasks(self, sid):
        return self.redis.zrange(self._k("socktasks", sid), 0, -1)

    def task_viewers(self, task_id):
        viewers = []
        for user_id in self.redis.smembers(self._k("room", task_id)):
            presence = self._presence(user_id)
            if presence:
                viewers.append(VIEWER.build(presence))
        return viewers

    # --- typing -------------------------------------------------------------------------------
    def set_typing(self, sid, task_id, is_typing, expires_at=None):
        user_id = self.redis.hget(self._k("sock", sid), "user")
        if user_id is None:
            raise KeyError(sid)
        with self._lock(user_id):
            was = self.redis.hexists(self._k("typing", task_id), user_id)
            if is_typing:
                self.redis.hset(self._k("typing", task_id), user_id, sid)
                if expires_at is not None:
                    self.redis.zadd(self._k("typingexp"), {task_id + SEP + user_id: expires_at})
            else:
                self._drop_typing(task_id, user_id)
            return was != bool(is_typing)

    def _drop_typing(self, task_id, user_id):
        self.redis.hdel(self._k("typing", task_id), user_id)
        self.redis.zrem(self._k("typingexp"), task_id + SEP + user_id)

    def typing_users(self, task_id):
        return list(self.redis.hkeys(self._k("typing", task_id)))

    def expire_typing(self, now):
        expired = []
        for member in self.redis.zrangebyscore(self._k("typingexp"), "-inf", now):
            if self.redis.zrem(self._k("typingexp"), member):  # claimed by this node
                task_id, user_id = member.split(SEP, 1)
                if self.redis.hdel(self._k("typing", task_id), user_id):
                    expired.append((task_id, user_id))
        return expired

    # --- stats, health, nodes -------------------------------------------------------------------
    def stats(self):
        pipe = self.redis.pipeline(transaction=False)
        for key in ("socks", "users", "online", "rooms"):
            pipe.scard(self._k(key))
        sockets, users, online, rooms = pipe.execute()
        return {"connectedSockets": sockets, "connectedUsers": users, "onlineUsers": online,
                "activeRooms": rooms}

    def check(self):
        self.redis.ping()

    def heartbeat(self):
        """Say this node is alive; False when Redis had forgotten us (restarted, or we stalled)."""
        key, ttl = self._k("alive", self.node), max(1, round(self.node_ttl))
        known = self.redis.set(key, str(time.time()), ex=ttl, xx=True)
        if not known:
            self.redis.set(key, str(time.time()), ex=ttl)
        self.redis.sadd(self._k("nodes"), self.node)
        first, self._registered = not self._registered, True
        return bool(known) or first

    def dead_node_sockets(self):
        """Claim the sockets of nodes that stopped heartbeating; yield (sid, user_id) to remove."""
        for node in self.redis.smembers(self._k("nodes")):
            if node == self.node or self.redis.exists(self._k("alive", node)):
                continue
            if not self.redis.set(self._k("reaping", node), self.node, nx=True, ex=60):
                continue
            for sid in self.redis.smembers(self._k("node", node)):
                yield sid
            self.redis.delete(self._k("node", node))
            self.redis.srem(self._k("nodes"), node)

    def forget_node(self):
        """On a clean shutdown: this node's sockets are gone now, not after the TTL."""
        self.redis.delete(self._k("alive", self.node))
