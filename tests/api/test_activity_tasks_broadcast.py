"""POST/GET /activity, POST /task/update and POST /broadcast: shapes, streams, pagination, roles."""
import re

import pytest

from devtracker.realtime.delivery.rooms import AUTHENTICATED_ROOM, task_room, user_room
from tests.helpers import assert_error, assert_ok, received

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")
API = "/api/v1/realtime"
ACTIVITY_KEYS = {"id", "seq", "type", "userId", "username", "action", "target", "taskId", "data", "timestamp"}


def record(client, headers, **fields):
    payload = {"type": "comment", "action": "commented", "target": "Fix login", **fields}
    return client.post(f"{API}/activity", json=payload, headers=headers)


def history(client, headers, query=""):
    return assert_ok(client.get(f"{API}/activity{query}", headers=headers))


def update(client, headers, **fields):
    payload = {"taskId": "task_1", "action": "updated", "task": {"title": "Fix login"}, **fields}
    return client.post(f"{API}/task/update", json=payload, headers=headers)


# Activity

def test_recording_activity_returns_the_stored_activity_attributed_to_the_token(client, auth):
    data = assert_ok(record(client, auth("alice", username="Alice A"), taskId="task_9",
                            data={"commentId": 3}), 201)
    assert set(data) == ACTIVITY_KEYS
    assert isinstance(data["id"], int) and data["id"] > 0 and ISO_Z.match(data["timestamp"])
    assert {k: v for k, v in data.items() if k not in ("id", "timestamp")} == {
        "seq": 1, "type": "comment", "userId": "alice", "username": "Alice A", "action": "commented",
        "target": "Fix login", "taskId": "task_9", "data": {"commentId": 3}}


def test_a_service_records_activity_on_behalf_of_an_actor(client, auth):
    data = assert_ok(record(client, auth("svc", "service"),
                            actor={"userId": "bob", "username": "Bob"}), 201)
    assert data["userId"] == "bob" and data["username"] == "Bob"
    assert history(client, auth("alice"), "?userId=bob")["activities"] == [data]


def test_a_user_may_not_name_an_actor_for_activity(client, auth):
    assert_error(record(client, auth("alice"), actor={"userId": "bob"}), 403, "ACTOR_NOT_ALLOWED")
    assert history(client, auth("alice"))["activities"] == []


@pytest.mark.parametrize("field, value", [
    ("type", "gossip"), ("action", ""), ("action", "a" * 65), ("target", " "),
    ("target", "t" * 501), ("taskId", "bad id"), ("data", "text"), ("color", "red"),
])
def test_invalid_activity_fields_are_a_422(client, auth, field, value):
    error = assert_error(record(client, auth("alice"), **{field: value}), 422, "VALIDATION_ERROR")
    assert field in error["details"]
    assert history(client, auth("alice"))["activities"] == []


def test_recorded_activity_is_streamed_to_every_authenticated_socket(client, auth, socket_client):
    one, two = socket_client(AUTHENTICATED_ROOM), socket_client(AUTHENTICATED_ROOM, user_room("bob"))
    outsider = socket_client(user_room("carol"))
    data = assert_ok(record(client, auth("alice")), 201)
    assert received(one) == [("activity:feed", data)]
    assert received(two) == [("activity:feed", data)]
    assert received(outsider) == []


def test_activity_history_is_newest_first_and_pages_with_before(client, auth):
    rows = [assert_ok(record(client, auth("alice"), target=f"t{i}"), 201) for i in range(5)]
    first = history(client, auth("bob"), "?limit=2")
    assert first == {"activities": [rows[4], rows[3]], "nextCursor": rows[3]["id"], "hasMore": True}
    second = history(client, auth("bob"), f"?limit=2&before={first['nextCursor']}")
    assert second == {"activities": [rows[2], rows[1]], "nextCursor": rows[1]["id"], "hasMore": True}
    last = history(client, auth("bob"), f"?limit=2&before={second['nextCursor']}")
    assert last == {"activities": [rows[0]], "nextCursor": None, "hasMore": False}


