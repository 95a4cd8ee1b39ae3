"""Hypothesis against a real server process: every client event, unknown events, malformed frames.

For every example:
- an ack or `error` event never says INTERNAL_ERROR, and stays small (no echo of the input);
- what the server sends is strict JSON (RawSocket decodes strictly);
- a well-formed event with an ack id gets its ack, and the fuzzing socket still answers a
  probe event afterwards; closing the socket is allowed only for frames that are not a
  well-formed event, over MAX_SOCKET_MESSAGE_BYTES, or nested deeper than DEEP_NESTING;
and over the whole run: a bystander socket keeps getting events and stays connected, /health
answers, and the server log holds no traceback through project code and at most one line
per malformed frame.

CI runs FUZZ_EXAMPLES (default 40) examples a test, derandomized; FUZZ_LONG=1 runs 500.
"""
import itertools
import json
import os
import re

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.fuzz import fuzz_examples
from tests.support.raw import Closed, RawSocket
from tests.fuzz.strategies import MALFORMED, event_packets

pytestmark = pytest.mark.integration

# Shrinking waits out an ack timeout per step: on with FUZZ_SHRINK=1 (the failing input is
# printed either way).
PHASES = [p for p in Phase if p != Phase.shrink or os.environ.get("FUZZ_SHRINK") == "1"]
FUZZ = settings(max_examples=fuzz_examples(40), derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck), print_blob=True, phases=PHASES)
DEEP_NESTING = 500  # brackets: a parser may refuse such a packet by closing the socket
MAX_ANSWER_BYTES = 4096
PROJECT_FRAME = re.compile(r'File "[^"]*/devtracker/')


@pytest.fixture
def server_settings():
    """Rates high enough that the fuzz reaches the handlers rather than the rate limits."""
    return {"SOCKET_EVENT_RATE": 100000, "SOCKET_EVENT_BURST": 100000, "TYPING_EVENT_RATE": 100000,
            "JOIN_EVENT_RATE": 100000, "MAX_SOCKET_INPUT_BYTES_PER_SECOND": 0, "LOG_LEVEL": "INFO"}


class Harness:
    """A fuzzing socket, a bystander in the same task room, and the server's log."""

    def __init__(self, server):
        self.server = server
        self.ack_ids = itertools.count(1)
        self.fuzzer = self._socket("fuzzer")
        self.bystander = self._socket("bystander")
        self._ok(self.fuzzer, "task:join", "fuzz_task")
        self._ok(self.bystander, "task:join", "fuzz_task")
        self.log_start = server.log_path.stat().st_size
        self.malformed = 0
        self.reconnects = 0

    def _socket(self, user_id):
        sock = RawSocket(self.server.url)
        answer = sock.connect({"token": self.server.token(f"fuzz-{user_id}")})
        assert "sid" in answer, answer
        return sock

    def _ok(self, sock, event, payload):
        ack = next(self.ack_ids)
        sock.emit(event, payload, ack)
        [envelope] = sock.wait_ack(ack)
        assert envelope["success"] is True, envelope
        return envelope

    def send(self, frame, well_formed):
        """Send one frame, then a probe; check what came back."""
        sock = self.fuzzer
        seen = len(sock.received)
        ack = None
        try:
            if well_formed:
                ack = next(self.ack_ids)
                frame = f"42{ack}{frame}"
            else:
                self.malformed += 1
            sock.send(frame)
            if ack is not None:
                self.check_answer(sock.wait_ack(ack))
            probe = next(self.ack_ids)
            sock.emit("presence:update", "online", probe)
            [envelope] = sock.wait_ack(probe, timeout=5 if well_formed else 3)
            assert envelope["success"] is True, envelope
        except TimeoutError as exc:  # a silent drop: the client would wait for its ack forever
            assert not well_formed, f"a well-formed event {exc}: {frame[:300]!r}"
            self.reconnect()
        except Closed as exc:  # closing is an answer, for what no parser need take
            oversized = len(frame.encode() if isinstance(frame, str) else frame) > 64 * 1024
            deep = isinstance(frame, str) and frame.count("[") + frame.count("{") > DEEP_NESTING
            assert not well_formed or oversized or deep, f"a well-formed event: {exc}: {frame[:300]!r}"
            self.reconnect()
        for packet in sock.received[seen:]:
            if packet.startswith("42") and packet[2:].startswith('["error"'):
                self.check_answer([json.loads(packet[2:])[1]], error_event=True)

    def check_answer(self, args, error_event=False):
        text = json.dumps(args)
        assert len(text) <= MAX_ANSWER_BYTES, f"an answer of {len(text)} bytes: {text[:300]}"
        body = args[0] if args else None
        assert isinstance(body, dict), args
        code = body.get("code") if error_event else (body.get("error") or {}).get("code")
        assert code != "INTERNAL_ERROR", text

    def reconnect(self):
        self.fuzzer.close()
        self.reconnects += 1
        self.fuzzer = self._socket("fuzzer")
        self._ok(self.fuzzer, "task:join", "fuzz_task")

    def check_bystander(self):
        """The bystander is connected and gets a room event; the server answers /health."""
        before = len(self.bystander.named("task:typing"))
        self._ok(self.fuzzer, "task:typing", {"taskId": "fuzz_task", "isTyping": True})
        self._ok(self.fuzzer, "task:typing", {"taskId": "fuzz_task", "isTyping": False})
        self._ok(self.bystander, "presence:update", "online")
        self.bystander.drain(0.2)
        assert len(self.bystander.named("task:typing")) >= before + 2, self.bystander.events[-5:]
        assert not self.bystander.closed
        health = requests.get(self.server.url + "/api/v1/realtime/health", timeout=5)
        assert health.status_code == 200, health.text

    def check_log(self):
        """No traceback through project code; at most one line per malformed frame (+ slack)."""
        with open(self.server.log_path, "rb") as log:
            log.seek(self.log_start)
            text = log.read().decode("utf-8", "replace")
        assert not PROJECT_FRAME.search(text), f"a traceback through project code:\n{text[-4000:]}"
        lines = [line for line in text.splitlines() if line.strip()]
        budget = self.malformed + self.reconnects * 4 + 20
        assert len(lines) <= budget, (f"{len(lines)} log lines for {self.malformed} malformed "
                                      f"frames:\n" + "\n".join(lines[:40]))

    def close(self):
        self.fuzzer.close()
        self.bystander.close()


