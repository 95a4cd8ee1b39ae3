"""Per-socket memory tuning under eventlet (devtracker/engine/memory.py) keeps the heartbeat.

Pings come from hub timers instead of a sleeping green thread per socket, and Socket.IO
messages are handled in short-lived green threads: pings still come every PING_INTERVAL, a
client that answers stays, one that does not is dropped after PING_TIMEOUT, and events on one
socket are still handled in order.
"""
import asyncio
import json
import time

import pytest
import websockets


@pytest.fixture
def server_settings():
    return {"PING_INTERVAL": 1, "PING_TIMEOUT": 2, "SOCKET_EVENT_RATE": 1000, "SOCKET_EVENT_BURST": 1000,
            "JOIN_EVENT_RATE": 1000, "TYPING_EVENT_RATE": 1000}


def ws_url(live_server):
    return live_server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


async def open_socket(live_server, user):
    ws = await websockets.connect(ws_url(live_server), compression=None, ping_interval=None)
    assert (await ws.recv()).startswith("0")
    await ws.send("40" + json.dumps({"token": live_server.token(user)}))
    return ws


async def read_until(ws, predicate, timeout):
    deadline = time.monotonic() + timeout
    while True:
        message = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        if predicate(message):
            return message


def test_pings_keep_coming_and_a_silent_client_is_dropped(live_server):
    async def scenario():
        answering = await open_socket(live_server, "alice")
        silent = await open_socket(live_server, "bob")
        await read_until(answering, lambda m: m.startswith('42["replay:done"'), 10)
        await read_until(silent, lambda m: m.startswith('42["replay:done"'), 10)
        started, pings = time.monotonic(), []
        silent_closed_at = None
        silent_reader = asyncio.create_task(silent.wait_closed())
        while time.monotonic() - started < 6:
            try:
                message = await asyncio.wait_for(answering.recv(), 0.5)
            except asyncio.TimeoutError:
                message = None
            if message == "2":
                pings.append(time.monotonic() - started)
                await answering.send("3")
            if silent_closed_at is None and silent_reader.done():
                silent_closed_at = time.monotonic() - started
        if silent_closed_at is None:
            await asyncio.wait_for(silent_reader, 10)
            silent_closed_at = time.monotonic() - started
        still_open = answering.state is websockets.protocol.State.OPEN
        await answering.close()
        return pings, silent_closed_at, still_open

    pings, silent_closed_at, still_open = asyncio.run(scenario())
    assert still_open
    assert len(pings) >= 4, pings  # every second, for six seconds
    assert all(0.5 < b - a < 2 for a, b in zip(pings, pings[1:])), pings
    # A client that never answers: dropped once PING_TIMEOUT has passed since the first unanswered ping.
    assert 2 <= silent_closed_at < 12, silent_closed_at


def test_events_on_one_websocket_are_handled_in_order(live_server):
    async def scenario():
        ws = await open_socket(live_server, "carol")
        await read_until(ws, lambda m: m.startswith('42["replay:done"'), 10)
        for i in range(30):  # join, then type in, each task: typing needs the join done first
            await ws.send("42" + json.dumps(["task:join", f"t{i}"]))
            await ws.send("42" + json.dumps(["task:typing", {"taskId": f"t{i}", "isTyping": True}]))
        await ws.send("42" + json.dumps(["no:such:event", {}]))
        errors = []
        while True:
            message = await read_until(ws, lambda m: m.startswith('42["error"') or m == "2", 10)
            if message == "2":
                await ws.send("3")
                continue
            errors.append(json.loads(message[2:])[1])
            if errors[-1]["event"] == "no:such:event":
                break
        await ws.close()
        return errors

    errors = asyncio.run(scenario())
    assert [e["code"] for e in errors] == ["UNKNOWN_EVENT"], errors


def test_metrics_say_where_the_memory_is(live_server):
    import re

    import requests

    text = requests.get(live_server.url + "/metrics", timeout=10).text

    def value(series):
        found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
        assert found, f"{series} missing from /metrics"
        return float(found.group(1))

    assert value('devtracker_c_heap_bytes{state="in_use"}') > 1 << 20  # the heap trimmer's view
    assert value('devtracker_c_heap_bytes{state="free"}') >= 0
    assert value('devtracker_c_heap_bytes{state="mmapped"}') >= 0
    assert value("devtracker_heap_trims_total") >= 0
    assert value("devtracker_gc_frozen_objects") > 10_000  # start-up objects are frozen
    for action in ("freeze", "refresh", "sweep"):  # what the socket freezer did, from zero
        assert value(f'devtracker_gc_freezer_actions_total{{action="{action}"}}') >= 0
