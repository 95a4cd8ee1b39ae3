"""What one socket may send (engine/inbound.py): a client flooding the largest messages is
dropped before the server decodes them, counted in /metrics, and nobody else notices."""
import re
import time

import pytest
import requests

from tests.support.raw import Closed, RawSocket

from .test_hostile_packets import auth_text

RATE, BURST = 20_000, 200_000


@pytest.fixture
def server_settings():
    return {"MAX_SOCKET_INPUT_BYTES_PER_SECOND": RATE, "MAX_SOCKET_INPUT_BURST_BYTES": BURST}


def test_a_socket_flooding_large_messages_is_dropped_and_others_are_not(live_server):
    bystander, flooder = RawSocket(live_server.url), RawSocket(live_server.url)
    assert "sid" in bystander.connect(raw_auth=auth_text(live_server, "bob"))
    assert "sid" in flooder.connect(raw_auth=auth_text(live_server, "mallory"))
    big = '42["task:join",[' + ",".join(["1"] * 30_000) + "]]"  # 60 KB, refused once decoded
    try:
        for _ in range(40):
            flooder.send(big)
    except (Closed, OSError):  # the server closed the connection while we were still sending
        pass
    deadline = time.monotonic() + 5
    while not flooder.closed and time.monotonic() < deadline:
        flooder.drain(0.2)
    if not flooder.closed:
        pytest.fail("the flooding socket is still connected")
    handled = len(flooder.named("error"))
    assert 1 <= handled <= BURST // len(big) + 1  # decoded while the budget lasted, no more
    metrics = requests.get(live_server.url + "/metrics", timeout=5).text
    assert re.search(r"^devtracker_socket_input_drops_total 1\.0$", metrics, re.M), metrics[-800:]
    bystander.emit("presence:update", "away", ack=1)
    assert bystander.wait_ack(1)[0]["success"] is True
    bystander.close()


def test_ordinary_traffic_stays_within_the_budget(live_server):
    sock = RawSocket(live_server.url)
    assert "sid" in sock.connect(raw_auth=auth_text(live_server))
    for i in range(30):
        sock.emit("presence:update", "away" if i % 2 else "online", ack=i)
        assert sock.wait_ack(i)[0]["success"] is True
    assert not sock.closed
    sock.close()
