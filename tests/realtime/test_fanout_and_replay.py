"""Who receives what (SPEC §2, §3): notifications to every socket of their user, task updates to
the room and the owner once per socket, activity and system events to every authenticated
socket, read state synced across a user's devices; and the replay after (re)connection (§4)."""
import pytest

from tests.helpers import assert_ok
from tests.realtime.support import (API, ack_error, ack_ok, clear, drain, error_event, names,
                                    payloads)
from tests.realtime.support import sockets  # noqa: F401  (fixture)

BAD_READS = [None, "1", [1], {}, {"id": 0}, {"id": "x"}, {"ids": []}, {"ids": [0]},
             {"id": 1, "ids": [1]}, {"ids": "1"}]


@pytest.fixture
def rest(client, auth):
    """POST to the API as a service; return the response data."""

    def post(path, body, status=201, who=("svc", "service")):
        return assert_ok(client.post(f"{API}{path}", json=body, headers=auth(*who)), status)

    return post


def notify(rest, user_id, title="Hello"):
    return rest(f"/notify/{user_id}", {"type": "mention", "title": title, "message": "m"})


def activity(rest, target="Fix login"):
    return rest("/activity", {"type": "comment", "action": "commented", "target": target})


def unread_count(client, auth, user_id):
    return assert_ok(client.get(f"{API}/notifications/unread-count", headers=auth(user_id)))["unreadCount"]


def test_a_notification_reaches_every_socket_of_its_user_and_no_other(sockets, rest):
    bob1, bob2, alice = sockets.connect("bob"), sockets.connect("bob"), sockets.connect("alice")
    clear(bob1, bob2)
    note = rest("/notify/bob", {"event": "mention", "title": "Hi", "message": "m"}, who=("alice",))
    assert drain(bob1) == drain(bob2) == [{"name": "notification", "args": [note], "namespace": "/"}]
    assert drain(alice) == []


def test_a_bulk_notification_reaches_each_recipient_once(sockets, rest):
    bob, carol, alice = sockets.connect("bob"), sockets.connect("carol"), sockets.connect("alice")
    clear(bob, carol, alice)
    stored = rest("/notify", {"userIds": ["bob", "carol", "bob"], "type": "system", "title": "T",
                              "message": "m"})["notifications"]
    assert payloads(drain(bob), "notification") == [stored[0]]
    assert payloads(drain(carol), "notification") == [stored[1]]
    assert drain(alice) == []


def test_a_task_update_reaches_the_room_and_the_owner_once_per_socket(sockets, rest):
    alice1, alice2 = sockets.connect("alice"), sockets.connect("alice")
    bob, carol = sockets.connect("bob"), sockets.connect("carol")
    for sock in (alice1, bob):
        ack_ok(sock.emit("task:join", "task_1", callback=True))
    clear(alice1, alice2, bob, carol)
    update = rest("/task/update", {"taskId": "task_1", "action": "status_changed",
                                   "task": {"title": "Fix login", "status": "done"},
                                   "ownerId": "alice"}, status=200)
    feeds = []
    for sock in (alice1, alice2, bob, carol):  # alice1 is in the room and the owner: still once
        packets = drain(sock)
        assert payloads(packets, "task:updated") == ([] if sock is carol else [update])
        feeds.append(payloads(packets, "activity:feed"))
    assert len(feeds[0]) == 1 and feeds[0][0]["taskId"] == "task_1"
    assert feeds == [feeds[0]] * 4


def test_a_task_update_without_owner_reaches_the_room_only(sockets, rest):
    alice, bob = sockets.connect("alice"), sockets.connect("bob")
    ack_ok(bob.emit("task:join", "task_1", callback=True))
    clear(alice, bob)
    update = rest("/task/update", {"taskId": "task_1", "action": "updated", "task": {"title": "T"}},
                  status=200)
    assert payloads(drain(bob), "task:updated") == [update]
    assert payloads(drain(alice), "task:updated") == []


def test_activity_goes_to_every_authenticated_socket_but_not_an_unauthenticated_one(sockets, rest):
    stranger = sockets.legacy()
    alice, bob = sockets.connect("alice"), sockets.connect("bob")
    clear(alice, bob)
    first = activity(rest)
    assert drain(alice) == drain(bob) == [{"name": "activity:feed", "args": [first], "namespace": "/"}]
    assert drain(stranger) == []
    ack_ok(stranger.emit("authenticate", sockets.token("carol"), callback=True))
    drain(stranger)
    second = activity(rest, "Another")
    assert payloads(drain(stranger), "activity:feed") == [second]


