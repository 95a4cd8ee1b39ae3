"""The PATCHES table: every change engine/ makes to a library, what it replaces, the library
versions it was written for, and what happens when it is off.

`check(patch, mode)` says whether a patch can be installed here: the async mode it is for, each
library's installed version inside the row's range (requirements.txt pins one version in each),
and every attribute it replaces present. A patch that fails a version or attribute check stays
off and says so in one warning line.
"""
import importlib
import importlib.metadata
import logging
import re
from dataclasses import dataclass

log = logging.getLogger("devtracker.engine")

SERVER_MODES = ("eventlet", "gevent", "threading")
CLIENT = "client"  # the SDK's rows: checked when a client is created, not by install(app)

EVENTLET = {"eventlet": ("0.41.3", "0.42")}
GEVENT = {"gevent": ("26.9.0", "26.10")}
ENGINEIO = {"python-engineio": ("4.15.1", "4.16")}
SOCKETIO = {"python-socketio": ("5.18.1", "5.19")}
FLASK_SOCKETIO = {"Flask-SocketIO": ("5.7.0", "5.8")}


@dataclass(frozen=True)
class Patch:
    """One row. `replaces`: `module:Class.attr` paths it replaces or relies on, each checked
    at install; `versions`: distribution -> (lowest, below) it was written for."""

    name: str
    replaces: tuple
    versions: dict
    fallback: str
    modes: tuple = SERVER_MODES


PATCHES = (
    Patch("fast_path",
          ("engineio.socket:Socket._websocket_handler", "socketio.server:Server._send_packet",
           "eventlet.websocket:RFC6455WebSocket._send", "eventlet.hubs.hub:BaseHub.schedule_call_global"),
          {**ENGINEIO, **SOCKETIO, **EVENTLET},
          "every emit goes through python-socketio's per-socket queues and writer green threads, "
          "one write per packet, nothing coalesced",
          ("eventlet",)),
    Patch("ack_probe", ("socketio.server:Server._handle_event_internal",), SOCKETIO,
          "handlers cannot tell whether an ack was asked for: a failed event's error also goes "
          "as an `error` event, and a client event named connect or disconnect reaches the "
          "lifecycle handlers"),
    Patch("socket_backlog_bound",
          ("engineio.socket:Socket.__init__", "engineio.socket:Socket.send",
           "engineio.socket:Socket.close", "engineio.socket:Socket._websocket_handler"),
          ENGINEIO,
          "a socket that stops reading is queued for without limit until its ping timeout"),
    Patch("socket_input_budget", ("engineio.socket:Socket.receive", "engineio.socket:Socket.close"),
          ENGINEIO,
          "a connection may send as fast as it likes; only the per-event rate limit applies, "
          "after decoding"),
    Patch("redis_catch_up",
          ("socketio.redis_manager:RedisManager._redis_listen_with_retries",
           "socketio.redis_manager:RedisManager._redis_connect",
           "socketio.base_manager:BaseManager._get_logger"),
          SOCKETIO,
          "after losing Redis the listener waits up to 60 s between retries, and what was "
          "published meanwhile never reaches this node's sockets"),
    Patch("shallow_receive", ("engineio.socket:Socket.receive",), {**ENGINEIO, **EVENTLET},
          "event handlers run on the connection's own green thread, whose deep frames stay "
          "resident for the socket's life",
          ("eventlet",)),
    Patch("ping_timer", ("engineio.socket:Socket.schedule_ping", "engineio.socket:Socket._send_ping"),
          {**ENGINEIO, **EVENTLET},
          "a green thread per socket sleeps ping_interval before each ping",
          ("eventlet",)),
    Patch("lazy_writer",
          ("engineio.server:Server.start_background_task", "engineio.socket:Socket._websocket_handler"),
          {**ENGINEIO, **EVENTLET},
          "a writer green thread per websocket waits on its queue for the socket's life",
          ("eventlet",)),
    Patch("shared_environ", ("flask_socketio:_SocketIOMiddleware.__call__",), FLASK_SOCKETIO,
          "each socket keeps its own copy of the WSGI environ",
          ("eventlet",)),
    Patch("short_deques",
          ("eventlet.semaphore:collections", "eventlet.websocket:collections",
           "eventlet.greenthread:deque"),
          EVENTLET,
          "three 760-byte deques per websocket (send-lock waiters, frames read ahead, exit callbacks)",
          ("eventlet",)),
    Patch("websocket_unmask", ("eventlet.websocket:RFC6455WebSocket._apply_mask",), EVENTLET,
          "client frames are unmasked in Python a byte at a time (ms for a 16 KiB message, the "
          "hub stopped meanwhile)",
          ("eventlet",)),
    Patch("small_buffers",
          ("eventlet.wsgi:HttpProtocol.rbufsize", "eventlet.wsgi:HttpProtocol.wbufsize"), EVENTLET,
          "eventlet.wsgi keeps an 8 KiB reader and a 16 KiB writer per connection",
          ("eventlet",)),
    Patch("eventlet_http_deadlines",
          ("eventlet.wsgi:HttpProtocol.handle_one_request", "eventlet.wsgi:HttpProtocol.get_environ",
           "eventlet.wsgi:HttpProtocol.finish", "eventlet.wsgi:HttpProtocol._read_request_line"),
          EVENTLET,
          "eventlet.wsgi (python app.py) waits forever for a request head or the next keep-alive "
          "request, and reads a refused body to its end before closing; under gunicorn its own "
          "parser serves HTTP, bounded by `keepalive`",
          ("eventlet",)),
    Patch("gevent_http_deadlines",
          ("gevent.pywsgi:WSGIHandler.handle_one_request", "gevent.pywsgi:WSGIHandler.get_environ",
           "gevent.pywsgi:WSGIHandler._handle_client_error"),
          GEVENT,
          "gevent's server waits forever for a request head or the next keep-alive request",
          ("gevent",)),
    Patch("sqlite_offload",
          ("eventlet.hubs:get_hub", "eventlet.patcher:original", "eventlet.tpool:execute"), EVENTLET,
          "SQLite's commit (its fsync) runs on the hub: every socket of the process waits for it",
          ("eventlet",)),
    Patch("heap_trimmer", (), {},
          "free C-heap pages left by a connect storm stay with the process",
          ("eventlet",)),
    Patch("gc_tuning", (), {},
          "Python's collector thresholds (700, 10, 10), start-up objects walked by every full "
          "collection"),
    Patch("socket_freezer", (), {},
          "held sockets' objects are walked by every full collection"),
    Patch("sdk_ordered_client",
          ("socketio.client:Client._engineio_client_class", "socketio.client:Client._handle_eio_message",
           "engineio.client:Client._trigger_event", "engineio.client:Client._send_packet",
           "engineio.client:Client._send_request", "engineio.client:Client._reset"),
          {**ENGINEIO, **SOCKETIO},
          "the SDK uses the stock client: each event on a thread of its own (two may reach "
          "handlers out of order), CLOSE may be left unsent on disconnect, a gap in a stream "
          "waits for the next reconnect",
          (CLIENT,)),
    Patch("sdk_long_poll_packets", ("engineio.client:payload", "engineio.payload:Payload.max_decode_packets"),
          ENGINEIO,
          "a long-poll answer of more than 16 packets (a replay) drops the SDK's connection",
          (CLIENT,)),
)
BY_NAME = {patch.name: patch for patch in PATCHES}


