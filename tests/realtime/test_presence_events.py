"""Presence over sockets (SPEC §3, §4): per user across devices, away only if all devices are,
offline after the grace period without flapping, and what REST reports meanwhile."""
import time

import pytest

from tests.helpers import assert_ok
from tests.realtime.support import (API, ack_error, ack_ok, clear, collect, drain, error_event,
                                    names, payloads, presence, wait_for, without_last_seen)
from tests.realtime.support import sockets  # noqa: F401  (fixture)

GRACE = 0.2  # TestConfig.PRESENCE_GRACE_SECONDS


def events(sock, name=None):
    """(name, payload without lastSeen) of what a socket received since last asked."""
    return [(p["name"], without_last_seen(p["args"][0]) if isinstance(p["args"][0], dict) else p["args"][0])
            for p in drain(sock) if name is None or p["name"] == name]


def rest(client, auth, path):
    return assert_ok(client.get(f"{API}{path}", headers=auth("alice")))


def test_user_online_goes_out_on_the_first_device_only(sockets):
    bob = sockets.connect("bob")
    alice1 = sockets.connect("alice")
    assert events(bob) == [("user:online", presence("alice"))]
    assert payloads(alice1.handshake, "user:online")[-1]["userId"] == "alice"
    alice2 = sockets.connect("alice")
    two_devices = presence("alice", devices=2)
    assert events(bob) == [("presence:update", two_devices)]
    assert events(alice1) == [("presence:update", two_devices)]
    assert names(alice2.handshake) == ["authenticated", "presence:list", "replay:done", "presence:update"]
    assert [without_last_seen(p) for p in payloads(alice2.handshake, "presence:update")] == [two_devices]


def test_presence_list_holds_every_connected_user_once_with_their_devices(sockets):
    sockets.connect("alice"), sockets.connect("alice")
    bob = sockets.connect("bob")
    ack_ok(bob.emit("presence:update", "away", callback=True))
    carol = sockets.connect("carol")
    [listed] = payloads(carol.handshake, "presence:list")
    assert sorted((without_last_seen(p) for p in listed), key=lambda p: p["userId"]) == [
        presence("alice", devices=2), presence("bob", status="away"), presence("carol")]


def test_away_on_one_of_two_devices_keeps_the_user_online(sockets):
    bob = sockets.connect("bob")
    alice1, alice2 = sockets.connect("alice"), sockets.connect("alice")
    clear(bob, alice1, alice2)
    data = ack_ok(alice1.emit("presence:update", "away", callback=True))
    assert without_last_seen(data) == presence("alice", devices=2)
    assert events(bob) == events(alice1) == events(alice2) == []
    data = ack_ok(alice2.emit("presence:update", {"status": "away"}, callback=True))
    away = presence("alice", status="away", devices=2)
    assert without_last_seen(data) == away
    for sock in (bob, alice1, alice2):
        assert events(sock) == [("presence:update", away)]
    ack_ok(alice1.emit("presence:update", "online", callback=True))
    for sock in (bob, alice1, alice2):
        assert events(sock) == [("presence:update", presence("alice", devices=2))]


def test_a_new_device_brings_an_away_user_back_online(sockets):
    bob = sockets.connect("bob")
    alice1 = sockets.connect("alice")
    ack_ok(alice1.emit("presence:update", "away", callback=True))
    clear(bob)
    sockets.connect("alice")
    assert events(bob) == [("presence:update", presence("alice", devices=2))]


def test_status_and_current_task_are_recomputed_when_a_device_leaves(sockets):
    bob = sockets.connect("bob")
    alice1, alice2 = sockets.connect("alice"), sockets.connect("alice")
    ack_ok(alice1.emit("presence:update", "away", callback=True))
    ack_ok(alice1.emit("task:join", "task_1", callback=True))
    ack_ok(alice2.emit("task:join", "task_2", callback=True))
    clear(bob)
    alice2.disconnect()  # the online device, viewing the current task
    assert events(bob) == [("presence:update", presence("alice", status="away", current_task="task_1"))]


def test_user_offline_comes_only_after_the_last_device_is_gone_for_the_grace_period(sockets):
    bob = sockets.connect("bob")
    alice1, alice2 = sockets.connect("alice"), sockets.connect("alice")
    clear(bob)
    alice1.disconnect()
    assert events(bob) == [("presence:update", presence("alice"))]
    gone = time.monotonic()
    alice2.disconnect()
    assert drain(bob) == []
    packets = wait_for(bob, "user:offline")
    assert time.monotonic() - gone >= GRACE - 0.02
    assert names(packets) == ["user:offline"]
    offline = without_last_seen(payloads(packets, "user:offline")[0])
    assert offline == presence("alice", status="offline", devices=0)
    assert collect(bob, GRACE + 0.1) == []  # once


