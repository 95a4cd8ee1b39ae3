"""MemoryPresenceStore: presence per user across devices, task rooms per user, typing (SPEC §4)."""
import json
import re

import pytest

from devtracker.realtime.presence import MemoryPresenceStore
from devtracker.realtime.presence.base import TaskLeft

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def store():
    return MemoryPresenceStore()


def connect(store, *sids, user="alice", username="Alice"):
    return [store.add_socket(sid, user, username) for sid in sids]


def test_a_first_socket_makes_an_online_user_with_one_device(store):
    joined = store.add_socket("s1", "alice", "Alice")
    assert joined.first_device is True
    presence = joined.presence
    assert ISO_Z.match(presence.pop("lastSeen"))
    assert presence == {"userId": "alice", "username": "Alice", "status": "online",
                        "currentTask": None, "devices": 1}
    assert store.socket_user("s1") == "alice"


def test_three_tabs_are_one_user_with_three_devices(store):
    first, second, third = connect(store, "s1", "s2", "s3")
    assert [first.first_device, second.first_device, third.first_device] == [True, False, False]
    assert third.presence["devices"] == 3
    assert [u["userId"] for u in store.list_users()] == ["alice"]
    assert store.get_user("alice")["devices"] == 3


def test_a_user_is_online_if_any_device_is_online_and_away_only_if_all_are(store):
    connect(store, "s1", "s2")
    presence, changed = store.set_status("s1", "away")
    assert (presence["status"], changed) == ("online", False)
    presence, changed = store.set_status("s2", "away")
    assert (presence["status"], changed) == ("away", True)
    presence, changed = store.set_status("s2", "away")
    assert (presence["status"], changed) == ("away", False)
    presence, changed = store.set_status("s1", "online")
    assert (presence["status"], changed) == ("online", True)


def test_a_new_online_device_brings_an_away_user_back_online(store):
    connect(store, "s1")
    store.set_status("s1", "away")
    joined = store.add_socket("s2", "alice", "Alice")
    assert joined.first_device is False and joined.presence["status"] == "online"


def test_a_socket_status_must_be_online_or_away(store):
    connect(store, "s1")
    with pytest.raises(ValueError):
        store.set_status("s1", "offline")
    assert store.get_user("alice")["status"] == "online"


def test_only_the_last_socket_to_leave_is_the_last_device(store):
    connect(store, "s1", "s2")
    first = store.remove_socket("s1")
    assert (first.user_id, first.last_device, first.presence["devices"]) == ("alice", False, 1)
    last = store.remove_socket("s2")
    assert (last.user_id, last.last_device, last.presence["devices"]) == ("alice", True, 0)


def test_removing_an_unknown_socket_returns_none(store):
    assert store.remove_socket("ghost") is None
    connect(store, "s1")
    store.remove_socket("s1")
    assert store.remove_socket("s1") is None


def test_a_user_stays_listed_with_no_devices_until_finish_offline(store):
    connect(store, "s1")
    store.set_status("s1", "away")
    store.remove_socket("s1")
    lingering = store.get_user("alice")
    assert lingering["devices"] == 0 and lingering["status"] == "away"
    assert [u["userId"] for u in store.list_users()] == ["alice"]
    assert store.socket_user("s1") is None
    final = store.finish_offline("alice")
    assert final["status"] == "offline" and final["devices"] == 0 and final["currentTask"] is None
    assert final["userId"] == "alice" and final["username"] == "Alice"
    assert store.get_user("alice") is None and store.list_users() == []
    assert store.finish_offline("alice") is None


def test_finish_offline_does_nothing_when_a_socket_came_back(store):
    connect(store, "s1")
    store.remove_socket("s1")
    store.add_socket("s2", "alice", "Alice")
    assert store.finish_offline("alice") is None
    presence = store.get_user("alice")
    assert presence["devices"] == 1 and presence["status"] == "online"


def test_finish_offline_of_an_unknown_user_does_nothing(store):
    connect(store, "s1")
    assert store.finish_offline("bob") is None
    assert store.finish_offline("alice") is None
    assert store.get_user("alice")["devices"] == 1


def test_the_username_follows_the_latest_socket(store):
    store.add_socket("s1", "alice", "Alice")
    store.add_socket("s2", "alice", "Alice L.")
    assert store.get_user("alice")["username"] == "Alice L."


