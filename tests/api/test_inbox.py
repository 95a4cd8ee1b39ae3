"""The notification inbox: list, unread count, mark read, read-all, and who may touch whose inbox."""
import pytest

from devtracker.realtime.delivery.rooms import user_room
from tests.helpers import assert_error, assert_ok, received

API = "/api/v1/realtime"


@pytest.fixture
def send(client, auth):
    """Notify a user (from a service); return the stored Notification."""

    def notify(user_id, title="Hello", **fields):
        payload = {"type": "update", "title": title, "message": "m", **fields}
        return assert_ok(client.post(f"{API}/notify/{user_id}", json=payload,
                                     headers=auth("svc", "service")), 201)

    return notify


def page(client, headers, query=""):
    return assert_ok(client.get(f"{API}/notifications{query}", headers=headers))


def unread(client, headers, query=""):
    return assert_ok(client.get(f"{API}/notifications/unread-count{query}", headers=headers))


def mark(client, headers, notification_id, query=""):
    return client.post(f"{API}/notifications/{notification_id}/read{query}", headers=headers)


def test_an_empty_inbox(client, auth):
    assert page(client, auth("alice")) == {"notifications": [], "nextCursor": None, "hasMore": False}
    assert unread(client, auth("alice")) == {"unreadCount": 0}


def test_the_inbox_lists_only_your_own_notifications_newest_first(client, auth, send):
    first, second = send("alice", "one"), send("alice", "two")
    send("bob", "not yours")
    data = page(client, auth("alice"))
    assert data == {"notifications": [second, first], "nextCursor": None, "hasMore": False}


def test_unread_filter_lists_only_unread_ones(client, auth, send):
    first, second, third = send("alice", "1"), send("alice", "2"), send("alice", "3")
    assert_ok(mark(client, auth("alice"), second["id"]))
    data = page(client, auth("alice"), "?unread=true")
    assert data["notifications"] == [third, first]
    everything = page(client, auth("alice"), "?unread=false")["notifications"]
    assert [n["id"] for n in everything] == [third["id"], second["id"], first["id"]]
    assert everything[1]["read"] is True


@pytest.mark.parametrize("query", ["?limit=0", "?limit=101", "?limit=abc", "?before=0", "?unread=maybe"])
def test_bad_list_parameters_are_a_422(client, auth, query):
    error = assert_error(client.get(f"{API}/notifications{query}", headers=auth("alice")),
                         422, "VALIDATION_ERROR")
    assert query[1:].split("=")[0] in error["details"]


def test_limits_1_and_100_are_accepted(client, auth, send):
    for i in range(3):
        send("alice", str(i))
    one = page(client, auth("alice"), "?limit=1")
    assert len(one["notifications"]) == 1 and one["hasMore"] is True
    assert len(page(client, auth("alice"), "?limit=100")["notifications"]) == 3


def test_cursor_pagination_walks_every_notification_once(client, auth, send):
    sent = [send("alice", str(i)) for i in range(7)]
    send("bob", "noise")
    pages, cursor = [], None
    while True:
        query = "?limit=3" + (f"&before={cursor}" if cursor else "")
        data = page(client, auth("alice"), query)
        pages.append(data["notifications"])
        if not data["hasMore"]:
            assert data["nextCursor"] is None
            break
        assert data["nextCursor"] == data["notifications"][-1]["id"]
        cursor = data["nextCursor"]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [n for p in pages for n in p] == list(reversed(sent))


def test_a_full_last_page_has_has_more_false(client, auth, send):
    for i in range(4):
        send("alice", str(i))
    first = page(client, auth("alice"), "?limit=2")
    last = page(client, auth("alice"), f"?limit=2&before={first['nextCursor']}")
    assert len(last["notifications"]) == 2
    assert last["hasMore"] is False and last["nextCursor"] is None


def test_unread_count_counts_only_your_unread(client, auth, send):
    first = send("alice")
    send("alice")
    send("bob")
    assert unread(client, auth("alice")) == {"unreadCount": 2}
    assert_ok(mark(client, auth("alice"), first["id"]))
    assert unread(client, auth("alice")) == {"unreadCount": 1}
    assert unread(client, auth("bob")) == {"unreadCount": 1}


def test_marking_read_returns_ids_and_unread_count_and_syncs_every_device(
        client, auth, send, socket_client):
    first, _ = send("alice"), send("alice")
    tab1, tab2 = socket_client(user_room("alice")), socket_client(user_room("alice"))
    bob = socket_client(user_room("bob"))
    data = assert_ok(mark(client, auth("alice"), first["id"]))
    assert data == {"ids": [first["id"]], "unreadCount": 1}
    assert received(tab1) == [("notification:read", data)]
    assert received(tab2) == [("notification:read", data)]
    assert received(bob) == []
    stored = page(client, auth("alice"))["notifications"]
    assert [n["read"] for n in stored] == [False, True]


