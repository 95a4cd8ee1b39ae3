"""Field types and base schemas shared by every resource."""
import json

from flask import current_app
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from ..ids import ID_MAX_LENGTH, ID_MESSAGE, ID_PATTERN, ID_RE, USERNAME_MAX_LENGTH
from ..models.base import MAX_ID, isoformat


class StrictSchema(Schema):
    """Request bodies: unknown fields are an error, not silently dropped."""

    class Meta:
        unknown = RAISE


class StrictString(fields.String):
    """A string, and only a string: marshmallow's String also takes bytes, which a socket
    event's binary attachment can carry."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return value


class Id(StrictString):
    """A user or task id: 1-128 characters of [A-Za-z0-9_.:-]."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).update(pattern=ID_PATTERN, maxLength=ID_MAX_LENGTH)
        super().__init__(validate=validate.Regexp(ID_RE, error=ID_MESSAGE), **kwargs)


class Timestamp(fields.DateTime):
    """ISO 8601 UTC with `Z`."""

    def _serialize(self, value, attr, obj, **kwargs):
        return isoformat(value)


def max_length(setting):
    """A validator reading its limit from the app config at load time."""

    def check(value):
        limit = current_app.config[setting]
        if len(value) > limit:
            raise ValidationError(f"Must be at most {limit} characters.")

    return check


def not_blank(value):
    """Refuse empty and whitespace-only strings."""
    if not value.strip():
        raise ValidationError("Must not be blank.")


def max_json_bytes(setting):
    """A validator limiting the compact JSON encoding of a value to the configured size."""

    def check(value):
        limit = current_app.config[setting]
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if size > limit:
            raise ValidationError(f"Must be at most {limit} bytes as JSON (got {size}).")

    return check


def Text(setting, required=True, **kwargs):
    """A non-blank string limited by a config setting."""
    return fields.String(required=required, validate=[not_blank, max_length(setting)], **kwargs)


def JsonObject(setting="MAX_DATA_BYTES", **kwargs):
    """A free-form JSON object limited in encoded size by a config setting.

    Its keys are not run through a field: decoded JSON (a REST body, a socket event) only has
    string keys, and a key field cost a call per key on every write."""
    kwargs.setdefault("allow_none", True)
    return fields.Dict(validate=max_json_bytes(setting), **kwargs)


class ActorSchema(StrictSchema):
    """Who a service or admin acts for: `{userId, username}`."""

    userId = Id(required=True)
    username = fields.String(validate=[not_blank, validate.Length(max=USERNAME_MAX_LENGTH)])


class PageQuerySchema(Schema):
    """Cursor pagination: newest first below `before`, oldest first above `after`."""

    class Meta:
        unknown = EXCLUDE  # cache-busting and tracking parameters are ignored

    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    before = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    after = fields.Integer(validate=validate.Range(min=0, max=MAX_ID))
