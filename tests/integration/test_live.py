"""The real server over real TCP: python-socketio clients on websocket and long-polling."""
import threading
import time

import pytest

SVC = ("svc-tasks", "service")


def sentinel(live_server, clients, target="sentinel"):
    """Post an activity every authenticated socket receives; after it, earlier events have arrived."""
    token = live_server.token(*SVC)
    activity = live_server.api("POST", "/activity", token,
                               json={"type": "project", "action": "checked", "target": target})
    for client in clients:
        client.wait_for("activity:feed", lambda a: a["id"] == activity["id"])


def test_two_users_and_a_second_device_see_each_other(live_server, connect):
    bob = connect("bob")
    alice = connect("alice", username="Alice")
    online = bob.wait_for("user:online", lambda p: p["userId"] == "alice")[0]
    assert online["status"] == "online" and online["devices"] == 1 and online["username"] == "Alice"
    connect("alice", transport="polling", username="Alice")
    update = bob.wait_for("presence:update", lambda p: p["userId"] == "alice" and p["devices"] == 2)[0]
    assert update["status"] == "online"
    sentinel(live_server, [bob, alice])
    assert len([p for p in bob.named("user:online") if p["userId"] == "alice"]) == 1

    users = live_server.api("GET", "/users/online", live_server.token("bob"))
    devices = {u["userId"]: u["devices"] for u in users["users"]}
    assert users["count"] == 2 and devices == {"alice": 2, "bob": 1}
    stats = live_server.api("GET", "/stats", live_server.token("bob"))
    assert stats["connectedSockets"] == 3 and stats["connectedUsers"] == 2


def test_the_last_device_leaving_makes_the_user_offline_after_the_grace_period(live_server, connect):
    bob = connect("bob")
    alice = connect("alice", transport="polling")
    bob.wait_for("user:online", lambda p: p["userId"] == "alice")
    alice.disconnect()
    offline = bob.wait_for("user:offline", lambda p: p["userId"] == "alice", timeout=5)[0]
    assert offline["status"] == "offline" and offline["devices"] == 0
    status = live_server.api("GET", "/user/alice/status", live_server.token("bob"))
    assert status["isOnline"] is False and status["status"] == "offline" and status["lastSeen"]


def test_viewers_and_typing_across_users(live_server, connect):
    alice = connect("alice")
    bob = connect("bob", transport="polling")
    ack = alice.call("task:join", "task_1")
    assert ack["success"] is True and ack["data"]["totalViewing"] == 1
    ack = bob.call("task:join", {"taskId": "task_1"})
    assert {v["userId"] for v in ack["data"]["viewingUsers"]} == {"alice", "bob"}
    joined = alice.wait_for("task:user_joined")[0]
    assert joined == {"userId": "bob", "username": "bob", "taskId": "task_1"}

    assert bob.call("task:typing", {"taskId": "task_1", "isTyping": True})["success"] is True
    typing = alice.wait_for("task:typing")[0]
    assert typing == {"userId": "bob", "username": "bob", "taskId": "task_1", "isTyping": True}
    viewers = live_server.api("GET", "/task/task_1/users", live_server.token("alice"))
    assert viewers["typingUsers"] == ["bob"] and viewers["totalViewing"] == 2
    # No refresh: the typing indicator clears by itself after TYPING_TIMEOUT_SECONDS.
    stopped = alice.wait_for("task:typing", lambda t: t["isTyping"] is False, timeout=5)[0]
    assert stopped["userId"] == "bob"
    assert bob.named("task:typing") == []

    bob.call("task:leave", "task_1")
    left = alice.wait_for("task:user_left")[0]
    assert left == {"userId": "bob", "username": "bob", "taskId": "task_1"}


def test_fan_out_reaches_exactly_the_right_sockets(live_server, connect):
    bob_ws = connect("bob")
    bob_poll = connect("bob", transport="polling")
    alice = connect("alice")
    carol = connect("carol", transport="polling")
    carol.call("task:join", "task_7")
    bob_ws.call("task:join", "task_7")  # bob's websocket is in the room and the owner
    svc = live_server.token(*SVC)

    note = live_server.api("POST", "/notify/bob", svc,
                           json={"type": "assignment", "title": "New task", "message": "API work"})
    update = live_server.api("POST", "/task/update", svc,
                             json={"taskId": "task_7", "action": "updated", "ownerId": "bob",
                                   "task": {"id": "task_7", "status": "IN_PROGRESS"}})
    sentinel(live_server, [bob_ws, bob_poll, alice, carol])

    for client in (bob_ws, bob_poll):
        assert client.named("notification") == [note]
        assert client.named("task:updated") == [update]
    assert alice.named("notification") == [] and alice.named("task:updated") == []
    assert carol.named("notification") == [] and carol.named("task:updated") == [update]
    for client in (bob_ws, bob_poll, alice, carol):
        feed = [a for a in client.named("activity:feed") if a["type"] == "task"]
        assert len(feed) == 1 and feed[0]["taskId"] == "task_7"


