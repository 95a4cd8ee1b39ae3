"""Admin broadcast body and payload."""
import re

from marshmallow import Schema, fields, validate

from .common import JsonObject, StrictSchema, Text
from .payload import Payload

SYSTEM_EVENT_RE = re.compile(r"^system:[A-Za-z0-9_.:-]{1,57}$")


class BroadcastBodySchema(StrictSchema):
    """POST /broadcast: `{event, message, data?}` with `event` starting `system:`."""

    event = fields.String(required=True, validate=validate.Regexp(
        SYSTEM_EVENT_RE, error="Must start with 'system:' followed by 1-57 of [A-Za-z0-9_.:-]."))
    message = Text("MAX_MESSAGE_LENGTH")
    data = JsonObject()


class SystemEventSchema(Schema):
    """What every socket receives as the `system:*` event."""

    message = fields.String()
    data = fields.Dict(allow_none=True)
    timestamp = fields.String(metadata={"format": "date-time"})


class BroadcastSchema(SystemEventSchema):
    """What POST /broadcast answers: the event sent, with its name."""

    event = fields.String()


SYSTEM_EVENT = Payload(SystemEventSchema)
BROADCAST = Payload(BroadcastSchema)
