"""Socket limits (SPEC §4): message size, event rate, unknown events, and junk payloads for every
client event, each answered with a clear error envelope and never a dropped socket or a 500."""
import pytest

from tests.helpers import assert_ok
from tests.realtime.support import (API, ack_error, ack_ok, clear, collect, drain, error_event,
                                    names, payloads, wait_until)
from tests.realtime.support import sockets  # noqa: F401  (fixture)

CLIENT_EVENTS = ["authenticate", "auth:refresh", "task:join", "task:leave", "task:typing",
                 "presence:update", "notification:read", "notification:read_all"]
JUNK = [None, 0, -1, 1.5, True, 10 ** 30, -(10 ** 30), "", "not an id!", [], [[[[]]]],
        [1, [2, [3, [4]]]], {"a": {"b": {"c": [None]}}},
        {"taskId": [1], "isTyping": {}, "id": [], "ids": {}, "status": [], "token": 5},
        {"id": 10 ** 30}, {"ids": [10 ** 30, -(10 ** 30)]}, {"token": "x", "lastNotificationId": 10 ** 30}]


def working(sock):
    """The socket is connected and still answers."""
    assert sock.is_connected()
    return ack_ok(sock.emit("task:join", "task_ok", callback=True))["taskId"] == "task_ok"


@pytest.mark.parametrize("config_overrides", [{"MAX_SOCKET_MESSAGE_BYTES": 512}])
def test_a_message_over_the_size_limit_is_refused_and_the_socket_stays(sockets):
    sock = sockets.connect("alice")
    ack_error(sock.emit("task:join", "x" * 513, callback=True), "PAYLOAD_TOO_LARGE")
    ack_error(sock.emit("task:join", "é" * 257, callback=True), "PAYLOAD_TOO_LARGE")  # 514 bytes
    ack_error(sock.emit("task:join", "x" * 512, callback=True), "VALIDATION_ERROR")  # at the limit
    big = {"taskId": "task_1", "isTyping": True, "pad": "x" * 600}
    ack_error(sock.emit("task:typing", big, callback=True), "PAYLOAD_TOO_LARGE")
    assert sock.emit("task:typing", big) is None
    error_event(drain(sock), "PAYLOAD_TOO_LARGE", "task:typing")
    assert working(sock)


def test_the_default_size_limit_is_64_kib(sockets):
    sock = sockets.connect("alice")
    big = {"taskId": "task_1", "pad": "x" * (64 * 1024)}
    ack_error(sock.emit("task:join", big, callback=True), "PAYLOAD_TOO_LARGE")
    assert ack_ok(sock.emit("task:join", {"taskId": "task_1", "pad": "x" * 60000}, callback=True))
    assert working(sock)


@pytest.mark.parametrize("config_overrides", [{"SOCKET_EVENT_BURST": 3, "SOCKET_EVENT_RATE": 1}])
def test_events_beyond_the_burst_are_rate_limited(client, auth, sockets):
    sock, other = sockets.connect("alice"), sockets.connect("bob")
    for task in ("task_1", "task_2", "task_3"):
        ack_ok(sock.emit("task:join", task, callback=True))
    ack_error(sock.emit("task:join", "task_4", callback=True), "RATE_LIMITED")
    assert sock.emit("presence:update", "away") is None
    error_event(drain(sock), "RATE_LIMITED", "presence:update")
    state = assert_ok(client.get(f"{API}/task/task_4/users", headers=auth("carol")))
    assert state["viewingUsers"] == []  # a refused event does nothing
    ack_ok(other.emit("task:join", "task_4", callback=True))  # the limit is per socket
    assert sock.is_connected()
    wait_until(lambda: sock.emit("task:join", "task_4", callback=True)["success"], timeout=3,
               interval=0.2, message="the event rate refilled")


@pytest.mark.parametrize("event", ["bogus", "task:delete", "message", "authenticated", "error"])
def test_an_unknown_event_is_refused(sockets, event):
    sock, stranger = sockets.connect("alice"), sockets.legacy()
    for s in (sock, stranger):
        ack_error(s.emit(event, {"x": 1}, callback=True), "UNKNOWN_EVENT")
        assert s.emit(event, {"x": 1}) is None
        error_event(drain(s), "UNKNOWN_EVENT", event)
        assert s.is_connected()
    assert working(sock)


