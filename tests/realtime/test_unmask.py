"""devtracker/engine/unmask.py: client frames unmasked as eventlet did, byte for byte, and a
real eventlet websocket server with it installed reads what real clients send."""
import random

import pytest

from devtracker.engine.unmask import apply_mask
from tests.support.eventlet_run import start_under_eventlet


def by_the_rfc(data, mask, length=None, offset=0):
    """RFC 6455 §5.3: octet i of the payload XOR octet (i mod 4) of the key."""
    length = len(data) if length is None else length
    return bytes(data[i] ^ mask[(offset + i) % 4] for i in range(length))


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 7, 60, 125, 126, 1024, 65536, 70001])
def test_the_same_bytes_as_the_rfc_for_every_length_and_offset(size):
    rng = random.Random(size)
    data = bytes(rng.getrandbits(8) for _ in range(size + 5))  # longer than `length`
    mask = bytes(rng.getrandbits(8) for _ in range(4))
    for offset in range(9):
        assert apply_mask(data, mask, size, offset) == by_the_rfc(data, mask, size, offset)
    assert apply_mask(data[:size], mask) == by_the_rfc(data[:size], mask)
    assert apply_mask(bytearray(data), mask, size, 3) == by_the_rfc(data, mask, size, 3)


def test_leading_zero_bytes_keep_their_place():
    mask = b"\x00\x00\x00\x00"
    assert apply_mask(b"\x00\x00ab", mask) == b"\x00\x00ab"
    assert apply_mask(b"\x12\x34", b"\x12\x34\x00\x00") == b"\x00\x00"


ECHO_SERVER = '''
    import eventlet
    import sys
    from eventlet import websocket, wsgi
    from devtracker.engine import unmask

    assert unmask.install() is True
    assert websocket.RFC6455WebSocket._apply_mask is unmask.apply_mask

    @websocket.WebSocketWSGI
    def echo(ws):
        while True:
            message = ws.wait()
            if message is None:
                return
            ws.send(message)

    listener = eventlet.listen(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    wsgi.server(listener, echo, log_output=False)
'''


def test_an_eventlet_server_with_it_reads_what_real_clients_send():
    from websockets.sync.client import connect

    server = start_under_eventlet(ECHO_SERVER)
    try:
        port = int(server.stdout.readline())
        rng = random.Random(7)
        with connect(f"ws://127.0.0.1:{port}/", max_size=None, compression=None) as ws:
            # small frames; one past the 16-bit length; one eventlet reads in several pieces
            for size in (0, 1, 3, 125, 126, 4097, 70001, 300_000):
                text = "".join(rng.choice("abcdefghij€") for _ in range(size))
                ws.send(text)
                assert ws.recv(timeout=30) == text
            ws.send(b"\x00\x01\xff" * 1000)
            assert ws.recv(timeout=30) == b"\x00\x01\xff" * 1000
    finally:
        server.kill()
        _, err = server.communicate(timeout=10)
    assert "Traceback" not in err, err[-3000:]