def version_tuple(text):
    """(0, 41, 3) from "0.41.3"; a suffix (rc1, .post1) is ignored."""
    return tuple(int(part) for part in re.findall(r"\d+", text.split("+")[0])[:3])


def installed_version(distribution):
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def has_attribute(path):
    """Whether `module:Class.attr` (or `module:attr`) exists."""
    module_name, _, attributes = path.partition(":")
    try:
        target = importlib.import_module(module_name)
    except ImportError:
        return False
    for name in attributes.split("."):
        if not hasattr(target, name):
            return False
        target = getattr(target, name)
    return True


def library_problem(patch):
    """Why the installed libraries do not fit `patch` (a version outside its range, an
    attribute missing), or None."""
    for distribution, (lowest, below) in patch.versions.items():
        version = installed_version(distribution)
        if version is None:
            return f"{distribution} is not installed"
        if not version_tuple(lowest) <= version_tuple(version) < version_tuple(below):
            return f"{distribution} {version} is outside [{lowest}, {below}), the versions it was written for"
    for path in patch.replaces:
        if not has_attribute(path):
            return f"{path} is missing"
    return None


def mode_problem(patch, mode):
    """Why `patch` is not for this async mode, or None."""
    if mode in patch.modes:
        return None
    if CLIENT in patch.modes:
        return "the SDK client's: checked when a client is created"
    return f"ASYNC_MODE is {mode}; it is for {', '.join(patch.modes)}"


def warn_off(patch, reason):
    """The one line saying a patch is off because of the libraries, and what that means."""
    log.warning("engine patch %s off: %s; instead %s", patch.name, reason, patch.fallback)


_client_checks = {}


def check_client(name):
    """Whether an `sdk_*` row holds in this process (checked once; one warning when not)."""
    if name not in _client_checks:
        patch = BY_NAME[name]
        problem = library_problem(patch)
        if problem is not None:
            warn_off(patch, problem)
        _client_checks[name] = problem is None
    return _client_checks[name]
