"""Strict JSON (RFC 8259) on every write: a number no JSON peer can hold (1e999, an integer of
hundreds of digits) is a 422 and nothing is stored or sent; NaN and Infinity are malformed
(400). What leaves the server is strict JSON even for values that were stored before."""
import json

import pytest

from devtracker.realtime.delivery.rooms import AUTHENTICATED_ROOM
from devtracker.strictjson import SocketJSON, dumps
from tests.helpers import assert_error, assert_ok, received

API = "/api/v1/realtime"
OVERFLOW = "1e999"
HUGE_INT = "9" * 101

WRITES = {
    "activity": ("/activity", '{"type":"task","action":"x","target":"y","data":{"n":%s}}'),
    "notify": ("/notify/bob", '{"type":"update","title":"t","message":"m","data":{"n":%s}}'),
    "notify_many": ("/notify", '{"userIds":["bob","carol"],"type":"update","title":"t",'
                               '"message":"m","data":{"n":[1,%s]}}'),
    "task_update": ("/task/update", '{"taskId":"task_1","action":"updated","task":{"estimate":%s}}'),
    "broadcast": ("/broadcast", '{"event":"system:maintenance","message":"m","data":{"n":%s}}'),
}


def post(client, auth, path, text):
    return client.post(API + path, data=text, content_type="application/json",
                       headers=auth("svc", "admin"))


def nothing_stored(client, auth):
    assert assert_ok(client.get(f"{API}/activity", headers=auth("ops")))["activities"] == []
    for user in ("bob", "carol"):
        assert assert_ok(client.get(f"{API}/notifications", headers=auth(user)))["notifications"] == []


@pytest.mark.parametrize("number", [OVERFLOW, "-1e999", "1e400", HUGE_INT])
@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_number_no_peer_can_hold_is_a_422_and_nothing_is_stored_or_sent(
        client, auth, socket_client, write, number):
    watcher = socket_client(AUTHENTICATED_ROOM)
    path, template = WRITES[write]
    error = assert_error(post(client, auth, path, template % number), 422, "VALIDATION_ERROR")
    assert error["details"] == {"_schema": ["Numbers must be finite and have at most 100 digits."]}
    nothing_stored(client, auth)
    assert received(watcher) == []


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("write", sorted(WRITES))
def test_nan_and_infinity_are_malformed_json(client, auth, write, constant):
    path, template = WRITES[write]
    assert_error(post(client, auth, path, template % constant), 400, "MALFORMED_JSON")
    nothing_stored(client, auth)


@pytest.mark.parametrize("write", sorted(WRITES))
def test_large_finite_numbers_are_still_accepted(client, auth, write):
    path, template = WRITES[write]
    response = post(client, auth, path, template % "1.7976931348623157e308")
    assert response.status_code in (200, 201), response.get_data(as_text=True)


def test_a_value_stored_before_strict_input_leaves_as_null(app, client):
    # Rows written before input was strict may hold an infinity; nothing sends it as such.
    assert dumps({"n": float("inf"), "m": [float("nan"), 1.5]}) == '{"n": null, "m": [null, 1.5]}'
    with app.test_request_context():
        assert json.loads(app.json.dumps({"n": float("-inf")})) == {"n": None}
    assert json.loads(SocketJSON.dumps(["activity:feed", {"data": {"n": float("inf")}}])) == [
        "activity:feed", {"data": {"n": None}}]


def test_the_database_never_receives_a_non_finite_number(app, db):
    from devtracker.models.activity import Activity

    db.session.add(Activity(seq=1, type="task", user_id="a", username="a", action="x", target="y",
                            data={"n": float("inf")}))
    db.session.commit()
    stored = db.session.execute(db.text("SELECT data FROM activity")).scalar()
    stored = stored if isinstance(stored, (dict, list)) else json.loads(stored)
    assert stored == {"n": None}
