"""Client event payloads (SPEC §3), loaded like REST bodies: a refusal is the same 422
VALIDATION_ERROR with per-field details.

Some events take a bare value (`task:join` "task_1", `presence:update` "away",
`notification:read` 5, `authenticate` and `auth:refresh` a token): `from_bare` says which
object it stands for. Any other payload that is not an object is refused with `shape`, the
form the event takes. Unknown keys are ignored, as sockets always did (clients add their own),
except in `notification:read`, which refuses them like the REST bodies.
"""
import re

from marshmallow import (EXCLUDE, RAISE, Schema, ValidationError, fields, post_load, pre_load, validate,
                         validates_schema)

from ..ids import ID_MESSAGE
from ..models.base import MAX_ID
from .common import Id, StrictString

CURSOR_TEXT_RE = re.compile(r"[0-9]{1,30}")
ID_ERRORS = {"required": ID_MESSAGE, "null": ID_MESSAGE, "invalid": ID_MESSAGE}
STATUS_MESSAGE = "Must be online or away."


class Cursor(fields.Field):
    """Where a reconnecting client left off: a whole number >= 0, or its decimal text; one
    beyond every possible id is the largest one (nothing is newer)."""

    default_error_messages = {"invalid": "Must be a whole number >= 0."}

    def __init__(self, **kwargs):
        super().__init__(allow_none=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and CURSOR_TEXT_RE.fullmatch(value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.make_error("invalid")
        return min(value, MAX_ID)


class Flag(fields.Boolean):
    """true or false, and nothing that merely looks like one ("yes", 1)."""

    default_error_messages = {"invalid": "Must be true or false."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class EventPayloadSchema(Schema):
    """A client event's payload: an object, or a bare value that `from_bare` accepts."""

    class Meta:
        unknown = EXCLUDE

    shape = "The payload must be an object."

    def from_bare(self, value):
        """The object a payload that is not one stands for, or None to refuse it."""
        return None

    @pre_load
    def objects_only(self, data, **kwargs):
        """Turn an accepted bare value into its object; refuse any other non-object."""
        if isinstance(data, dict):
            return data
        wrapped = self.from_bare(data)
        if wrapped is None:
            raise ValidationError(self.shape)
        return wrapped


class AuthSchema(EventPayloadSchema):
    """The handshake's `auth`, `authenticate` and `auth:refresh`: a token, or
    `{token, lastNotificationId?, lastActivityId?, lastNotificationSeq?, lastActivitySeq?}`."""

    shape = "auth must be a token string or {token, lastNotificationId, lastActivityId}."

    token = StrictString(allow_none=True, error_messages={"invalid": "Must be a string."})
    lastNotificationId = Cursor()
    lastActivityId = Cursor()
    lastNotificationSeq = Cursor(metadata={"description": "a stream position instead of an id (SPEC §9)"})
    lastActivitySeq = Cursor(metadata={"description": "a stream position instead of an id (SPEC §9)"})

    def from_bare(self, value):
        """No auth at all, or a bare token."""
        if value is None:
            return {}
        return {"token": value} if isinstance(value, str) else None

    @post_load
    def bare_token(self, data, **kwargs):
        """The token without a `Bearer ` prefix; an empty one is none."""
        token = data.get("token")
        if token and token[:7].lower() == "bearer ":
            token = token[7:]
        data["token"] = token or None
        return data


class TaskRefSchema(EventPayloadSchema):
    """`task:join` and `task:leave`: `"task_1"` or `{taskId: "task_1"}`."""

    taskId = Id(required=True, error_messages=ID_ERRORS)

    def from_bare(self, value):
        """A bare task id (anything else bare is reported as a bad taskId)."""
        return {"taskId": value}


class TypingSchema(EventPayloadSchema):
    """`task:typing`: `{taskId, isTyping}`."""

    shape = "task:typing takes {taskId, isTyping}."

    taskId = Id(required=True, error_messages=ID_ERRORS)
    isTyping = Flag(required=True, error_messages={"required": Flag.default_error_messages["invalid"],
                                                   "null": Flag.default_error_messages["invalid"]})


class PresenceUpdateSchema(EventPayloadSchema):
    """`presence:update`: `"online"` or `"away"`, or `{status}`."""

    status = StrictString(required=True, validate=validate.OneOf(("online", "away"), error=STATUS_MESSAGE),
                          error_messages={"required": STATUS_MESSAGE, "null": STATUS_MESSAGE,
                                          "invalid": STATUS_MESSAGE})

    def from_bare(self, value):
        """A bare status (anything else bare is reported as a bad status)."""
        return {"status": value}


class MarkReadSchema(EventPayloadSchema):
    """`notification:read`: an id, `{id}` or `{ids}`."""

    class Meta:
        unknown = RAISE

    shape = "notification:read takes {id} or {ids}."

    id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    ids = fields.List(fields.Integer(validate=validate.Range(min=1, max=MAX_ID)),
                      validate=validate.Length(min=1, max=1000))

    def from_bare(self, value):
        """A bare notification id."""
        return {"id": value} if isinstance(value, int) and not isinstance(value, bool) else None

    @validates_schema
    def one_of(self, data, **kwargs):
        """Exactly one of id and ids."""
        if ("id" in data) == ("ids" in data):
            raise ValidationError("Send either id or ids.", "_schema")
