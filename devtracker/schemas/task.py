"""Task update bodies and the TaskUpdate payload."""
from marshmallow import Schema, fields, validate

from .common import ActorSchema, Id, JsonObject, StrictSchema
from .payload import Payload

TASK_ACTIONS = ("created", "updated", "deleted", "status_changed")


class TaskUpdateBodySchema(StrictSchema):
    """POST /task/update: `{taskId, action, task, ownerId?, actor?}`."""

    taskId = Id(required=True)
    action = fields.String(required=True, validate=validate.OneOf(TASK_ACTIONS))
    task = JsonObject("MAX_TASK_BYTES", required=True, allow_none=False)
    ownerId = Id(allow_none=True)
    actor = fields.Nested(ActorSchema, metadata={"description": "services and admins only"})


class TaskUpdateSchema(Schema):
    """The TaskUpdate payload of SPEC §3."""

    taskId = fields.String()
    action = fields.String(validate=validate.OneOf(TASK_ACTIONS))
    task = fields.Dict()
    userId = fields.String()
    username = fields.String()
    timestamp = fields.String(metadata={"format": "date-time"})


TASK_UPDATE = Payload(TaskUpdateSchema)  # `task:updated` and POST /task/update