def test_marking_an_already_read_notification_returns_no_ids_and_emits_nothing(
        client, auth, send, socket_client):
    first = send("alice")
    assert_ok(mark(client, auth("alice"), first["id"]))
    tab = socket_client(user_room("alice"))
    assert assert_ok(mark(client, auth("alice"), first["id"])) == {"ids": [], "unreadCount": 0}
    assert received(tab) == []


def test_another_users_notification_is_404_and_stays_unread(client, auth, send, socket_client):
    bobs = send("bob")
    alice, bob = socket_client(user_room("alice")), socket_client(user_room("bob"))
    assert_error(mark(client, auth("alice"), bobs["id"]), 404, "NOT_FOUND")
    assert page(client, auth("bob"))["notifications"] == [bobs]
    assert unread(client, auth("bob")) == {"unreadCount": 1}
    assert received(alice) == [] and received(bob) == []


def test_an_unknown_notification_is_404(client, auth):
    assert_error(mark(client, auth("alice"), 999999), 404, "NOT_FOUND")


def test_read_all_marks_every_unread_one_and_syncs_devices(client, auth, send, socket_client):
    first, second, third = send("alice"), send("alice"), send("alice")
    bobs = send("bob")
    assert_ok(mark(client, auth("alice"), second["id"]))
    tab, bob = socket_client(user_room("alice")), socket_client(user_room("bob"))
    data = assert_ok(client.post(f"{API}/notifications/read-all", headers=auth("alice")))
    assert data == {"ids": [first["id"], third["id"]], "unreadCount": 0}
    assert received(tab) == [("notification:read", data)]
    assert received(bob) == []
    assert unread(client, auth("alice")) == {"unreadCount": 0}
    assert page(client, auth("bob"))["notifications"] == [bobs]


def test_read_all_with_nothing_unread_returns_no_ids_and_emits_nothing(client, auth, socket_client):
    tab = socket_client(user_room("alice"))
    data = assert_ok(client.post(f"{API}/notifications/read-all", headers=auth("alice")))
    assert data == {"ids": [], "unreadCount": 0}
    assert received(tab) == []


def test_the_inbox_needs_a_token(client):
    assert_error(client.get(f"{API}/notifications"), 401, "TOKEN_MISSING")
    assert_error(client.get(f"{API}/notifications/unread-count"), 401, "TOKEN_MISSING")
    assert_error(client.post(f"{API}/notifications/1/read"), 401, "TOKEN_MISSING")
    assert_error(client.post(f"{API}/notifications/read-all"), 401, "TOKEN_MISSING")


def test_a_user_naming_their_own_id_is_fine(client, auth, send):
    mine = send("alice")
    assert page(client, auth("alice"), "?userId=alice")["notifications"] == [mine]


def test_a_user_may_not_read_or_mark_another_users_inbox(client, auth, send):
    bobs = send("bob")
    headers = auth("alice")
    assert_error(client.get(f"{API}/notifications?userId=bob", headers=headers), 403, "FORBIDDEN")
    assert_error(client.get(f"{API}/notifications/unread-count?userId=bob", headers=headers),
                 403, "FORBIDDEN")
    assert_error(mark(client, headers, bobs["id"], "?userId=bob"), 403, "FORBIDDEN")
    assert_error(client.post(f"{API}/notifications/read-all?userId=bob", headers=headers),
                 403, "FORBIDDEN")
    assert unread(client, auth("bob")) == {"unreadCount": 1}


@pytest.mark.parametrize("role", ["service", "admin"])
def test_services_and_admins_may_read_and_mark_another_users_inbox(
        client, auth, send, socket_client, role):
    first, second = send("bob"), send("bob")
    send("carol")
    headers = auth("ops", role)
    bob = socket_client(user_room("bob"))
    ops = socket_client(user_room("ops"))
    data = page(client, headers, "?userId=bob")
    assert data["notifications"] == [second, first]
    assert unread(client, headers, "?userId=bob") == {"unreadCount": 2}
    state = assert_ok(mark(client, headers, first["id"], "?userId=bob"))
    assert state == {"ids": [first["id"]], "unreadCount": 1}
    assert received(bob) == [("notification:read", state)]
    state = assert_ok(client.post(f"{API}/notifications/read-all?userId=bob", headers=headers))
    assert state == {"ids": [second["id"]], "unreadCount": 0}
    assert received(bob) == [("notification:read", state)]
    assert received(ops) == []
    assert unread(client, auth("carol")) == {"unreadCount": 1}


def test_a_service_marking_another_users_notification_under_the_wrong_user_is_404(
        client, auth, send):
    bobs = send("bob")
    assert_error(mark(client, auth("svc", "service"), bobs["id"], "?userId=carol"), 404, "NOT_FOUND")
    assert unread(client, auth("bob")) == {"unreadCount": 1}


def test_a_bad_user_id_query_is_a_422(client, auth):
    error = assert_error(client.get(f"{API}/notifications?userId=bad%20id", headers=auth("svc", "service")),
                         422, "VALIDATION_ERROR")
    assert "userId" in error["details"]
