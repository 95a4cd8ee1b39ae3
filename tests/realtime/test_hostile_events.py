"""Hostile socket input (issue: hardening): text and numbers that are not strict JSON, unknown
events, floods of them, and one user opening too many sockets. Each is refused with an
envelope; none reaches INTERNAL_ERROR, and other sockets are not disturbed."""
import pytest

from tests.realtime.support import ack_error, ack_ok, collect, drain, error_event, names
from tests.realtime.support import sockets  # noqa: F401  (fixture)

SURROGATE = "\ud800"
# Every client event with its payload, carrying `bad` where a client could put anything.
EVENTS = {
    "authenticate": lambda bad: {"token": "t", "lastActivityId": bad},
    "auth:refresh": lambda bad: bad,
    "task:join": lambda bad: bad,
    "task:leave": lambda bad: {"taskId": bad},
    "task:typing": lambda bad: {"taskId": "task_1", "isTyping": bad},
    "presence:update": lambda bad: {"status": bad},
    "notification:read": lambda bad: {"ids": [1, bad]},
    "notification:read_all": lambda bad: {"x": bad},
}
# Numbers that are not strict JSON cannot be sent through the test client (its encoder writes
# them as null): tests/integration/test_hostile_packets.py sends them as raw text.
BAD_VALUES = {"lone_surrogate": SURROGATE, "surrogate_in_text": "task" + SURROGATE,
              "nested": {"a": [SURROGATE]}}


@pytest.mark.parametrize("value", sorted(BAD_VALUES))
@pytest.mark.parametrize("event", sorted(EVENTS))
def test_text_and_numbers_that_are_not_strict_json_are_a_422(sockets, event, value):
    watcher = sockets.connect("bob")
    sock = sockets.connect("alice") if event != "authenticate" else sockets.legacy()
    drain(watcher)
    ack = sock.emit(event, EVENTS[event](BAD_VALUES[value]), callback=True)
    ack_error(ack, "VALIDATION_ERROR")
    assert sock.is_connected() and watcher.is_connected()
    assert collect(watcher, 0.05) == []


def test_without_an_ack_the_refusal_is_an_error_event(sockets):
    sock = sockets.connect("alice")
    sock.emit("task:join", SURROGATE)
    error = error_event(drain(sock), "VALIDATION_ERROR", "task:join")
    assert error["details"] == {"_schema": ["Strings must be valid Unicode (no lone surrogates)."]}


def test_an_unknown_event_is_not_echoed(sockets):
    sock = sockets.connect("alice")
    name = "x" * 100_000
    error = ack_error(sock.emit(name, None, callback=True), "UNKNOWN_EVENT")
    assert len(error["message"]) < 100
    sock.emit(name, None)
    assert error_event(drain(sock), "UNKNOWN_EVENT", None)
    sock.emit("nope:nope")
    assert error_event(drain(sock), "UNKNOWN_EVENT", "nope:nope")


def test_unknown_events_count_against_the_rate_limit(app, sockets):
    sock = sockets.connect("alice")
    codes = [sock.emit(f"made:up:{i}", None, callback=True)["error"]["code"]
             for i in range(app.config["SOCKET_EVENT_BURST"] + 5)]
    assert codes[0] == "UNKNOWN_EVENT"
    assert "RATE_LIMITED" in codes
    ack_error(sock.emit("task:join", "task_1", callback=True), "RATE_LIMITED")


@pytest.mark.parametrize("config_overrides", [{"MAX_SOCKETS_PER_USER": 3}])
def test_a_user_holds_at_most_max_sockets_per_user(client, sockets, config_overrides):
    held = [sockets.connect("alice") for _ in range(3)]
    refused = sockets.open({"token": sockets.token("alice")})
    assert refused.is_connected() is False
    legacy = sockets.legacy()
    error = ack_error(legacy.emit("authenticate", sockets.token("alice"), callback=True),
                      "TOO_MANY_CONNECTIONS")
    assert "3" in error["message"]
    assert sockets.connect("bob").is_connected()  # other users are not affected
    held[0].disconnect()
    again = sockets.connect("alice")
    assert "authenticated" in names(again.handshake)
