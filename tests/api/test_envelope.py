"""Every error leaves as an envelope (SPEC §2) with the right status; limits answer clearly (§4)."""
import json

import pytest

from tests.helpers import assert_error, assert_ok

API = "/api/v1/realtime"
NOTIFY = f"{API}/notify/bob"
VALID = {"type": "mention", "title": "Hello", "message": "Look at task_1"}


def assert_envelope(response, status, code, details=None):
    """The whole error envelope: {success: false, error: {code, message[, details]}}, as JSON."""
    error = assert_error(response, status, code)
    body = response.get_json()
    assert set(body) == {"success", "error"}
    assert response.mimetype == "application/json"
    if details is None:
        assert set(error) == {"code", "message"}, error
    else:
        assert set(error) == {"code", "message", "details"}
        assert set(error["details"]) == set(details), error["details"]
        assert all(isinstance(v, list) and v for v in error["details"].values())
    return error


def post_raw(client, auth, data, path=NOTIFY, **headers):
    return client.post(path, data=data, content_type="application/json",
                       headers=auth("alice", **headers))


@pytest.mark.parametrize("raw", ["{bad", '{"type": "mention",}', "'single'", "{\"a\": 1} trailing",
                                 "\ufeff{}" + "x", "[1, 2"])
def test_malformed_json_is_a_400(client, auth, raw):
    assert_envelope(post_raw(client, auth, raw), 400, "MALFORMED_JSON")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_with_non_finite_numbers_is_malformed(client, auth, constant):
    raw = json.dumps({**VALID, "data": {"x": 1}}).replace("1}", constant + "}")
    assert_envelope(post_raw(client, auth, raw), 400, "MALFORMED_JSON")


def test_bytes_that_are_not_utf8_are_malformed(client, auth):
    assert_envelope(post_raw(client, auth, b'{"title": "\xff\xfe"}'), 400, "MALFORMED_JSON")


@pytest.mark.parametrize("raw", ["[]", '[{"type": "mention"}]', '"text"', "42", "null", "true"])
def test_json_that_is_not_an_object_is_a_422(client, auth, raw):
    assert_envelope(post_raw(client, auth, raw), 422, "VALIDATION_ERROR", details=["_schema"])


@pytest.mark.parametrize("raw", ["[" * 100_000, "{\"a\":" * 100_000, "[" * 5000 + "]" * 5000])
def test_deeply_nested_json_is_a_400_not_a_crash(client, auth, raw):
    assert_envelope(post_raw(client, auth, raw), 400, "MALFORMED_JSON")


@pytest.mark.parametrize("depth", [100, 500, 900])
def test_nested_data_within_the_parser_depth_is_stored_or_refused_but_never_crashes(client, auth, depth):
    raw = json.dumps({**VALID, "data": {"x": 0}}).replace("0}", "[" * depth + "]" * depth + "}")
    response = post_raw(client, auth, raw)
    if response.status_code == 201:
        assert assert_ok(response, 201)["title"] == "Hello"
    else:
        assert response.status_code in (400, 413, 422), response.get_data(as_text=True)[:300]
        assert response.get_json()["success"] is False


@pytest.mark.parametrize("escaped", ["\\u0000", "a\\u0000b", "\\ud800", "x\\udfff"])
@pytest.mark.parametrize("where", ["title", "data value", "data key"])
def test_strings_the_databases_cannot_store_are_a_422(client, auth, escaped, where):
    if where == "title":
        raw = '{"type": "mention", "title": "%s", "message": "m"}' % escaped
    elif where == "data value":
        raw = '{"type": "mention", "title": "t", "message": "m", "data": {"k": "%s"}}' % escaped
    else:
        raw = '{"type": "mention", "title": "t", "message": "m", "data": {"%s": 1}}' % escaped
    assert_envelope(post_raw(client, auth, raw), 422, "VALIDATION_ERROR", details=["_schema"])


@pytest.mark.parametrize("body", [
    # json.loads decodes UTF-8 with surrogatepass: these bytes are a lone surrogate, unescaped.
    b'{"type": "mention", "title": "\xed\xa0\x80", "message": "m"}',
    b'{"type": "mention", "title": "t", "message": "m", "data": {"\xed\xbf\xbf": 1}}',
    # The same text in UTF-16: no byte pattern of UTF-8 to look for.
    '{"type": "mention", "title": "\\u0000", "message": "m"}'.encode("utf-16"),
], ids=["raw surrogate in title", "raw surrogate in data key", "utf-16 escaped NUL"])
def test_unstorable_text_is_a_422_however_the_body_spells_it(client, auth, body):
    assert_envelope(post_raw(client, auth, body), 422, "VALIDATION_ERROR", details=["_schema"])


def test_text_that_only_looks_like_an_escape_or_a_surrogate_is_stored(client, auth):
    # U+D55C (Hangul) is ED 95 9C in UTF-8: the body is walked, and it is fine.
    stored = assert_ok(post_raw(client, auth, json.dumps({**VALID, "title": "\ud55c\\u0000"},
                                                         ensure_ascii=False).encode()), 201)
    assert stored["title"] == "\ud55c\\u0000"


