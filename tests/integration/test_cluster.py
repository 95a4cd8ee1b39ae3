"""Several server processes behind one Redis and one PostgreSQL: one coherent system."""
import os
import shutil
import signal
import time
import uuid

import pytest
import redis as redis_lib

from tests.conftest import PG_DEFAULT_URL, require_service
from tests.databases import fresh_database, postgres_problem
from tests.support.clients import RecordingClient
from tests.support.server import LiveServer
from tests.support.services import PrivateRedis

REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")
SVC = ("svc-tasks", "service")


@pytest.fixture
def redis_prefix():
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    try:
        client = redis_lib.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
    except redis_lib.RedisError as exc:
        require_service("Redis", f"{REDIS_URL}: {exc}")
    prefix = f"dt-test-{uuid.uuid4().hex[:8]}"
    yield prefix
    for key in client.scan_iter(f"{prefix}:*", count=1000):
        client.delete(key)


@pytest.fixture
def shared_database():
    """A fresh PostgreSQL database the nodes share."""
    base = os.environ.get("PG_TEST_URL", PG_DEFAULT_URL)
    problem = postgres_problem(base)
    if problem:
        require_service("PostgreSQL", f"{base}: {problem}")
    with fresh_database(base, "devtracker_cluster") as url:
        yield url


@pytest.fixture
def cluster(shared_database, redis_prefix, tmp_path):
    """Start nodes on demand: cluster(3) → three servers sharing Redis and PostgreSQL."""
    nodes = []

    def start(count, redis_url=REDIS_URL):
        for _ in range(count):
            node = LiveServer(shared_database, tmp_path / f"node{len(nodes)}.log", REDIS_URL=redis_url,
                              REDIS_KEY_PREFIX=redis_prefix, NODE_TTL_SECONDS=3,
                              PRESENCE_GRACE_SECONDS=0.5)
            nodes.append(node.start())
        return nodes

    yield start
    for node in nodes:
        node.stop()


@pytest.fixture
def clients():
    opened = []

    def open_client(node, user_id, transport="websocket", **cursors):
        client = RecordingClient(node.url, node.token(user_id), transport, **cursors)
        opened.append(client)
        return client.connect()

    yield open_client
    for client in opened:
        client.disconnect()


def sentinel(node, clients_):
    activity = node.api("POST", "/activity", node.token(*SVC),
                        json={"type": "project", "action": "checked", "target": "sentinel"})
    for client in clients_:
        client.wait_for("activity:feed", lambda a: a["id"] == activity["id"])


def test_users_on_different_nodes_see_each_other(cluster, clients):
    a, b, c = cluster(3)
    alice = clients(a, "alice")
    bob = clients(b, "bob", transport="polling")
    assert {p["userId"] for p in bob.named("presence:list")[0]} == {"alice", "bob"}
    alice.wait_for("user:online", lambda p: p["userId"] == "bob")
    clients(c, "bob")  # bob's second device, on a third node
    alice.wait_for("presence:update", lambda p: p["userId"] == "bob" and p["devices"] == 2)
    for node in (a, b, c):
        online = node.api("GET", "/users/online", node.token("carol"))
        assert {u["userId"]: u["devices"] for u in online["users"]} == {"alice": 1, "bob": 2}
        stats = node.api("GET", "/stats", node.token("carol"))
        assert stats["connectedSockets"] == 3 and stats["connectedUsers"] == 2
    sentinel(a, [alice, bob])
    assert len([p for p in alice.named("user:online") if p["userId"] == "bob"]) == 1