def test_join_task_is_first_only_for_the_users_first_socket_in_the_room(store):
    connect(store, "s1", "s2")
    connect(store, "s3", user="bob", username="Bob")
    assert store.join_task("s1", "task_1") is True
    assert store.join_task("s2", "task_1") is False
    assert store.join_task("s3", "task_1") is True
    assert store.join_task("s1", "task_2") is True
    viewers = sorted(store.task_viewers("task_1"), key=lambda v: v["userId"])
    assert viewers == [{"userId": "alice", "username": "Alice", "status": "online"},
                       {"userId": "bob", "username": "Bob", "status": "online"}]


def test_leave_task_is_last_only_for_the_users_last_socket_in_the_room(store):
    connect(store, "s1", "s2")
    store.join_task("s1", "task_1")
    store.join_task("s2", "task_1")
    first = store.leave_task("s1", "task_1")
    assert (first.was_member, first.user_left_room, first.typing_cleared) == (True, False, False)
    assert [v["userId"] for v in store.task_viewers("task_1")] == ["alice"]
    last = store.leave_task("s2", "task_1")
    assert (last.was_member, last.user_left_room, last.typing_cleared) == (True, True, False)
    assert store.task_viewers("task_1") == []
    assert store.stats()["activeRooms"] == 0


def test_leaving_a_room_one_is_not_in_changes_nothing(store):
    connect(store, "s1", "s2")
    store.join_task("s1", "task_1")
    nothing = TaskLeft(was_member=False, user_left_room=False, typing_cleared=False)
    assert store.leave_task("s2", "task_1") == nothing
    assert store.leave_task("s1", "task_9") == nothing
    assert store.leave_task("ghost", "task_1") == nothing
    assert store.socket_tasks("s1") == ["task_1"]
    assert [v["userId"] for v in store.task_viewers("task_1")] == ["alice"]


def test_disconnect_leaves_every_room_and_clears_typing(store):
    connect(store, "s1")
    connect(store, "s2", user="bob", username="Bob")
    for task in ("task_1", "task_2", "task_3"):
        store.join_task("s1", task)
    store.join_task("s2", "task_2")
    store.set_typing("s1", "task_1", True)
    store.set_typing("s1", "task_2", True)
    left = store.remove_socket("s1")
    assert left.left_tasks == [("task_1", True), ("task_2", True), ("task_3", True)]
    assert sorted(left.typing_cleared) == ["task_1", "task_2"]
    assert store.socket_tasks("s1") == []
    assert store.typing_users("task_1") == [] and store.typing_users("task_2") == []
    assert [v["userId"] for v in store.task_viewers("task_2")] == ["bob"]
    assert store.task_viewers("task_1") == [] and store.task_viewers("task_3") == []
    assert store.stats()["activeRooms"] == 1


def test_disconnect_of_one_device_keeps_the_user_in_rooms_the_other_device_is_in(store):
    connect(store, "s1", "s2")
    store.join_task("s1", "task_1")
    store.join_task("s2", "task_1")
    store.set_typing("s2", "task_1", True)
    left = store.remove_socket("s1")
    assert left.left_tasks == [("task_1", False)] and left.typing_cleared == []
    assert store.typing_users("task_1") == ["alice"]
    left = store.remove_socket("s2")
    assert left.left_tasks == [("task_1", True)] and left.typing_cleared == ["task_1"]


def test_set_typing_reports_only_changes(store):
    connect(store, "s1")
    store.join_task("s1", "task_1")
    assert store.set_typing("s1", "task_1", True) is True
    assert store.set_typing("s1", "task_1", True) is False
    assert store.typing_users("task_1") == ["alice"]
    assert store.set_typing("s1", "task_1", False) is True
    assert store.set_typing("s1", "task_1", False) is False
    assert store.typing_users("task_1") == []


def test_typing_is_per_user_across_devices(store):
    connect(store, "s1", "s2")
    connect(store, "s3", user="bob", username="Bob")
    for sid in ("s1", "s2", "s3"):
        store.join_task(sid, "task_1")
    assert store.set_typing("s1", "task_1", True) is True
    assert store.set_typing("s2", "task_1", True) is False
    assert store.set_typing("s3", "task_1", True) is True
    assert sorted(store.typing_users("task_1")) == ["alice", "bob"]
    assert store.typing_users("task_2") == []


def test_leaving_the_room_clears_that_sockets_typing(store):
    connect(store, "s1")
    store.join_task("s1", "task_1")
    store.set_typing("s1", "task_1", True)
    assert store.leave_task("s1", "task_1").typing_cleared is True
    assert store.typing_users("task_1") == []


