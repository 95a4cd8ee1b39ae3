"""POST /notify/<userId> and bulk POST /notify: the stored Notification, validation, roles, pushes."""
import re

import pytest

from devtracker.realtime.delivery.rooms import user_room
from tests.helpers import assert_error, assert_ok, received

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")
API = "/api/v1/realtime"
NOTIFICATION_KEYS = {"id", "seq", "type", "title", "message", "taskId", "data", "timestamp", "read"}


def body(**fields):
    """A valid notify body, with fields replaced or added."""
    base = {"type": "mention", "title": "You were mentioned", "message": "@bob look at this"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


def notify(client, headers, user_id="bob", **fields):
    return client.post(f"{API}/notify/{user_id}", json=body(**fields), headers=headers)


def inbox(client, auth, user_id):
    return assert_ok(client.get(f"{API}/notifications?limit=100", headers=auth(user_id)))["notifications"]


def test_notify_returns_201_and_the_exact_notification_shape(client, auth):
    data = assert_ok(notify(client, auth("alice"), taskId="task_1", data={"k": [1, 2]}), 201)
    assert set(data) == NOTIFICATION_KEYS
    assert isinstance(data["id"], int) and data["id"] > 0
    assert ISO_Z.match(data["timestamp"])
    assert {k: v for k, v in data.items() if k not in ("id", "timestamp")} == {
        "seq": 1, "type": "mention", "title": "You were mentioned", "message": "@bob look at this",
        "taskId": "task_1", "data": {"k": [1, 2]}, "read": False}


def test_notify_without_optional_fields_has_null_task_id_and_data(client, auth):
    data = assert_ok(notify(client, auth("alice")), 201)
    assert data["taskId"] is None and data["data"] is None and data["read"] is False


def test_the_notification_is_stored_in_the_recipients_inbox_only(client, auth):
    data = assert_ok(notify(client, auth("alice")), 201)
    assert inbox(client, auth, "bob") == [data]
    assert inbox(client, auth, "alice") == []


def test_event_is_accepted_as_a_synonym_of_type(client, auth):
    data = assert_ok(notify(client, auth("alice"), type=..., event="assignment"), 201)
    assert data["type"] == "assignment"


def test_event_and_type_that_agree_are_accepted(client, auth):
    data = assert_ok(notify(client, auth("alice"), type="comment", event="comment"), 201)
    assert data["type"] == "comment"


def test_event_and_type_that_conflict_are_refused(client, auth):
    error = assert_error(notify(client, auth("alice"), type="comment", event="mention"),
                         422, "VALIDATION_ERROR")
    assert "event" in error["details"]
    assert inbox(client, auth, "bob") == []


def test_task_id_is_taken_from_data_when_the_body_has_none(client, auth):
    data = assert_ok(notify(client, auth("alice"), data={"taskId": "task_42", "x": 1}), 201)
    assert data["taskId"] == "task_42"
    assert data["data"] == {"taskId": "task_42", "x": 1}


def test_the_bodys_task_id_wins_over_data_task_id(client, auth):
    data = assert_ok(notify(client, auth("alice"), taskId="task_1", data={"taskId": "task_2"}), 201)
    assert data["taskId"] == "task_1"


@pytest.mark.parametrize("field, fields", [
    ("type", {"type": "shout"}),
    ("type", {"type": ...}),
    ("title", {"title": ...}),
    ("title", {"title": "   "}),
    ("title", {"title": "t" * 201}),
    ("message", {"message": ...}),
    ("message", {"message": "m" * 2001}),
    ("data", {"data": {"blob": "x" * (16 * 1024)}}),
    ("data", {"data": [1, 2]}),
    ("taskId", {"taskId": "bad task"}),
    ("taskId", {"taskId": "t" * 129}),
    ("priority", {"priority": "high"}),
])
def test_every_invalid_field_is_a_422_naming_that_field(client, auth, field, fields):
    error = assert_error(notify(client, auth("alice"), **fields), 422, "VALIDATION_ERROR")
    assert field in error["details"]
    assert isinstance(error["details"][field], list) and error["details"][field]
    assert inbox(client, auth, "bob") == []


def test_limits_are_inclusive(client, auth):
    data = assert_ok(notify(client, auth("alice"), title="t" * 200, message="m" * 2000,
                            taskId="t" * 128), 201)
    assert len(data["title"]) == 200 and len(data["message"]) == 2000


def test_data_of_exactly_16_kib_as_json_is_accepted(client, auth):
    payload = {"b": "x" * (16 * 1024 - len('{"b":""}'))}
    assert_ok(notify(client, auth("alice"), data=payload), 201)


def test_malformed_json_is_a_400(client, auth):
    response = client.post(f"{API}/notify/bob", data="{nope", headers=auth("alice"),
                           content_type="application/json")
    assert_error(response, 400, "MALFORMED_JSON")


@pytest.mark.parametrize("user_id", ["u" * 129, "bad%20id", "bob!", "b%C3%B6b"])
def test_a_bad_user_id_in_the_path_is_a_422(client, auth, user_id):
    error = assert_error(notify(client, auth("alice"), user_id=user_id), 422, "VALIDATION_ERROR")
    assert "userId" in error["details"]


def test_a_user_id_of_128_characters_is_accepted(client, auth):
    assert_ok(notify(client, auth("alice"), user_id="u" * 128), 201)


def test_notify_needs_a_token(client):
    assert_error(client.post(f"{API}/notify/bob", json=body()), 401, "TOKEN_MISSING")


def test_a_user_sending_actor_is_refused_with_403(client, auth):
    response = notify(client, auth("alice"), actor={"userId": "carol", "username": "Carol"})
    assert_error(response, 403, "ACTOR_NOT_ALLOWED")
    assert inbox(client, auth, "bob") == []


def test_a_service_may_name_an_actor(client, auth):
    data = assert_ok(notify(client, auth("svc", "service"),
                            actor={"userId": "carol", "username": "Carol"}), 201)
    assert inbox(client, auth, "bob") == [data]


def test_an_invalid_actor_is_a_422(client, auth):
    error = assert_error(notify(client, auth("svc", "service"), actor={"username": "Carol"}),
                         422, "VALIDATION_ERROR")
    assert "actor" in error["details"]


def test_the_notification_is_pushed_to_every_socket_of_the_recipient_and_nobody_else(
        client, auth, socket_client):
    bob_tab1, bob_tab2 = socket_client(user_room("bob")), socket_client(user_room("bob"))
    carol = socket_client(user_room("carol"))
    data = assert_ok(notify(client, auth("alice")), 201)
    assert received(bob_tab1) == [("notification", data)]
    assert received(bob_tab2) == [("notification", data)]
    assert received(carol) == []


def test_a_refused_notification_is_not_pushed(client, auth, socket_client):
    bob = socket_client(user_room("bob"))
    assert_error(notify(client, auth("alice"), title=""), 422, "VALIDATION_ERROR")
    assert_error(notify(client, auth("alice"), actor={"userId": "x"}), 403, "ACTOR_NOT_ALLOWED")
    assert received(bob) == []


def test_ids_increase(client, auth):
    ids = [assert_ok(notify(client, auth("alice"), user_id=u), 201)["id"]
           for u in ("bob", "carol", "bob", "dave")]
    assert ids == sorted(ids) and len(set(ids)) == 4


# Bulk: POST /notify with userIds

def bulk(client, headers, user_ids, **fields):
    return client.post(f"{API}/notify", json=body(userIds=user_ids, **fields), headers=headers)


def test_bulk_notify_stores_one_notification_per_distinct_recipient(client, auth):
    data = assert_ok(bulk(client, auth("alice"), ["bob", "carol", "bob"], taskId="task_7"), 201)
    assert set(data) == {"count", "notifications"}
    assert data["count"] == 2 and len(data["notifications"]) == 2
    first, second = data["notifications"]
    for n in data["notifications"]:
        assert set(n) == NOTIFICATION_KEYS and n["taskId"] == "task_7" and n["read"] is False
        assert ISO_Z.match(n["timestamp"])
    assert first["id"] < second["id"]
    assert inbox(client, auth, "bob") == [first]
    assert inbox(client, auth, "carol") == [second]


def test_bulk_notify_pushes_each_notification_only_to_its_recipient(client, auth, socket_client):
    bob, carol, dave = (socket_client(user_room(u)) for u in ("bob", "carol", "dave"))
    data = assert_ok(bulk(client, auth("alice"), ["bob", "carol"]), 201)
    assert received(bob) == [("notification", data["notifications"][0])]
    assert received(carol) == [("notification", data["notifications"][1])]
    assert received(dave) == []


def test_bulk_notify_is_all_or_none(client, auth, socket_client):
    bob = socket_client(user_room("bob"))
    error = assert_error(bulk(client, auth("alice"), ["bob", "bad id", "carol"]), 422, "VALIDATION_ERROR")
    assert "userIds" in error["details"]
    assert inbox(client, auth, "bob") == [] and inbox(client, auth, "carol") == []
    assert received(bob) == []


@pytest.mark.parametrize("user_ids", [[], None, "bob", ["x" * 129]])
def test_bulk_notify_needs_a_list_of_valid_user_ids(client, auth, user_ids):
    payload = body(userIds=user_ids) if user_ids is not None else body()
    error = assert_error(client.post(f"{API}/notify", json=payload, headers=auth("alice")),
                         422, "VALIDATION_ERROR")
    assert "userIds" in error["details"]


def test_bulk_notify_validates_the_other_fields_too(client, auth):
    error = assert_error(bulk(client, auth("alice"), ["bob"], title="t" * 201), 422, "VALIDATION_ERROR")
    assert "title" in error["details"]
    assert inbox(client, auth, "bob") == []


def test_bulk_notify_refuses_actor_from_a_user(client, auth):
    assert_error(bulk(client, auth("alice"), ["bob"], actor={"userId": "carol"}), 403, "ACTOR_NOT_ALLOWED")
    assert inbox(client, auth, "bob") == []


class TestRecipientLimit:
    @pytest.fixture
    def config_overrides(self):
        return {"MAX_RECIPIENTS": 2}

    def test_more_recipients_than_max_recipients_is_a_422(self, client, auth):
        error = assert_error(bulk(client, auth("alice"), ["bob", "carol", "dave"]), 422, "VALIDATION_ERROR")
        assert "userIds" in error["details"]
        for user in ("bob", "carol", "dave"):
            assert inbox(client, auth, user) == []

    def test_exactly_max_recipients_is_accepted_and_duplicates_count_once(self, client, auth):
        data = assert_ok(bulk(client, auth("alice"), ["bob", "carol", "bob"]), 201)
        assert data["count"] == 2


def test_seq_numbers_each_recipients_stream_with_no_hole(client, auth):
    """SPEC §9: per recipient 1, 2, 3 ...; a bulk notify numbers each recipient's own stream,
    and a rolled-back write (an unknown field) uses no number."""
    headers = auth("svc", "service")
    seqs = {}
    for user_ids in (["bob"], ["bob", "carol"], ["carol", "dave", "bob"], ["dave"]):
        response = client.post("/api/v1/realtime/notify", headers=headers,
                               json={"userIds": user_ids, "type": "update", "title": "t", "message": "m"})
        assert response.status_code == 201, response.get_data(as_text=True)
        for user_id, note in zip(user_ids, response.get_json()["data"]["notifications"]):
            seqs.setdefault(user_id, []).append(note["seq"])
        bad = client.post("/api/v1/realtime/notify", headers=headers,
                          json={"userIds": user_ids, "type": "nope", "title": "t", "message": "m"})
        assert bad.status_code == 422
    assert seqs == {"bob": [1, 2, 3], "carol": [1, 2], "dave": [1, 2]}
    listed = client.get("/api/v1/realtime/notifications?userId=bob", headers=headers).get_json()["data"]
    assert [n["seq"] for n in listed["notifications"]] == [3, 2, 1]