def test_an_admin_broadcast_reaches_every_authenticated_socket(sockets, rest):
    stranger = sockets.legacy()
    alice1, alice2, bob = sockets.connect("alice"), sockets.connect("alice"), sockets.connect("bob")
    clear(alice1, alice2, bob)
    sent = rest("/broadcast", {"event": "system:maintenance", "message": "Down at 5",
                               "data": {"minutes": 10}}, status=200, who=("root", "admin"))
    expected = {"message": "Down at 5", "data": {"minutes": 10}, "timestamp": sent["timestamp"]}
    assert sent == {"event": "system:maintenance", **expected}
    for sock in (alice1, alice2, bob):
        assert drain(sock) == [{"name": "system:maintenance", "args": [expected], "namespace": "/"}]
    assert drain(stranger) == []


def test_reading_notifications_syncs_every_socket_of_the_user_only(client, auth, sockets, rest):
    first, second, third = notify(rest, "bob"), notify(rest, "bob"), notify(rest, "bob")
    notify(rest, "alice")
    bob1, bob2, alice = sockets.connect("bob"), sockets.connect("bob"), sockets.connect("alice")
    clear(bob1, bob2, alice)
    state = ack_ok(bob1.emit("notification:read", {"id": first["id"]}, callback=True))
    assert state == {"ids": [first["id"]], "unreadCount": 2}
    assert payloads(drain(bob1), "notification:read") == payloads(drain(bob2), "notification:read") == [state]
    state = ack_ok(bob2.emit("notification:read", {"ids": [first["id"], second["id"]]}, callback=True))
    assert state == {"ids": [second["id"]], "unreadCount": 1}
    assert payloads(drain(bob1), "notification:read") == payloads(drain(bob2), "notification:read") == [state]
    state = ack_ok(bob1.emit("notification:read", third["id"], callback=True))
    assert state == {"ids": [third["id"]], "unreadCount": 0}
    assert len(payloads(drain(bob2), "notification:read")) == 1
    assert drain(alice) == []
    assert unread_count(client, auth, "alice") == 1


def test_read_all_syncs_every_socket_of_the_user_only(client, auth, sockets, rest):
    first, second = notify(rest, "bob"), notify(rest, "bob")
    notify(rest, "alice")
    bob1, bob2, alice = sockets.connect("bob"), sockets.connect("bob"), sockets.connect("alice")
    clear(bob1, bob2, alice)
    state = ack_ok(bob1.emit("notification:read_all", callback=True))
    assert state == {"ids": [first["id"], second["id"]], "unreadCount": 0}
    assert payloads(drain(bob1), "notification:read") == payloads(drain(bob2), "notification:read") == [state]
    assert ack_ok(bob2.emit("notification:read_all", None, callback=True)) == {"ids": [], "unreadCount": 0}
    assert drain(bob1) == drain(bob2) == drain(alice) == []
    assert unread_count(client, auth, "alice") == 1


def test_reading_another_users_notification_is_not_found_and_changes_nothing(client, auth, sockets, rest):
    mine, bobs = notify(rest, "alice"), notify(rest, "bob")
    alice, bob = sockets.connect("alice"), sockets.connect("bob")
    clear(alice, bob)
    for payload in ({"id": bobs["id"]}, {"ids": [mine["id"], bobs["id"]]}, {"id": bobs["id"] + 100}):
        ack_error(alice.emit("notification:read", payload, callback=True), "NOT_FOUND")
    assert alice.emit("notification:read", {"id": bobs["id"]}) is None
    error_event(drain(alice), "NOT_FOUND", "notification:read")
    assert drain(bob) == []
    assert unread_count(client, auth, "bob") == 1 and unread_count(client, auth, "alice") == 1


@pytest.mark.parametrize("payload", BAD_READS, ids=[repr(p) for p in BAD_READS])
def test_a_bad_read_payload_is_a_validation_error(sockets, payload):
    sock = sockets.connect("alice")
    ack_error(sock.emit("notification:read", payload, callback=True), "VALIDATION_ERROR")


