"""Ordered streams across nodes (SPEC §9): two real nodes on Redis and PostgreSQL, one of them
hearing Redis late through a delaying TCP proxy. Writes alternate between the nodes; every
socket gets every item of its streams in `seq` order, with no hole and no duplicate, including
a client that drops in the middle and resumes from the largest id it saw."""
import socket
import threading
import time
from collections import deque

import pytest

from tests.support.ports import free_port

from .test_cluster import SVC, clients, cluster, redis_prefix, shared_database  # noqa: F401  (fixtures)

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


class DelayingProxy:
    """A TCP proxy to Redis that holds the messages of the node's pub/sub connections (those that
    SUBSCRIBE) for `delay` seconds, in order; everything else goes through at once. Real
    Redis, real sockets: the node only hears the other nodes' emits late."""

    def __init__(self):
        self.delay = 0.0
        self.deaf = False  # drop what Redis sends the node's pub/sub connections
        self._subscribed = []  # (client, upstream) of the connections that subscribed
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._closing = False
        self._sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self):
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((REDIS_HOST, REDIS_PORT))
            self._sockets += [client, upstream]
            subscriber = []  # non-empty once the node subscribes on this connection
            pair = (client, upstream)
            threading.Thread(target=self._pipe, args=(client, upstream, subscriber, True, pair), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, subscriber, False, pair), daemon=True).start()

    def cut_subscribers(self):
        """Close the node's pub/sub connections (it connects and subscribes again)."""
        for pair in self._subscribed:
            _close(*pair)

    def _pipe(self, source, target, subscriber, from_node, pair):
        pending, ready = deque(), threading.Condition()

        def writer():
            while True:
                with ready:
                    while not pending:
                        ready.wait()
                    due, chunk = pending.popleft()
                if chunk is None:
                    return
                time.sleep(max(0.0, due - time.monotonic()))
                try:
                    target.sendall(chunk)
                except OSError:
                    return

        threading.Thread(target=writer, daemon=True).start()
        while True:
            try:
                chunk = source.recv(65536)
            except OSError:
                chunk = b""
            if from_node and b"SUBSCRIBE" in (chunk or b"").upper():
                subscriber.append(True)
                self._subscribed.append(pair)
            if subscriber and not from_node and self.deaf and chunk:
                continue
            delay = self.delay if subscriber and not from_node else 0.0
            with ready:
                pending.append((time.monotonic() + delay, chunk or None))
                ready.notify()
            if not chunk:
                return

    def close(self):
        self._closing = True
        self._listener.close()
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass


def _close(*sockets):
    for sock in sockets:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


@pytest.fixture
def late_redis(redis_prefix):  # noqa: F811  (needs Redis: skips loudly without it)
    proxy = DelayingProxy()
    yield proxy
    proxy.close()


def seqs(payloads):
    return [p["seq"] for p in payloads]


def test_streams_stay_in_seq_order_when_one_node_hears_redis_late(cluster, clients, late_redis):  # noqa: F811
    [a] = cluster(1)
    [_, b] = cluster(1, redis_url=late_redis.url)
    watchers = {"alice@a": clients(a, "alice"), "alice@b": clients(b, "alice"),
                "bob@b": clients(b, "bob"), "bob@a": clients(a, "bob", transport="polling")}
    dropper = clients(b, "alice")
    late_redis.delay = 0.4  # from here on, node b hears node a's emits 0.4 s late
    rounds = 8
    for i in range(rounds):
        node = (a, b)[i % 2]
        node.api("POST", "/notify/alice", node.token(*SVC),
                 json={"type": "update", "title": f"n{i}", "message": "m"})
        node.api("POST", "/activity", node.token(*SVC),
                 json={"type": "project", "action": "wrote", "target": f"a{i}"})
        if i == 1:  # dropped right after b's own write, before a's older one reached b
            dropper.disconnect()
    dropper.connect()  # resumes from the largest ids it saw (its events are kept)

    everyone = list(watchers.values()) + [dropper]
    for client in everyone:
        client.wait_for("activity:feed", count=rounds, timeout=20)
    for name in ("alice@a", "alice@b"):
        watchers[name].wait_for("notification", count=rounds, timeout=20)
    dropper.wait_for("notification", count=rounds, timeout=20)
    time.sleep(1.0)  # anything late (a repeat) would arrive by now

    expected = list(range(1, rounds + 1))
    for name, client in {**watchers, "alice@b, dropped and resumed": dropper}.items():
        assert seqs(client.named("activity:feed")) == expected, name
        ids = [x["id"] for x in client.named("activity:feed")]
        assert ids == sorted(ids), name
        if name.startswith("alice"):
            assert seqs(client.named("notification")) == expected, name
        else:
            assert client.named("notification") == [], name


def test_a_node_whose_listener_lost_redis_catches_up_from_the_database(cluster, clients, late_redis):  # noqa: F811
    [a] = cluster(1)
    [_, b] = cluster(1, redis_url=late_redis.url)
    on_b = clients(b, "alice")
    first = a.api("POST", "/notify/alice", a.token(*SVC), json={"type": "update", "title": "0", "message": "m"})
    on_b.wait_for("notification", count=1, timeout=10)
    late_redis.deaf = True  # node b stops hearing the others (what is published is lost to it)
    missed = [a.api("POST", "/notify/alice", a.token(*SVC), json={"type": "update", "title": str(i), "message": "m"})
              for i in (1, 2)]
    time.sleep(1.0)
    assert [n["id"] for n in on_b.named("notification")] == [first["id"]]  # not heard: nothing came
    late_redis.deaf = False
    late_redis.cut_subscribers()  # b's listener connects and subscribes again within its backoff
    on_b.wait_for("notification", count=3, timeout=10)
    time.sleep(0.5)  # a repeat would arrive by now
    assert [n["id"] for n in on_b.named("notification")] == [first["id"]] + [n["id"] for n in missed]
    assert seqs(on_b.named("notification")) == [1, 2, 3]
