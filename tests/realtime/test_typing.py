"""Typing indicators (SPEC §4): broadcast on change only, to the room, never to the typist's own
sockets; cleared on false, leave, disconnect and timeout, each exactly once."""
import time

import pytest

from tests.helpers import assert_ok
from tests.realtime.support import (API, ack_error, ack_ok, clear, collect, drain, error_event,
                                    payloads, wait_for)
from tests.realtime.support import sockets  # noqa: F401  (fixture)

TIMEOUT = 0.5  # TestConfig.TYPING_TIMEOUT_SECONDS
BAD_PAYLOADS = ["task_1", None, 5, [], {}, {"taskId": "task_1"}, {"isTyping": True},
                {"taskId": "task_1", "isTyping": "yes"}, {"taskId": "task_1", "isTyping": 1},
                {"taskId": "task_1", "isTyping": None}, {"taskId": "bad id", "isTyping": True},
                {"taskId": None, "isTyping": True}, {"taskId": ["task_1"], "isTyping": False}]


def typing(is_typing, user_id="alice", task_id="task_1"):
    return {"userId": user_id, "username": user_id.title(), "taskId": task_id, "isTyping": is_typing}


def typed(sock):
    """The task:typing payloads a socket received since last asked."""
    return payloads(drain(sock), "task:typing")


def send(sock, is_typing, task_id="task_1"):
    return ack_ok(sock.emit("task:typing", {"taskId": task_id, "isTyping": is_typing}, callback=True))


@pytest.fixture
def room(sockets):
    """alice on two sockets and bob in task_1; carol online but not in the room."""
    alice1, alice2, bob, carol = (sockets.connect(u) for u in ("alice", "alice", "bob", "carol"))
    for sock in (alice1, alice2, bob):
        ack_ok(sock.emit("task:join", "task_1", callback=True))
    clear(alice1, alice2, bob, carol)
    return alice1, alice2, bob, carol


def typists(client, auth):
    return assert_ok(client.get(f"{API}/task/task_1/users", headers=auth("carol")))["typingUsers"]


def test_typing_goes_to_the_room_on_change_only_never_to_the_typist(client, auth, room):
    alice1, alice2, bob, carol = room
    assert send(alice1, True) == {"taskId": "task_1", "isTyping": True}
    assert typed(bob) == [typing(True)]
    assert typed(alice1) == typed(alice2) == typed(carol) == []
    assert typists(client, auth) == ["alice"]
    send(alice1, True)  # a refresh
    send(alice2, True)  # the same user typing on the other device
    assert typed(bob) == typed(alice1) == typed(alice2) == typed(carol) == []
    assert send(alice1, False) == {"taskId": "task_1", "isTyping": False}
    assert typed(bob) == [typing(False)]
    send(alice1, False)
    assert typed(bob) == typed(alice1) == typed(alice2) == typed(carol) == []
    assert typists(client, auth) == []


def test_others_typing_reaches_the_typists_other_sockets(room):
    alice1, alice2, bob, _ = room
    send(bob, True)
    assert typed(alice1) == typed(alice2) == [typing(True, "bob")]
    assert typed(bob) == []


def test_leaving_clears_typing_once(client, auth, room):
    alice1, alice2, bob, carol = room
    send(alice1, True)
    clear(bob)
    ack_ok(alice2.emit("task:leave", "task_1", callback=True))  # not the typing socket
    assert typed(bob) == [] and typists(client, auth) == ["alice"]
    ack_ok(alice1.emit("task:leave", "task_1", callback=True))
    assert typed(bob) == [typing(False)]
    assert typed(alice1) == typed(alice2) == typed(carol) == []
    assert typists(client, auth) == []
    assert collect(bob, TIMEOUT + 0.2) == []  # the timeout does not clear it a second time


def test_disconnecting_clears_typing_once(client, auth, room):
    alice1, alice2, bob, _ = room
    send(alice1, True)
    clear(bob)
    alice1.disconnect()
    assert typed(bob) == [typing(False)]
    assert typed(alice2) == []
    assert typists(client, auth) == []
    assert payloads(collect(bob, TIMEOUT + 0.2), "task:typing") == []


def test_typing_times_out_without_a_refresh_once(client, auth, room):
    alice1, alice2, bob, carol = room
    started = time.monotonic()
    send(alice1, True)
    clear(bob)
    packets = wait_for(bob, "task:typing", timeout=TIMEOUT + 2)
    assert time.monotonic() - started >= TIMEOUT - 0.02
    assert payloads(packets, "task:typing") == [typing(False)]
    assert typists(client, auth) == []
    assert payloads(collect(bob, TIMEOUT), "task:typing") == []
    assert typed(alice1) == typed(alice2) == typed(carol) == []


def test_a_refresh_pushes_the_timeout_back(room):
    alice1, _, bob, _ = room
    send(alice1, True)
    clear(bob)
    assert collect(bob, TIMEOUT * 0.6) == []
    refreshed = time.monotonic()
    send(alice1, True)
    assert collect(bob, TIMEOUT * 0.6) == []  # past the first expiry, still typing
    wait_for(bob, "task:typing", timeout=TIMEOUT + 2, where=lambda p: p["isTyping"] is False)
    assert time.monotonic() - refreshed >= TIMEOUT - 0.02


def test_typing_in_a_room_not_joined_is_refused(client, auth, room):
    alice1, _, bob, carol = room
    ack_error(carol.emit("task:typing", {"taskId": "task_1", "isTyping": True}, callback=True),
              "NOT_IN_TASK")
    assert carol.emit("task:typing", {"taskId": "task_1", "isTyping": True}) is None
    error_event(drain(carol), "NOT_IN_TASK", "task:typing")
    ack_ok(alice1.emit("task:leave", "task_1", callback=True))
    clear(bob)
    ack_error(alice1.emit("task:typing", {"taskId": "task_1", "isTyping": True}, callback=True),
              "NOT_IN_TASK")
    assert typed(bob) == [] and typists(client, auth) == []


@pytest.mark.parametrize("payload", BAD_PAYLOADS, ids=[repr(p)[:30] for p in BAD_PAYLOADS])
def test_a_bad_typing_payload_is_a_validation_error(room, payload):
    alice1, _, bob, _ = room
    ack_error(alice1.emit("task:typing", payload, callback=True), "VALIDATION_ERROR")
    assert alice1.emit("task:typing", payload) is None
    error_event(drain(alice1), "VALIDATION_ERROR", "task:typing")
    assert typed(bob) == []


def test_typing_is_rate_limited_and_a_refused_event_broadcasts_nothing(room):
    alice1, _, bob, _ = room
    accepted, limited, state, changes = 0, 0, False, 0
    for n in range(30):
        ack = alice1.emit("task:typing", {"taskId": "task_1", "isTyping": n % 2 == 0}, callback=True)
        if ack["success"]:
            accepted += 1
            changes += (n % 2 == 0) != state
            state = n % 2 == 0
        else:
            ack_error(ack, "RATE_LIMITED")
            limited += 1
    assert accepted >= 5 and limited > 0  # SPEC: typing 5/s
    assert len(typed(bob)) == changes
