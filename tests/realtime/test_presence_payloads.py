"""Both presence stores build their payloads through the presence schemas' builders: the same
steps on the memory store and on the Redis store (a real Redis) give the same payloads, each
with exactly its schema's fields."""
import os
import uuid

import pytest
import redis

from devtracker.realtime.presence import MemoryPresenceStore
from devtracker.realtime.presence.redis_store import RedisPresenceStore
from devtracker.schemas.presence import TaskViewersSchema, UserPresenceSchema, ViewerSchema
from tests.conftest import require_service

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_store():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        require_service("Redis", f"{REDIS_URL}: {exc}")
    prefix = f"test-payloads-{uuid.uuid4().hex[:8]}"
    store = RedisPresenceStore(REDIS_URL, prefix)
    yield store
    keys = list(store.redis.scan_iter(f"{prefix}:*"))
    if keys:
        store.redis.delete(*keys)


def run_steps(store):
    """Two users, three sockets, a task room and a status change; every payload on the way."""
    seen = []
    seen.append(store.add_socket("s1", "alice", "Alice").presence)
    seen.append(store.add_socket("s2", "alice", "Alice").presence)
    seen.append(store.add_socket("s3", "bob", "Bob").presence)
    store.join_task("s1", "task-1")
    store.join_task("s3", "task-1")
    seen.append(store.get_user("alice"))
    store.set_status("s3", "away")
    seen.append(store.get_user("bob"))
    seen.extend(sorted(store.list_users(), key=lambda p: p["userId"]))
    viewers = sorted(store.task_viewers("task-1"), key=lambda v: v["userId"])
    state = store.task_state("task-1")
    return seen, viewers, state


def comparable(presence):
    """A payload without its lastSeen instant (each store stamps its own clock)."""
    return {key: value for key, value in presence.items() if key != "lastSeen"}


def test_both_stores_give_the_schemas_payloads(redis_store):
    memory = run_steps(MemoryPresenceStore())
    shared = run_steps(redis_store)
    for presences, viewers, state in (memory, shared):
        assert presences and all(set(p) == set(UserPresenceSchema().fields) for p in presences)
        assert all(isinstance(p["lastSeen"], str) and p["lastSeen"].endswith("Z") for p in presences)
        assert [set(v) for v in viewers] == [set(ViewerSchema().fields)] * 2
        assert set(state) == set(TaskViewersSchema().fields)
    assert [comparable(p) for p in memory[0]] == [comparable(p) for p in shared[0]]
    assert memory[1] == shared[1] == [
        {"userId": "alice", "username": "Alice", "status": "online"},
        {"userId": "bob", "username": "Bob", "status": "away"},
    ]
