"""Health, stats, online users, task viewers and user status: the note's shapes."""
import re

from devtracker.realtime.presence import get_presence
from tests.helpers import assert_error, assert_ok

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")
API = "/api/v1/realtime"


def test_health_needs_no_token_and_has_the_note_shape(client):
    data = assert_ok(client.get(f"{API}/health"))
    assert data["status"] == "healthy"
    assert ISO_Z.match(data["timestamp"])
    assert data["stats"] == {"connectedSockets": 0, "onlineUsers": 0, "activeRooms": 0}
    assert data["checks"] == {"database": "ok", "presence": "ok"}


def test_health_is_degraded_with_503_when_the_database_is_unreachable():
    from devtracker import create_app
    from tests.conftest import make_config
    app = create_app(make_config("postgresql://nobody@127.0.0.1:1/none"))
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"connect_timeout": 1}}
    response = app.test_client().get(f"{API}/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["success"] is False
    assert body["data"]["status"] == "degraded"
    assert body["data"]["checks"] == {"database": "unreachable", "presence": "ok"}
    assert body["error"]["code"] == "SERVICE_UNAVAILABLE"


def test_stats_counts_sockets_users_and_rooms(client, auth):
    store = get_presence()
    store.add_socket("s1", "alice", "Alice")
    store.add_socket("s2", "alice", "Alice")
    store.add_socket("s3", "bob", "Bob")
    store.set_status("s3", "away")
    store.join_task("s1", "task_1")
    store.join_task("s3", "task_2")
    client.get(f"{API}/stats", headers=auth("carol"))  # carol is seen through her token
    data = assert_ok(client.get(f"{API}/stats", headers=auth("alice")))
    assert data == {"connectedSockets": 3, "onlineUsers": 1, "totalUsers": 2,
                    "connectedUsers": 2, "activeRooms": 2}


def test_stats_do_not_count_services_as_users(client, auth):
    client.get(f"{API}/stats", headers=auth("svc-tasks", "service"))
    data = assert_ok(client.get(f"{API}/stats", headers=auth("alice")))
    assert data["totalUsers"] == 1


def test_online_users_lists_each_user_once_with_devices(client, auth):
    store = get_presence()
    store.add_socket("s1", "alice", "alice@example.com")
    store.add_socket("s2", "alice", "alice@example.com")
    store.set_status("s2", "away")
    store.add_socket("s3", "bob", "bob@example.com")
    store.set_status("s3", "away")
    store.join_task("s1", "task_9")
    data = assert_ok(client.get(f"{API}/users/online", headers=auth("alice")))
    assert data["count"] == 2
    alice, bob = data["users"]
    assert alice["userId"] == "alice" and alice["status"] == "online" and alice["devices"] == 2
    assert alice["currentTask"] == "task_9" and ISO_Z.match(alice["lastSeen"])
    assert set(alice) == {"userId", "username", "status", "lastSeen", "currentTask", "devices"}
    assert bob["status"] == "away" and bob["devices"] == 1 and bob["currentTask"] is None


def test_task_users_shape(client, auth):
    store = get_presence()
    store.add_socket("s1", "alice", "Alice")
    store.add_socket("s2", "alice", "Alice")
    store.add_socket("s3", "bob", "Bob")
    for sid in ("s1", "s2", "s3"):
        store.join_task(sid, "task_123")
    store.set_typing("s3", "task_123", True)
    data = assert_ok(client.get(f"{API}/task/task_123/users", headers=auth("alice")))
    assert data["taskId"] == "task_123"
    assert sorted(data["viewingUsers"], key=lambda v: v["userId"]) == [
        {"userId": "alice", "username": "Alice", "status": "online"},
        {"userId": "bob", "username": "Bob", "status": "online"}]
    assert data["typingUsers"] == ["bob"]
    assert data["totalViewing"] == 2


def test_task_users_of_an_empty_task(client, auth):
    data = assert_ok(client.get(f"{API}/task/task_nobody/users", headers=auth("alice")))
    assert data == {"taskId": "task_nobody", "viewingUsers": [], "typingUsers": [], "totalViewing": 0}


def test_task_id_is_validated(client, auth):
    error = assert_error(client.get(f"{API}/task/{'x' * 129}/users", headers=auth("alice")),
                         422, "VALIDATION_ERROR")
    assert "taskId" in error["details"]
    assert_error(client.get(f"{API}/task/bad%20id/users", headers=auth("alice")), 422, "VALIDATION_ERROR")


def test_user_status_online_and_offline(client, auth, db):
    get_presence().add_socket("s1", "alice", "Alice")
    data = assert_ok(client.get(f"{API}/user/alice/status", headers=auth("bob")))
    assert data["userId"] == "alice" and data["isOnline"] is True and data["status"] == "online"
    assert ISO_Z.match(data["lastSeen"])
    data = assert_ok(client.get(f"{API}/user/nobody/status", headers=auth("bob")))
    assert data == {"userId": "nobody", "isOnline": False, "status": "offline", "lastSeen": None}


def test_user_status_offline_keeps_last_seen_from_the_directory(client, auth, db):
    from devtracker.services.users import remember_user, touch_last_seen
    remember_user("carol", "Carol", "user")
    touch_last_seen("carol")
    data = assert_ok(client.get(f"{API}/user/carol/status", headers=auth("bob")))
    assert data["isOnline"] is False and data["status"] == "offline"
    assert ISO_Z.match(data["lastSeen"])


def test_requests_that_need_an_unreachable_database_are_a_503_with_a_short_retry_after(token_for):
    from devtracker import create_app
    from devtracker.extensions import socketio
    from tests.conftest import make_config
    app = create_app(make_config("postgresql://nobody@127.0.0.1:1/none"))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token_for('svc', 'service')}"}
    for method, path, body in [("POST", "/notify/bob", {"type": "update", "title": "t", "message": "m"}),
                               ("POST", "/activity", {"type": "task", "action": "a", "target": "t"}),
                               ("GET", "/notifications?userId=bob", None), ("GET", "/activity", None)]:
        response = client.open(f"{API}{path}", method=method, json=body, headers=headers)
        error = assert_error(response, 503, "SERVICE_UNAVAILABLE")
        assert "database" in error["message"]
        assert response.headers["Retry-After"] == "2"
    sock = socketio.test_client(app, auth={"token": token_for("bob")})
    ack = sock.emit("notification:read_all", None, callback=True)
    assert ack["success"] is False and ack["error"]["code"] == "SERVICE_UNAVAILABLE", ack
    sock.disconnect()
    app.extensions["devtracker.namespace"].stop()