def test_expire_typing_clears_only_what_ran_past_its_expiry(store):
    connect(store, "s1")
    connect(store, "s2", user="bob", username="Bob")
    connect(store, "s3", user="carol", username="Carol")
    for sid in ("s1", "s2", "s3"):
        store.join_task(sid, "task_1")
    store.set_typing("s1", "task_1", True, expires_at=100.0)
    store.set_typing("s2", "task_1", True, expires_at=105.0)
    store.set_typing("s3", "task_1", True)  # no expiry: until told otherwise
    assert store.expire_typing(99.9) == []
    assert store.expire_typing(100.0) == [("task_1", "alice")]
    assert sorted(store.typing_users("task_1")) == ["bob", "carol"]
    store.set_typing("s2", "task_1", True, expires_at=110.0)  # a refresh pushes the expiry out
    assert store.expire_typing(106.0) == []
    assert store.expire_typing(1e9) == [("task_1", "bob")]
    assert store.typing_users("task_1") == ["carol"]


def test_current_task_follows_the_latest_joined_task(store):
    connect(store, "s1")
    store.join_task("s1", "task_1")
    store.join_task("s1", "task_2")
    assert store.get_user("alice")["currentTask"] == "task_2"
    store.join_task("s1", "task_1")
    assert store.get_user("alice")["currentTask"] == "task_1"
    store.leave_task("s1", "task_1")
    assert store.get_user("alice")["currentTask"] == "task_2"
    store.leave_task("s1", "task_2")
    assert store.get_user("alice")["currentTask"] is None


def test_current_task_falls_back_to_the_latest_joined_task_of_any_device(store):
    # Many socket-id pairs, so the answer cannot depend on the order a set happens to iterate in.
    for n in range(24):
        store = MemoryPresenceStore()
        a, b = f"sock-a-{n}", f"sock-b-{n}"
        connect(store, a, b)
        store.join_task(a, "task_old")
        store.join_task(b, "task_newer")
        store.join_task(a, "task_newest")
        assert store.get_user("alice")["currentTask"] == "task_newest"
        store.leave_task(a, "task_newest")
        assert store.get_user("alice")["currentTask"] == "task_newer", (a, b)


def test_stats_count_sockets_users_online_users_and_rooms(store):
    assert store.stats() == {"connectedSockets": 0, "connectedUsers": 0, "onlineUsers": 0,
                             "activeRooms": 0}
    connect(store, "s1", "s2")
    connect(store, "s3", user="bob", username="Bob")
    connect(store, "s4", user="carol", username="Carol")
    store.set_status("s3", "away")
    store.join_task("s1", "task_1")
    store.join_task("s2", "task_1")
    store.join_task("s3", "task_2")
    assert store.stats() == {"connectedSockets": 4, "connectedUsers": 3, "onlineUsers": 2,
                             "activeRooms": 2}
    store.remove_socket("s4")
    store.finish_offline("carol")
    store.remove_socket("s3")
    store.finish_offline("bob")
    assert store.stats() == {"connectedSockets": 2, "connectedUsers": 1, "onlineUsers": 1,
                             "activeRooms": 1}


def test_task_state_combines_viewers_and_typists(store):
    connect(store, "s1", "s2")
    connect(store, "s3", user="bob", username="Bob")
    for sid in ("s1", "s2", "s3"):
        store.join_task(sid, "task_1")
    store.set_typing("s3", "task_1", True)
    state = store.task_state("task_1")
    assert state["taskId"] == "task_1" and state["typingUsers"] == ["bob"]
    assert state["totalViewing"] == 2 and len(state["viewingUsers"]) == 2
    assert store.task_state("task_x") == {"taskId": "task_x", "viewingUsers": [],
                                          "typingUsers": [], "totalViewing": 0}


def test_the_presence_list_is_cached_until_anything_about_anyone_changes():
    store = MemoryPresenceStore()
    store.add_socket("a1", "alice", "Alice")
    first = store.presence_list()
    assert store.presence_list() is first  # nothing changed: the same encoded list
    steps = [lambda: store.add_socket("b1", "bob", "Bob"),
             lambda: store.add_socket("a2", "alice", "Alice"),
             lambda: store.set_status("a1", "away"),
             lambda: store.join_task("a1", "t1"),
             lambda: store.leave_task("a1", "t1"),
             lambda: store.remove_socket("a2", offline_at=0),
             lambda: store.remove_socket("b1", offline_at=0),
             lambda: store.expire_offline(1)]
    for step in steps:
        before = store.presence_list()
        step()
        after = store.presence_list()
        assert after is not before
        assert after == store.list_users()
        assert json.loads(after.json) == store.list_users()
    assert [p["userId"] for p in store.presence_list()] == ["alice"]
