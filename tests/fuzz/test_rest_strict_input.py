"""Every REST write refuses what is not strict JSON, wherever in the body it sits.

schemathesis generates Python values, which cannot hold `1e999`, `NaN` or a 5,000-digit number;
here a valid body is written as text with one of those tokens put in one of its places (a
field, a `data` value, deep in a list). Not strict JSON → 400 or 422; anything else → not a
5xx, and what comes back (and what the history and inbox return afterwards) is strict JSON
(the test client checks every body).
"""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtracker.api import API_PREFIX
from tests.fuzz import fuzz_examples
from tests.fuzz.strategies import ODD_NUMBERS, ODD_STRINGS

NOT_STRICT = {"1e999", "-1e999", "NaN", "Infinity", "-Infinity", "2e308", "1" + "0" * 400,
              "-" + "9" * 5000}
HOLE = "\u0000HOLE\u0000"
WRITES = {
    "/activity": {"type": "task", "action": "created", "target": "t", "taskId": "task_1",
                  "data": {"n": 1, "list": [1, {"k": "v"}]}},
    "/notify/fuzz-user": {"type": "mention", "title": "t", "message": "m", "taskId": "task_1",
                          "data": {"n": 1, "list": [1, {"k": "v"}]}},
    "/notify": {"userIds": ["fuzz-user", "fuzz-other"], "type": "mention", "title": "t",
                "message": "m", "data": {"n": 1, "list": [1, {"k": "v"}]}},
    "/task/update": {"taskId": "task_1", "action": "updated", "ownerId": "fuzz-user",
                     "task": {"n": 1, "list": [1, {"k": "v"}]}},
    "/broadcast": {"event": "system:fuzz", "message": "m", "data": {"n": 1, "list": [1, {"k": "v"}]}},
}


def places(value, path=()):
    """Every place in a JSON value a token can go: (path to it) for leaves and new keys."""
    if isinstance(value, dict):
        yield path + ("fuzz",)
        for key, item in value.items():
            yield from places(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from places(item, path + (index,))
    else:
        yield path


def with_token(body, path, token):
    """The body as JSON text with `token` (raw JSON text) at `path`."""
    copy = json.loads(json.dumps(body))
    node = copy
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = HOLE
    return json.dumps(copy).replace(json.dumps(HOLE), token)


@st.composite
def bad_writes(draw):
    route = draw(st.sampled_from(sorted(WRITES)))
    body = WRITES[route]
    path = draw(st.sampled_from(list(places(body))))
    token = draw(st.sampled_from(ODD_NUMBERS + ODD_STRINGS))
    return route, with_token(body, path, token), token


def test_every_write_refuses_json_that_is_not_strict(client, auth):
    headers = {**auth("fuzz-admin", role="admin"), "Content-Type": "application/json"}

    @settings(max_examples=fuzz_examples(150), derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(write=bad_writes())
    def run(write):
        route, text, token = write
        response = client.post(API_PREFIX + route, data=text.encode("utf-8", "surrogatepass"),
                               headers=headers)
        assert response.status_code < 500, (route, text[:300], response.get_json())
        if token in NOT_STRICT:
            assert response.status_code in (400, 422), (route, text[:300], response.get_json())
            assert response.get_json()["success"] is False

    run()
    for path in ("/activity?limit=100", "/notifications?limit=100&userId=fuzz-user"):
        response = client.get(API_PREFIX + path, headers=headers)
        assert response.status_code == 200
