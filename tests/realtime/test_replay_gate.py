"""The replay gate (SPEC §4: no gap and no duplicate between replay and live), tested without
racing a real handshake: the gate alone, the gated manager, and the namespace's two steps."""
import pytest

from devtracker.auth import principal_from_token
from devtracker.extensions import socketio
from devtracker.realtime.delivery.gate import ReplayGate
from devtracker.sockets.handshake import Cursors
from tests.helpers import assert_ok
from tests.realtime.support import API, clear, drain, names, payloads, sid_of
from tests.realtime.support import sockets  # noqa: F401  (fixture)

ROOMS = {"/": {None: {"s1": "e1", "s2": "e2"}, "s1": {"s1": "e1"}, "user_alice": {"s1": "e1"},
               "authenticated": {"s1": "e1", "s2": "e2"}}}


def test_the_gate_holds_what_is_addressed_to_an_open_socket_and_releases_it_in_order():
    gate = ReplayGate()
    assert not gate
    gate.open("s1")
    assert gate
    assert gate.hold(ROOMS, "notification", {"id": 1}, "/", "user_alice", [None]) == ["s1"]
    assert gate.hold(ROOMS, "activity:feed", {"id": 7}, "/", "authenticated", [None]) == ["s1"]
    assert gate.hold(ROOMS, "skipped", {}, "/", "authenticated", ["s1"]) == []
    assert gate.hold(ROOMS, "elsewhere", {}, "/other", "authenticated", [None]) == []
    assert gate.hold(ROOMS, "not-mine", {}, "/", "s2", [None]) == []
    assert gate.hold(ROOMS, "two-rooms", {"id": 2}, "/", ["user_alice", "authenticated"], [None]) == ["s1"]
    assert gate.hold(ROOMS, "everyone", "x", "/", None, [None]) == ["s1"]
    sent = []
    gate.release("s1", lambda event, data: sent.append((event, data)),
                 keep=lambda event, data: event != "notification")
    assert sent == [("activity:feed", {"id": 7}), ("two-rooms", {"id": 2}), ("everyone", "x")]
    assert not gate
    assert gate.hold(ROOMS, "live", {}, "/", "user_alice", [None]) == []
    gate.release("s1", lambda *a: sent.append(a))
    assert len(sent) == 3


def test_a_discarded_socket_holds_nothing_and_releases_nothing():
    gate = ReplayGate()
    gate.open("s1")
    gate.hold(ROOMS, "notification", {"id": 1}, "/", "user_alice", [None])
    gate.discard("s1")
    sent = []
    gate.release("s1", lambda *a: sent.append(a))
    assert sent == [] and not gate


def test_the_manager_holds_room_emits_for_a_gated_socket_and_lets_direct_ones_pass(sockets, client, auth):
    alice, bob = sockets.connect("alice"), sockets.connect("bob")
    clear(alice, bob)
    gate, sid = socketio.server.manager.gate, sid_of(alice)
    gate.open(sid)
    post = lambda path, body: assert_ok(client.post(f"{API}{path}", json=body,  # noqa: E731
                                                    headers=auth("svc", "service")), 201)
    first = post("/notify/alice", {"type": "update", "title": "1", "message": "m"})
    act = post("/activity", {"type": "task", "action": "created", "target": "T"})
    second = post("/notify/alice", {"type": "update", "title": "2", "message": "m"})
    socketio.emit("direct", {"n": 1}, to=sid, namespace="/")
    socketio.emit("system:skip", {}, to="authenticated", skip_sid=sid, namespace="/")
    assert names(drain(alice)) == ["direct"]
    assert names(drain(bob)) == ["activity:feed", "system:skip"]  # others get them live
    gate.release(sid, lambda event, data: socketio.emit(event, data, to=sid, namespace="/"),
                 keep=lambda event, data: (event, data["id"]) != ("notification", first["id"]))
    packets = drain(alice)
    assert names(packets) == ["activity:feed", "notification"]
    assert payloads(packets, "activity:feed") == [act] and payloads(packets, "notification") == [second]
    third = post("/notify/alice", {"type": "update", "title": "3", "message": "m"})
    assert payloads(drain(alice), "notification") == [third]


@pytest.mark.parametrize("cursors", [Cursors(), Cursors(notification=0, activity=0)],
                         ids=["no-cursor", "zero-cursors"])
def test_events_committed_between_joining_rooms_and_replay_arrive_exactly_once(
        app, client, auth, sockets, cursors):
    """The namespace's two steps, run by hand with writes in between: no gap, no duplicate."""
    namespace = app.extensions["devtracker.namespace"]
    sock = sockets.legacy()
    sid = sid_of(sock)
    post = lambda path, body: assert_ok(client.post(f"{API}{path}", json=body,  # noqa: E731
                                                    headers=auth("svc", "service")), 201)
    before = post("/notify/alice", {"type": "update", "title": "before", "message": "m"})
    namespace._start_session(namespace.sockets[sid], principal_from_token(sockets.token("alice")))
    during = post("/notify/alice", {"type": "update", "title": "during", "message": "m"})
    act = post("/activity", {"type": "task", "action": "created", "target": "T"})
    assert drain(sock) == []  # held: nothing live before the replay
    namespace._finish_session(sid, cursors)
    packets = drain(sock)
    assert payloads(packets, "notification") == [before, during]
    assert payloads(packets, "activity:feed") == [act]
    assert names(packets).index("replay:done") > max(i for i, n in enumerate(names(packets))
                                                     if n == "notification")
    assert names(packets)[:2] == ["authenticated", "presence:list"]
    assert "user:online" in names(packets)[names(packets).index("replay:done"):]
    live = post("/notify/alice", {"type": "update", "title": "live", "message": "m"})
    assert payloads(drain(sock), "notification") == [live]
