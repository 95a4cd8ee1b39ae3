"""Socket authentication (SPEC §1, §3): handshake auth and the legacy `authenticate`, refusals,
the auth timeout, the expiry warning, `auth:refresh`."""
import time
from datetime import datetime, timezone

import pytest
from flask_jwt_extended import create_access_token

from devtracker.models.base import isoformat
from tests.helpers import assert_ok
from tests.realtime.support import (API, ack_error, ack_ok, collect, drain, error_event, names,
                                    payload_of, payloads, presence, wait_for, wait_until,
                                    without_last_seen)
from tests.realtime.support import sockets  # noqa: F401  (fixture)

OTHER_SECRET = "another-secret-that-is-long-enough-for-hs256"
# Every client event but `authenticate`, with a payload that would be valid once authenticated.
GUARDED = {"auth:refresh": "token", "task:join": "task_1", "task:leave": "task_1",
           "task:typing": {"taskId": "task_1", "isTyping": True}, "presence:update": "away",
           "notification:read": {"id": 1}, "notification:read_all": None}


def iso(exp):
    return isoformat(datetime.fromtimestamp(exp, timezone.utc))


def notify(client, auth, user_id, title):
    body = {"type": "update", "title": title, "message": "m"}
    return assert_ok(client.post(f"{API}/notify/{user_id}", json=body, headers=auth("svc", "service")), 201)


def stats(client, auth):
    return assert_ok(client.get(f"{API}/stats", headers=auth("ops")))


def test_handshake_auth_answers_lists_presence_and_replays_in_that_order(sockets):
    sock = sockets.connect("alice")
    packets = sock.handshake
    assert names(packets) == ["authenticated", "presence:list", "replay:done", "user:online"]
    assert payload_of(packets[0]) == {"success": True, "userId": "alice", "username": "Alice"}
    assert [without_last_seen(p) for p in payload_of(packets[1])] == [presence("alice")]
    assert payload_of(packets[2]) == {"notifications": 0, "activity": 0, "truncated": False,
                                      "lastNotificationId": None, "lastActivityId": None,
                                      "lastNotificationSeq": 0, "lastActivitySeq": 0}
    assert drain(sock) == []


def test_a_token_minted_by_flask_jwt_extended_is_accepted_unchanged(app, sockets):
    token = create_access_token(identity="alice", additional_claims={"username": "Alice"})
    sock = sockets.connect("alice", token=token)
    assert payload_of(sock.handshake[0]) == {"success": True, "userId": "alice", "username": "Alice"}


@pytest.mark.parametrize("kind", ["garbage", "expired", "wrong_secret", "bad_sub", "bad_role",
                                  "token_not_a_string", "bad_cursor"])
def test_a_bad_handshake_is_refused(client, auth, sockets, kind):
    token = {"garbage": "not-a-jwt", "expired": sockets.token("alice", expires_in=-60),
             "wrong_secret": sockets.token("alice", secret=OTHER_SECRET),
             "bad_sub": sockets.token("bad id"), "bad_role": sockets.token("alice", role="root"),
             "token_not_a_string": 12345}.get(kind, sockets.token("alice"))
    handshake = {"token": token}
    if kind == "bad_cursor":
        handshake["lastNotificationId"] = "abc"
    bystander = sockets.connect("bob")
    sock = sockets.open(handshake)
    assert sock.is_connected() is False
    assert stats(client, auth)["connectedSockets"] == 1
    assert collect(bystander, 0.1) == []  # no presence event for a refused socket


def test_legacy_authenticate_with_a_token_string(sockets):
    sock = sockets.legacy()
    assert drain(sock) == []
    ack = sock.emit("authenticate", sockets.token("alice"), callback=True)
    assert ack_ok(ack) == {"userId": "alice", "username": "Alice"}
    packets = drain(sock)
    assert names(packets) == ["authenticated", "presence:list", "replay:done", "user:online"]
    assert payload_of(packets[0]) == {"success": True, "userId": "alice", "username": "Alice"}
    assert [without_last_seen(p) for p in payload_of(packets[1])] == [presence("alice")]


