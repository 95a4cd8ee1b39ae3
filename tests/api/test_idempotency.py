"""Idempotency-Key on notify, bulk notify, activity, task update and broadcast: once, and only once."""
import json

import pytest

from devtracker.realtime.delivery.rooms import AUTHENTICATED_ROOM, task_room, user_room
from tests.helpers import assert_error, assert_ok, received

API = "/api/v1/realtime"

NOTE = {"type": "mention", "title": "Hi", "message": "Look"}
CASES = {
    "notify": {"path": "/notify/bob", "role": "user", "status": 201, "body": NOTE,
               "other": {**NOTE, "title": "Changed"}},
    "bulk notify": {"path": "/notify", "role": "user", "status": 201,
                    "body": {**NOTE, "userIds": ["bob", "carol"]},
                    "other": {**NOTE, "userIds": ["bob"]}},
    "activity": {"path": "/activity", "role": "user", "status": 201,
                 "body": {"type": "comment", "action": "commented", "target": "Fix login"},
                 "other": {"type": "comment", "action": "edited", "target": "Fix login"}},
    "task update": {"path": "/task/update", "role": "user", "status": 200,
                    "body": {"taskId": "task_1", "action": "updated", "task": {"title": "A"},
                             "ownerId": "bob"},
                    "other": {"taskId": "task_1", "action": "deleted", "task": {"title": "A"}}},
    "broadcast": {"path": "/broadcast", "role": "admin", "status": 200,
                  "body": {"event": "system:notice", "message": "Hello all"},
                  "other": {"event": "system:notice", "message": "Bye all"}},
}


@pytest.fixture(params=list(CASES))
def case(request):
    return CASES[request.param]


@pytest.fixture
def listen(socket_client):
    """One socket in every room any of these writes emits to; returns them by room."""

    def make():
        rooms = [user_room("bob"), user_room("carol"), task_room("task_1"), AUTHENTICATED_ROOM]
        return {room: socket_client(room) for room in rooms}

    return make


def post(client, headers, case, body=None, key="key-1"):
    extra = {} if key is None else {"Idempotency-Key": key}
    return client.post(API + case["path"], json=case["body"] if body is None else body,
                       headers={**headers, **extra})


def stored(client, auth):
    """Everything the writes store: bob's and carol's inboxes and the activity history."""
    inbox = {u: assert_ok(client.get(f"{API}/notifications", headers=auth(u)))["notifications"]
             for u in ("bob", "carol")}
    activity = assert_ok(client.get(f"{API}/activity?limit=100", headers=auth("bob")))["activities"]
    return {"bob": inbox["bob"], "carol": inbox["carol"], "activity": activity}


def events(socks):
    return {room: received(sock) for room, sock in socks.items()}


def test_a_repeat_returns_the_first_answer_and_stores_and_emits_once(client, auth, listen, case):
    socks = listen()
    headers = auth("alice", case["role"])
    first = post(client, headers, case)
    assert_ok(first, case["status"])
    after_first = stored(client, auth)
    emitted = events(socks)
    assert any(emitted.values())
    second = post(client, headers, case)
    assert second.status_code == first.status_code
    assert second.get_json() == first.get_json()
    assert stored(client, auth) == after_first
    assert events(socks) == {room: [] for room in socks}


def test_each_write_stores_what_it_should_exactly_once(client, auth, case):
    headers = auth("alice", case["role"])
    for _ in range(3):
        assert_ok(post(client, headers, case), case["status"])
    state = stored(client, auth)
    expected = {"/notify/bob": (1, 0, 0), "/notify": (1, 1, 0), "/activity": (0, 0, 1),
                "/task/update": (0, 0, 1), "/broadcast": (0, 0, 0)}[case["path"]]
    assert (len(state["bob"]), len(state["carol"]), len(state["activity"])) == expected


def test_the_same_key_with_a_different_body_is_a_409(client, auth, listen, case):
    headers = auth("alice", case["role"])
    first = assert_ok(post(client, headers, case), case["status"])
    before = stored(client, auth)
    socks = listen()
    assert_error(post(client, headers, case, body=case["other"]), 409, "IDEMPOTENCY_KEY_REUSED")
    assert stored(client, auth) == before
    assert events(socks) == {room: [] for room in socks}
    assert assert_ok(post(client, headers, case), case["status"]) == first


