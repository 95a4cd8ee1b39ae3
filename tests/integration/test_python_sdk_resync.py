"""The Python SDK's ordered streams (SPEC §9) against the real server, holes made on the wire.

The client connects through tests/integration/frame_proxy.py, which drops (or repeats) the one
websocket frame carrying a chosen `seq`: the server sent it, the client never saw it.
"""
import threading

import pytest
import sqlalchemy

from devtracker.client import RealtimeClient
from tests.support.ports import free_port

from .test_python_sdk import Recorder, wait_until


@pytest.fixture
def through(live_server, proxy):
    """Open RealtimeClients over websocket through the proxy: through("bob", connect=False)."""
    clients = []

    def open_client(user_id, connect=True, **options):
        options.setdefault("backoff_initial", 0.2)
        options.setdefault("backoff_max", 1)
        client = RealtimeClient(proxy.url, live_server.token(user_id), transports=("websocket",),
                                **options)
        clients.append(client)
        return client.connect() if connect else client

    yield open_client
    for client in clients:
        client.disconnect()


def test_a_dropped_notification_is_read_over_rest_and_a_repeat_dropped(through, proxy, service):
    bob = through("bob", connect=False)
    seen = Recorder(bob, "notification", "resync")
    bob.connect()
    proxy.drop("notification", 3)
    proxy.repeat("notification", 4)
    sent = [service.notify("bob", "comment", f"n{i}", "m") for i in range(5)]
    assert [n["seq"] for n in sent] == [1, 2, 3, 4, 5]
    wait_until(lambda: len(proxy.applied) == 2, what="the drop and the repeat")
    sentinel = service.notify("bob", "comment", "last", "m")
    seen.wait_for("notification", lambda n: n["id"] == sentinel["id"])

    assert proxy.applied == [("drop", "notification", 3), ("repeat", "notification", 4)]
    assert seen.named("notification") == [*sent, sentinel], "each once, in seq order"
    assert seen.named("resync") == [{"stream": "notification", "afterSeq": 2, "beforeSeq": 4,
                                     "fetched": 1, "missing": 0, "via": "rest"}]
    assert bob.resyncs == {"duplicates": 1, "rest": 1, "reconnect": 0, "missing": 0}
    assert (bob.notification_cursor, bob.notification_seq) == (sentinel["id"], 6)


def test_an_activity_hole_is_filled_and_one_rest_lacks_is_passed_over(through, proxy, service,
                                                                      database_url):
    bob = through("bob", connect=False)
    seen = Recorder(bob, "activity:feed", "resync")
    held = threading.Event()
    # bob's handler sits on seq 1, so seq 3 waits in bob's queue until seq 2 is gone from the database.
    bob.on("activity:feed", lambda a: a["seq"] == 1 and held.wait(10))
    bob.connect()
    proxy.drop("activity:feed", 2)
    proxy.drop("activity:feed", 5)
    first = [service.record_activity("task", "updated", f"t{i}") for i in range(3)]
    # As activity bob may not see would be: the REST API does not answer it.
    engine = sqlalchemy.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("DELETE FROM activity WHERE id = :id"), {"id": first[1]["id"]})
    engine.dispose()
    held.set()
    rest = [service.record_activity("task", "updated", f"t{i}") for i in range(3, 7)]
    seen.wait_for("activity:feed", lambda a: a["id"] == rest[-1]["id"])

    assert [a["seq"] for a in first + rest] == [1, 2, 3, 4, 5, 6, 7]
    assert seen.named("activity:feed") == [first[0], first[2], *rest], "seq 2 passed over, 5 filled"
    assert seen.named("resync") == [
        {"stream": "activity", "afterSeq": 1, "beforeSeq": 3, "fetched": 0, "missing": 1, "via": "rest"},
        {"stream": "activity", "afterSeq": 4, "beforeSeq": 6, "fetched": 1, "missing": 0, "via": "rest"}]
    assert bob.resyncs == {"duplicates": 0, "rest": 2, "reconnect": 0, "missing": 1}
    assert bob.activity_seq == 7


def test_a_failed_rest_read_reconnects_and_the_replay_fills_the_hole(through, proxy, service):
    # The REST API is asked on a port nobody listens on: the fill falls back to a reconnect.
    bob = through("bob", connect=False, api_url=f"http://127.0.0.1:{free_port()}")
    seen = Recorder(bob, "notification", "resync", "reconnect")
    bob.connect()
    proxy.drop("notification", 2)
    sent = [service.notify("bob", "comment", f"n{i}", "m") for i in range(3)]
    seen.wait_for("reconnect")
    sentinel = service.notify("bob", "comment", "after", "m")
    seen.wait_for("notification", lambda n: n["id"] == sentinel["id"])

    assert seen.named("notification") == [*sent, sentinel], "each once, in seq order"
    assert seen.named("resync") == [{"stream": "notification", "afterSeq": 1, "beforeSeq": 3,
                                     "fetched": 0, "missing": 1, "via": "reconnect"}]
    assert bob.last_replay["lastNotificationSeq"] == 3 and bob.last_replay["notifications"] == 2
    assert bob.resyncs["reconnect"] == 1


def test_seq_cursors_resume_a_session_and_a_cut_connection(through, proxy, service):
    sent = [service.notify("bob", "comment", f"n{i}", "m") for i in range(4)]
    activity = [service.record_activity("task", "updated", f"t{i}") for i in range(3)]
    # Cursors saved as seqs only: the replay starts after them.
    bob = through("bob", connect=False, last_notification_seq=2, last_activity_seq=1)
    seen = Recorder(bob, "notification", "activity:feed", "reconnect")
    bob.connect()
    assert seen.named("notification") == sent[2:]
    assert seen.named("activity:feed") == activity[1:]

    proxy.cut()  # the network drops; bob reconnects with lastNotificationSeq 4
    during = [service.notify("bob", "comment", f"d{i}", "m") for i in range(3)]
    seen.wait_for("reconnect")
    after = service.notify("bob", "comment", "after", "m")
    seen.wait_for("notification", lambda n: n["id"] == after["id"])
    assert seen.named("notification") == [*sent[2:], *during, after], "nothing lost, nothing twice"
    assert (bob.notification_seq, bob.activity_seq) == (8, 3)
    assert bob.resyncs == {"duplicates": 0, "rest": 0, "reconnect": 0, "missing": 0}