def test_legacy_authenticate_without_an_ack_gets_the_same_events(sockets):
    sock = sockets.legacy()
    assert sock.emit("authenticate", sockets.token("alice")) is None
    assert names(drain(sock)) == ["authenticated", "presence:list", "replay:done", "user:online"]


def test_legacy_authenticate_with_an_object_and_a_cursor_replays_what_is_newer(client, auth, sockets):
    first, second = notify(client, auth, "alice", "one"), notify(client, auth, "alice", "two")
    sock = sockets.legacy()
    ack = sock.emit("authenticate", {"token": sockets.token("alice"),
                                     "lastNotificationId": first["id"]}, callback=True)
    assert ack_ok(ack) == {"userId": "alice", "username": "Alice"}
    packets = drain(sock)
    assert names(packets) == ["authenticated", "presence:list", "notification", "replay:done",
                              "user:online"]
    assert payloads(packets, "notification") == [second]
    assert payloads(packets, "replay:done") == [{"notifications": 1, "activity": 0, "truncated": False,
                                                 "lastNotificationId": second["id"], "lastActivityId": None,
                                                 "lastNotificationSeq": 2, "lastActivitySeq": 0}]


@pytest.mark.parametrize("kind, code", [("garbage", "TOKEN_INVALID"), ("expired", "TOKEN_EXPIRED"),
                                        ("wrong_secret", "TOKEN_INVALID"), ("none", "TOKEN_MISSING"),
                                        ("empty_object", "TOKEN_MISSING")])
def test_a_bad_token_via_authenticate_is_answered_and_the_socket_stays(sockets, kind, code):
    token = {"garbage": "not-a-jwt", "expired": sockets.token("alice", expires_in=-60),
             "wrong_secret": sockets.token("alice", secret=OTHER_SECRET), "none": None,
             "empty_object": {}}[kind]
    sock = sockets.legacy()
    error = ack_error(sock.emit("authenticate", token, callback=True), code)
    assert drain(sock) == [{"name": "authenticated", "args": [{"success": False, "error": error}],
                            "namespace": "/"}]
    assert sock.is_connected()
    ack_error(sock.emit("task:join", "task_1", callback=True), "NOT_AUTHENTICATED")
    ack_ok(sock.emit("authenticate", sockets.token("alice"), callback=True))


@pytest.mark.parametrize("event", sorted(GUARDED))
def test_every_other_event_before_authentication_is_refused(sockets, event):
    sock = sockets.legacy()
    ack_error(sock.emit(event, GUARDED[event], callback=True), "NOT_AUTHENTICATED")
    assert drain(sock) == []
    assert sock.emit(event, GUARDED[event]) is None
    error_event(drain(sock), "NOT_AUTHENTICATED", event)
    assert sock.is_connected()


@pytest.mark.parametrize("config_overrides", [{"AUTH_TIMEOUT_SECONDS": 0.3}])
def test_an_unauthenticated_socket_is_disconnected_after_the_auth_timeout(sockets):
    started = time.monotonic()
    late = sockets.legacy()
    prompt = sockets.legacy()
    ack_ok(prompt.emit("authenticate", sockets.token("alice"), callback=True))
    handshake = sockets.connect("bob")
    wait_until(lambda: not late.is_connected(), message="auth timeout disconnect")
    assert time.monotonic() - started >= 0.28
    error_event(drain(late), "AUTH_TIMEOUT", None)
    remaining = 0.3 + 0.2 - (time.monotonic() - started)
    packets = collect(prompt, max(remaining, 0)) + collect(handshake, 0)
    assert "error" not in names(packets)
    assert prompt.is_connected() and handshake.is_connected()


