"""The Python SDK (devtracker.client) against the real server over real TCP."""
import threading
import time

import pytest
import requests

from devtracker.client import ApiError, RealtimeClient, RealtimeError, ServiceClient
from devtracker.client.types import Activity, Notification, TaskUpdate, UserPresence

SVC = ("svc-tasks", "service")


def wait_until(predicate, timeout=10, interval=0.02, what="condition"):
    """Poll `predicate` until it returns something truthy; return it, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(interval)


class Recorder:
    """Every event a RealtimeClient's handlers saw, in order."""

    def __init__(self, client, *events):
        self.events = []
        self._lock = threading.Lock()
        for event in events:
            client.on(event, self._recorder(event))

    def _recorder(self, event):
        def record(data=None):
            with self._lock:
                self.events.append((event, data))
        return record

    def named(self, name):
        """Payloads of every event with this name, in order."""
        with self._lock:
            return [data for event, data in self.events if event == name]

    def wait_for(self, name, predicate=lambda data: True, count=1, timeout=10):
        """Wait until `count` events named `name` match; return their payloads."""
        found = lambda: [d for d in self.named(name) if predicate(d)]  # noqa: E731
        return wait_until(lambda: len(found()) >= count and found(), timeout, what=f"{name} x{count}")


@pytest.fixture
def realtime(live_server):
    """Open RealtimeClients: realtime("bob", transports=("polling",), typing_idle=1)."""
    clients = []

    def open_client(user_id, connect=True, username=None, **options):
        options.setdefault("backoff_initial", 0.2)
        options.setdefault("backoff_max", 1)
        client = RealtimeClient(live_server.url, live_server.token(user_id, username=username), **options)
        clients.append(client)
        return client.connect() if connect else client

    yield open_client
    for client in clients:
        client.disconnect()


@pytest.fixture
def admin(live_server):
    """A ServiceClient with an admin token."""
    with ServiceClient(live_server.url, live_server.token("root", "admin")) as client:
        yield client


def sentinel(service, recorders):
    """Record an activity everyone receives; once it arrived, earlier events have too."""
    activity = service.record_activity("project", "checked", "sentinel")
    for recorder in recorders:
        recorder.wait_for("activity:feed", lambda a: a["id"] == activity["id"])


def test_connect_replays_unread_then_delivers_typed_live_events(live_server, realtime, service):
    old = service.notify("bob", "mention", "Before", "sent while bob was away")
    bob = realtime("bob", connect=False)
    seen = Recorder(bob, "notification", "activity:feed", "task:updated", "replay:done")
    bob.connect()
    # connect() returns after replay:done, so the replayed notification is already handled.
    assert seen.named("notification") == [old]
    assert seen.named("replay:done") == [{"notifications": 1, "activity": 0, "truncated": False,
                                          "lastNotificationId": old["id"], "lastActivityId": None,
                                          "lastNotificationSeq": old["seq"], "lastActivitySeq": 0}]
    assert bob.notification_cursor == old["id"] and bob.activity_cursor is None

    bob.join_task("task_1")
    note = service.notify("bob", "assignment", "Yours", "task_1 is yours", task_id="task_1",
                          data={"priority": "high"}, actor={"userId": "alice", "username": "Alice"})
    update = service.publish_task_update("task_1", "status_changed", {"id": "task_1", "status": "DONE"},
                                         owner_id="bob", actor="alice")
    activity = service.record_activity("comment", "commented", "task_1", task_id="task_1")
    assert seen.wait_for("notification", lambda n: n["id"] == note["id"])[0] == note
    assert seen.wait_for("task:updated")[0] == update
    assert seen.wait_for("activity:feed", lambda a: a["id"] == activity["id"])[0] == activity
    assert set(note) == set(Notification.__annotations__) and note["data"] == {"priority": "high"}
    assert set(update) == set(TaskUpdate.__annotations__) and update["userId"] == "alice"
    assert set(activity) == set(Activity.__annotations__)
    assert bob.notification_cursor == note["id"] and bob.activity_cursor == activity["id"]


def test_a_long_replay_arrives_whole_over_long_polling(realtime, service):
    # One long-poll answer carries the whole replay; stock python-engineio refuses more than 16 packets.
    sent = [service.notify("bob", "update", f"n{i}", "m") for i in range(40)]
    bob = realtime("bob", connect=False, transports=("polling",))
    seen = Recorder(bob, "notification")
    bob.connect()
    assert [n["id"] for n in seen.named("notification")] == [n["id"] for n in sent]
    assert bob.last_replay == {"notifications": 40, "activity": 0, "truncated": False,
                               "lastNotificationId": sent[-1]["id"], "lastActivityId": None,
                               "lastNotificationSeq": sent[-1]["seq"], "lastActivitySeq": 0}


