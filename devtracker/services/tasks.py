"""Task updates: recorded as activity, pushed to the task room and the owner's sockets."""
from ..models import Activity
from ..realtime.delivery.emitter import emit, together
from ..realtime.delivery.rooms import task_room, user_room
from ..schemas.task import TASK_UPDATE
from .activity import ACTIVITY_LOCK, activity_row, stream_activity
from .actors import resolve_actor
from ..storage import commit_write


def _target(task, task_id):
    for key in ("title", "name"):
        if isinstance(task.get(key), str) and task[key].strip():
            return task[key].strip()[:500]
    return task_id


def publish_task_update(principal, fields, idempotency=None):
    """Record a task update as activity, then push `task:updated` (once per socket) and the activity."""
    actor = resolve_actor(principal, fields.get("actor"))
    task_id, owner_id = fields["taskId"], fields.get("ownerId")

    data = {"task": fields["task"]}
    if owner_id:
        data["ownerId"] = owner_id
    row, activity_payload = activity_row(actor, principal.user_id, "task", fields["action"],
                                         _target(fields["task"], task_id), task_id, data)

    def build(ids):
        activity = activity_payload(ids[0])
        update = TASK_UPDATE.build({"taskId": task_id, "action": fields["action"],
                                    "task": fields["task"], "userId": actor.user_id,
                                    "username": actor.username, "timestamp": activity["timestamp"]})
        return {"update": update, "activity": activity}

    def publish(body):
        rooms = [task_room(task_id)] + ([user_room(owner_id)] if owner_id else [])
        with together():  # a viewer gets both events in one write
            emit("task:updated", body["update"], to=rooms)
            stream_activity(body["activity"])

    return commit_write(idempotency, 200, Activity.__table__, [row], build, [ACTIVITY_LOCK],
                        publish).body["update"]
