"""Every payload is built from the schema that defines it (schemas/payload.py), for REST answers
and live events alike (issue 18).

For every builder: the same dict as `schema.dump`, with exactly the schema's fields; a field
added to a schema reaches the payload or fails loudly, never goes missing. Over the wire: the
REST answer, the live event and the stored row read back are one and the same payload.
"""
import importlib
import pkgutil
from datetime import datetime
from types import SimpleNamespace

import pytest
from marshmallow import Schema, fields

import devtracker.schemas
from devtracker.models import Activity, Notification
from devtracker.realtime.delivery.rooms import AUTHENTICATED_ROOM, task_room, user_room
from devtracker.schemas.activity import ActivitySchema
from devtracker.schemas.broadcast import BroadcastSchema, SystemEventSchema
from devtracker.schemas.common import Timestamp
from devtracker.schemas.notification import NOTIFICATION, NotificationSchema, ReadStateSchema
from devtracker.schemas.payload import Payload
from devtracker.schemas.task import TaskUpdateSchema
from tests.helpers import assert_ok, received

API = "/api/v1/realtime"
# What each live event and REST answer carries: the builders that must exist.
EVENT_BUILDERS = {"notification.NOTIFICATION", "notification.READ_STATE", "activity.ACTIVITY",
                  "task.TASK_UPDATE", "broadcast.SYSTEM_EVENT", "broadcast.BROADCAST",
                  "presence.VIEWER_EVENT", "presence.TYPING_EVENT"}
SAMPLES = {fields.String: "text", fields.Integer: 7, fields.Boolean: True, fields.Dict: {"k": [1, None]},
           fields.List: [1, 2], fields.Raw: "raw", Timestamp: datetime(2024, 5, 6, 7, 8, 9, 123456)}


def all_builders():
    """Every Payload defined in a devtracker.schemas module, by `module.NAME`."""
    found = {}
    for info in pkgutil.iter_modules(devtracker.schemas.__path__):
        module = importlib.import_module(f"devtracker.schemas.{info.name}")
        found.update({f"{info.name}.{name}": value for name, value in vars(module).items()
                      if isinstance(value, Payload)})
    return found


BUILDERS = all_builders()


def source(builder, nulls=False):
    """A value for every attribute the builder's schema reads (None for all with `nulls`)."""
    return {field.attribute or name: None if nulls else SAMPLES[type(field)]
            for name, field in builder.schema.dump_fields.items()}


def test_every_event_type_has_a_builder():
    assert EVENT_BUILDERS <= set(BUILDERS)


@pytest.mark.parametrize("nulls", [False, True], ids=["values", "nulls"])
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_a_builder_equals_its_schemas_dump_field_for_field(name, nulls):
    builder = BUILDERS[name]
    values = source(builder, nulls)
    expected = builder.schema.dump(values)
    assert set(expected) == {f.data_key or n for n, f in builder.schema.dump_fields.items()}
    assert builder.build(values) == expected
    assert builder.build_from(SimpleNamespace(**values)) == expected
    assert set(builder.keys) == set(expected)
    assert builder.build({**values, "extra": 1, "user_id_x": 2}) == expected  # nothing else leaks


def test_a_field_added_to_a_schema_reaches_the_payload_or_fails_loudly():
    class Extended(NotificationSchema):
        seen = fields.Boolean()

    builder = Payload(Extended)
    values = source(NOTIFICATION)
    with pytest.raises(KeyError):
        builder.build(values)
    with pytest.raises(AttributeError):
        builder.build_from(SimpleNamespace(**values))
    assert builder.build({**values, "seen": False})["seen"] is False


def test_a_field_type_the_builder_does_not_know_is_refused_when_compiled():
    class Dated(Schema):
        day = fields.Date()

    with pytest.raises(TypeError, match="Dated.day"):
        Payload(Dated)


# Over the wire: REST answer == live event == the stored row == schema.dump of the model

def test_a_notification_is_one_payload_in_the_answer_the_event_the_inbox_and_the_dump(
        db, client, auth, socket_client):
    bob, carol = socket_client(user_room("bob")), socket_client(user_room("carol"))
    body = {"userIds": ["bob", "carol"], "type": "mention", "title": "T", "message": "M",
            "data": {"taskId": "task_3", "n": [1]}}
    stored = assert_ok(client.post(f"{API}/notify", json=body, headers=auth("svc", "service")), 201)
    live = [payload for sock in (bob, carol) for _, payload in received(sock, "notification")]
    assert live == stored["notifications"]
    for user_id, payload in zip(("bob", "carol"), stored["notifications"]):
        row = db.session.get(Notification, payload["id"])
        assert NotificationSchema().dump(row) == payload and row.user_id == user_id
        inbox = assert_ok(client.get(f"{API}/notifications", headers=auth(user_id)))["notifications"]
        assert inbox == [payload]


def test_the_read_state_is_one_payload_in_the_answer_and_the_event(client, auth, socket_client):
    bob = socket_client(user_room("bob"))
    body = {"type": "mention", "title": "T", "message": "M"}
    note = assert_ok(client.post(f"{API}/notify/bob", json=body, headers=auth("svc", "service")), 201)
    state = assert_ok(client.post(f"{API}/notifications/{note['id']}/read", headers=auth("bob")))
    assert state == ReadStateSchema().dump({"ids": [note["id"]], "unreadCount": 0})
    assert [p for _, p in received(bob, "notification:read")] == [state]


def test_an_activity_is_one_payload_in_the_answer_the_event_the_history_and_the_dump(
        db, client, auth, socket_client):
    watcher = socket_client(AUTHENTICATED_ROOM)
    body = {"type": "comment", "action": "commented", "target": "Fix login", "taskId": "task_1",
            "data": {"commentId": 3}}
    stored = assert_ok(client.post(f"{API}/activity", json=body, headers=auth("alice")), 201)
    assert [p for _, p in received(watcher, "activity:feed")] == [stored]
    assert ActivitySchema().dump(db.session.get(Activity, stored["id"])) == stored
    assert assert_ok(client.get(f"{API}/activity", headers=auth("alice")))["activities"] == [stored]


def test_a_task_update_is_one_payload_in_the_answer_and_the_event(client, auth, socket_client):
    viewer, owner = socket_client(task_room("task_1")), socket_client(user_room("olga"))
    body = {"taskId": "task_1", "action": "updated", "task": {"title": "Fix login"}, "ownerId": "olga"}
    update = assert_ok(client.post(f"{API}/task/update", json=body, headers=auth("alice")))
    assert set(update) == set(TaskUpdateSchema().fields)
    assert update == TaskUpdateSchema().dump(update)
    for sock in (viewer, owner):
        assert [p for _, p in received(sock, "task:updated")] == [update]
    [activity] = assert_ok(client.get(f"{API}/activity", headers=auth("alice")))["activities"]
    assert activity["timestamp"] == update["timestamp"]


def test_a_broadcast_answers_what_every_socket_received_with_its_name(client, auth, socket_client):
    watcher = socket_client(AUTHENTICATED_ROOM)
    body = {"event": "system:maintenance", "message": "Down at 5", "data": {"minutes": 10}}
    sent = assert_ok(client.post(f"{API}/broadcast", json=body, headers=auth("root", "admin")))
    assert set(sent) == set(BroadcastSchema().fields) and sent == BroadcastSchema().dump(sent)
    [(event, payload)] = received(watcher)
    assert event == "system:maintenance"
    assert payload == SystemEventSchema().dump(sent) == {k: v for k, v in sent.items() if k != "event"}
