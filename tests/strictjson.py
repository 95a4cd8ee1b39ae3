"""Strict JSON (RFC 8259) for the tests: every REST body and every emitted packet is checked.

Python's json module reads and writes `NaN`, `Infinity` and `-Infinity`, and reads `1e999` as
inf; a browser's JSON.parse refuses the first three and turns the last (and an integer of
more than 308 digits) into Infinity, which re-encodes as `null`. The server must never send
any of them. `loads` here refuses them all, so a test whose server sends one fails.
"""
import json
import math

from flask.testing import FlaskClient
from socketio.packet import Packet


class NotStrictJSON(AssertionError):
    """The text is JSON only for a lenient parser."""


def _constant(name):
    raise NotStrictJSON(f"{name} is not JSON (RFC 8259)")


def _float(text):
    value = float(text)
    if math.isinf(value):
        raise NotStrictJSON(f"the number {text[:40]!r} overflows a double (a browser reads Infinity)")
    return value


def _int(text):
    if len(text) > 300 and math.isinf(float(text)):
        raise NotStrictJSON(f"the integer {text[:40]}... ({len(text)} digits) overflows a "
                            "double (a browser reads Infinity)")
    return int(text)


def loads(text, **kwargs):
    """json.loads that fails on what RFC 8259 (or a browser's double) does not allow."""
    return json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int, **kwargs)


def dumps(obj, **kwargs):
    """json.dumps that refuses NaN and the infinities."""
    kwargs.setdefault("allow_nan", False)
    return json.dumps(obj, **kwargs)


class StrictJSON:
    """A json module for python-socketio (`dumps`, `loads`) that decodes strictly."""

    dumps = staticmethod(dumps)
    loads = staticmethod(loads)


class StrictPacket(Packet):
    """A Socket.IO packet that decodes its JSON strictly (a client's view of what it receives)."""

    json = StrictJSON


def check_packet(encoded, where="packet"):
    """Decode one encoded Socket.IO packet strictly; fail the test if it is not strict JSON."""
    text = encoded[0] if isinstance(encoded, list) else encoded
    if isinstance(text, bytes):  # a binary attachment carries no JSON
        return
    try:
        StrictPacket(encoded_packet=text)
    except NotStrictJSON as exc:
        raise NotStrictJSON(f"{where} {text[:200]!r}: {exc}") from None


def check_body(response):
    """Fail when a JSON response's body is not strict JSON (or not UTF-8)."""
    mimetype = response.mimetype or ""
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        return
    data = response.get_data()
    if not data:
        return
    request = getattr(response, "request", None)
    where = f"{request.method} {request.path}" if request is not None else "response"
    try:
        loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise NotStrictJSON(f"{where} answered a body that is not UTF-8: {exc}") from None
    except NotStrictJSON as exc:
        raise NotStrictJSON(f"{where} answered {response.status_code} with {data[:200]!r}: {exc}") from None
    except ValueError as exc:
        raise NotStrictJSON(f"{where} answered {response.status_code} with malformed JSON "
                            f"{data[:200]!r}: {exc}") from None


class StrictJSONClient(FlaskClient):
    """Flask's test client; every JSON body it receives must be strict JSON."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        check_body(response)
        return response


def watch_test_client_packets(server):
    """Check every packet the server sends to Flask-SocketIO test clients strictly.

    SocketIOTestClient replaces the server's two send functions with its own when it is
    created; this wraps whatever is there now (call it after creating a test client).
    """
    send_packet, send_eio_packet = server._send_packet, server._send_eio_packet
    if getattr(send_packet, "strict_json", False):
        return

    def strict_send_packet(eio_sid, pkt):
        check_packet(pkt.encode(), "emitted packet")
        return send_packet(eio_sid, pkt)

    def strict_send_eio_packet(eio_sid, eio_pkt):
        if isinstance(eio_pkt.data, str):
            check_packet(eio_pkt.data, "emitted packet")
        return send_eio_packet(eio_sid, eio_pkt)

    strict_send_packet.strict_json = True
    server._send_packet = strict_send_packet
    server._send_eio_packet = strict_send_eio_packet
