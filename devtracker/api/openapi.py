"""The OpenAPI 3 document, built with apispec from the same metadata the views enforce."""
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app, jsonify

from ..ids import ID_PATTERN
from .blueprint import API_PREFIX, bp

# Werkzeug's `<name>`, `<converter:name>` and `<converter(args):name>` (`int(max=...)`).
PATH_PARAM = re.compile(r"<(?:(\w+)(\([^)]*\))?:)?(\w+)>")
INT_ARGS = re.compile(r"(min|max)=(\d+)")
ERROR_STATUSES = {
    400: "Malformed JSON or bad request",
    401: "Missing, malformed, expired or wrongly signed token",
    403: "The token's role does not allow this",
    404: "Not found",
    409: "Idempotency-Key reused with a different body",
    413: "Body larger than MAX_BODY_BYTES",
    422: "Invalid fields, with per-field details",
    429: "Rate limited; see Retry-After",
}


def _envelope(schema):
    return {"type": "object", "required": ["success", "data"],
            "properties": {"success": {"type": "boolean", "enum": [True]}, "data": schema}}


def _path_schema(converter, args):
    """The schema of one path parameter: an int converter's bounds, else an id."""
    if converter != "int":
        return {"type": "string", "pattern": ID_PATTERN}
    bounds = dict(INT_ARGS.findall(args))
    return {"type": "integer", "format": "int64", "minimum": int(bounds.get("min", 0)),
            **({"maximum": int(bounds["max"])} if "max" in bounds else {})}


def _operation(meta, path_params, method):
    op = {"summary": meta["summary"], "tags": meta["tags"], "responses": {}}
    if meta["description"]:
        op["description"] = meta["description"]
    params = [{"in": "path", "name": name, "required": True, "schema": _path_schema(conv, args)}
              for conv, args, name in path_params]
    if meta["query"] is not None:
        params.append({"in": "query", "schema": meta["query"]})
    if meta["idempotent"]:
        params.append({"in": "header", "name": "Idempotency-Key", "required": False,
                       "description": "Retries with the same key return the first result, kept 24 h.",
                       "schema": {"type": "string", "maxLength": 255}})
    if params:
        op["parameters"] = params
    if meta["body"] is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": meta["body"]}}}
    data = meta["response"] or {"type": "object"}
    op["responses"][str(meta["status"])] = {
        "description": "Success", "content": {"application/json": {"schema": _envelope(data)}}}
    statuses = [400, 413, 422] if meta["body"] is not None else []
    if meta["query"] is not None or meta["path_ids"]:
        statuses.append(422)
    if meta["auth"] is not None:
        op["security"] = [{"bearerAuth": []}]
        # 403: a role the operation does not allow, a body's `actor`, another user's `userId`.
        acts_for = meta["query"] is not None and "userId" in meta["query"].fields
        statuses += [401, 429] + ([403] if meta["auth"] or meta["body"] is not None or acts_for else [])
    if meta["idempotent"]:
        statuses.append(409)
    if any(conv == "int" for conv, _, _ in path_params):
        statuses.append(404)
    for code in sorted(set(statuses)):
        op["responses"][str(code)] = {"$ref": f"#/components/responses/Error{code}"}
    if meta["summary"].startswith("Health"):
        op["responses"]["503"] = {"description": "Degraded: the database or Redis is unreachable"}
    return op


def build_spec(app):
    """The OpenAPI document of every route of the API blueprint."""
    spec = APISpec(title="DevTracker Realtime API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "REST side of DevTracker Realtime. Every response is an "
                                        "envelope: {success, data} or {success: false, error}."})
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer",
                                                   "bearerFormat": "JWT"})
    spec.components.schema("Error", {"type": "object", "required": ["success", "error"], "properties": {
        "success": {"type": "boolean", "enum": [False]},
        "error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string", "example": "VALIDATION_ERROR"},
            "message": {"type": "string"},
            "details": {"type": "object", "additionalProperties": True}}}}})
    for code, text in ERROR_STATUSES.items():
        spec.components.response(f"Error{code}", {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
    paths = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        meta = getattr(view, "openapi", None)
        if meta is None or not rule.rule.startswith(API_PREFIX):
            continue
        path_params = PATH_PARAM.findall(rule.rule)
        path = PATH_PARAM.sub(lambda m: "{" + m.group(3) + "}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(meta, path_params, method)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 document of this API (not enveloped)."""
    cached = current_app.extensions.get("devtracker.openapi")
    if cached is None:
        cached = current_app.extensions["devtracker.openapi"] = build_spec(current_app)
    return jsonify(cached)