@pytest.mark.parametrize("event", ["connect", "disconnect"])
def test_a_client_event_named_like_a_lifecycle_event_changes_nothing(client, auth, sockets, event):
    bob = sockets.connect("bob")
    alice = sockets.connect("alice")
    clear(bob)
    ack_error(alice.emit(event, {"token": "x"}, callback=True), "UNKNOWN_EVENT")
    assert alice.is_connected() and working(alice)
    stats = assert_ok(client.get(f"{API}/stats", headers=auth("carol")))
    assert (stats["connectedSockets"], stats["connectedUsers"]) == (2, 2)
    assert "user:offline" not in names(collect(bob, 0.4))  # past the grace period


@pytest.mark.parametrize("event", CLIENT_EVENTS)
def test_junk_payloads_are_answered_with_an_error_envelope(sockets, event):
    sock = sockets.connect("alice")
    for junk in JUNK:
        ack = sock.emit(event, junk, callback=True)
        assert isinstance(ack, dict) and set(ack) in ({"success", "data"}, {"success", "error"}), (junk, ack)
        if event == "notification:read_all":  # takes no payload: whatever comes is ignored
            assert ack == {"success": True, "data": {"ids": [], "unreadCount": 0}}, (junk, ack)
            continue
        assert ack["success"] is False, (junk, ack)
        assert ack["error"]["code"] != "INTERNAL_ERROR", (junk, ack)
        assert set(ack["error"]) <= {"code", "message", "details"}, (junk, ack)
        assert sock.is_connected(), junk
    assert working(sock)
    assert "error" not in names(drain(sock))  # every failure was in its ack


@pytest.mark.parametrize("event", CLIENT_EVENTS)
def test_junk_payloads_before_authentication_are_refused_cleanly(sockets, event):
    sock = sockets.legacy()
    for junk in JUNK:
        ack = sock.emit(event, junk, callback=True)
        assert isinstance(ack, dict) and ack["success"] is False, (junk, ack)
        assert ack["error"]["code"] != "INTERNAL_ERROR", (junk, ack)
        if event != "authenticate":
            assert ack["error"]["code"] == "NOT_AUTHENTICATED"
        assert sock.is_connected(), junk
    answers = payloads(drain(sock), "authenticated")
    assert len(answers) == (len(JUNK) if event == "authenticate" else 0)
    assert all(a["success"] is False and a["error"]["code"] != "INTERNAL_ERROR" for a in answers)
    ack_ok(sock.emit("authenticate", sockets.token("alice"), callback=True))


@pytest.mark.parametrize("event", CLIENT_EVENTS)
def test_a_binary_payload_is_refused_cleanly(sockets, event):
    sock = sockets.connect("alice")
    for args in ([b"\x00\x01"], [{"taskId": "task_1", "isTyping": True, "blob": b"\xff" * 8}]):
        ack = sock.emit(event, *args, callback=True)
        assert isinstance(ack, dict) and ack["success"] is False, (args, ack)
        assert ack["error"]["code"] != "INTERNAL_ERROR", (args, ack)
    assert working(sock)


@pytest.mark.parametrize("flow", ["handshake", "legacy"])
@pytest.mark.parametrize("cursors", [{"lastNotificationId": 10 ** 30}, {"lastActivityId": 10 ** 30}],
                         ids=["notification", "activity"])
def test_a_cursor_beyond_every_id_replays_nothing_and_live_events_flow(client, auth, sockets, flow, cursors):
    if flow == "handshake":
        sock = sockets.connect("alice", **cursors)
        packets = sock.handshake
    else:
        sock = sockets.legacy()
        ack_ok(sock.emit("authenticate", {"token": sockets.token("alice"), **cursors}, callback=True))
        packets = drain(sock)
    assert names(packets)[:3] == ["authenticated", "presence:list", "replay:done"]
    assert payloads(packets, "replay:done") == [{"notifications": 0, "activity": 0, "truncated": False,
                                                 "lastNotificationId": None, "lastActivityId": None,
                                                 "lastNotificationSeq": 0, "lastActivitySeq": 0}]
    note = assert_ok(client.post(f"{API}/notify/alice", json={"type": "update", "title": "t", "message": "m"},
                                 headers=auth("svc", "service")), 201)
    assert payloads(drain(sock), "notification") == [note]
