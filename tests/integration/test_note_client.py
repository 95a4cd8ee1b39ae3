"""socket.io-client (Node, from npm), written from the product note's examples, sees every event."""
import json
import os
import shutil
import subprocess

from tests.conftest import require_service
from tests.support.server import ROOT

SCRIPT = os.path.join(os.path.dirname(__file__), "node", "note_client.mjs")


def test_a_client_from_the_product_note_sees_every_event(live_server):
    node = shutil.which("node")
    if node is None or not os.path.isdir(os.path.join(ROOT, "node_modules", "socket.io-client")):
        require_service("Node.js with socket.io-client", "run `npm ci` (make test does)")
    tokens = [live_server.token("alice", username="alice@example.com"),
              live_server.token("bob", username="bob@example.com"),
              live_server.token("svc-tasks", "service"), live_server.token("root", "admin")]
    run = subprocess.run([node, SCRIPT, live_server.url, *tokens], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    log = result["log"]

    def payloads(who, event):
        return [e["payload"] for e in log if e["who"] == who and e["event"] == event]

    assert result["joined"]["success"] is True
    assert set(result["joined"]["data"]) == {"taskId", "viewingUsers", "typingUsers", "totalViewing"}
    assert payloads("alice", "authenticated") == [
        {"success": True, "userId": "alice", "username": "alice@example.com"}]
    presence = payloads("bob", "presence:list")[0]
    assert {p["userId"] for p in presence} == {"alice", "bob"}
    assert set(presence[0]) == {"userId", "username", "status", "lastSeen", "currentTask", "devices"}
    assert payloads("bob", "replay:done") == [{"notifications": 0, "activity": 0, "truncated": False,
                                               "lastNotificationId": None, "lastActivityId": None,
                                               "lastNotificationSeq": 0, "lastActivitySeq": 0}]
    assert payloads("alice", "task:user_joined") == [
        {"userId": "bob", "username": "bob@example.com", "taskId": "task_123"}]
    assert [t["isTyping"] for t in payloads("alice", "task:typing")] == [True, False]
    assert payloads("bob", "task:typing") == []
    update = payloads("bob", "task:updated")[0]
    assert set(update) == {"taskId", "action", "task", "userId", "username", "timestamp"}
    assert update["action"] == "status_changed" and update["userId"] == "svc-tasks"
    assert payloads("alice", "task:updated") == [update]  # in the room and the owner: once
    note = payloads("bob", "notification")[0]
    assert set(note) == {"id", "seq", "type", "title", "message", "taskId", "data", "timestamp", "read"}
    assert note["taskId"] == "task_123" and note["read"] is False
    assert payloads("alice", "notification") == []
    assert payloads("bob", "notification:read") == [{"ids": [note["id"]], "unreadCount": 0}]
    feed = [a for a in payloads("alice", "activity:feed") if a["action"] == "created"][0]
    assert set(feed) == {"id", "seq", "type", "userId", "username", "action", "target", "taskId", "data", "timestamp"}
    announcement = payloads("alice", "system:announcement")[0]
    assert set(announcement) == {"message", "data", "timestamp"}
    assert announcement["data"] == {"maintenance": True, "duration": 600}
    assert payloads("alice", "task:user_left") == [
        {"userId": "bob", "username": "bob@example.com", "taskId": "task_123"}]
    assert payloads("bob", "error")[0]["code"] == "NOT_IN_TASK"
    offline = payloads("alice", "user:offline")[0]
    assert offline["userId"] == "bob" and offline["status"] == "offline"
    away = [p for p in payloads("bob", "presence:update") if p["userId"] == "alice"][-1]
    assert away["status"] == "away"
