"""Admin broadcast body and payload."""
import re

from marshmallow import Schema, fields, validate

from .common import JsonObject, StrictSchema, Text

SYSTEM_EVENT_RE = re.compile(r"^system:[A-Za-z0-9_.:-]{1,57}$")


class BroadcastBodySchema(StrictSchema):
    """POST /broadcast: `{event, message, data?}` with `event` starting `system:`."""

    event = fields.String(required=True, validate=validate.Regexp(
        SYSTEM_EVENT_RE, error="Must start with 'system:' followed by 1-57 of [A-Za-z0-9_.:-]."))
    message = Text("MAX_MESSAGE_LENGTH")
    data = JsonObject()


class BroadcastSchema(Schema):
    """What every socket receives, and what the endpoint answers (with the event name)."""

    event = fields.String()
    message = fields.String()
    data = fields.Dict(allow_none=True)
    timestamp = fields.String(metadata={"format": "date-time"})
