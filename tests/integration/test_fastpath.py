"""The broadcast fast path keeps every socket's events complete and in order, slow readers included."""
import asyncio
import re

import pytest
import requests

from devtracker.engine.fastpath import frame_text
from tests.support.lean import LeanSocket, open_many

BROADCASTS = 60


@pytest.fixture
def server_settings():
    return {"RATELIMIT_ENABLED": "false"}


async def slow_reader(url, token):
    """A socket with a tiny receive buffer that reads nothing after replay:done until told to
    (`start_reading()`); its system:bench seqs are kept in `sock.seqs`."""
    sock = LeanSocket(url, {"token": token}, rcvbuf=4096, max_queue=1,
                      handlers={"system:bench": lambda sock, data, at: sock.seqs.append(data["data"]["seq"])})
    sock.seqs = []
    return await sock.connect(read=False)


async def drain(sock, count, timeout=60):
    """Read until `count` broadcasts arrived."""
    sock.start_reading()
    await sock.wait_for(lambda s: len(s.seqs) >= count, timeout)


def fanout_counters(url):
    text = requests.get(url + "/metrics", timeout=10).text
    return {path: float(value) for path, value in
            re.findall(r'^devtracker_fanout_deliveries_total\{path="(\w+)"\} (\S+)$', text, re.M)}


def test_slow_readers_get_every_broadcast_in_order(live_server):
    admin = live_server.token("root", "admin")
    fast_seqs = {}

    def on_event(sock, name, data, at):
        if name == "system:bench":
            fast_seqs.setdefault(id(sock), []).append(data["data"]["seq"])

    async def scenario():
        fast = await open_many(live_server.url, [{"token": live_server.token(f"fast{i}")} for i in range(4)],
                               on_event)
        slow = [await slow_reader(live_server.url, live_server.token(f"slow{i}")) for i in range(3)]
        padding = "x" * 12000  # big frames fill the slow readers' buffers: partial writes and EAGAIN
        for seq in range(BROADCASTS):  # the slow readers read nothing meanwhile
            await asyncio.to_thread(requests.post, live_server.url + "/api/v1/realtime/broadcast",
                                    headers={"Authorization": f"Bearer {admin}"}, timeout=10,
                                    json={"event": "system:bench", "message": "m", "data": {"seq": seq, "pad": padding}})
        await asyncio.gather(*(drain(reader, BROADCASTS) for reader in slow))
        for _ in range(200):
            if all(len(v) == BROADCASTS for v in fast_seqs.values()) and len(fast_seqs) == 4:
                break
            await asyncio.sleep(0.05)
        await asyncio.gather(*(s.close() for s in fast), *(r.close() for r in slow))
        return slow

    slow = asyncio.run(scenario())
    expected = list(range(BROADCASTS))
    assert [reader.seqs for reader in slow] == [expected] * 3
    assert sorted(map(len, fast_seqs.values())) == [BROADCASTS] * 4
    assert all(seqs == expected for seqs in fast_seqs.values())
    counters = fanout_counters(live_server.url)
    assert counters["fast"] > 0, "idle sockets took the fast path"
    # Every delivery went one way or the other. How many slow-reader frames fell back to the
    # queue depends on how much the kernel buffers; ordering above must hold either way.
    assert counters["fast"] + counters["queued"] >= 7 * BROADCASTS  # presence events pass too


def test_frames_are_rfc6455_text_frames():
    assert frame_text("hi") == b"\x81\x02hi"
    assert frame_text("é" * 100)[:4] == b"\x81\x7e\x00\xc8"
    big = frame_text("x" * 70000)
    assert big[:2] == b"\x81\x7f" and int.from_bytes(big[2:10], "big") == 70000


@pytest.mark.parametrize("mode", ["gevent", "threading"])
def test_the_fast_path_is_off_outside_eventlet(mode, tmp_path):
    from devtracker import create_app
    from devtracker.extensions import socketio
    from tests.conftest import make_config
    app = create_app(make_config(f"sqlite:///{tmp_path / 'm.db'}", ASYNC_MODE=mode))
    try:
        assert socketio.server.manager.send_idle is None
    finally:
        app.extensions["devtracker.namespace"].stop()
