"""Task updates: recorded as activity, pushed to the task room and the owner's sockets."""
from ..models.base import isoformat, utcnow
from ..realtime.emitter import emit
from ..realtime.rooms import task_room, user_room
from .activity import add_activity, serialize_activity, stream_activity
from .actors import resolve_actor
from .idempotency import run_once
from .ordering import ACTIVITY_STREAM, ordered_delivery


def _target(task, task_id):
    for key in ("title", "name"):
        if isinstance(task.get(key), str) and task[key].strip():
            return task[key].strip()[:500]
    return task_id


def publish_task_update(principal, fields, idempotency=None):
    """Record a task update as activity, then push `task:updated` (once per socket) and the activity."""
    actor = resolve_actor(principal, fields.get("actor"))
    task_id, owner_id = fields["taskId"], fields.get("ownerId")

    def write():
        data = {"task": fields["task"]}
        if owner_id:
            data["ownerId"] = owner_id
        row = add_activity(actor, principal.user_id, "task", fields["action"],
                           _target(fields["task"], task_id), task_id, data)
        update = {"taskId": task_id, "action": fields["action"], "task": fields["task"],
                  "userId": actor.user_id, "username": actor.username,
                  "timestamp": isoformat(row.created_at or utcnow())}
        return {"update": update, "activity": serialize_activity(row)}

    with ordered_delivery(ACTIVITY_STREAM):
        outcome = run_once(idempotency, 200, write)
        if outcome.fresh:
            rooms = [task_room(task_id)] + ([user_room(owner_id)] if owner_id else [])
            emit("task:updated", outcome.body["update"], to=rooms)
            stream_activity(outcome.body["activity"])
    return outcome.body["update"]
