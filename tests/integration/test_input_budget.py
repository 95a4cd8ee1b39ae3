"""What one socket may send (engine/inbound.py): a client flooding the largest messages is
dropped before the server decodes them, counted in /metrics, and nobody else notices."""
import json
import re
import time

import pytest
import requests

from .test_hostile_packets import RawSocket, auth_text

RATE, BURST = 20_000, 200_000


@pytest.fixture
def server_settings():
    return {"MAX_SOCKET_INPUT_BYTES_PER_SECOND": RATE, "MAX_SOCKET_INPUT_BURST_BYTES": BURST}


def test_a_socket_flooding_large_messages_is_dropped_and_others_are_not(live_server):
    bystander, flooder = RawSocket(live_server), RawSocket(live_server)
    assert bystander.connect(auth_text(live_server, "bob")).startswith("40")
    assert flooder.connect(auth_text(live_server, "mallory")).startswith("40")
    big = '42["task:join",[' + ",".join(["1"] * 30_000) + "]]"  # 60 KB, refused once decoded
    try:
        for _ in range(40):
            flooder.send(big)
    except OSError:  # the server closed the connection while we were still sending
        pass
    handled, deadline = 0, time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            packet = flooder.ws.recv()
        except Exception:
            break
        if not packet:  # the close
            break
        handled += packet.startswith('42["error"')
    else:
        pytest.fail("the flooding socket is still connected")
    assert 1 <= handled <= BURST // len(big) + 1  # decoded while the budget lasted, no more
    metrics = requests.get(live_server.url + "/metrics", timeout=5).text
    assert re.search(r"^devtracker_socket_input_drops_total 1\.0$", metrics, re.M), metrics[-800:]
    bystander.send('421["presence:update","away"]')
    ack = json.loads(bystander.next("431")[3:])[0]
    assert ack["success"] is True


def test_ordinary_traffic_stays_within_the_budget(live_server):
    sock = RawSocket(live_server)
    assert sock.connect(auth_text(live_server)).startswith("40")
    for i in range(30):
        sock.send(f'42{i}["presence:update","{"away" if i % 2 else "online"}"]')
        assert json.loads(sock.next(f"43{i}")[2 + len(str(i)):])[0]["success"] is True
