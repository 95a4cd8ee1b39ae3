"""The bench's bulk sockets (bench/bulk.py) count every delivery once and answer every ping, however
the stream is cut into reads; compressed (permessage-deflate) streams too. And against the bare
Flask-SocketIO reference, bulk and precise sockets (deflate offered or not) connect, count a
broadcast at every socket, and time the precise ones; viewers that join a task room count only
that room's updates, and precise sockets only the watched events."""
import asyncio
import json
import os
import sys
import time
import zlib

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))

from bulk import PONG, BulkPoller, BulkSocket  # noqa: E402


def server_frame(payload, rsv1=False):
    """An unmasked server → client text frame."""
    n = len(payload)
    first = 0x81 | (0x40 if rsv1 else 0)
    if n < 126:
        head = bytes((first, n))
    elif n < 65536:
        head = bytes((first, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((first, 127)) + n.to_bytes(8, "big")
    return head + payload


def bench_event(seq, filler=200, spaced=True):
    data = {"message": "bench", "data": {"seq": seq, "sentAt": 1764000000.123456, "bench": "x" * filler},
            "timestamp": "2026-01-01T00:00:00.000Z"}
    separators = (", ", ": ") if spaced else (",", ":")
    return ('42["system:bench",' + json.dumps(data, separators=separators) + "]").encode()


def presence(user):
    return ('42["user:online",' + json.dumps({"userId": user, "devices": 1}) + "]").encode()


def stream():
    """Messages: deliveries (short, 2-byte and 8-byte lengths, both JSON spacings), presence, pings."""
    messages, seqs, pings = [], [], 0
    for i in range(1, 41):
        seq = 1000 * i + i
        filler = 70000 if i == 17 else (5 if i % 7 == 0 else 200)
        messages.append(bench_event(seq, filler, spaced=i % 2 == 0))
        seqs.append(seq)
        if i % 5 == 0:
            messages.append(presence(f"user-{i}"))
        if i % 9 == 0:
            messages.append(b"2")
            pings += 1
    return messages, seqs, pings


class FakeSock:
    """recv_into hands out the stream in the given chunks; send records what was sent."""

    def __init__(self, chunks):
        self.chunks = list(chunks)
        self.sent = []

    def recv_into(self, buf):
        chunk = self.chunks.pop(0)
        buf[:len(chunk)] = chunk
        return len(chunk)

    def send(self, data):
        self.sent.append(data)
        return len(data)

    def close(self):
        pass


def read_all(data, cuts, deflate=False, precise=True, prefixes=()):
    poller = BulkPoller()
    poller.counting = True
    poller.prefixes = prefixes
    chunks = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)]) if b > a]
    sock = BulkSocket("http://127.0.0.1:1", {}, poller, precise=precise)
    sock.sock = FakeSock(chunks)
    if deflate:
        sock._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
    for _ in chunks:
        sock.read(time.time())
    return poller.drain(), sock.sock.sent


@pytest.mark.parametrize("precise", [True, False], ids=["precise", "scanned"])
@pytest.mark.parametrize("step", [1, 3, 7, 64, 1000])
def test_every_delivery_counted_once_however_the_reads_are_cut(step, precise):
    messages, seqs, pings = stream()
    data = b"".join(server_frame(m) for m in messages)
    for offset in range(0, min(step, 50)):
        cuts = list(range(offset or step, len(data), step))
        drained, sent = read_all(data, cuts, precise=precise)
        assert drained["counts"] == {seq: 1 for seq in seqs}, (step, offset)
        assert sorted(drained["seqs"]) == (seqs if precise else [])  # only precise ones are timed
        assert sent == [PONG] * pings, (step, offset)


