"""Task rooms (SPEC §3, §4): the join ack, viewers per user (joined on the first socket, left on
the last), payload forms, validation and the per-socket limits."""
import pytest

from tests.helpers import assert_ok
from tests.realtime.support import (API, ack_error, ack_ok, clear, drain, error_event, payloads,
                                    wait_until)
from tests.realtime.support import sockets  # noqa: F401  (fixture)

BAD_IDS = ["", "bad id", "x" * 129, "task/1", None, 5, 1.5, True, ["task_1"], {"taskId": 5}, {},
           {"id": "task_1"}]


def viewer(user_id, status="online"):
    return {"userId": user_id, "username": user_id.title(), "status": status}


def member(user_id, task_id="task_1"):
    return {"userId": user_id, "username": user_id.title(), "taskId": task_id}


def room_events(sock, name):
    return payloads(drain(sock), name)


def join(sock, payload="task_1"):
    return ack_ok(sock.emit("task:join", payload, callback=True))


def test_the_join_ack_lists_viewers_and_typists(client, auth, sockets):
    alice, bob = sockets.connect("alice"), sockets.connect("bob")
    assert join(alice) == {"taskId": "task_1", "viewingUsers": [viewer("alice")], "typingUsers": [],
                           "totalViewing": 1}
    ack_ok(alice.emit("task:typing", {"taskId": "task_1", "isTyping": True}, callback=True))
    data = join(bob, {"taskId": "task_1"})
    assert data == {"taskId": "task_1", "viewingUsers": [viewer("alice"), viewer("bob")],
                    "typingUsers": ["alice"], "totalViewing": 2}
    assert assert_ok(client.get(f"{API}/task/task_1/users", headers=auth("carol"))) == data


@pytest.mark.parametrize("payload", ["task_1", {"taskId": "task_1"}])
def test_join_takes_a_string_or_an_object(sockets, payload):
    sock = sockets.connect("alice")
    assert join(sock, payload)["taskId"] == "task_1"
    assert ack_ok(sock.emit("task:leave", payload, callback=True)) == {"taskId": "task_1"}


def test_user_joined_goes_to_the_others_in_the_room_on_the_users_first_socket_only(sockets):
    alice1, alice2 = sockets.connect("alice"), sockets.connect("alice")
    bob1, bob2 = sockets.connect("bob"), sockets.connect("bob")
    carol = sockets.connect("carol")
    join(alice1)
    clear(alice1, alice2, bob1, bob2, carol)
    join(bob1)
    assert room_events(alice1, "task:user_joined") == [member("bob")]
    for sock in (alice2, bob1, bob2, carol):  # not in the room, or the joiner
        assert room_events(sock, "task:user_joined") == [], sock
    join(bob2)
    join(alice2)
    for sock in (alice1, alice2, bob1, bob2, carol):  # both users were already viewing
        assert room_events(sock, "task:user_joined") == []


def test_joining_twice_is_idempotent(sockets):
    alice, bob = sockets.connect("alice"), sockets.connect("bob")
    join(bob)
    first = join(alice)
    clear(alice, bob)
    assert join(alice) == first
    assert drain(bob) == [] and drain(alice) == []  # no second user_joined, no presence change


def test_user_left_goes_out_when_the_users_last_socket_leaves(sockets):
    alice1, alice2, bob = sockets.connect("alice"), sockets.connect("alice"), sockets.connect("bob")
    for sock in (bob, alice1, alice2):
        join(sock)
    clear(alice1, alice2, bob)
    ack_ok(alice1.emit("task:leave", "task_1", callback=True))
    assert room_events(bob, "task:user_left") == [] and room_events(alice2, "task:user_left") == []
    ack_ok(alice2.emit("task:leave", {"taskId": "task_1"}, callback=True))
    assert room_events(bob, "task:user_left") == [member("alice")]
    assert room_events(alice1, "task:user_left") == [] and room_events(alice2, "task:user_left") == []
    clear(bob)
    assert ack_ok(alice2.emit("task:leave", "task_1", callback=True)) == {"taskId": "task_1"}
    assert drain(bob) == []  # leaving a room one is not in: a no-op


def test_disconnect_leaves_every_room_and_user_left_goes_out_on_the_last_socket(client, auth, sockets):
    alice1, alice2, bob = sockets.connect("alice"), sockets.connect("alice"), sockets.connect("bob")
    for task in ("task_1", "task_2"):
        join(bob, task)
        join(alice1, task)
    join(alice2, "task_1")
    clear(bob)
    alice2.disconnect()
    assert room_events(bob, "task:user_left") == []
    alice1.disconnect()
    assert room_events(bob, "task:user_left") == [member("alice", "task_1"), member("alice", "task_2")]
    for task in ("task_1", "task_2"):
        state = assert_ok(client.get(f"{API}/task/{task}/users", headers=auth("bob")))
        assert state == {"taskId": task, "viewingUsers": [viewer("bob")], "typingUsers": [],
                         "totalViewing": 1}


@pytest.mark.parametrize("event", ["task:join", "task:leave"])
@pytest.mark.parametrize("payload", BAD_IDS, ids=[repr(p)[:20] for p in BAD_IDS])
def test_an_invalid_task_id_is_a_validation_error(client, auth, sockets, event, payload):
    sock = sockets.connect("alice")
    error = ack_error(sock.emit(event, payload, callback=True), "VALIDATION_ERROR")
    assert "taskId" in error["details"]
    assert sock.emit(event, payload) is None
    error_event(drain(sock), "VALIDATION_ERROR", event)
    assert assert_ok(client.get(f"{API}/stats", headers=auth("alice")))["activeRooms"] == 0


@pytest.mark.parametrize("config_overrides", [{"MAX_TASKS_PER_SOCKET": 2}])
def test_a_socket_views_at_most_max_tasks(client, auth, sockets):
    sock, other = sockets.connect("alice"), sockets.connect("alice")
    join(sock, "task_1"), join(sock, "task_2")
    ack_error(sock.emit("task:join", "task_3", callback=True), "TOO_MANY_TASKS")
    assert sock.emit("task:join", "task_3") is None
    error_event(drain(sock), "TOO_MANY_TASKS", "task:join")
    state = assert_ok(client.get(f"{API}/task/task_3/users", headers=auth("bob")))
    assert state["viewingUsers"] == []
    assert join(sock, "task_1")["taskId"] == "task_1"  # one already viewed is fine
    assert join(other, "task_3")["taskId"] == "task_3"  # the limit is per socket
    ack_ok(sock.emit("task:leave", "task_2", callback=True))
    assert join(sock, "task_4")["taskId"] == "task_4"


@pytest.mark.parametrize("config_overrides", [{"JOIN_EVENT_RATE": 1}])
def test_joins_are_rate_limited(client, auth, sockets):
    sock = sockets.connect("alice")
    accepted = []
    for n in range(1, 6):
        ack = sock.emit("task:join", f"task_{n}", callback=True)
        if not ack["success"]:
            ack_error(ack, "RATE_LIMITED")
            break
        accepted.append(n)
    assert 1 <= len(accepted) < 5
    state = assert_ok(client.get(f"{API}/task/task_{n}/users", headers=auth("bob")))
    assert state["viewingUsers"] == []
    assert sock.emit("task:join", "task_9") is None
    error_event(drain(sock), "RATE_LIMITED", "task:join")
    wait_until(lambda: sock.emit("task:join", "task_9", callback=True)["success"], timeout=3,
               message="the join rate refilled", interval=0.1)
