"""Payload builders compiled from the schemas that define the payloads.

A payload's schema is its one definition. `Payload(Schema)` reads the schema's declared fields
once and compiles a function that builds the same dict `schema.dump` would, from a mapping
(`build`: a row just stored, the values of an event) or an object (`build_from`: a model). REST
responses, live events and replays all go through it, so a field added to the schema reaches
every one of them; a source that lacks it raises (KeyError, AttributeError) instead of
leaving it out. It is a dict literal rather than `dump`'s walk over field objects, which
matters on the write path (a bulk notify builds one payload per recipient) and in replay.

Only field types whose dump is known are compiled (below); any other is refused at import, so a
new kind of field is taught here rather than dumped differently on one path.
tests/api/test_payloads.py checks every builder against `schema.dump`.
"""
from marshmallow import fields

from ..models.base import isoformat
from .common import Timestamp

# Fields whose dump of a well-typed value is the value itself.
PASS_THROUGH = (fields.String, fields.Integer, fields.Boolean, fields.Dict, fields.List, fields.Raw)


def _last_one(convert):
    """`convert` remembering its last answer: the rows of one write share one created_at."""
    last = [(object(), None)]

    def cached(value):
        seen, answer = last[0]
        if seen is value:
            return answer
        answer = convert(value)
        last[0] = (value, answer)  # one assignment: a reader never sees half of it
        return answer

    return cached


class Payload:
    """The builder of one payload: `build(mapping)` and `build_from(obj)` equal `schema.dump`."""

    def __init__(self, schema_class):
        self.schema = schema_class()
        self.keys = tuple(f.data_key or name for name, f in self.schema.dump_fields.items())
        self.build = self._compile('src["{}"]')
        self.build_from = self._compile("src.{}")

    def _compile(self, access):
        scope = {"_isoformat": _last_one(isoformat)}
        items = []
        for name, field in self.schema.dump_fields.items():
            attribute = field.attribute or name
            if not attribute.isidentifier():
                raise TypeError(f"{type(self.schema).__name__}.{name}: attribute {attribute!r}")
            value = access.format(attribute)
            if type(field) is Timestamp:
                value = f"_isoformat({value})"
            elif type(field) not in PASS_THROUGH:
                raise TypeError(f"{type(self.schema).__name__}.{name}: teach schemas/payload.py "
                                f"how {type(field).__name__} dumps")
            items.append(f"{field.data_key or name!r}: {value}")
        source = f"def build(src):\n    return {{{', '.join(items)}}}\n"
        exec(compile(source, f"<payload {type(self.schema).__name__}>", "exec"), scope)  # noqa: S102
        return scope["build"]