def test_precise_sockets_count_only_the_watched_events():
    """A task update reaches a viewer twice with the same seq: task:updated and activity:feed."""
    messages = []
    for seq in range(1, 11):
        messages.append(('42["task:updated",' + json.dumps({"task": {"seq": seq}}) + "]").encode())
        messages.append(('42["activity:feed",' + json.dumps({"data": {"task": {"seq": seq}}}) + "]").encode())
    data = b"".join(server_frame(m) for m in messages)
    drained, _ = read_all(data, list(range(13, len(data), 13)), prefixes=(b'42["task:updated"',))
    assert drained["counts"] == {seq: 1 for seq in range(1, 11)}
    assert drained["seqs"] == list(range(1, 11))


def test_a_compressed_stream_is_inflated_and_counted():
    messages, seqs, pings = stream()
    deflater = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    data = b""
    for i, message in enumerate(messages):
        if i % 3 == 0:  # permessage-deflate lets the server send some messages uncompressed
            data += server_frame(message)
        else:
            body = deflater.compress(message) + deflater.flush(zlib.Z_SYNC_FLUSH)
            data += server_frame(body[:-4], rsv1=True)
    for step in (5, 333):
        drained, sent = read_all(data, list(range(step, len(data), step)), deflate=True)
        assert drained["counts"] == {seq: 1 for seq in seqs}
        assert sent == [PONG] * pings


def test_nothing_is_counted_unless_a_delivery_is_watched():
    messages, _, pings = stream()
    poller = BulkPoller()
    sock = BulkSocket("http://127.0.0.1:1", {}, poller)
    data = b"".join(server_frame(m) for m in messages)
    sock.sock = FakeSock([data])
    sock.read(time.time())
    assert poller.drain()["counts"] == {} and sock.sock.sent == [PONG] * pings


def test_bulk_and_precise_sockets_against_the_flask_reference(tmp_path):
    from tests.bench.test_reference_servers import start

    server = start("flask", tmp_path)
    try:

        async def scenario():
            poller = BulkPoller(interval=0.02)
            poller.counting = True
            socks = [BulkSocket(server.url, {"token": "t"}, poller, deflate=d, precise=p)
                     for d in (False, True) for p in (False, True)]
            await asyncio.gather(*(s.connect(timeout=20) for s in socks))
            assert all(s.ready_at for s in socks)
            assert [s.negotiated_deflate for s in socks] == [False, False, True, True]
            sent = {}
            for seq in range(1, 6):
                sent[seq] = time.time()
                await asyncio.to_thread(requests.post, server.url + "/bench/broadcast",
                                        json={"data": {"seq": seq, "sentAt": sent[seq]}}, timeout=10)
            deadline = time.time() + 10
            while sum(poller.counts.values()) < 20 and time.time() < deadline:
                await asyncio.sleep(0.05)
            drained = poller.drain()
            for s in socks:
                await s.close()
            return drained, sent

        drained, sent = asyncio.run(scenario())
        assert drained["counts"] == {seq: 4 for seq in range(1, 6)}
        assert sorted(drained["seqs"]) == sorted(list(range(1, 6)) * 2)  # the two precise sockets
        assert all(0 <= at - sent[seq] < 5 for seq, at in zip(drained["seqs"], drained["recv"]))

        async def room():
            """Viewers join a task room (acknowledged) and count only that room's updates."""
            poller = BulkPoller()
            poller.counting, poller.prefixes = True, (b'42["task:updated"',)
            viewers = [BulkSocket(server.url, {"token": "t"}, poller, precise=True, task=task)
                       for task in ("room-a", "room-a", "room-b")]
            await asyncio.gather(*(v.connect(timeout=20) for v in viewers))
            for seq, task in ((11, "room-a"), (12, "room-b")):
                await asyncio.to_thread(requests.post, server.url + "/bench/room",
                                        json={"taskId": task, "data": {"seq": seq}}, timeout=10)
            deadline = time.time() + 10
            while sum(poller.counts.values()) < 3 and time.time() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)  # nothing more arrives
            for v in viewers:
                await v.close()
            return poller.drain()

        assert asyncio.run(room())["counts"] == {11: 2, 12: 1}
    finally:
        server.stop()