def test_activity_history_with_after_is_oldest_first(client, auth):
    rows = [assert_ok(record(client, auth("alice"), target=f"t{i}"), 201) for i in range(5)]
    first = history(client, auth("bob"), f"?limit=2&after={rows[0]['id']}")
    assert first == {"activities": [rows[1], rows[2]], "nextCursor": rows[2]["id"], "hasMore": True}
    last = history(client, auth("bob"), f"?limit=2&after={first['nextCursor']}")
    assert last == {"activities": [rows[3], rows[4]], "nextCursor": None, "hasMore": False}
    assert history(client, auth("bob"), "?after=0&limit=100")["activities"] == rows


def test_activity_history_filters_by_user_type_and_task(client, auth):
    a1 = assert_ok(record(client, auth("alice"), type="comment", taskId="task_1"), 201)
    a2 = assert_ok(record(client, auth("alice"), type="project"), 201)
    b1 = assert_ok(record(client, auth("bob"), type="comment", taskId="task_2"), 201)
    assert history(client, auth("carol"), "?userId=alice")["activities"] == [a2, a1]
    assert history(client, auth("carol"), "?type=comment")["activities"] == [b1, a1]
    assert history(client, auth("carol"), "?taskId=task_2")["activities"] == [b1]
    assert history(client, auth("carol"), "?userId=alice&type=comment&taskId=task_1")["activities"] == [a1]
    assert history(client, auth("carol"), "?userId=nobody")["activities"] == []


@pytest.mark.parametrize("query", ["?limit=0", "?limit=101", "?before=0", "?after=-1",
                                   "?type=gossip", "?userId=bad%20id", "?taskId=" + "x" * 129])
def test_bad_activity_query_parameters_are_a_422(client, auth, query):
    error = assert_error(client.get(f"{API}/activity{query}", headers=auth("alice")),
                         422, "VALIDATION_ERROR")
    assert query[1:].split("=")[0] in error["details"]


# Task updates

def test_a_task_update_returns_the_task_update_shape(client, auth):
    data = assert_ok(update(client, auth("alice", username="Alice"), ownerId="bob"))
    assert set(data) == {"taskId", "action", "task", "userId", "username", "timestamp"}
    assert ISO_Z.match(data.pop("timestamp"))
    assert data == {"taskId": "task_1", "action": "updated", "task": {"title": "Fix login"},
                    "userId": "alice", "username": "Alice"}


def test_a_service_publishes_a_task_update_for_an_actor(client, auth):
    data = assert_ok(update(client, auth("svc", "service"), actor={"userId": "bob", "username": "Bob"}))
    assert data["userId"] == "bob" and data["username"] == "Bob"


def test_task_updated_reaches_each_socket_of_the_task_room_and_the_owner_exactly_once(
        client, auth, socket_client):
    viewer = socket_client(task_room("task_1"))
    owner = socket_client(user_room("bob"))
    both = socket_client(task_room("task_1"), user_room("bob"))
    other_task, other_user = socket_client(task_room("task_2")), socket_client(user_room("carol"))
    data = assert_ok(update(client, auth("alice"), ownerId="bob"))
    for sock in (viewer, owner, both):
        assert received(sock) == [("task:updated", data)]
    assert received(other_task) == [] and received(other_user) == []


def test_a_task_update_without_owner_goes_to_the_task_room_only(client, auth, socket_client):
    viewer, owner = socket_client(task_room("task_1")), socket_client(user_room("bob"))
    data = assert_ok(update(client, auth("alice")))
    assert received(viewer) == [("task:updated", data)]
    assert received(owner) == []


