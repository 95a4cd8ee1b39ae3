"""The response envelope and the one mapping from errors to it (HTTP and socket acks alike)."""
import logging
import time

import sqlalchemy.exc
from flask import jsonify, render_template, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)
DATABASE_RETRY_AFTER = "2"


class AppError(Exception):
    """An error a client can act on: a code, an HTTP status, a message and optional details."""

    code = "BAD_REQUEST"
    status = 400
    message = "The request could not be processed."

    def __init__(self, message=None, details=None, code=None, status=None, headers=None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details
        self.code = code or self.code
        self.status = status or self.status
        self.headers = headers or {}

    def to_dict(self):
        """The `error` member of the envelope."""
        body = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class MalformedJSON(AppError):
    code, status, message = "MALFORMED_JSON", 400, "The request body is not valid JSON."


class InvalidInput(AppError):
    code, status, message = "VALIDATION_ERROR", 422, "Some fields are invalid."


class Unauthorized(AppError):
    code, status, message = "UNAUTHORIZED", 401, "A valid bearer token is required."


class Forbidden(AppError):
    code, status, message = "FORBIDDEN", 403, "You are not allowed to do this."


class NotFound(AppError):
    code, status, message = "NOT_FOUND", 404, "Not found."


class Conflict(AppError):
    code, status, message = "CONFLICT", 409, "The request conflicts with the current state."


class RateLimited(AppError):
    code, status, message = "RATE_LIMITED", 429, "Too many requests; slow down."


class Unavailable(AppError):
    code, status, message = "SERVICE_UNAVAILABLE", 503, "A backing service is unavailable."


HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    431: "HEADERS_TOO_LARGE",
    503: "SERVICE_UNAVAILABLE",
}


def ok(data, status=200, headers=None):
    """A success envelope as a Flask response."""
    response = jsonify({"success": True, "data": data})
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response


def ok_body(data):
    """A success envelope as a plain dict (socket acks)."""
    return {"success": True, "data": data}


def error_body(error):
    """An error envelope as a plain dict (socket acks)."""
    return {"success": False, "error": error.to_dict()}


def error_response(error):
    """An error envelope as a Flask response with the error's status and headers."""
    response = jsonify(error_body(error))
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def validation_error(err):
    """Turn marshmallow's ValidationError into a 422 AppError with per-field details."""
    messages = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
    return InvalidInput(details=messages)


def load(schema, data):
    """`schema.load(data)`, marshmallow's errors turned into the 422 envelope: how REST bodies,
    query strings, client events and the handshake are all loaded."""
    try:
        return schema.load(data)
    except ValidationError as err:
        raise validation_error(err) from None


def from_exception(exc):
    """Map any exception to an AppError; unknown ones become a logged 500 without detail."""
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, ValidationError):
        return validation_error(exc)
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        error = AppError(message=exc.description, code=HTTP_CODES.get(exc.code, "HTTP_ERROR"),
                         status=exc.code)
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            error.headers["Allow"] = ", ".join(exc.valid_methods)
        if exc.code == 413:
            error.message = "The request body is larger than the server accepts."
        if exc.code == 429:
            error.message = "Too many requests; slow down."
            retry = getattr(exc, "retry_after", None)
            if retry is None:
                retry = _rate_limit_reset()
            if retry is not None:
                error.headers["Retry-After"] = str(retry)
        return error
    if _database_unreachable(exc):
        _database_log.warning((str(exc).splitlines() or [type(exc).__name__])[0][:200])
        return Unavailable("The database is unavailable right now; try again shortly.",
                           headers={"Retry-After": DATABASE_RETRY_AFTER})
    log.exception("unhandled error", exc_info=exc)
    return AppError(message="Something went wrong on our side.", code="INTERNAL_ERROR", status=500)


class _ThrottledLog:
    """At most one warning a second; the next one says how many were left out (an outage
    fails every request, and one line each would bury the log)."""

    def __init__(self, what, interval=1.0):
        self.what = what
        self.interval = interval
        self.next_at = 0.0
        self.skipped = 0

    def warning(self, detail):
        now = time.monotonic()
        if now < self.next_at:
            self.skipped += 1
            return
        skipped, self.skipped, self.next_at = self.skipped, 0, now + self.interval
        log.warning("%s: %s%s", self.what, detail, f" ({skipped} more not logged)" if skipped else "")


_database_log = _ThrottledLog("database unavailable")


def _rate_limit_reset():
    """Seconds until the REST rate limit that was hit lets the caller in again."""
    from .extensions import limiter

    current = limiter.current_limit
    return max(1, int(current.reset_at - time.time())) if current is not None else None


def _database_unreachable(exc):
    """True for errors that mean the database cannot be reached or used right now (a restart,
    a full pool, a lock held too long), as opposed to a bug: those are a 503, not a 500."""
    if isinstance(exc, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
                        sqlalchemy.exc.TimeoutError, sqlalchemy.exc.DisconnectionError)):
        return True
    return isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated


def register_error_handlers(app):
    """Every error, raised anywhere in a request, leaves as an envelope."""

    @app.errorhandler(Exception)
    def handle_any(exc):
        error = from_exception(exc)
        if _wants_page():
            return render_template("error.html", status=error.status, message=error.message), error.status
        return error_response(error)


def _wants_page():
    """Browsers asking for a web page get an HTML error; everything else gets the envelope."""
    if request.path.startswith("/api/") or request.path == "/metrics":
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html" and request.accept_mimetypes[best] > request.accept_mimetypes["application/json"]
