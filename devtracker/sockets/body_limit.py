"""A prompt 413 for request bodies over the limit, the connection closed after it.

python-engineio refuses a long-polling POST over `max_http_buffer_size` by disconnecting the
session and waiting until its queue is read, which only the client's next poll does: the
client, still sending its body, waits for an answer that never comes. And after any refused
body the server reads the rest of it to keep the connection for the next request.

`BodyLimit`, outermost WSGI layer:
- a long-polling POST (`/socket.io/`) whose Content-Length is over the limit is answered 413
  at once, without reading the body, and its session is closed without waiting; a chunked one
  is read up to the limit, then passed on with its length, or refused the same way;
- every 413 (Flask's for REST bodies too), and any answer to a request that declares a body
  over the limit (a 401 that never read it), asks the server to close the connection after the
  answer instead of reading the unread body (`CLOSE_KEY`, which engine/http.py's handlers
  put in the environ; elsewhere the `Connection: close` header says it).
"""
import io
import json
from urllib.parse import parse_qs

from .context import is_socketio_path

# The environ key of the server's close-after-answer callable (engine/http.py sets it).
CLOSE_KEY = "devtracker.close_connection"

TOO_LARGE = json.dumps({"success": False, "error": {
    "code": "PAYLOAD_TOO_LARGE", "message": "The request body is larger than the server accepts."}},
    allow_nan=False).encode()


class BodyLimit:
    """WSGI middleware: see the module docstring. `sockets()` returns the Engine.IO sockets by sid."""

    def __init__(self, app, limit, sockets):
        self.app = app
        self.limit = limit
        self.sockets = sockets

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST" and is_socketio_path(environ.get("PATH_INFO", "")):
            if not self._within_limit(environ):
                self._close_session(environ)
                return self._refuse(environ, start_response)

        declared_over = not self._declared_within_limit(environ)

        def start(status, headers, exc_info=None):
            if declared_over or status.startswith("413"):
                headers = self._closing(environ, headers)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)

    def _within_limit(self, environ):
        """False when the body is over the limit; a chunked body within it is read and passed on."""
        if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            body = environ["wsgi.input"].read(self.limit + 1)
            if len(body) > self.limit:
                return False
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            return True
        return self._declared_within_limit(environ)

    def _declared_within_limit(self, environ):
        try:
            return int(environ.get("CONTENT_LENGTH") or 0) <= self.limit
        except ValueError:
            return True  # the server or python-engineio answers 400 for it

    def _close_session(self, environ):
        sid = parse_qs(environ.get("QUERY_STRING", "")).get("sid", [None])[0]
        socket = self.sockets().get(sid) if sid else None
        if socket is not None and not socket.closed:
            socket.close(wait=False, abort=False)

    def _refuse(self, environ, start_response):
        headers = self._closing(environ, [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(TOO_LARGE)))])
        start_response("413 Payload Too Large", headers)
        return [TOO_LARGE]

    @staticmethod
    def _closing(environ, headers):
        headers = [(name, value) for name, value in headers if name.lower() != "connection"]
        close = environ.get(CLOSE_KEY)
        if close is not None:
            close()  # the server writes `Connection: close` itself
            return headers
        return headers + [("Connection", "close")]