def test_read_state_syncs_every_device_of_the_user(live_server, connect):
    svc = live_server.token(*SVC)
    note = live_server.api("POST", "/notify/bob", svc, json={"type": "mention", "title": "t", "message": "m"})
    bob_ws = connect("bob")
    bob_poll = connect("bob", transport="polling")
    alice = connect("alice")
    ack = bob_poll.call("notification:read", {"id": note["id"]})
    assert ack == {"success": True, "data": {"ids": [note["id"]], "unreadCount": 0}}
    for client in (bob_ws, bob_poll):
        assert client.wait_for("notification:read")[0] == {"ids": [note["id"]], "unreadCount": 0}
    sentinel(live_server, [alice])
    assert alice.named("notification:read") == []


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_reconnect_replay_has_no_gap_and_no_duplicate_while_notifications_keep_coming(
        live_server, connect, transport):
    svc = live_server.token(*SVC)
    created, done = [], threading.Event()

    def produce():
        for i in range(120):
            created.append(live_server.api("POST", "/notify/bob", svc, json={
                "type": "update", "title": f"n{i}", "message": "m"})["id"])
            time.sleep(0.004)
        done.set()

    received = []
    client = connect("bob", transport=transport)
    producer = threading.Thread(target=produce)
    producer.start()
    for _round in range(4):  # drop and come back several times while the producer runs
        time.sleep(0.08)
        client.disconnect()
        received += [n["id"] for n in client.named("notification")]
        time.sleep(0.05)  # notifications keep being created while bob is away
        cursor = received[-1] if received else 0
        client = connect("bob", transport=transport, lastNotificationId=cursor)
    producer.join()
    client.wait_for("notification", lambda n: n["id"] == created[-1], timeout=15)
    received += [n["id"] for n in client.named("notification")]
    assert received == sorted(created), "every notification once, in order, across reconnects"


def test_replay_comes_before_live_events_and_says_so(live_server, connect):
    svc = live_server.token(*SVC)
    first = live_server.api("POST", "/activity", svc, json={"type": "task", "action": "created", "target": "A"})
    for i in range(3):
        note = live_server.api("POST", "/notify/bob", svc, json={"type": "comment", "title": f"c{i}", "message": "m"})
        last = live_server.api("POST", "/activity", svc, json={"type": "comment", "action": "commented",
                                                                "target": f"T{i}"})
    bob = connect("bob", lastNotificationId=1, lastActivityId=first["id"])
    names = [e for e, _ in bob.events]
    done = names.index("replay:done")
    assert names[:2] == ["authenticated", "presence:list"]
    assert [n["title"] for n in bob.named("notification")] == ["c1", "c2"]
    assert [a["target"] for a in bob.named("activity:feed")] == ["T0", "T1", "T2"]
    assert all(names.index(e) < done for e in ("notification", "activity:feed"))
    assert bob.named("replay:done") == [{"notifications": 2, "activity": 3, "truncated": False,
                                         "lastNotificationId": note["id"], "lastActivityId": last["id"],
                                         "lastNotificationSeq": note["seq"], "lastActivitySeq": last["seq"]}]


def test_a_restart_replays_persisted_notifications(live_server, connect):
    svc = live_server.token(*SVC)
    ids = [live_server.api("POST", "/notify/bob", svc, json={"type": "deadline", "title": f"d{i}",
                                                             "message": "soon"})["id"] for i in range(4)]
    live_server.restart()
    bob = connect("bob")  # no cursor: the unread ones
    assert [n["id"] for n in bob.named("notification")] == ids
    bob.disconnect()
    bob = connect("bob", transport="polling", lastNotificationId=ids[1])
    assert [n["id"] for n in bob.named("notification")] == ids[2:]


def test_the_legacy_authenticate_event_works_over_polling(live_server, connect):
    svc = live_server.token(*SVC)
    live_server.api("POST", "/notify/bob", svc, json={"type": "mention", "title": "a", "message": "m"})
    second = live_server.api("POST", "/notify/bob", svc, json={"type": "mention", "title": "b", "message": "m"})
    bob = connect(transport="polling")
    ack = bob.call("authenticate", {"token": live_server.token("bob"), "lastNotificationId": second["id"] - 1})
    assert ack == {"success": True, "data": {"userId": "bob", "username": "bob"}}
    assert bob.named("authenticated") == [{"success": True, "userId": "bob", "username": "bob"}]
    assert [n["id"] for n in bob.named("notification")] == [second["id"]]
    refused = connect(transport="websocket")
    ack = refused.call("authenticate", "not-a-token")
    assert ack["success"] is False and ack["error"]["code"] == "TOKEN_INVALID"
    assert refused.named("authenticated")[0]["success"] is False


def test_a_bad_handshake_token_is_refused_with_a_reason(live_server):
    from tests.support.clients import RecordingClient
    import socketio
    client = RecordingClient(live_server.url, "bad-token")
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect()
    reason = client.named("connect_error")[0]
    assert reason["message"].startswith("The token is not valid")
    assert reason["data"] == {"code": "TOKEN_INVALID", "message": reason["message"]}
