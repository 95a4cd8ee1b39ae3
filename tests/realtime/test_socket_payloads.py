"""Socket payloads go through marshmallow schemas both ways (issue 18).

In: every client event's payload is loaded by its schema (schemas/socket.py) and a refusal is
the REST 422: VALIDATION_ERROR, "Some fields are invalid.", per-field `details`, the same ones a
REST call with the same bad value gets. Out: the presence and room events are their schemas'
fields, whichever code builds them.
"""
import pytest

from devtracker.errors import AppError
from devtracker.ids import ID_MESSAGE
from devtracker.sockets.handshake import Cursors, parse_auth, task_id_of
from devtracker.schemas.presence import (TaskViewersSchema, TypingEventSchema, UserPresenceSchema,
                                         ViewerEventSchema, ViewerSchema)
from tests.helpers import assert_error, assert_ok
from tests.realtime.support import API, ack_ok, clear, drain, payloads
from tests.realtime.support import sockets  # noqa: F401  (fixture)

INVALID = "Some fields are invalid."
# event, payload, the details of its refusal
REFUSALS = [
    ("task:join", "bad id", {"taskId": [ID_MESSAGE]}),
    ("task:join", {"id": "task_1"}, {"taskId": [ID_MESSAGE]}),
    ("task:leave", 5, {"taskId": [ID_MESSAGE]}),
    ("task:typing", "task_1", {"_schema": ["task:typing takes {taskId, isTyping}."]}),
    ("task:typing", {"taskId": "task_1", "isTyping": "yes"}, {"isTyping": ["Must be true or false."]}),
    ("task:typing", {"taskId": None, "isTyping": 1},
     {"taskId": [ID_MESSAGE], "isTyping": ["Must be true or false."]}),
    ("presence:update", "busy", {"status": ["Must be online or away."]}),
    ("presence:update", {"status": None}, {"status": ["Must be online or away."]}),
    ("notification:read", "1", {"_schema": ["notification:read takes {id} or {ids}."]}),
    ("notification:read", {}, {"_schema": ["Send either id or ids."]}),
    ("notification:read", {"id": 1, "color": "red"}, {"color": ["Unknown field."]}),
    ("auth:refresh", {"token": 5}, {"token": ["Must be a string."]}),
    ("auth:refresh", [1], {"_schema": [
        "auth must be a token string or {token, lastNotificationId, lastActivityId}."]}),
]


def refusal(details):
    return {"success": False, "error": {"code": "VALIDATION_ERROR", "message": INVALID,
                                        "details": details}}


@pytest.mark.parametrize("event, payload, details", REFUSALS,
                         ids=[f"{e}-{p!r}"[:40] for e, p, _ in REFUSALS])
def test_a_refused_payload_gets_the_rest_422_envelope(sockets, event, payload, details):
    sock = sockets.connect("alice")
    assert sock.emit(event, payload, callback=True) == refusal(details)
    assert sock.emit(event, payload) is None
    [error] = payloads(drain(sock), "error")
    assert error == {"code": "VALIDATION_ERROR", "message": INVALID, "event": event, "details": details}


def test_a_bad_task_id_is_refused_with_the_same_details_over_rest_and_socket(client, auth, sockets):
    rest = assert_error(client.get(f"{API}/task/bad%20id/users", headers=auth("alice")), 422,
                        "VALIDATION_ERROR")
    sock = sockets.connect("alice")
    assert sock.emit("task:join", "bad id", callback=True) == {"success": False, "error": rest}


def test_a_refused_authenticate_says_why_in_its_answer_and_its_ack(sockets):
    sock = sockets.legacy()
    ack = sock.emit("authenticate", {"token": "t", "lastActivityId": -1}, callback=True)
    assert ack == refusal({"lastActivityId": ["Must be a whole number >= 0."]})
    assert payloads(drain(sock), "authenticated") == [{"success": False, "error": ack["error"]}]


@pytest.mark.parametrize("auth, expected", [
    (None, (None, Cursors())),
    ("Bearer abc", ("abc", Cursors())),
    ({"token": "", "extra": 1}, (None, Cursors())),
    ({"token": "t", "lastNotificationId": "12", "lastActivityId": 3, "lastNotificationSeq": 0,
      "lastActivitySeq": 10 ** 30}, ("t", Cursors(12, 3, 0, 2 ** 63 - 1))),
])
def test_the_handshake_auth_is_loaded_by_its_schema(auth, expected):
    assert parse_auth(auth) == expected


@pytest.mark.parametrize("auth, details", [
    (42, {"_schema": ["auth must be a token string or {token, lastNotificationId, lastActivityId}."]}),
    ({"token": b"t"}, {"token": ["Must be a string."]}),
    ({"token": "t", "lastNotificationId": True, "lastActivitySeq": 1.5},
     {"lastNotificationId": ["Must be a whole number >= 0."], "lastActivitySeq": ["Must be a whole number >= 0."]}),
])
def test_a_bad_handshake_auth_is_a_422_with_details(auth, details):
    with pytest.raises(AppError) as caught:
        parse_auth(auth)
    assert (caught.value.code, caught.value.status, caught.value.details) == ("VALIDATION_ERROR", 422, details)


@pytest.mark.parametrize("payload", [b"task_1", {"taskId": b"task_1"}])
def test_bytes_are_not_a_task_id(payload):
    with pytest.raises(AppError) as caught:
        task_id_of(payload)
    assert caught.value.details == {"taskId": [ID_MESSAGE]}


def test_presence_and_room_events_are_their_schemas_fields(client, auth, sockets):
    bob = sockets.connect("bob")
    alice = sockets.connect("alice")
    presence_fields = set(UserPresenceSchema().fields)
    assert [set(p) for p in payloads(alice.handshake, "presence:list")[0]] == [presence_fields] * 2
    assert [set(p) for p in payloads(drain(bob), "user:online")] == [presence_fields]

    ack_ok(bob.emit("task:join", "task_1", callback=True))
    joined = ack_ok(alice.emit("task:join", "task_1", callback=True))
    assert joined == TaskViewersSchema().dump(joined)
    assert {frozenset(v) for v in joined["viewingUsers"]} == {frozenset(ViewerSchema().fields)}
    assert assert_ok(client.get(f"{API}/task/task_1/users", headers=auth("carol"))) == joined
    assert payloads(drain(bob), "task:user_joined") == [
        ViewerEventSchema().dump({"user_id": "alice", "username": "Alice", "task_id": "task_1"})]

    clear(alice, bob)
    ack_ok(alice.emit("task:typing", {"taskId": "task_1", "isTyping": True}, callback=True))
    assert payloads(drain(bob), "task:typing") == [TypingEventSchema().dump(
        {"user_id": "alice", "username": "Alice", "task_id": "task_1", "is_typing": True})]
    updated = ack_ok(alice.emit("presence:update", "away", callback=True))
    assert set(updated) == presence_fields and updated["status"] == "away"
    assert payloads(drain(bob), "presence:update") == [updated]
