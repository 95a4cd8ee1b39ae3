"""Presence payloads: UserPresence, viewers, status, stats and health (documentation and dumps)."""
from marshmallow import Schema, fields, validate

from .payload import Payload

STATUSES = ("online", "away", "offline")


class UserPresenceSchema(Schema):
    """The UserPresence payload of SPEC §3."""

    userId = fields.String()
    username = fields.String()
    status = fields.String(validate=validate.OneOf(STATUSES))
    lastSeen = fields.String(allow_none=True, metadata={"format": "date-time"})
    currentTask = fields.String(allow_none=True)
    devices = fields.Integer()


class OnlineUsersSchema(Schema):
    """GET /users/online."""

    count = fields.Integer()
    users = fields.List(fields.Nested(UserPresenceSchema))


class ViewerSchema(Schema):
    """One user viewing a task."""

    userId = fields.String()
    username = fields.String()
    status = fields.String(validate=validate.OneOf(STATUSES))


class ViewerEventSchema(Schema):
    """`task:user_joined` and `task:user_left`: who came into or left a task room."""

    userId = fields.String(attribute="user_id")
    username = fields.String()
    taskId = fields.String(attribute="task_id")


class TypingEventSchema(ViewerEventSchema):
    """`task:typing`: who started or stopped typing in a task."""

    isTyping = fields.Boolean(attribute="is_typing")


class TaskViewersSchema(Schema):
    """GET /task/<taskId>/users and the `task:join` ack."""

    taskId = fields.String()
    viewingUsers = fields.List(fields.Nested(ViewerSchema))
    typingUsers = fields.List(fields.String())
    totalViewing = fields.Integer()


class UserStatusSchema(Schema):
    """GET /user/<userId>/status."""

    userId = fields.String()
    isOnline = fields.Boolean()
    status = fields.String(validate=validate.OneOf(STATUSES))
    lastSeen = fields.String(allow_none=True, metadata={"format": "date-time"})


class StatsSchema(Schema):
    """GET /stats."""

    connectedSockets = fields.Integer()
    onlineUsers = fields.Integer()
    totalUsers = fields.Integer()
    connectedUsers = fields.Integer()
    activeRooms = fields.Integer()


class HealthStatsSchema(Schema):
    """The stats inside GET /health."""

    connectedSockets = fields.Integer()
    onlineUsers = fields.Integer()
    activeRooms = fields.Integer()


class HealthSchema(Schema):
    """GET /health."""

    status = fields.String(validate=validate.OneOf(("healthy", "degraded")))
    timestamp = fields.String(metadata={"format": "date-time"})
    stats = fields.Nested(HealthStatsSchema)
    checks = fields.Dict(keys=fields.String(), values=fields.String())


USER_PRESENCE = Payload(UserPresenceSchema)  # `user:online`, `user:offline`, `presence:update`, lists
VIEWER = Payload(ViewerSchema)  # one entry of `viewingUsers`
VIEWER_EVENT = Payload(ViewerEventSchema)
TYPING_EVENT = Payload(TypingEventSchema)
STATS = Payload(StatsSchema)
USER_STATUS = Payload(UserStatusSchema)