def test_a_body_over_the_default_one_mebibyte_is_a_413(client, auth):
    raw = json.dumps({**VALID, "message": "x" * (1024 * 1024)})
    assert_envelope(post_raw(client, auth, raw), 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize("config_overrides", [{"MAX_CONTENT_LENGTH": 1024}])
def test_a_body_over_a_configured_limit_is_a_413_and_one_under_it_passes(client, auth):
    assert_envelope(post_raw(client, auth, json.dumps({**VALID, "message": "x" * 2000})),
                    413, "PAYLOAD_TOO_LARGE")
    assert_ok(post_raw(client, auth, json.dumps({**VALID, "message": "x" * 500})), 201)


@pytest.mark.parametrize("path", [f"{API}/nope", f"{API}/task", f"{API}/users/online/extra",
                                  f"{API}/notifications/abc/read"])
def test_an_unknown_route_under_the_api_is_a_404_envelope(client, auth, path):
    assert_envelope(client.get(path), 404, "NOT_FOUND")
    assert_envelope(client.post(path, headers=auth("alice"), json={}), 404, "NOT_FOUND")


def test_a_wrong_method_is_a_405_naming_the_allowed_ones(client, auth):
    response = client.get(f"{API}/broadcast", headers=auth("root", "admin"))
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert {m.strip() for m in response.headers["Allow"].split(",")} == {"POST", "OPTIONS"}
    response = client.delete(f"{API}/stats", headers=auth("alice"))
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert {m.strip() for m in response.headers["Allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}


@pytest.mark.parametrize("raw", ["", "   ", "{}"])
def test_an_empty_notify_body_lists_every_missing_field(client, auth, raw):
    error = assert_envelope(post_raw(client, auth, raw), 422, "VALIDATION_ERROR",
                            details=["type", "title", "message"])
    assert error["details"]["title"] == ["Missing data for required field."]


def test_invalid_fields_are_each_named_in_details(client, auth):
    body = {"type": "gossip", "title": " ", "message": "m", "taskId": "bad id", "colour": "red"}
    assert_envelope(client.post(NOTIFY, json=body, headers=auth("alice")), 422, "VALIDATION_ERROR",
                    details=["type", "title", "taskId", "colour"])


@pytest.mark.parametrize("query,field", [("limit=abc", "limit"), ("limit=0", "limit"),
                                         ("limit=101", "limit"), ("limit=-5", "limit"),
                                         ("before=0", "before"), ("before=x", "before"),
                                         ("after=-1", "after"), ("type=gossip", "type"),
                                         ("userId=a%20b", "userId")])
def test_invalid_activity_query_parameters_are_a_422(client, auth, query, field):
    assert_envelope(client.get(f"{API}/activity?{query}", headers=auth("alice")),
                    422, "VALIDATION_ERROR", details=[field])


@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "unread=maybe"])
def test_invalid_notification_query_parameters_are_a_422(client, auth, query):
    assert_envelope(client.get(f"{API}/notifications?{query}", headers=auth("alice")),
                    422, "VALIDATION_ERROR", details=[query.split("=")[0]])


def test_successes_are_envelopes_with_only_success_and_data(client, auth):
    data = assert_ok(client.get(f"{API}/activity?limit=5&utm_source=mail", headers=auth("alice")))
    assert data == {"activities": [], "nextCursor": None, "hasMore": False}


RATE_LIMITED = pytest.mark.parametrize(
    "config_overrides", [{"RATELIMIT_ENABLED": True, "REST_RATE_LIMIT": "3 per minute"}])


@RATE_LIMITED
def test_the_fourth_request_with_one_token_in_a_minute_is_rate_limited(client, auth):
    headers = auth("alice")
    for _ in range(3):
        assert_ok(client.get(f"{API}/stats", headers=headers))
    response = client.get(f"{API}/stats", headers=headers)
    assert_envelope(response, 429, "RATE_LIMITED")
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert_ok(client.get(f"{API}/stats", headers=auth("bob")))


@RATE_LIMITED
def test_the_rate_limit_counts_every_route_of_one_token_together(client, auth):
    headers = auth("alice")
    assert_ok(client.get(f"{API}/stats", headers=headers))
    assert_ok(client.get(f"{API}/users/online", headers=headers))
    assert_ok(client.post(NOTIFY, json=VALID, headers=headers), 201)
    response = client.get(f"{API}/activity", headers=headers)
    assert_envelope(response, 429, "RATE_LIMITED")
    assert "Retry-After" in response.headers


@RATE_LIMITED
def test_health_is_never_rate_limited(client, auth):
    for _ in range(10):
        assert_ok(client.get(f"{API}/health"))
    for _ in range(5):
        assert_ok(client.get(f"{API}/health", headers=auth("alice")))


@RATE_LIMITED
def test_the_openapi_document_is_never_rate_limited(client):
    for _ in range(6):
        assert client.get(f"{API}/openapi.json").status_code == 200