def test_a_reconnect_within_the_grace_period_does_not_flap(sockets):
    bob = sockets.connect("bob")
    alice = sockets.connect("alice")
    clear(bob)
    alice.disconnect()
    again = sockets.connect("alice")
    assert names(again.handshake) == ["authenticated", "presence:list", "replay:done"]
    assert collect(bob, GRACE * 2 + 0.1) == []
    assert again.is_connected()
    again.disconnect()
    assert names(wait_for(bob, "user:offline")) == ["user:offline"]


def test_the_offline_user_is_gone_from_rest_after_the_grace_period(client, auth, sockets):
    bob = sockets.connect("bob")
    alice = sockets.connect("alice")
    alice.disconnect()
    wait_for(bob, "user:offline")
    online = rest(client, auth, "/users/online")
    assert online["count"] == 1 and [u["userId"] for u in online["users"]] == ["bob"]
    status = rest(client, auth, "/user/alice/status")
    assert status["isOnline"] is False and status["status"] == "offline"
    assert status["lastSeen"] is not None


def test_rest_online_users_and_stats_reflect_the_sockets(client, auth, sockets):
    alice1, alice2 = sockets.connect("alice"), sockets.connect("alice")
    bob = sockets.connect("bob")
    ack_ok(bob.emit("presence:update", "away", callback=True))
    online = rest(client, auth, "/users/online")
    assert online["count"] == 2
    assert [without_last_seen(u) for u in online["users"]] == [
        presence("alice", devices=2), presence("bob", status="away")]
    assert rest(client, auth, "/stats") == {"connectedSockets": 3, "onlineUsers": 1, "totalUsers": 2,
                                            "connectedUsers": 2, "activeRooms": 0}
    ack_ok(alice1.emit("task:join", "task_1", callback=True))
    ack_ok(bob.emit("task:join", "task_1", callback=True))
    ack_ok(bob.emit("task:join", "task_2", callback=True))
    assert rest(client, auth, "/stats")["activeRooms"] == 2
    alice2.disconnect()
    assert rest(client, auth, "/stats") == {"connectedSockets": 2, "onlineUsers": 1, "totalUsers": 2,
                                            "connectedUsers": 2, "activeRooms": 2}
    status = rest(client, auth, "/user/bob/status")
    assert status["isOnline"] is True and status["status"] == "away"


def test_current_task_follows_task_join_and_leave(sockets):
    bob = sockets.connect("bob")
    alice = sockets.connect("alice")
    clear(bob)
    steps = [("task:join", "task_1", "task_1"), ("task:join", {"taskId": "task_2"}, "task_2"),
             ("task:leave", "task_2", "task_1"), ("task:leave", "task_1", None)]
    for event, payload, current in steps:
        ack_ok(alice.emit(event, payload, callback=True))
        assert events(bob) == [("presence:update", presence("alice", current_task=current))], event
    assert events(alice, "presence:update") == [("presence:update", presence("alice", current_task=c))
                                                for *_, c in steps]


def test_every_presence_event_goes_to_every_authenticated_socket_only(sockets):
    stranger = sockets.legacy()
    bob = sockets.connect("bob")
    alice = sockets.connect("alice")
    assert events(bob) == [("user:online", presence("alice"))]
    assert [without_last_seen(p) for p in payloads(alice.handshake, "user:online")] == [presence("alice")]
    ack_ok(alice.emit("presence:update", "away", callback=True))
    away = presence("alice", status="away")
    assert events(bob) == events(alice) == [("presence:update", away)]
    alice.disconnect()
    assert [without_last_seen(p) for p in payloads(wait_for(bob, "user:offline"), "user:offline")] == [
        presence("alice", status="offline", devices=0)]
    assert drain(stranger) == []


@pytest.mark.parametrize("status", ["offline", "busy", "", None, 5, True, ["away"],
                                    {"status": "offline"}, {}])
def test_an_invalid_status_is_a_validation_error_and_changes_nothing(sockets, status):
    bob = sockets.connect("bob")
    alice = sockets.connect("alice")
    clear(bob)
    error = ack_error(alice.emit("presence:update", status, callback=True), "VALIDATION_ERROR")
    assert "status" in error["details"]
    assert alice.emit("presence:update", status) is None
    error_event(drain(alice), "VALIDATION_ERROR", "presence:update")
    assert drain(bob) == []
