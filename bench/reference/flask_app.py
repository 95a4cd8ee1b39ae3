"""Reference server for the fan-out benchmark: bare Flask-SocketIO on eventlet.

No database, no authentication, no replay: the stock python-socketio manager and the same
wire protocol as bench/reference/node/server.mjs (see bench/reference/README.md), so the
benchmark can tell what DevTracker Realtime costs on top of the library it is built on.

    python bench/reference/flask_app.py --port 5101
"""
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
import eventlet  # noqa: E402

eventlet.monkey_patch()  # first, before Flask or anything that imports socket/threading

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

from flask import Flask, jsonify, request  # noqa: E402
from flask_socketio import SocketIO, join_room  # noqa: E402

NAMESPACE = "/"
LISTEN_BACKLOG = 2048  # the same as DevTracker's devtracker/server.py (eventlet.listen's default is 50)

app = Flask(__name__)
socketio = SocketIO(
    app,
    async_mode="eventlet",
    ping_interval=25,
    ping_timeout=60,
    max_http_buffer_size=1_000_000,
    cors_allowed_origins="*",  # like Node's socket.io, which checks no Origin by default
    # CONNECT goes out before the connect handler runs, so the handler can emit replay:done
    # (as io.on("connection") can in Node); otherwise the event would precede CONNECT.
    always_connect=True,
    logger=False,
    engineio_logger=False,
)


def now_iso():
    """ISO 8601 UTC with milliseconds and a Z (what DevTracker and Node's toISOString() send)."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def rss_kib():
    """Resident memory of this process in KiB (VmRSS)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def connected_sockets():
    """Sockets connected to the default namespace (the manager's room of everyone)."""
    return len(socketio.server.manager.rooms.get(NAMESPACE, {}).get(None, {}))


def ok(data):
    return jsonify({"success": True, "data": data})


@socketio.on("connect")
def on_connect(auth=None):
    """Accept any `auth`; the socket is ready at once."""
    socketio.emit("replay:done", {}, to=request.sid)


@socketio.on("task:join")
def on_task_join(task_id):
    join_room(f"task:{task_id}")
    return {"success": True, "data": {"taskId": task_id}}


@app.post("/bench/broadcast")
def bench_broadcast():
    body = request.get_json(force=True, silent=True) or {}
    socketio.emit("system:bench", {"message": "bench", "data": body.get("data"),
                                   "timestamp": now_iso()}, namespace=NAMESPACE)
    return ok({"sent": True})


@app.post("/bench/room")
def bench_room():
    body = request.get_json(force=True, silent=True) or {}
    task_id = body.get("taskId")
    socketio.emit("task:updated", {"taskId": task_id, "action": "updated", "task": body.get("data"),
                                   "userId": "bench", "username": "bench", "timestamp": now_iso()},
                  to=f"task:{task_id}", namespace=NAMESPACE)
    return ok({"sent": True})


@app.get("/bench/stats")
def bench_stats():
    return ok({"connectedSockets": connected_sockets(), "rssKiB": rss_kib()})


class DeclineCompression:
    """WSGI middleware hiding the client's websocket extension offer (permessage-deflate)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return self.wsgi_app(environ, start_response)


def raise_open_file_limit(wanted):
    """Each socket is a file descriptor: lift the soft limit towards `wanted` (at most the hard one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python bench/reference/flask_app.py",
        description="Reference Socket.IO server for the fan-out benchmark: bare Flask-SocketIO "
                    "on eventlet, no auth, no database. Protocol: bench/reference/README.md.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5101, help="port to listen on (default 5101)")
    parser.add_argument("--max-connections", type=int, default=12000,
                        help="eventlet.wsgi.server max_size: connections served at once (default 12000)")
    parser.add_argument("--decline-compression", action="store_true",
                        help="decline the websocket permessage-deflate extension (by default eventlet "
                             "accepts it when offered; Node's socket.io and DevTracker decline it)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    raise_open_file_limit(args.max_connections + 256)
    if args.decline_compression:
        app.wsgi_app = DeclineCompression(app.wsgi_app)
    print(f"reference (flask-socketio/eventlet) listening on http://{args.host}:{args.port}", flush=True)
    # What socketio.run() does under eventlet, plus a listen backlog of DevTracker's size: extra
    # keyword arguments of socketio.run() reach eventlet.wsgi.server, but the backlog cannot.
    import eventlet.wsgi

    listener = eventlet.listen((args.host, args.port), backlog=LISTEN_BACKLOG)
    try:
        eventlet.wsgi.server(listener, app, max_size=args.max_connections, log_output=False,
                             debug=False)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
