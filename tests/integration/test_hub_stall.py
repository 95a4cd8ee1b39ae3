"""A slow database call on one request must not stall the process's other sockets (eventlet + psycopg2)."""
import threading
import time
import zlib

import pytest
from sqlalchemy import create_engine, text

from devtracker.storage.ordering import NOTIFICATION_STREAM
from tests.support.clients import RecordingClient
from tests.support.server import LiveServer

from .test_cluster import shared_database  # noqa: F401  (fixture)


def int32(value):
    value = zlib.crc32(value.encode()) & 0xFFFFFFFF
    return value - (1 << 32) if value >= (1 << 31) else value


def test_a_blocked_query_does_not_delay_events_on_other_sockets(shared_database, tmp_path):  # noqa: F811
    server = LiveServer(shared_database, tmp_path / "server.log").start()
    locker = create_engine(shared_database.replace("postgresql://", "postgresql+psycopg2://"))
    try:
        alice = RecordingClient(server.url, server.token("alice")).connect()
        carol = RecordingClient(server.url, server.token("carol")).connect()
        alice.call("task:join", "task_1")
        carol.call("task:join", "task_1")
        with locker.connect() as conn:
            # Hold bob's notification stream lock: the server's insert for bob waits in PostgreSQL.
            conn.execute(text("SELECT pg_advisory_lock(:s, :k)"), {"s": NOTIFICATION_STREAM, "k": int32("bob")})
            blocked = threading.Thread(target=server.api, args=("POST", "/notify/bob", server.token("svc", "service")),
                                       kwargs={"json": {"type": "mention", "title": "t", "message": "m"}})
            blocked.start()
            time.sleep(0.5)  # the request is now inside its INSERT, waiting on the lock
            delays = []
            for i in range(5):
                started = time.perf_counter()
                ack = alice.call("task:typing", {"taskId": "task_1", "isTyping": i % 2 == 0})
                carol.wait_for("task:typing", count=i + 1, timeout=5)
                delays.append(time.perf_counter() - started)
                assert ack["success"] is True
            assert blocked.is_alive(), "the notify request should still be waiting on the lock"
            conn.execute(text("SELECT pg_advisory_unlock_all()"))
        blocked.join(10)
        assert max(delays) < 0.5, f"socket round trips took {delays} while a query was blocked"
        alice.disconnect()
        carol.disconnect()
    finally:
        locker.dispose()
        server.stop()
