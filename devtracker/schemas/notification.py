"""Notification bodies, queries and the Notification payload."""
from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from ..models.notification import NOTIFICATION_TYPES
from .common import (ActorSchema, Id, JsonObject, PageQuerySchema, StrictSchema, Text, Timestamp,
                     max_length)
from .payload import Payload


class NotifySchema(StrictSchema):
    """POST /notify/<userId>: `{event (or type), title, message, taskId?, data?, actor?}`."""

    type = fields.String(required=True, validate=validate.OneOf(NOTIFICATION_TYPES),
                         metadata={"description": "`event` is accepted as a synonym."})
    title = Text("MAX_TITLE_LENGTH")
    message = fields.String(required=True, validate=max_length("MAX_MESSAGE_LENGTH"))
    taskId = Id(allow_none=True)
    data = JsonObject()
    actor = fields.Nested(ActorSchema, metadata={"description": "services and admins only"})

    @pre_load
    def event_is_type(self, data, **kwargs):
        """The product note names the type `event`; accept either, refuse two that disagree."""
        if isinstance(data, dict) and "event" in data:
            data = dict(data)
            event = data.pop("event")
            if "type" in data and data["type"] != event:
                raise ValidationError({"event": ["Disagrees with type; send one of them."]})
            data["type"] = event
        return data


class BulkNotifySchema(NotifySchema):
    """POST /notify: the same notification for several users, all stored or none."""

    userIds = fields.List(Id(), required=True, validate=validate.Length(min=1))

    @validates_schema
    def recipients_within_limit(self, data, **kwargs):
        """Refuse more recipients than MAX_RECIPIENTS."""
        from flask import current_app
        limit = current_app.config["MAX_RECIPIENTS"]
        if len(set(data.get("userIds", []))) > limit:
            raise ValidationError(f"At most {limit} recipients.", "userIds")


class NotificationSchema(Schema):
    """The Notification payload of SPEC §3."""

    id = fields.Integer()
    seq = fields.Integer(metadata={"description": "the recipient's stream position: 1, 2, 3 ... with no hole (SPEC §9)"})
    type = fields.String(validate=validate.OneOf(NOTIFICATION_TYPES))
    title = fields.String()
    message = fields.String()
    taskId = fields.String(attribute="task_id", allow_none=True)
    data = fields.Dict(allow_none=True)
    timestamp = Timestamp(attribute="created_at")
    read = fields.Boolean()


class NotificationListQuerySchema(PageQuerySchema):
    """GET /notifications: `unread`, `limit`, `before`, and `userId` for services and admins."""

    unread = fields.Boolean(load_default=False)
    userId = Id()


class UserQuerySchema(Schema):
    """`userId` for services and admins acting on another user's inbox."""

    class Meta:
        unknown = EXCLUDE

    userId = Id()


class NotificationPageSchema(Schema):
    """A page of notifications, newest first."""

    notifications = fields.List(fields.Nested(NotificationSchema))
    nextCursor = fields.Integer(allow_none=True, metadata={"description": "pass as `before`"})
    hasMore = fields.Boolean()


class BulkNotificationsSchema(Schema):
    """The notifications stored by POST /notify, one per recipient."""

    count = fields.Integer()
    notifications = fields.List(fields.Nested(NotificationSchema))


class ReadStateSchema(Schema):
    """`notification:read`: the ids that turned read and the user's unread count."""

    ids = fields.List(fields.Integer())
    unreadCount = fields.Integer()


class UnreadCountSchema(Schema):
    """GET /notifications/unread-count."""

    unreadCount = fields.Integer()


NOTIFICATION = Payload(NotificationSchema)  # `notification`, replay, POST /notify, the inbox
READ_STATE = Payload(ReadStateSchema)  # `notification:read` and the read endpoints