def test_the_same_key_from_another_caller_is_independent(client, auth, listen, case):
    first = assert_ok(post(client, auth("alice", case["role"]), case), case["status"])
    before = stored(client, auth)
    socks = listen()
    second = assert_ok(post(client, auth("dave", case["role"]), case), case["status"])
    assert any(events(socks).values())
    if case["path"] != "/broadcast":  # broadcasts store nothing; their timestamps may coincide
        assert second != first
        assert stored(client, auth) != before
    other = post(client, auth("erin", case["role"]), case, body=case["other"])
    assert other.status_code == case["status"]


@pytest.mark.parametrize("key", ["k" * 256, "k" * 300, "has space", "tab\there", ""])
def test_an_invalid_key_is_a_422_and_nothing_happens(client, auth, listen, case, key):
    socks = listen()
    before = stored(client, auth)
    error = assert_error(post(client, auth("alice", case["role"]), case, key=key), 422, "VALIDATION_ERROR")
    assert "Idempotency-Key" in error["details"]
    assert stored(client, auth) == before
    assert events(socks) == {room: [] for room in socks}


def test_a_key_of_255_visible_characters_is_accepted(client, auth, case):
    key = "K-" + "x" * 253
    first = assert_ok(post(client, auth("alice", case["role"]), case, key=key), case["status"])
    assert assert_ok(post(client, auth("alice", case["role"]), case, key=key), case["status"]) == first


def test_without_a_key_every_request_is_a_new_write(client, auth):
    headers = auth("alice")
    one = assert_ok(post(client, headers, CASES["notify"], key=None), 201)
    two = assert_ok(post(client, headers, CASES["notify"], key=None), 201)
    assert two["id"] > one["id"]
    assert len(stored(client, auth)["bob"]) == 2


def test_key_order_and_whitespace_of_the_body_do_not_make_a_different_request(client, auth, listen):
    headers = {**auth("alice"), "Idempotency-Key": "k", "Content-Type": "application/json"}
    first = client.post(f"{API}/notify/bob", data=json.dumps(NOTE), headers=headers)
    socks = listen()
    shuffled = json.dumps(dict(reversed(list(NOTE.items()))), indent=2)
    second = client.post(f"{API}/notify/bob", data=shuffled, headers=headers)
    assert second.status_code == 201 and second.get_json() == first.get_json()
    assert events(socks) == {room: [] for room in socks}
    assert len(stored(client, auth)["bob"]) == 1


def test_a_refused_request_does_not_use_up_its_key(client, auth):
    headers = auth("alice")
    assert_error(post(client, headers, CASES["notify"], body={**NOTE, "title": ""}), 422, "VALIDATION_ERROR")
    assert_error(post(client, headers, CASES["notify"], body={**NOTE, "actor": {"userId": "x"}}),
                 403, "ACTOR_NOT_ALLOWED")
    assert_ok(post(client, headers, CASES["notify"]), 201)
    assert len(stored(client, auth)["bob"]) == 1


def test_a_replay_returns_the_first_answer_even_after_the_state_changed(client, auth):
    headers = auth("alice")
    first = assert_ok(post(client, headers, CASES["notify"]), 201)
    assert_ok(client.post(f"{API}/notifications/{first['id']}/read", headers=auth("bob")))
    assert assert_ok(post(client, headers, CASES["notify"]), 201) == first


def test_the_same_key_for_another_recipient_is_never_answered_with_the_first_notification(client, auth):
    headers = auth("alice")
    first = assert_ok(post(client, headers, CASES["notify"]), 201)
    response = client.post(f"{API}/notify/carol", json=NOTE, headers={**headers, "Idempotency-Key": "key-1"})
    assert response.status_code in (201, 409)
    assert response.get_json().get("data") != first
    assert stored(client, auth)["bob"] == [first]
    assert len(stored(client, auth)["carol"]) == (1 if response.status_code == 201 else 0)
