"""Presence queries for REST: stats, online users, task viewers, one user's status."""
from sqlalchemy import text

from ..extensions import db
from ..models.base import isoformat
from ..realtime.presence import OFFLINE, ONLINE, get_presence
from ..schemas.presence import STATS, USER_STATUS
from .users import count_users, last_seen


def get_stats():
    """`{connectedSockets, onlineUsers, totalUsers, connectedUsers, activeRooms}`."""
    return STATS.build({**get_presence().stats(), "totalUsers": count_users()})


def online_users():
    """`{count, users}`: every connected user (online and away), online first, then by name."""
    users = sorted(get_presence().list_users(),
                   key=lambda u: (u["status"] != ONLINE, u["username"].lower(), u["userId"]))
    return {"count": len(users), "users": users}


def task_users(task_id):
    """`{taskId, viewingUsers, typingUsers, totalViewing}`."""
    return get_presence().task_state(task_id)


def user_status(user_id):
    """`{userId, isOnline, status, lastSeen}` from presence, else from the directory."""
    presence = get_presence().get_user(user_id)
    if presence is not None:
        return USER_STATUS.build({"userId": user_id, "isOnline": True, "status": presence["status"],
                                  "lastSeen": presence["lastSeen"]})
    return USER_STATUS.build({"userId": user_id, "isOnline": False, "status": OFFLINE,
                              "lastSeen": isoformat(last_seen(user_id))})


def health():
    """Check the database and the presence store; return (healthy, checks, stats)."""
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        checks["database"] = "ok"
    except Exception:  # any failure to reach it is "unreachable"; the detail goes to the log
        db.session.rollback()
        checks["database"] = "unreachable"
    store = get_presence()
    try:
        store.check()
        checks["presence"] = "ok"
        stats = store.stats()
    except Exception:
        checks["presence"] = "unreachable"
        stats = {"connectedSockets": 0, "onlineUsers": 0, "activeRooms": 0}
    healthy = all(v == "ok" for v in checks.values())
    return healthy, checks, {k: stats[k] for k in ("connectedSockets", "onlineUsers", "activeRooms")}