def test_a_task_update_is_recorded_as_activity_and_streamed(client, auth, socket_client):
    feed = socket_client(AUTHENTICATED_ROOM)
    data = assert_ok(update(client, auth("alice"), action="status_changed", ownerId="bob",
                            task={"title": "Fix login", "status": "done"}))
    activities = history(client, auth("carol"), "?type=task&taskId=task_1")["activities"]
    assert len(activities) == 1
    activity = activities[0]
    assert activity["type"] == "task" and activity["taskId"] == "task_1"
    assert activity["action"] == "status_changed" and activity["userId"] == "alice"
    assert activity["target"] == "Fix login"
    assert received(feed) == [("activity:feed", activity)]
    assert data["action"] == "status_changed"


@pytest.mark.parametrize("field, fields", [
    ("action", {"action": "archived"}), ("taskId", {"taskId": "bad id"}), ("task", {"task": None}),
    ("task", {"task": "text"}), ("ownerId", {"ownerId": "o" * 129}), ("extra", {"extra": 1}),
])
def test_an_invalid_task_update_is_a_422_and_records_nothing(client, auth, socket_client, field, fields):
    viewer = socket_client(task_room("task_1"), AUTHENTICATED_ROOM)
    error = assert_error(update(client, auth("alice"), **fields), 422, "VALIDATION_ERROR")
    assert field in error["details"]
    assert history(client, auth("alice"))["activities"] == []
    assert received(viewer) == []


def test_a_user_may_not_publish_a_task_update_as_someone_else(client, auth, socket_client):
    viewer = socket_client(task_room("task_1"))
    assert_error(update(client, auth("alice"), actor={"userId": "bob"}), 403, "ACTOR_NOT_ALLOWED")
    assert received(viewer) == []


# Broadcast

def broadcast(client, headers, **fields):
    payload = {"event": "system:maintenance", "message": "Down at noon", **fields}
    return client.post(f"{API}/broadcast", json=payload, headers=headers)


def test_an_admin_broadcast_reaches_every_authenticated_socket(client, auth, socket_client):
    one, two = socket_client(AUTHENTICATED_ROOM), socket_client(AUTHENTICATED_ROOM)
    outsider = socket_client()
    data = assert_ok(broadcast(client, auth("root", "admin"), data={"at": "12:00"}))
    assert set(data) == {"event", "message", "data", "timestamp"}
    assert ISO_Z.match(data["timestamp"])
    assert data["event"] == "system:maintenance" and data["message"] == "Down at noon"
    sent = {"message": "Down at noon", "data": {"at": "12:00"}, "timestamp": data["timestamp"]}
    assert received(one) == [("system:maintenance", sent)]
    assert received(two) == [("system:maintenance", sent)]
    assert received(outsider) == []


def test_a_broadcast_without_data_sends_null_data(client, auth, socket_client):
    sock = socket_client(AUTHENTICATED_ROOM)
    data = assert_ok(broadcast(client, auth("root", "admin")))
    assert data["data"] is None
    assert received(sock) == [("system:maintenance", {"message": "Down at noon", "data": None,
                                                      "timestamp": data["timestamp"]})]


@pytest.mark.parametrize("role", ["user", "service"])
def test_only_admins_may_broadcast(client, auth, socket_client, role):
    sock = socket_client(AUTHENTICATED_ROOM)
    assert_error(broadcast(client, auth("someone", role)), 403, "FORBIDDEN")
    assert received(sock) == []


@pytest.mark.parametrize("field, fields", [
    ("event", {"event": "maintenance"}), ("event", {"event": "notification"}),
    ("event", {"event": "system:"}), ("event", {"event": "xsystem:a"}),
    ("message", {"message": ""}), ("data", {"data": [1]}), ("extra", {"extra": True}),
])
def test_an_invalid_broadcast_is_a_422_and_sends_nothing(client, auth, socket_client, field, fields):
    sock = socket_client(AUTHENTICATED_ROOM)
    error = assert_error(broadcast(client, auth("root", "admin"), **fields), 422, "VALIDATION_ERROR")
    assert field in error["details"]
    assert received(sock) == []