# Replay

def test_cursors_replay_exactly_what_is_newer_in_order_before_replay_done(client, auth, sockets, rest):
    notes = [notify(rest, "alice", f"n{i}") for i in range(3)]
    notify(rest, "bob")
    acts = [activity(rest, f"a{i}") for i in range(3)]
    assert_ok(client.post(f"{API}/notifications/{notes[1]['id']}/read", headers=auth("alice")))
    notes[1]["read"] = True  # read ones newer than the cursor are replayed too, as they are now
    sock = sockets.connect("alice", lastNotificationId=notes[0]["id"], lastActivityId=acts[0]["id"])
    packets = sock.handshake
    assert names(packets)[:2] == ["authenticated", "presence:list"]
    assert names(packets)[-2:] == ["replay:done", "user:online"]
    assert sorted(names(packets)[2:-2]) == ["activity:feed"] * 2 + ["notification"] * 2
    assert payloads(packets, "notification") == notes[1:]
    assert payloads(packets, "activity:feed") == acts[1:]
    assert payloads(packets, "replay:done") == [{"notifications": 2, "activity": 2, "truncated": False,
                                                 "lastNotificationId": notes[-1]["id"],
                                                 "lastActivityId": acts[-1]["id"],
                                                 "lastNotificationSeq": 3, "lastActivitySeq": 3}]
    live_note, live_act = notify(rest, "alice", "live"), activity(rest, "live")
    assert names(drain(sock)) == ["notification", "activity:feed"]  # live, once each
    assert live_note["id"] > notes[-1]["id"] and live_act["id"] > acts[-1]["id"]


def test_without_cursors_only_unread_notifications_and_no_activity_are_replayed(client, auth, sockets, rest):
    notes = [notify(rest, "alice", f"n{i}") for i in range(3)]
    act = activity(rest)
    assert_ok(client.post(f"{API}/notifications/{notes[0]['id']}/read", headers=auth("alice")))
    sock = sockets.connect("alice")
    assert names(sock.handshake) == ["authenticated", "presence:list", "notification", "notification",
                                     "replay:done", "user:online"]
    assert payloads(sock.handshake, "notification") == notes[1:]
    assert payloads(sock.handshake, "replay:done") == [{"notifications": 2, "activity": 0, "truncated": False,
                                                        "lastNotificationId": notes[-1]["id"],
                                                        "lastActivityId": act["id"],
                                                        "lastNotificationSeq": 3, "lastActivitySeq": 1}]


def test_cursors_at_the_latest_ids_replay_nothing(sockets, rest):
    note, act = notify(rest, "alice"), activity(rest)
    sock = sockets.connect("alice", lastNotificationId=note["id"], lastActivityId=act["id"])
    assert names(sock.handshake) == ["authenticated", "presence:list", "replay:done", "user:online"]
    assert payloads(sock.handshake, "replay:done") == [{"notifications": 0, "activity": 0, "truncated": False,
                                                        "lastNotificationId": note["id"],
                                                        "lastActivityId": act["id"],
                                                        "lastNotificationSeq": 1, "lastActivitySeq": 1}]


@pytest.mark.parametrize("config_overrides", [{"ACTIVITY_REPLAY_LIMIT": 3}])
def test_activity_replay_is_capped_to_the_newest(sockets, rest):
    acts = [activity(rest, f"a{i}") for i in range(6)]
    sock = sockets.connect("alice", lastActivityId=acts[0]["id"])
    assert payloads(sock.handshake, "activity:feed") == acts[3:]
    assert payloads(sock.handshake, "replay:done") == [{"notifications": 0, "activity": 3, "truncated": True,
                                                        "lastNotificationId": None,
                                                        "lastActivityId": acts[-1]["id"],
                                                        "lastNotificationSeq": 0, "lastActivitySeq": 6}]
    exact = sockets.connect("bob", lastActivityId=acts[2]["id"])
    assert payloads(exact.handshake, "activity:feed") == acts[3:]
    assert payloads(exact.handshake, "replay:done") == [{"notifications": 0, "activity": 3, "truncated": False,
                                                         "lastNotificationId": None,
                                                         "lastActivityId": acts[-1]["id"],
                                                         "lastNotificationSeq": 0, "lastActivitySeq": 6}]
