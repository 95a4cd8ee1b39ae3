"""Emits in quick succession are written to each socket together, complete and in order, and
packets sent around the fast path (acks) still come after what was emitted before them."""
import asyncio
import json
import re

import pytest
import requests

from tests.support.lean import LeanSocket

WINDOW = 0.4  # long enough that a test's REST calls all land inside one quiet period


@pytest.fixture
def server_settings():
    return {"RATELIMIT_ENABLED": "false", "BROADCAST_COALESCE_SECONDS": str(WINDOW)}


def raw_socket(server, user):
    """A connected LeanSocket of `user` that keeps every frame after replay:done, in order."""
    return LeanSocket(server.url, {"token": server.token(user)}, keep=True).connect()


def seqs(sock):
    return [json.loads(m[2:])[1]["data"]["seq"] for m in sock.messages
            if m.startswith('42["system:bench"')]


def broadcast(server, admin, seq):
    response = requests.post(server.url + "/api/v1/realtime/broadcast", timeout=10,
                             headers={"Authorization": f"Bearer {admin}"},
                             json={"event": "system:bench", "message": "m", "data": {"seq": seq}})
    assert response.status_code == 200, response.text


def metric(server, name):
    text = requests.get(server.url + "/metrics", timeout=10).text
    return {labels: float(value) for labels, value in
            re.findall(rf'^{name}(\{{[^}}]*\}})? (\S+)$', text, re.M)}


def test_a_burst_reaches_every_socket_complete_in_order_in_fewer_writes(live_server):
    admin = live_server.token("root", "admin")
    count = 40

    async def scenario():
        sockets = [await raw_socket(live_server, f"u{i}") for i in range(5)]
        for seq in range(count):
            await asyncio.to_thread(broadcast, live_server, admin, seq)
        for sock in sockets:
            await sock.wait_for(lambda s: len(seqs(s)) >= count)
        await asyncio.gather(*(s.close() for s in sockets))
        return [seqs(s) for s in sockets]

    assert asyncio.run(scenario()) == [list(range(count))] * 5
    deliveries = metric(live_server, "devtracker_fanout_deliveries_total")
    writes = metric(live_server, "devtracker_fanout_writes_total")[""]
    assert deliveries['{path="fast"}'] >= 5 * count
    # 40 broadcasts over a few hundred milliseconds of REST calls: most share writes.
    assert writes < deliveries['{path="fast"}'] / 2


def test_an_ack_comes_after_the_events_emitted_before_it(live_server):
    admin = live_server.token("root", "admin")

    async def scenario():
        sock = await raw_socket(live_server, "acker")
        await asyncio.to_thread(broadcast, live_server, admin, 0)
        await asyncio.to_thread(broadcast, live_server, admin, 1)  # inside the quiet period: held
        await sock.ws.send('427["task:join","t-1"]')
        await sock.wait_for(lambda s: any(m.startswith("437") for m in s.messages))
        await sock.close()
        return sock.messages

    messages = asyncio.run(scenario())
    kinds = ["event" if m.startswith('42["system:bench"') else "ack" for m in messages
             if m.startswith(('42["system:bench"', "437"))]
    assert kinds == ["event", "event", "ack"]
    ack = next(m for m in messages if m.startswith("437"))
    assert json.loads(ack[3:])[0]["success"] is True


def test_a_task_update_and_its_activity_reach_a_viewer_in_one_write(live_server):
    svc = live_server.token("svc-tasks", "service")

    async def scenario():
        viewers = [await raw_socket(live_server, f"v{i}") for i in range(3)]
        for viewer in viewers:
            await viewer.ws.send('420["task:join","task_9"]')
            await viewer.wait_for(lambda s: any(m.startswith("430") for m in s.messages))
        await asyncio.sleep(WINDOW * 2)  # every quiet period is over: the update goes out at once
        before = metric(live_server, "devtracker_fanout_writes_total")[""]
        response = await asyncio.to_thread(
            requests.post, live_server.url + "/api/v1/realtime/task/update", timeout=10,
            headers={"Authorization": f"Bearer {svc}"},
            json={"taskId": "task_9", "action": "updated", "task": {"id": "task_9"}})
        assert response.status_code == 200, response.text
        events = lambda s: [m[4:m.index('"', 4)] for m in s.messages if m.startswith('42["')]
        for viewer in viewers:
            await viewer.wait_for(lambda s: "activity:feed" in events(s))
        writes = metric(live_server, "devtracker_fanout_writes_total")[""] - before
        await asyncio.gather(*(v.close() for v in viewers))
        return [events(v)[-2:] for v in viewers], writes

    received, writes = asyncio.run(scenario())
    assert received == [["task:updated", "activity:feed"]] * 3
    assert writes == 3  # one per viewer, both events in it
