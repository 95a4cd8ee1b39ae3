"""One process holds 2,000 authenticated sockets, and a broadcast reaches each exactly once."""
import asyncio
import json
import os
import statistics
import time
from collections import Counter

import pytest
import requests

from tests.support.lean import open_many

SOCKETS = 2000
ARTIFACTS = os.path.join(os.path.dirname(__file__), "..", "..", "test-artifacts")


@pytest.fixture
def server_settings():
    return {"SOCKET_EVENT_RATE": 1000, "SOCKET_EVENT_BURST": 1000}


def test_two_thousand_sockets_are_held_and_each_gets_a_broadcast_once(live_server):
    tokens = [live_server.token(f"user{i % 500}") for i in range(SOCKETS)]  # 500 users, 4 devices each
    replayed, feed = set(), []

    def on_event(sock, name, data, at):
        if name == "replay:done":
            replayed.add(id(sock))
        elif name == "activity:feed":
            feed.append((data["id"], id(sock), at))  # the broadcast can beat the REST answer here

    async def scenario():
        started = time.perf_counter()
        sockets = await open_many(live_server.url, [{"token": t} for t in tokens], on_event)
        connect_seconds = time.perf_counter() - started
        deadline = time.time() + 120
        while len(replayed) < SOCKETS and time.time() < deadline:
            await asyncio.sleep(0.05)
        assert len(replayed) == SOCKETS, f"only {len(replayed)} sockets finished authenticating"
        stats = live_server.api("GET", "/stats", live_server.token("observer"))
        assert stats["connectedSockets"] == SOCKETS
        assert stats["connectedUsers"] == 500

        svc = live_server.token("svc-tasks", "service")
        sent = time.time()  # what LeanSocket stamps events with
        response = await asyncio.to_thread(
            requests.post, live_server.url + "/api/v1/realtime/activity",
            headers={"Authorization": f"Bearer {svc}"},
            json={"type": "project", "action": "announced", "target": "smoke"}, timeout=30)
        target = response.json()["data"]["id"]
        deadline = time.time() + 120
        while sum(1 for fid, _, _ in feed if fid == target) < SOCKETS and time.time() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # a duplicate would have arrived by now
        await asyncio.gather(*(s.close() for s in sockets))
        return connect_seconds, target, sent

    connect_seconds, target, sent = asyncio.run(scenario())
    per_socket = Counter(sock for fid, sock, _ in feed if fid == target)
    assert len(per_socket) == SOCKETS and set(per_socket.values()) == {1}, "each socket exactly once"
    latencies = sorted((at - sent) * 1000 for fid, _, at in feed if fid == target)
    report = {"sockets": SOCKETS, "connect_seconds": round(connect_seconds, 2),
              "fanout_ms": {"p50": round(statistics.median(latencies), 1),
                            "p99": round(latencies[int(len(latencies) * 0.99) - 1], 1),
                            "max": round(latencies[-1], 1)}}
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, "smoke-connections.json"), "w") as out:
        json.dump(report, out, indent=2)
    print("\nsmoke:", report)