def test_rooms_typing_and_updates_cross_nodes_exactly_once(cluster, clients):
    a, b = cluster(2)
    alice = clients(a, "alice")
    bob = clients(b, "bob")
    bob_owner_device = clients(a, "bob", transport="polling")
    alice.call("task:join", "task_9")
    ack = bob.call("task:join", "task_9")
    assert {v["userId"] for v in ack["data"]["viewingUsers"]} == {"alice", "bob"}
    alice.wait_for("task:user_joined", lambda p: p["userId"] == "bob")
    bob.call("task:typing", {"taskId": "task_9", "isTyping": True})
    alice.wait_for("task:typing", lambda t: t["isTyping"])
    viewers = b.api("GET", "/task/task_9/users", b.token("x"))
    assert viewers["typingUsers"] == ["bob"] and viewers["totalViewing"] == 2

    update = b.api("POST", "/task/update", b.token(*SVC), json={
        "taskId": "task_9", "action": "updated", "ownerId": "bob", "task": {"id": "task_9"}})
    note = a.api("POST", "/notify/bob", a.token(*SVC), json={"type": "mention", "title": "t", "message": "m"})
    sentinel(b, [alice, bob, bob_owner_device])
    assert alice.named("task:updated") == [update]
    assert bob.named("task:updated") == [update]  # in the room and the owner: once
    assert bob_owner_device.named("task:updated") == [update]
    assert bob.named("notification") == [note] and bob_owner_device.named("notification") == [note]
    assert alice.named("notification") == []
    assert bob.named("task:typing") == [] and bob_owner_device.named("task:typing") == []


def test_a_killed_node_takes_its_users_offline_on_the_survivors(cluster, clients):
    a, b = cluster(2)
    alice = clients(a, "alice")
    bob = clients(b, "bob")
    bob.call("task:join", "task_1")
    alice.call("task:join", "task_1")
    alice.wait_for("user:online", lambda p: p["userId"] == "bob")
    killed_at = time.time()
    os.kill(b.process.pid, signal.SIGKILL)
    b.process.wait()
    left = alice.wait_for("task:user_left", lambda p: p["userId"] == "bob", timeout=20)[0]
    offline = alice.wait_for("user:offline", lambda p: p["userId"] == "bob", timeout=20)[0]
    took = time.time() - killed_at
    assert left == {"userId": "bob", "username": "bob", "taskId": "task_1"}
    assert offline["status"] == "offline"
    assert took < 3 + 3 / 3 + 0.5 + 2, f"bob went offline {took:.1f} s after the kill"
    stats = a.api("GET", "/stats", a.token("x"))
    assert stats["connectedSockets"] == 1 and stats["connectedUsers"] == 1
    print(f"\nkilled node's user offline after {took:.2f} s")


def test_a_restarted_node_leaves_no_ghosts(cluster, clients):
    a, b = cluster(2)
    alice = clients(a, "alice")
    bob = clients(b, "bob")
    alice.wait_for("user:online", lambda p: p["userId"] == "bob")
    b.restart()  # SIGTERM: its sockets are gone at once, not after the TTL
    alice.wait_for("user:offline", lambda p: p["userId"] == "bob", timeout=15)
    bob2 = clients(b, "bob")
    alice.wait_for("user:online", lambda p: p["userId"] == "bob", count=2)
    online = a.api("GET", "/users/online", a.token("x"))
    assert {u["userId"]: u["devices"] for u in online["users"]} == {"alice": 1, "bob": 1}
    assert bob2.named("presence:list")


@pytest.fixture
def own_redis():
    """A Redis server of this test's own, on a free port, that the test may kill and restart."""
    if shutil.which("redis-server") is None:
        require_service("redis-server", "not installed")
    server = PrivateRedis().start()
    yield server
    server.close()


def test_nodes_recover_from_a_redis_restart_without_losing_a_notification(cluster, own_redis):
    a, b = cluster(2, redis_url=own_redis.url)
    alice = RecordingClient(a.url, a.token("alice"), reconnect=True).connect()
    bob = RecordingClient(b.url, b.token("bob"), "polling", reconnect=True).connect()
    try:
        alice.wait_for("user:online", lambda p: p["userId"] == "bob")
        before = a.api("POST", "/notify/bob", a.token(*SVC), json={"type": "update", "title": "before", "message": "m"})
        bob.wait_for("notification", lambda n: n["id"] == before["id"])

        own_redis.kill()  # Redis keeps nothing on disk: presence and in-flight messages are gone
        during = a.api("POST", "/notify/bob", a.token(*SVC), json={"type": "update", "title": "during", "message": "m"})
        time.sleep(1.5)
        own_redis.start()

        # Nodes notice, have their sockets reconnect, and the replay carries what pub/sub lost.
        bob.wait_for("notification", lambda n: n["id"] == during["id"], timeout=30)
        after = b.api("POST", "/notify/bob", b.token(*SVC), json={"type": "update", "title": "after", "message": "m"})
        bob.wait_for("notification", lambda n: n["id"] == after["id"], timeout=15)
        assert [n["id"] for n in bob.named("notification")] == [before["id"], during["id"], after["id"]]
        alice.wait_for("replay:done", count=2, timeout=30)
        online = b.api("GET", "/users/online", b.token("x"))
        assert {u["userId"] for u in online["users"]} == {"alice", "bob"}
    finally:
        alice.disconnect()
        bob.disconnect()