def test_saved_cursors_resume_without_duplicates(realtime, service):
    sent = [service.notify("bob", "comment", f"c{i}", "m") for i in range(4)]
    activity = [service.record_activity("comment", "commented", f"t{i}") for i in range(3)]
    bob = realtime("bob", connect=False, last_notification_id=sent[1]["id"],
                   last_activity_id=activity[0]["id"])
    seen = Recorder(bob, "notification", "activity:feed")
    bob.connect()
    assert [n["id"] for n in seen.named("notification")] == [n["id"] for n in sent[2:]]
    assert [a["id"] for a in seen.named("activity:feed")] == [a["id"] for a in activity[1:]]
    assert (bob.notification_cursor, bob.activity_cursor) == (sent[-1]["id"], activity[-1]["id"])


def test_join_task_returns_viewers_and_errors_raise(realtime):
    alice = realtime("alice", username="Alice")
    bob = realtime("bob", transports=("polling",))
    assert alice.join_task("task_1")["totalViewing"] == 1
    state = bob.join_task("task_1")
    assert state["taskId"] == "task_1" and state["typingUsers"] == [] and state["totalViewing"] == 2
    assert {(v["userId"], v["username"]) for v in state["viewingUsers"]} == {("alice", "Alice"), ("bob", "bob")}
    assert bob.joined_tasks == ["task_1"]
    with pytest.raises(RealtimeError) as caught:
        bob.join_task("not a task id!")
    assert caught.value.code == "VALIDATION_ERROR" and "taskId" in caught.value.details
    assert bob.leave_task("task_1") == {"taskId": "task_1"} and bob.joined_tasks == []


def test_set_typing_sends_one_true_and_one_false_while_refreshing(live_server, realtime, service):
    alice = realtime("alice")
    seen = Recorder(alice, "task:typing", "activity:feed")
    # The server drops typing after 1 s without a refresh (TYPING_TIMEOUT_SECONDS in server.py).
    bob = realtime("bob", typing_idle=5, typing_refresh=0.3)
    alice.join_task("task_1")
    bob.join_task("task_1")
    started = time.monotonic()
    while time.monotonic() - started < 1.8:  # keystrokes for longer than the server timeout
        bob.set_typing("task_1", True)
        time.sleep(0.1)
    assert live_server.api("GET", "/task/task_1/users", live_server.token("alice"))["typingUsers"] == ["bob"]
    bob.set_typing("task_1", False)
    bob.set_typing("task_1", False)  # no change: nothing sent
    seen.wait_for("task:typing", lambda t: t["isTyping"] is False)
    sentinel(service, [seen])
    assert [t["isTyping"] for t in seen.named("task:typing")] == [True, False]


def test_typing_turns_false_by_itself_after_idle(realtime, service):
    alice = realtime("alice")
    seen = Recorder(alice, "task:typing", "activity:feed")
    bob = realtime("bob", typing_idle=1.6, typing_refresh=0.3)
    alice.join_task("task_1")
    bob.join_task("task_1")
    bob.set_typing("task_1", True)
    started = time.monotonic()
    seen.wait_for("task:typing")
    stopped = seen.wait_for("task:typing", lambda t: t["isTyping"] is False, timeout=5)[0]
    # Refreshes kept the server (1 s timeout) from clearing it; the client's idle timer did.
    assert time.monotonic() - started >= 1.5 and stopped["userId"] == "bob"
    sentinel(service, [seen])
    assert [t["isTyping"] for t in seen.named("task:typing")] == [True, False]


def test_presence_away_reaches_another_client(realtime):
    alice = realtime("alice")
    seen = Recorder(alice, "presence:update")
    bob = realtime("bob")
    presence = bob.update_presence("away")
    assert set(presence) == set(UserPresence.__annotations__) and presence["status"] == "away"
    update = seen.wait_for("presence:update", lambda p: p["userId"] == "bob" and p["status"] == "away")[0]
    assert update["devices"] == 1
    with pytest.raises(RealtimeError):
        bob.update_presence("busy")


def test_mark_read_syncs_a_second_device(realtime, service):
    notes = [service.notify("bob", "comment", f"c{i}", "m") for i in range(3)]
    phone = realtime("bob")
    laptop = realtime("bob", transports=("polling",))
    seen = Recorder(laptop, "notification:read")
    assert phone.mark_read(notes[0]["id"]) == {"ids": [notes[0]["id"]], "unreadCount": 2}
    assert seen.wait_for("notification:read")[0] == {"ids": [notes[0]["id"]], "unreadCount": 2}
    assert phone.mark_all_read()["unreadCount"] == 0
    assert seen.wait_for("notification:read", count=2)[1] == {"ids": [n["id"] for n in notes[1:]],
                                                                "unreadCount": 0}
    assert service.unread_count("bob") == 0


