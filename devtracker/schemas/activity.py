"""Activity bodies, queries and the Activity payload."""
from marshmallow import Schema, fields, validate

from ..models.activity import ACTIVITY_TYPES
from .common import ActorSchema, Id, JsonObject, PageQuerySchema, StrictSchema, Timestamp, not_blank
from .payload import Payload


class RecordActivitySchema(StrictSchema):
    """POST /activity: `{type, action, target, taskId?, data?, actor?}`."""

    type = fields.String(required=True, validate=validate.OneOf(ACTIVITY_TYPES))
    action = fields.String(required=True, validate=[not_blank, validate.Length(max=64)])
    target = fields.String(required=True, validate=[not_blank, validate.Length(max=500)])
    taskId = Id(allow_none=True)
    data = JsonObject()
    actor = fields.Nested(ActorSchema, metadata={"description": "services and admins only"})


class ActivitySchema(Schema):
    """The Activity payload of SPEC §3."""

    id = fields.Integer()
    seq = fields.Integer(metadata={"description": "the stream position: 1, 2, 3 ... with no hole (SPEC §9)"})
    type = fields.String(validate=validate.OneOf(ACTIVITY_TYPES))
    userId = fields.String(attribute="user_id")
    username = fields.String()
    action = fields.String()
    target = fields.String()
    taskId = fields.String(attribute="task_id", allow_none=True)
    data = fields.Dict(allow_none=True)
    timestamp = Timestamp(attribute="created_at")


class ActivityListQuerySchema(PageQuerySchema):
    """GET /activity filters."""

    userId = Id()
    type = fields.String(validate=validate.OneOf(ACTIVITY_TYPES))
    taskId = Id()


class ActivityPageSchema(Schema):
    """A page of activity: newest first, or oldest first when paging forward with `after`."""

    activities = fields.List(fields.Nested(ActivitySchema))
    nextCursor = fields.Integer(allow_none=True,
                                metadata={"description": "pass as `before` (or `after` when paging forward)"})
    hasMore = fields.Boolean()


ACTIVITY = Payload(ActivitySchema)  # `activity:feed`, replay, POST /activity, GET /activity
