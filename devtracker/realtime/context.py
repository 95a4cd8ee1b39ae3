"""The Flask request context that Socket.IO events run in.

Flask-SocketIO runs every event handler (connect included) inside `app.request_context()` built
from the socket's handshake environ, whose path is the Socket.IO endpoint. Flask has no route
there (engine.io answers that path before Flask sees it), so every event paid a failed route
match: a `NotFound` raised and kept on the request with its traceback, a reference cycle through
the frames that held the event's arguments. Only the cyclic collector frees those; the ones it
had not reached when the socket freezer ran stayed behind for good (2.7-3.6 MB after a 1,000
socket connect storm, ~3 KiB per socket).

A rule for the path makes the match succeed. Its view is never reached over HTTP: engine.io's
middleware takes the path first.
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