def test_service_client_writes_reach_sockets(live_server, realtime, admin):
    bob = realtime("bob")
    carol = realtime("carol")
    seen = {name: Recorder(c, "notification", "task:updated", "activity:feed", "system:maintenance")
            for name, c in (("bob", bob), ("carol", carol))}
    bob.join_task("task_9")

    note = admin.notify("bob", "deadline", "Due", "task_9 is due", data={"taskId": "task_9"})
    assert note["taskId"] == "task_9" and note["read"] is False
    many = admin.notify_many(["bob", "carol"], "system", "Hello", "both of you")
    assert many["count"] == 2
    update = admin.publish_task_update("task_9", "updated", {"id": "task_9", "title": "New"})
    activity = admin.record_activity("project", "renamed", "Project X")
    sent = admin.broadcast("system:maintenance", "Back soon", {"minutes": 5})
    assert sent["event"] == "system:maintenance"

    bob_seen, carol_seen = seen["bob"], seen["carol"]
    bob_seen.wait_for("system:maintenance")
    carol_seen.wait_for("system:maintenance")
    sentinel(admin, [bob_seen, carol_seen])
    assert [n["id"] for n in bob_seen.named("notification")] == [note["id"], many["notifications"][0]["id"]]
    assert [n["id"] for n in carol_seen.named("notification")] == [many["notifications"][1]["id"]]
    assert bob_seen.named("task:updated") == [update] and carol_seen.named("task:updated") == []
    assert activity in carol_seen.named("activity:feed")
    assert carol_seen.named("system:maintenance")[0]["data"] == {"minutes": 5}
    page = admin.list_notifications("bob", unread=True, limit=1)
    assert page["hasMore"] is True and page["notifications"][0]["id"] == many["notifications"][0]["id"]
    assert admin.unread_count("bob") == 2
    assert admin.task_users("task_9")["viewingUsers"][0]["userId"] == "bob"


class CountingSession(requests.Session):
    """A requests session that records each attempt and can lose the first response."""

    def __init__(self, lose_first_response=False, fail_first_with=None):
        super().__init__()
        self.attempts = []
        self.lose_first_response = lose_first_response
        self.fail_first_with = fail_first_with

    def request(self, method, url, **kwargs):
        self.attempts.append((method, url, dict(kwargs.get("headers") or {}), time.monotonic()))
        first = len(self.attempts) == 1
        if first and self.fail_first_with:
            response = requests.Response()
            response.status_code, response.headers["Retry-After"] = self.fail_first_with
            response._content = b'{"success": false, "error": {"code": "RATE_LIMITED", "message": "slow"}}'
            return response
        response = super().request(method, url, **kwargs)
        if first and self.lose_first_response:
            raise requests.ConnectionError("connection reset after the server answered")
        return response


def test_a_repeated_idempotency_key_stores_once(live_server, service):
    first = service.notify("bob", "mention", "Once", "m", idempotency_key="order-42")
    again = service.notify("bob", "mention", "Once", "m", idempotency_key="order-42")
    assert again == first
    assert [n["title"] for n in service.list_notifications("bob")["notifications"]] == ["Once"]
    with pytest.raises(ApiError) as caught:
        service.notify("bob", "mention", "Different", "m", idempotency_key="order-42")
    assert caught.value.status == 409 and caught.value.code == "IDEMPOTENCY_KEY_REUSED"


def test_a_lost_response_is_retried_with_the_same_key_and_stored_once(live_server):
    session = CountingSession(lose_first_response=True)
    client = ServiceClient(live_server.url, live_server.token(*SVC), session=session, backoff_initial=0.05)
    activity = client.record_activity("task", "created", "Lost and found")
    keys = [headers["Idempotency-Key"] for _, _, headers, _ in session.attempts]
    assert len(keys) == 2 and keys[0] == keys[1]
    stored = client.list_activity(type="task")["activities"]
    assert [a["id"] for a in stored] == [activity["id"]]
    # A new call gets a new key.
    client.record_activity("task", "created", "Another")
    assert session.attempts[-1][2]["Idempotency-Key"] != keys[0]