@pytest.fixture
def harness(live_server):
    harness = Harness(live_server)
    yield harness
    harness.close()


def test_every_client_event_with_fuzzed_payloads(harness):
    @FUZZ
    @given(packet=event_packets())
    def run(packet):
        harness.send(packet, well_formed=True)

    run()
    harness.check_bystander()
    harness.check_log()


def test_malformed_frames(harness):
    @FUZZ
    @given(frame=MALFORMED)
    def run(frame):
        harness.send(frame, well_formed=False)

    run()
    harness.check_bystander()
    harness.check_log()


@pytest.mark.parametrize("case", [
    '42{ack}["task:join","\\ud800"]',
    '42{ack}["task:typing",{"taskId":"fuzz_task","isTyping":1e999}]',
    '42{ack}["notification:read",{"ids":[1e999]}]',
    '42{ack}["authenticate",{"token":"x","lastActivityId":' + "9" * 5000 + '}]',
    '42{ack}["' + "x" * 100_000 + '"]',
    '42{ack}["presence:update",NaN]',
])
def test_known_bad_events(harness, case):
    """The issue's examples, kept as fixed cases beside the generated ones."""
    harness.send(case.replace("42{ack}", ""), well_formed=True)
    harness.check_bystander()
    harness.check_log()


def _well_formed_auth(text):
    """A CONNECT body python-socketio can frame and decode: a JSON object or string (leniently
    parsed), not starting with a digit (which Socket.IO reads as an ack id)."""
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, (dict, str)) and not text[:1].isdigit()


@FUZZ
@given(auth=st.one_of(
    st.sampled_from(['{"token":"x","lastActivityId":' + "9" * 5000 + "}",
                     '{"token":"x","lastNotificationId":1e999}', '{"token":NaN}',
                     '{"token":"\\ud800"}', '"\\ud800"', "[]", "1e999", "{", "null"]),
    st.from_regex(r'\{"token":"[A-Za-z0-9._-]{0,60}","lastActivityId":-?[0-9]{1,40}\}',
                  fullmatch=True)))
def test_handshake_auth_is_answered(live_server, auth):
    """A well-formed CONNECT is always answered, never with INTERNAL_ERROR; the server stays up."""
    sock = RawSocket(live_server.url)
    try:
        answer = sock.connect(raw_auth=auth, timeout=10 if _well_formed_auth(auth) else 1)
    except AssertionError:
        if _well_formed_auth(auth):
            raise
        answer = None
    finally:
        sock.close()
    if sock.refused is not None:
        assert (answer.get("data") or {}).get("code") != "INTERNAL_ERROR", answer
    assert requests.get(live_server.url + "/api/v1/realtime/health", timeout=5).status_code == 200
