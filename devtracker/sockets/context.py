"""The Flask request context that Socket.IO events run in.

Flask-SocketIO runs every event handler (connect included) inside `app.request_context()` built
from the socket's handshake environ, whose path is the Socket.IO endpoint. Flask had no route
there (engine.io answers that path before Flask sees it), so every event paid a failed route
match: a `NotFound` raised and kept on the request with its traceback, a reference cycle through
the event's frames that only the cyclic collector frees (1,000-2,000 such objects were left for
a full collection after a 1,000-socket connect storm; ~60 now). Every event also opened the
dashboard's cookie session, which sockets never use (they authenticate with a token).

A rule for the path makes the match succeed (its view is never reached over HTTP: engine.io's
middleware takes the path first), and the session there is Flask's null session.
"""
from flask import abort

SOCKETIO_PATH = "/socket.io"  # Flask-SocketIO's default, which the server keeps
SOCKETIO_ENDPOINTS = ("socketio.websocket", "socketio.polling")


def is_socketio_path(path):
    """Whether a request context is a Socket.IO event's (the session is opened before routing)."""
    return path == SOCKETIO_PATH or path.startswith(SOCKETIO_PATH + "/")


def socketio_path_rules(app):
    """Give the Socket.IO endpoint a route (websocket and HTTP) so events' contexts match one."""
    rule = SOCKETIO_PATH + "/"

    def engine_io_only():
        abort(404)

    # Without the trailing slash too: Flask-SocketIO's test client connects to "/socket.io".
    websocket, polling = SOCKETIO_ENDPOINTS
    app.add_url_rule(rule, websocket, engine_io_only, websocket=True, strict_slashes=False)
    app.add_url_rule(rule, polling, engine_io_only, methods=["GET", "POST"], strict_slashes=False)
    return rule
