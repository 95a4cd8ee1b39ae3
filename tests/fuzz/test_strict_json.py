"""The strict-JSON checks the suite puts on every REST body and every emitted packet."""
import json

import pytest
from flask import Response

from engineio import packet as eio_packet

from devtracker.extensions import socketio
from tests import strictjson
from tests.strictjson import NotStrictJSON

class EncodedAs:
    """A packet whose encoding is given as is."""

    def __init__(self, text):
        self.text = text

    def encode(self):
        return self.text


NOT_STRICT = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", '{"n": [1E400]}',
              "1" + "0" * 400, '{"a": NaN}']
STRICT = ["0", "-0.0", "1e308", "1.7976931348623157e308", "5e-324", "1e-999", '"\\ud800"',
          "9" * 300, '{"a": [1, 2.5, null, true, "x"]}']


@pytest.mark.parametrize("text", NOT_STRICT)
def test_loads_refuses_what_a_browser_cannot_read_back(text):
    json.loads(text)  # Python's own parser takes them all
    with pytest.raises(NotStrictJSON):
        strictjson.loads(text)


@pytest.mark.parametrize("text", STRICT)
def test_loads_takes_strict_json(text):
    assert strictjson.loads(text) == json.loads(text)


def test_dumps_refuses_nan_and_infinities():
    with pytest.raises(ValueError):
        strictjson.dumps({"n": float("inf")})
    assert strictjson.dumps({"n": 1.5}) == '{"n": 1.5}'


def test_the_test_client_fails_on_a_json_body_that_is_not_strict(app, client):
    app.add_url_rule("/fuzz-not-strict", "fuzz_not_strict",
                     lambda: Response('{"success": true, "data": {"n": Infinity}}',
                                      mimetype="application/json"))
    with pytest.raises(NotStrictJSON, match="GET /fuzz-not-strict answered 200"):
        client.get("/fuzz-not-strict")


def test_the_test_client_fails_on_a_json_body_that_is_not_utf8(app, client):
    app.add_url_rule("/fuzz-latin1", "fuzz_latin1",
                     lambda: Response(b'{"s": "\xe9"}', mimetype="application/json"))
    with pytest.raises(NotStrictJSON, match="not UTF-8"):
        client.get("/fuzz-latin1")


def test_the_test_client_leaves_other_bodies_alone(app, client):
    app.add_url_rule("/fuzz-text", "fuzz_text", lambda: Response("NaN", mimetype="text/plain"))
    assert client.get("/fuzz-text").get_data(as_text=True) == "NaN"


def test_a_packet_the_server_sends_a_test_client_must_be_strict(app, socket_client):
    sock = socket_client("fuzz_room")
    socketio.emit("fuzz", {"n": 1}, to="fuzz_room")
    assert sock.get_received() == [{"name": "fuzz", "args": [{"n": 1}], "namespace": "/"}]
    eio_sid = sock.eio_sid
    with pytest.raises(NotStrictJSON, match="emitted packet"):
        socketio.server._send_eio_packet(eio_sid, eio_packet.Packet(eio_packet.MESSAGE,
                                                                    '2["fuzz",{"n":NaN}]'))
    with pytest.raises(NotStrictJSON, match="emitted packet"):
        socketio.server._send_packet(eio_sid, EncodedAs('2["fuzz",{"n":1e999}]'))


def test_a_non_finite_number_emitted_is_refused_or_sent_as_strict_json(app, socket_client):
    sock = socket_client("fuzz_room")
    for value in (float("nan"), float("inf"), -float("inf")):
        try:
            socketio.emit("fuzz", {"n": value}, to="fuzz_room")
        except ValueError:  # the server's json module refuses it: nothing was sent
            continue
        [received] = sock.get_received()
        assert received["name"] == "fuzz"


def test_check_packet_reads_the_socketio_framing():
    strictjson.check_packet('2["x",{"n":1}]')
    strictjson.check_packet('3/admin,7[{"ok":true}]')
    strictjson.check_packet(b"\x00\x01")
    with pytest.raises(NotStrictJSON, match="emitted"):
        strictjson.check_packet('2["x",{"n":NaN}]', "emitted packet")
    with pytest.raises(NotStrictJSON):
        strictjson.check_packet(['51-["x",{"_placeholder":true,"num":0},-Infinity]', b"\x00"])