def test_authenticating_twice_is_refused(sockets):
    handshake = sockets.connect("alice")
    ack_error(handshake.emit("authenticate", sockets.token("alice"), callback=True),
              "ALREADY_AUTHENTICATED")
    legacy = sockets.legacy()
    ack_ok(legacy.emit("authenticate", sockets.token("bob"), callback=True))
    drain(legacy), drain(handshake)
    ack_error(legacy.emit("authenticate", sockets.token("carol"), callback=True), "ALREADY_AUTHENTICATED")
    assert drain(legacy) == [] and drain(handshake) == []  # no second `authenticated`, no presence change
    assert handshake.is_connected() and legacy.is_connected()


def test_authenticating_twice_without_an_ack_gets_an_error_event(sockets):
    sock = sockets.connect("alice")
    assert sock.emit("authenticate", sockets.token("alice")) is None
    error_event(drain(sock), "ALREADY_AUTHENTICATED", "authenticate")


@pytest.mark.parametrize("config_overrides", [{"AUTH_EXPIRY_WARNING_SECONDS": 1.5}])
def test_auth_expired_comes_before_expiry_and_the_socket_is_dropped_at_expiry(sockets):
    exp = int(time.time()) + 3
    sock = sockets.connect("alice", token=sockets.token("alice", exp=exp))
    packets = wait_for(sock, "auth:expired", timeout=4)
    assert time.time() >= exp - 1.5 - 0.05
    assert payloads(packets, "auth:expired") == [{"expiresAt": iso(exp)}]
    assert sock.is_connected()
    wait_until(lambda: not sock.is_connected(), timeout=exp - time.time() + 2, message="expiry")
    assert time.time() >= exp - 0.05
    error_event(drain(sock), "TOKEN_EXPIRED", None)


@pytest.mark.parametrize("config_overrides", [{"AUTH_EXPIRY_WARNING_SECONDS": 1.5}])
def test_auth_refresh_for_the_same_user_keeps_the_socket_past_the_old_expiry(sockets):
    exp = int(time.time()) + 3
    sock = sockets.connect("alice", token=sockets.token("alice", exp=exp))
    wait_for(sock, "auth:expired", timeout=4)
    new_exp = int(time.time()) + 3600
    ack = sock.emit("auth:refresh", {"token": sockets.token("alice", exp=new_exp)}, callback=True)
    assert ack_ok(ack) == {"userId": "alice", "expiresAt": iso(new_exp)}
    packets = collect(sock, exp - time.time() + 0.4)
    assert sock.is_connected()
    assert names(packets) == []
    assert ack_ok(sock.emit("task:join", "task_1", callback=True))["taskId"] == "task_1"


def test_auth_refresh_accepts_a_token_string(sockets):
    sock = sockets.connect("alice")
    new_exp = int(time.time()) + 7200
    ack = sock.emit("auth:refresh", sockets.token("alice", exp=new_exp), callback=True)
    assert ack_ok(ack) == {"userId": "alice", "expiresAt": iso(new_exp)}


def test_auth_refresh_with_another_users_token_is_refused(client, auth, sockets):
    sock = sockets.connect("alice")
    ack_error(sock.emit("auth:refresh", sockets.token("bob"), callback=True), "USER_MISMATCH")
    assert sock.emit("auth:refresh", sockets.token("bob")) is None
    error_event(drain(sock), "USER_MISMATCH", "auth:refresh")
    assert sock.is_connected()
    users = assert_ok(client.get(f"{API}/users/online", headers=auth("ops")))["users"]
    assert [u["userId"] for u in users] == ["alice"]


@pytest.mark.parametrize("kind, code", [("garbage", "TOKEN_INVALID"), ("expired", "TOKEN_EXPIRED"),
                                        ("none", "TOKEN_MISSING")])
def test_auth_refresh_with_a_bad_token_is_refused_and_the_socket_stays(sockets, kind, code):
    token = {"garbage": "not-a-jwt", "expired": sockets.token("alice", expires_in=-60), "none": None}[kind]
    sock = sockets.connect("alice")
    ack_error(sock.emit("auth:refresh", token, callback=True), code)
    assert sock.is_connected() and drain(sock) == []