def test_the_rest_rate_limit_is_shared_across_nodes(shared_database, redis_prefix, tmp_path):
    nodes = [LiveServer(shared_database, tmp_path / f"rl{i}.log", REDIS_URL=REDIS_URL,
                        REDIS_KEY_PREFIX=redis_prefix, REST_RATE_LIMIT="4 per minute").start()
             for i in range(2)]
    try:
        import requests
        token = nodes[0].token("alice")
        codes = [requests.get(nodes[i % 2].url + "/api/v1/realtime/stats",
                              headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code
                 for i in range(5)]
        assert codes == [200, 200, 200, 200, 429]
    finally:
        for node in nodes:
            node.stop()


@pytest.mark.parametrize("worker", ["eventlet", "gevent"])
def test_gunicorn_serves_a_real_client(shared_database, redis_prefix, tmp_path, worker):
    import subprocess
    import sys
    bin_dir = os.path.dirname(sys.executable)
    env_db = {**os.environ, "DATABASE_URL": shared_database, "JWT_SECRET_KEY": "x" * 40}
    subprocess.run([os.path.join(bin_dir, "flask"), "--app", "devtracker", "db", "upgrade"],
                   cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))), env=env_db,
                   check=True, capture_output=True)
    node = LiveServer(shared_database, tmp_path / "gunicorn.log",
                      command=[os.path.join(bin_dir, "gunicorn"), "-k", worker, "-w", "1",
                               "-b", "127.0.0.1:{port}", "wsgi:app"],
                      DEVTRACKER_ENV="production", ASYNC_MODE=worker, REDIS_URL=REDIS_URL,
                      REDIS_KEY_PREFIX=redis_prefix).start()
    try:
        for transport in ("websocket", "polling"):
            bob = RecordingClient(node.url, node.token("bob"), transport).connect()
            note = node.api("POST", "/notify/bob", node.token(*SVC),
                            json={"type": "mention", "title": transport, "message": "m"})
            assert bob.wait_for("notification", lambda n: n["id"] == note["id"])
            assert bob.call("task:join", "task_1")["success"] is True
            bob.disconnect()
    finally:
        node.stop()


def test_a_rest_call_to_one_node_reaches_sockets_on_the_others(cluster, clients):
    import json
    import statistics
    a, b, c = cluster(3)
    receivers = [clients(b, "bob"), clients(c, "bob", transport="polling")]
    latencies = []
    for i in range(30):
        sent = time.perf_counter()
        note = a.api("POST", "/notify/bob", a.token(*SVC), json={"type": "update", "title": f"n{i}", "message": "m"})
        for receiver in receivers:
            receiver.wait_for("notification", lambda n, nid=note["id"]: n["id"] == nid)
        latencies.append((time.perf_counter() - sent) * 1000)
    for receiver in receivers:
        assert len(receiver.named("notification")) == 30  # each exactly once
    latencies.sort()
    report = {"rest_to_other_nodes_ms": {"p50": round(statistics.median(latencies), 1),
                                         "max": round(latencies[-1], 1)}}
    artifacts = os.path.join(os.path.dirname(__file__), "..", "..", "test-artifacts")
    os.makedirs(artifacts, exist_ok=True)
    with open(os.path.join(artifacts, "cluster-latency.json"), "w") as out:
        json.dump(report, out, indent=2)
    print("\ncluster:", report)
