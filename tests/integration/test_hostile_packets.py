"""Raw hostile packets against the real server over TCP (issue: hardening): numbers that are
not strict JSON, cursors of thousands of digits, odd token claims in the handshake, and
malformed packets. Each gets a prompt answer or one log line, never a silent socket, a
traceback, or a disturbed neighbour."""
import json
import re
import time

import jwt as pyjwt
import pytest
import requests
import websocket

from .server import SECRET

ANSWER_SECONDS = 5


class RawSocket:
    """One websocket speaking Engine.IO 4 / Socket.IO 5 as text, packet by packet."""

    def __init__(self, server):
        url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(url, timeout=ANSWER_SECONDS)
        assert self.ws.recv().startswith("0")

    def send(self, text):
        """Send a text frame; bytes go as they are, valid UTF-8 or not."""
        self.ws.send(text, opcode=websocket.ABNF.OPCODE_TEXT)

    def next(self, prefix):
        """The next packet starting with `prefix` (answering pings on the way)."""
        deadline = time.monotonic() + ANSWER_SECONDS
        while time.monotonic() < deadline:
            packet = self.ws.recv()
            if packet == "2":
                self.ws.send("3")
            elif packet.startswith(prefix):
                return packet
        raise AssertionError(f"no packet starting {prefix!r} within {ANSWER_SECONDS} s")

    def connect(self, auth_text):
        """Send the namespace CONNECT with this raw auth text; return the answer packet."""
        self.send("40" + auth_text)
        return self.ws.recv()

    def close(self):
        self.ws.close()


@pytest.fixture
def raw(live_server):
    opened = []

    def open_raw():
        sock = RawSocket(live_server)
        opened.append(sock)
        return sock

    yield open_raw
    for sock in opened:
        sock.close()


def auth_text(live_server, user="alice", **extra):
    return json.dumps({"token": live_server.token(user), **extra})


def refused(answer):
    assert answer.startswith("44"), answer
    return json.loads(answer[2:])["data"]


def test_a_cursor_of_thousands_of_digits_is_answered_promptly(live_server, raw):
    token = live_server.token("alice")
    for cursor in ("9" * 5000, '"' + "9" * 5000 + '"'):
        answer = raw().connect('{"token":"%s","lastActivityId":%s}' % (token, cursor))
        assert refused(answer)["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("exp", [10**12, 2**64, "1e999"])
def test_an_expiry_past_the_year_9999_is_refused_in_the_handshake(live_server, raw, exp):
    claims = {"sub": "alice", "iat": int(time.time())}
    token = pyjwt.encode({**claims, "exp": exp}, SECRET, algorithm="HS256") if exp != "1e999" else (
        pyjwt.encode({**claims, "exp": float("inf")}, SECRET, algorithm="HS256"))
    assert refused(raw().connect(json.dumps({"token": token})))["code"] == "TOKEN_INVALID"


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "9" * 5000])
@pytest.mark.parametrize("event, template", [
    ("task:join", '"task:join",{"taskId":"task_1","x":%s}'),
    ("task:typing", '"task:typing",{"taskId":"task_1","isTyping":%s}'),
    ("notification:read", '"notification:read",{"id":%s}'),
    ("presence:update", '"presence:update",%s'),
])
def test_numbers_that_are_not_strict_json_are_refused_with_an_ack(live_server, raw, event,
                                                                   template, number):
    sock = raw()
    assert sock.connect(auth_text(live_server)).startswith("40")
    sock.send("421[" + template % number + "]")
    ack = json.loads(sock.next("431")[3:])[0]
    assert ack["success"] is False and ack["error"]["code"] == "VALIDATION_ERROR", ack


MALFORMED = ["42", "42[", "42[]", "42{}", '42"x"', "42[null]", "42[1,2]", "42[{}]",
             "421[" + "[" * 5000 + "]" * 5000 + "]", "43", "43[", "45", "45-[", "46",
             "49", '42/nope,["x"]', "40{", '40"x"', "40[1]", b"4\xed\xa0\x80", b'42["\xed\xa0\x80"]', b"42[\"\xff\"]", '42["\\ud800"]']


def test_malformed_packets_write_one_short_line_each_rate_limited(live_server, raw):
    bystander = raw()
    assert bystander.connect(auth_text(live_server, "bob")).startswith("40")
    for _ in range(2):
        for packet in MALFORMED:
            sock = raw()
            assert sock.connect(auth_text(live_server)).startswith("40")
            sock.send(packet)
            sock.close()
    admin = live_server.token("root", "admin")
    requests.post(live_server.url + "/api/v1/realtime/broadcast", timeout=5,
                  headers={"Authorization": f"Bearer {admin}"},
                  json={"event": "system:check", "message": "still here"}).raise_for_status()
    assert json.loads(bystander.next('42["system:check"')[2:])[1]["message"] == "still here"
    assert requests.get(live_server.url + "/api/v1/realtime/health", timeout=5).status_code == 200
    metrics = requests.get(live_server.url + "/metrics", timeout=5).text
    counted = float(re.search(r"^devtracker_socket_packet_errors_total (\S+)$", metrics, re.M).group(1))
    assert counted > 10  # more than the log lines allowed: the limit is exercised
    log = live_server.log_path.read_text()
    assert "Traceback" not in log
    lines = [line for line in log.splitlines() if "could not handle" in line]
    assert 1 <= len(lines) <= 10, lines  # at most ten a minute
    assert all(len(line) < 400 for line in lines)


def test_a_payload_nested_too_deeply_to_decode_is_refused_with_its_ack(live_server, raw):
    deep = '{"a":' * 5000 + "1" + "}" * 5000
    sock = raw()
    assert sock.connect(auth_text(live_server)).startswith("40")
    sock.send('427["task:join",' + deep + "]")
    ack = json.loads(sock.next("437")[3:])[0]
    assert ack == {"success": False, "error": {
        "code": "VALIDATION_ERROR", "message": "Some fields are invalid.",
        "details": {"_schema": ["Payloads must not nest this deeply."]}}}
    assert refused(raw().connect(deep))["code"] == "VALIDATION_ERROR"  # as handshake auth
