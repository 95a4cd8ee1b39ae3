"""Raw hostile packets against the real server over TCP (issue: hardening): numbers that are
not strict JSON, cursors of thousands of digits, odd token claims in the handshake, and
malformed packets. Each gets a prompt answer or one log line, never a silent socket, a
traceback, or a disturbed neighbour."""
import json
import re
import time

import pytest
import requests

from tests.support.raw import RawSocket
from tests.support.tokens import sign

ANSWER_SECONDS = 5


@pytest.fixture
def raw(live_server):
    opened = []

    def open_raw():
        sock = RawSocket(live_server.url)
        opened.append(sock)
        return sock

    yield open_raw
    for sock in opened:
        sock.close()


def auth_text(live_server, user="alice", **extra):
    return json.dumps({"token": live_server.token(user), **extra})


def refused(sock, auth):
    """The error data of the namespace CONNECT sent with this raw auth text."""
    answer = sock.connect(raw_auth=auth, timeout=ANSWER_SECONDS)
    assert sock.refused is not None, answer
    return answer["data"]


def connected(sock, auth):
    """True when the namespace CONNECT with this raw auth text is accepted."""
    return "sid" in sock.connect(raw_auth=auth, timeout=ANSWER_SECONDS) and sock.refused is None


def test_a_cursor_of_thousands_of_digits_is_answered_promptly(live_server, raw):
    token = live_server.token("alice")
    for cursor in ("9" * 5000, '"' + "9" * 5000 + '"'):
        auth = '{"token":"%s","lastActivityId":%s}' % (token, cursor)
        assert refused(raw(), auth)["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("exp", [10**12, 2**64, "1e999"])
def test_an_expiry_past_the_year_9999_is_refused_in_the_handshake(live_server, raw, exp):
    claims = {"sub": "alice", "iat": int(time.time())}
    token = sign({**claims, "exp": exp if exp != "1e999" else float("inf")}, live_server.secret)
    assert refused(raw(), json.dumps({"token": token}))["code"] == "TOKEN_INVALID"


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
    assert connected(sock, auth_text(live_server))
    sock.send("421[" + template % number + "]")
    ack = sock.wait_ack(1, ANSWER_SECONDS)[0]
    assert ack["success"] is False and ack["error"]["code"] == "VALIDATION_ERROR", ack


MALFORMED = ["42", "42[", "42[]", "42{}", '42"x"', "42[null]", "42[1,2]", "42[{}]",
             "421[" + "[" * 5000 + "]" * 5000 + "]", "43", "43[", "45", "45-[", "46",
             "49", '42/nope,["x"]', "40{", '40"x"', "40[1]", b"4\xed\xa0\x80", b'42["\xed\xa0\x80"]', b"42[\"\xff\"]", '42["\\ud800"]']


def test_malformed_packets_write_one_short_line_each_rate_limited(live_server, raw):
    bystander = raw()
    assert connected(bystander, auth_text(live_server, "bob"))
    for _ in range(2):
        for packet in MALFORMED:
            sock = raw()
            assert connected(sock, auth_text(live_server))
            sock.send(packet, text=True)
            sock.close()
    admin = live_server.token("root", "admin")
    requests.post(live_server.url + "/api/v1/realtime/broadcast", timeout=5,
                  headers={"Authorization": f"Bearer {admin}"},
                  json={"event": "system:check", "message": "still here"}).raise_for_status()
    assert bystander.wait_event("system:check", ANSWER_SECONDS)[0]["message"] == "still here"
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
    assert connected(sock, auth_text(live_server))
    sock.send('427["task:join",' + deep + "]")
    ack = sock.wait_ack(7, ANSWER_SECONDS)[0]
    assert ack == {"success": False, "error": {
        "code": "VALIDATION_ERROR", "message": "Some fields are invalid.",
        "details": {"_schema": ["Payloads must not nest this deeply."]}}}
    assert refused(raw(), deep)["code"] == "VALIDATION_ERROR"  # as handshake auth
