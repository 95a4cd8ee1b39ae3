"""Strict JSON (RFC 8259) in and out: no NaN, no Infinity, no number that overflows to one.

Python's `json` reads `NaN`, `Infinity` and `1e999` (as an infinite float) and writes them
back as `NaN` / `Infinity`, which is not JSON: socket.io-client drops the connection on them.
Everything the server writes goes through `dumps`; everything it reads through `loads` or
`socket_loads`.
"""
import json
import logging
import math

log = logging.getLogger(__name__)

MAX_INT_DIGITS = 100
NUMBER_MESSAGE = f"Numbers must be finite and have at most {MAX_INT_DIGITS} digits."


class NonFinite(float):
    """An integer read from a packet that is too long to convert (thousands of digits).

    It is an infinite float, so `dumps` refuses it and `isinstance(x, int)` checks reject it;
    the socket door refuses the event that carries it with a 422 naming the rule."""

    def __new__(cls, text):
        return super().__new__(cls, "inf")


class TooDeep(str):
    """Stands for the payload of a packet nested deeper than the decoder can follow."""


# The event list of such a packet: the namespace refuses the event with a 422 and its ack,
# instead of the packet being dropped unanswered (a RecursionError in the library).
TOO_DEEP = TooDeep("(nested too deeply)")
NESTING_MESSAGE = "Payloads must not nest this deeply."


class NonFiniteNumber(ValueError):
    """A REST body holds a number outside what JSON peers can represent."""


def _float(text):
    value = float(text)
    if math.isinf(value):
        raise NonFiniteNumber(NUMBER_MESSAGE)
    return value


def _int(text):
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise NonFiniteNumber(NUMBER_MESSAGE)
    return int(text)


def _constant(name):
    raise ValueError(f"{name} is not JSON")


def loads(text, **kwargs):
    """`json.loads` for request bodies: NaN/Infinity are malformed (ValueError), and a number
    that overflows or has over MAX_INT_DIGITS digits raises NonFiniteNumber."""
    kwargs.setdefault("parse_constant", _constant)
    kwargs.setdefault("parse_float", _float)
    kwargs.setdefault("parse_int", _int)
    return json.loads(text, **kwargs)


def _socket_int(text):
    return NonFinite(text) if len(text.lstrip("-")) > MAX_INT_DIGITS else int(text)


def socket_loads(text, **kwargs):
    """`json.loads` for Socket.IO packets, at the C decoder's speed.

    What is not strict JSON still decodes, so the event reaches the namespace and is refused
    there with an ack (limits.message_size): `1e999`, `NaN` and `Infinity` become non-finite
    floats, and an integer too long for Python (over 4,300 digits, a ValueError that would
    drop the packet unanswered) becomes `NonFinite`. A packet nested too deeply to decode
    becomes the event list `[TOO_DEEP]`."""
    try:
        return json.loads(text, **kwargs)
    except ValueError as exc:
        if "integer string conversion" not in str(exc):
            raise
    except RecursionError:
        return [TOO_DEEP]
    return json.loads(text, parse_int=_socket_int, **kwargs)


def finite(value):
    """A copy of `value` with every NaN or infinite float replaced by None."""
    if isinstance(value, float):
        return None if math.isinf(value) or math.isnan(value) else value
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def dumps(value, **kwargs):
    """`json.dumps` that never writes NaN or Infinity.

    Input is refused before it is stored, so such a value can only come from rows written
    before that check: it leaves as null (logged) instead of breaking every client."""
    kwargs["allow_nan"] = False
    try:
        return json.dumps(value, **kwargs)
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise
        log.warning("a non-finite number left as null (written before strict JSON input)")
        return json.dumps(finite(value), **kwargs)


class SocketJSON:
    """The json module python-socketio, python-engineio and the Redis queue use."""

    dumps = staticmethod(dumps)
    loads = staticmethod(socket_loads)


def json_provider(app):
    """Flask's JSON provider for `app`, writing through `dumps` and reading through `loads`."""
    from flask.json.provider import DefaultJSONProvider

    class StrictJSONProvider(DefaultJSONProvider):
        def dumps(self, obj, **kwargs):
            kwargs.setdefault("default", self.default)
            kwargs.setdefault("ensure_ascii", self.ensure_ascii)
            kwargs.setdefault("sort_keys", self.sort_keys)
            return dumps(obj, **kwargs)

        def loads(self, s, **kwargs):
            return loads(s, **kwargs)

    return StrictJSONProvider(app)