def test_429_waits_for_retry_after_and_other_4xx_fail_at_once(live_server):
    session = CountingSession(fail_first_with=(429, "1"))
    client = ServiceClient(live_server.url, live_server.token(*SVC), session=session)
    client.notify("bob", "update", "After a pause", "m")
    assert len(session.attempts) == 2 and session.attempts[1][3] - session.attempts[0][3] >= 0.95

    session = CountingSession()
    user = ServiceClient(live_server.url, live_server.token("bob"), session=session)
    with pytest.raises(ApiError) as caught:
        user.broadcast("system:hi", "users may not broadcast")
    assert caught.value.status == 403 and len(session.attempts) == 1
    with pytest.raises(ApiError) as caught:
        user.notify("alice", "nonsense", "t", "m")
    assert caught.value.status == 422 and "type" in caught.value.details and len(session.attempts) == 2


def test_a_refused_token_raises_and_refresh_token_keeps_the_socket(live_server, realtime):
    client = RealtimeClient(live_server.url, "not-a-token")
    with pytest.raises(RealtimeError) as caught:
        client.connect()
    assert caught.value.code == "TOKEN_INVALID"
    bob = realtime("bob")
    assert bob.refresh_token(live_server.token("bob"))["userId"] == "bob"
    with pytest.raises(RealtimeError) as caught:
        bob.refresh_token(live_server.token("alice"))
    assert caught.value.code == "USER_MISMATCH"


def test_disconnect_over_polling_sends_close_even_when_the_writer_is_busy(live_server, realtime):
    # The writer is still posting Socket.IO's DISCONNECT when CLOSE is queued: stock
    # python-engineio left CLOSE unsent, and disconnect() waited for the next ping (25 s).
    bob = realtime("bob", transports=("polling",))
    alice = realtime("alice")
    seen = Recorder(alice, "user:offline")
    eio = bob._sio.eio
    post, close = eio._send_request, eio.disconnect

    def slow_post(method, *args, **kwargs):
        if method == "POST":
            time.sleep(0.3)
        return post(method, *args, **kwargs)

    def late_close(*args, **kwargs):
        time.sleep(0.05)  # the writer takes DISCONNECT alone and is posting it
        return close(*args, **kwargs)

    eio._send_request, eio.disconnect = slow_post, late_close
    started = time.monotonic()
    bob.disconnect()
    assert time.monotonic() - started < 2
    assert seen.wait_for("user:offline", lambda p: p["userId"] == "bob")
    status = live_server.api("GET", "/user/bob/status", live_server.token("alice"))
    assert status["isOnline"] is False


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_a_server_restart_loses_nothing_and_restores_rooms(live_server, realtime, transport):
    # bob comes back more slowly than the producer, so some notifications arrive by replay.
    bob = realtime("bob", transports=(transport,), backoff_initial=0.8, backoff_max=2)
    seen = Recorder(bob, "notification", "activity:feed", "reconnect", "disconnect")
    bob.join_task("task_1")
    bob.update_presence("away")
    # Enough retries to outlast a restart on a busy machine (about 40 s).
    producer_client = ServiceClient(live_server.url, live_server.token(*SVC), retries=50,
                                    backoff_initial=0.05, backoff_max=1)
    first = producer_client.record_activity("project", "started", "the run")
    seen.wait_for("activity:feed")  # bob now has an activity cursor to resume from
    notes, activities, stop = [], [first["id"]], threading.Event()

    def produce():
        i = 0
        while not stop.is_set() or i < 40:
            notes.append(producer_client.notify("bob", "update", f"n{i}", "m")["id"])
            if i % 3 == 0:
                activities.append(producer_client.record_activity("task", "updated", f"t{i}")["id"])
            i += 1
            time.sleep(0.01)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        wait_until(lambda: len(notes) >= 10, what="notifications before the restart")
        live_server.restart()  # every socket's transport dies with the old process
        seen.wait_for("disconnect")
        seen.wait_for("reconnect", timeout=15)
        mark = len(notes)
        wait_until(lambda: len(notes) >= mark + 10, what="notifications after the reconnect")
    finally:
        stop.set()
        producer.join()
    wait_until(lambda: bob.notification_cursor == notes[-1] and bob.activity_cursor == activities[-1],
               timeout=15, what="the last notification and activity")
    assert [n["id"] for n in seen.named("notification")] == notes, "every notification once, in order"
    assert [a["id"] for a in seen.named("activity:feed")] == activities, "every activity once, in order"
    assert len(seen.named("reconnect")) == 1

    observer = realtime("alice")
    state = observer.join_task("task_1")
    assert {v["userId"]: v["status"] for v in state["viewingUsers"]} == {"alice": "online", "bob": "away"}
    status = live_server.api("GET", "/user/bob/status", live_server.token("alice"))
    assert status["isOnline"] is True and status["status"] == "away"
