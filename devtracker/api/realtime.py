"""Health, stats, presence queries and admin broadcasts."""
from flask import jsonify

from ..errors import ok
from ..models.base import isoformat, utcnow
from ..schemas.broadcast import BroadcastBodySchema, BroadcastSchema
from ..schemas.presence import (HealthSchema, OnlineUsersSchema, StatsSchema, TaskViewersSchema,
                                UserStatusSchema)
from ..services import presence
from ..services.broadcast import broadcast as broadcast_service
from .blueprint import bp
from .endpoint import endpoint


@bp.get("/health")
@endpoint("Health of the server and what it depends on", public=True, response=HealthSchema)
def health():
    """`healthy` with 200, or `degraded` with 503 when the database or Redis cannot be reached."""
    healthy, checks, stats = presence.health()
    data = {"status": "healthy" if healthy else "degraded", "timestamp": isoformat(utcnow()),
            "stats": stats, "checks": checks}
    if healthy:
        return ok(data)
    response = jsonify({"success": False, "data": data, "error": {
        "code": "SERVICE_UNAVAILABLE", "message": "A backing service is unreachable.",
        "details": {k: v for k, v in checks.items() if v != "ok"}}})
    response.status_code = 503
    return response


@bp.get("/stats")
@endpoint("Connection and user counts", response=StatsSchema)
def stats():
    """Sockets, users ever seen, connected users, online users and active task rooms."""
    return ok(presence.get_stats())


@bp.get("/users/online")
@endpoint("Connected users with their presence", response=OnlineUsersSchema)
def users_online():
    """Every connected user (online and away), one entry per user however many devices."""
    return ok(presence.online_users())


@bp.get("/task/<taskId>/users")
@endpoint("Who is viewing and typing in a task", response=TaskViewersSchema, path_ids=("taskId",))
def task_users(taskId):  # noqa: N803  (the path parameter's name is the contract's)
    """Viewers (per user) and typists of one task."""
    return ok(presence.task_users(taskId))


@bp.get("/user/<userId>/status")
@endpoint("One user's presence", response=UserStatusSchema, path_ids=("userId",))
def user_status(userId):  # noqa: N803
    """Whether a user is connected, their status and when they were last seen."""
    return ok(presence.user_status(userId))


@bp.post("/broadcast")
@endpoint("Announce a system:* event to every connected user", auth=("admin",),
          body=BroadcastBodySchema(), response=BroadcastSchema, idempotent=True)
def broadcast(body, idempotency):
    """Admins only. Every authenticated socket receives `event` with `{message, data, timestamp}`."""
    return ok(broadcast_service(body, idempotency))
