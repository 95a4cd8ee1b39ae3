"""Ordered streams on delivery (SPEC §9, realtime/delivery/ordered.py): a node sends each stream in `seq`
order, fills a hole from the database, drops a repeat, and starts a socket where its replay ended.

Out-of-order arrival (another node's emit, late through Redis) is made here by storing rows
without emitting them and emitting their payloads by hand, in the wrong order."""
import re

from sqlalchemy import insert

from devtracker.extensions import db, socketio
from devtracker.models import Activity, Notification
from devtracker.models.base import utcnow
from devtracker.realtime.delivery.rooms import AUTHENTICATED_ROOM, user_room
from devtracker.services.activity import serialize_activity
from devtracker.services.notifications import serialize_notification
from tests.helpers import assert_ok
from tests.realtime.support import API, clear, drain, names, payloads
from tests.realtime.support import sockets  # noqa: F401  (fixture)


def store_notes(user_id, seqs):
    """Notifications stored with the given seqs and not emitted (as another node's would be)."""
    notes = []
    for seq in seqs:
        new_id = db.session.execute(insert(Notification).returning(Notification.id), {
            "user_id": user_id, "seq": seq, "type": "update", "title": f"s{seq}", "message": "m",
            "read": False, "created_at": utcnow()}).scalar_one()
        notes.append(new_id)
    db.session.commit()
    return [serialize_notification(db.session.get(Notification, i)) for i in notes]


def store_activity(seqs):
    rows = []
    for seq in seqs:
        rows.append(db.session.execute(insert(Activity).returning(Activity.id), {
            "user_id": "bob", "username": "Bob", "type": "task", "action": "created", "target": f"a{seq}",
            "seq": seq, "created_at": utcnow()}).scalar_one())
    db.session.commit()
    return [serialize_activity(db.session.get(Activity, i)) for i in rows]


def emit(event, payload, room):
    socketio.emit(event, payload, to=room, namespace="/")


def post(client, auth, path, body):
    return assert_ok(client.post(f"{API}{path}", json=body, headers=auth("svc", "service")), 201)


def test_an_item_ahead_of_the_stream_waits_for_the_missing_one_read_from_the_database(app, sockets, client, auth):
    alice, alice2, bob = sockets.connect("alice"), sockets.connect("alice"), sockets.connect("bob")
    first = post(client, auth, "/notify/alice", {"type": "update", "title": "1", "message": "m"})
    clear(alice, alice2, bob)
    second, third, fourth = store_notes("alice", [2, 3, 4])
    emit("notification", fourth, user_room("alice"))       # 2 and 3 are late: read from the database
    emit("notification", second, user_room("alice"))       # arrives after all: a repeat
    emit("notification", fourth, user_room("alice"))       # a repeat
    fifth = post(client, auth, "/notify/alice", {"type": "update", "title": "5", "message": "m"})
    for sock in (alice, alice2):
        got = payloads(drain(sock), "notification")
        assert got == [second, third, fourth, fifth]
        assert [n["seq"] for n in got] == [2, 3, 4, 5]
    assert drain(bob) == []
    assert first["seq"] == 1 and socketio.server.manager.ordered.gap_fills >= 1
    metrics = client.get("/metrics").get_data(as_text=True)
    assert re.search(r'^devtracker_stream_repairs_total\{kind="gap_fill"\} [1-9]', metrics, re.M)
    assert re.search(r'^devtracker_stream_repairs_total\{kind="repeat"\} [1-9]', metrics, re.M)


def test_the_activity_stream_is_ordered_once_for_every_socket(app, sockets, client, auth):
    socks = [sockets.connect(user) for user in ("alice", "bob", "carol")]
    post(client, auth, "/activity", {"type": "task", "action": "created", "target": "T1"})
    clear(*socks)
    a2, a3 = store_activity([2, 3])
    emit("activity:feed", a3, AUTHENTICATED_ROOM)
    emit("activity:feed", a2, AUTHENTICATED_ROOM)
    a4 = post(client, auth, "/activity", {"type": "task", "action": "created", "target": "T4"})
    for sock in socks:
        assert payloads(drain(sock), "activity:feed") == [a2, a3, a4]


def test_a_hole_the_database_no_longer_has_is_passed_over(app, sockets, client, auth):
    """Pruned activity cannot be filled: the node goes on past it (the client resyncs)."""
    alice = sockets.connect("alice")
    post(client, auth, "/activity", {"type": "task", "action": "created", "target": "T1"})
    clear(alice)
    [a3] = store_activity([3])  # seq 2 never stored: as if pruned
    emit("activity:feed", a3, AUTHENTICATED_ROOM)
    assert payloads(drain(alice), "activity:feed") == [a3]


def test_a_socket_whose_replay_reached_past_the_node_skips_what_it_has(app, sockets, client, auth):
    """The node has sent seq 1; a socket replays up to 3 (stored by another node, not yet
    arrived here). When 2 and 3 arrive, the older socket gets them, the new one does not."""
    old = sockets.connect("alice")
    post(client, auth, "/notify/alice", {"type": "update", "title": "1", "message": "m"})
    clear(old)
    second, third = store_notes("alice", [2, 3])
    new = sockets.connect("alice", lastNotificationId=0)
    assert payloads(new.handshake, "notification")[-2:] == [second, third]
    clear(new)
    emit("notification", second, user_room("alice"))
    emit("notification", third, user_room("alice"))
    fourth = post(client, auth, "/notify/alice", {"type": "update", "title": "4", "message": "m"})
    assert payloads(drain(old), "notification") == [second, third, fourth]
    assert payloads(drain(new), "notification") == [fourth]


def test_replay_from_seq_cursors(app, sockets, client, auth):
    notes = [post(client, auth, "/notify/alice", {"type": "update", "title": f"{i}", "message": "m"})
             for i in range(4)]
    acts = [post(client, auth, "/activity", {"type": "task", "action": "created", "target": f"T{i}"})
            for i in range(3)]
    sock = sockets.connect("alice", lastNotificationSeq=2, lastActivitySeq=1)
    assert payloads(sock.handshake, "notification") == notes[2:]
    assert payloads(sock.handshake, "activity:feed") == acts[1:]
    [done] = payloads(sock.handshake, "replay:done")
    assert (done["lastNotificationSeq"], done["lastActivitySeq"]) == (4, 3)
    assert names(sock.handshake)[-2:] == ["replay:done", "user:online"]
