"""The OpenAPI document describes the whole API; /metrics speaks Prometheus text."""
import re

from openapi_spec_validator import validate
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from devtracker.api import API_PREFIX
from devtracker.realtime.presence import get_presence
from tests.helpers import assert_ok

DOC = f"{API_PREFIX}/openapi.json"
PATH_PARAM = re.compile(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>")


def fetch(client):
    response = client.get(DOC)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def resolve(doc, node):
    """Follow a local $ref (one level is all apispec produces)."""
    while "$ref" in node:
        _, section, kind, name = node["$ref"].split("/")
        node = doc[section][kind][name]
    return node


def test_the_document_is_valid_openapi_3_and_not_an_envelope(client):
    doc = fetch(client)
    validate(doc)
    assert doc["openapi"].startswith("3.")
    assert "success" not in doc
    assert doc["info"]["title"] and doc["info"]["version"]


def test_the_document_needs_no_token(client):
    assert client.get(DOC).status_code == 200


def test_every_api_route_and_method_is_documented_and_nothing_else(app, client):
    expected = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX + "/") or rule.rule == DOC:
            continue
        path = PATH_PARAM.sub(r"{\1}", rule.rule)
        expected |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, ops in fetch(client)["paths"].items() for method in ops}
    assert documented == expected
    assert len(expected) >= 15


def test_path_parameters_are_declared_for_every_templated_path(client):
    for path, ops in fetch(client)["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method, op in ops.items():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path)


def test_converter_arguments_become_a_declared_bounded_parameter(client):
    paths = fetch(client)["paths"]
    assert not [path for path in paths if "<" in path or ">" in path]
    op = paths[f"{API_PREFIX}/notifications/{{notificationId}}/read"]["post"]
    [param] = [p for p in op["parameters"] if p["in"] == "path"]
    assert param["name"] == "notificationId" and param["required"] is True
    assert param["schema"]["type"] == "integer"
    assert param["schema"]["minimum"] == 0 and param["schema"]["maximum"] == 2 ** 63 - 1
    assert "404" in op["responses"]


def test_operations_taking_another_users_id_document_the_403(client):
    paths = fetch(client)["paths"]
    for path, method in [("/notifications", "get"), ("/notifications/unread-count", "get"),
                         ("/notifications/read-all", "post"),
                         ("/notifications/{notificationId}/read", "post")]:
        assert "403" in paths[API_PREFIX + path][method]["responses"], (method, path)


def test_the_bearer_scheme_guards_every_operation_but_health(client):
    doc = fetch(client)
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if path == f"{API_PREFIX}/health":
                assert "security" not in op
                assert "401" not in op["responses"]
            else:
                assert op["security"] == [{"bearerAuth": []}], (method, path)
                assert "401" in op["responses"] and "429" in op["responses"], (method, path)


def test_error_responses_point_at_the_error_envelope(client):
    doc = fetch(client)
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["success", "error"]
    assert set(error["properties"]["error"]["properties"]) == {"code", "message", "details"}
    for code in ("400", "401", "403", "404", "409", "413", "422", "429"):
        response = doc["components"]["responses"][f"Error{code}"]
        schema = response["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}


def test_notify_documents_its_body_its_201_and_its_errors(client):
    doc = fetch(client)
    op = doc["paths"][f"{API_PREFIX}/notify/{{userId}}"]["post"]
    assert op["requestBody"]["required"] is True
    body = resolve(doc, op["requestBody"]["content"]["application/json"]["schema"])
    assert {"type", "title", "message", "taskId", "data"} <= set(body["properties"])
    assert {"type", "title", "message"} <= set(body["required"])
    assert set(body["properties"]["type"]["enum"]) == {
        "mention", "assignment", "comment", "update", "deadline", "system"}
    assert "200" not in op["responses"]
    envelope = op["responses"]["201"]["content"]["application/json"]["schema"]
    assert envelope["required"] == ["success", "data"]
    notification = resolve(doc, envelope["properties"]["data"])
    assert set(notification["properties"]) == {
        "id", "seq", "type", "title", "message", "taskId", "data", "timestamp", "read"}
    assert {"400", "401", "403", "409", "413", "422", "429"} <= set(op["responses"])
    headers = [p["name"] for p in op["parameters"] if p["in"] == "header"]
    assert headers == ["Idempotency-Key"]


def test_broadcast_documents_the_admin_only_403_and_its_body(client):
    doc = fetch(client)
    op = doc["paths"][f"{API_PREFIX}/broadcast"]["post"]
    body = resolve(doc, op["requestBody"]["content"]["application/json"]["schema"])
    assert {"event", "message"} <= set(body["required"])
    assert "403" in op["responses"] and "200" in op["responses"]


def test_query_parameters_of_the_activity_history_are_documented(client):
    op = fetch(client)["paths"][f"{API_PREFIX}/activity"]["get"]
    names = {p["name"] for p in op["parameters"] if p["in"] == "query"}
    assert names == {"limit", "before", "after", "userId", "type", "taskId"}


def test_metrics_are_prometheus_text_with_http_and_socket_series(client, auth):
    assert_ok(client.get(f"{API_PREFIX}/stats", headers=auth("alice")))
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert "devtracker_http_requests" in text and "devtracker_sockets" in text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {"devtracker_http_requests", "devtracker_sockets", "devtracker_connected_users",
            "devtracker_online_users", "devtracker_active_rooms"} <= set(families)
    stats = [s for s in families["devtracker_http_requests"].samples
             if s.name == "devtracker_http_requests_total"
             and s.labels == {"method": "GET", "route": f"{API_PREFIX}/stats", "status": "200"}]
    assert [s.value for s in stats] == [1.0]


def test_metrics_content_type_is_exactly_the_prometheus_text_format(client):
    assert client.get("/metrics").headers["Content-Type"] == CONTENT_TYPE_LATEST


def test_socket_gauges_follow_the_presence_store(client):
    store = get_presence()
    store.add_socket("s1", "alice", "Alice")
    store.add_socket("s2", "alice", "Alice")
    store.add_socket("s3", "bob", "Bob")
    store.set_status("s3", "away")
    store.join_task("s1", "task_1")
    text = client.get("/metrics").get_data(as_text=True)
    values = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert values["devtracker_sockets"] == 3
    assert values["devtracker_connected_users"] == 2
    assert values["devtracker_online_users"] == 1
    assert values["devtracker_active_rooms"] == 1
