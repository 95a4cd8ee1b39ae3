"""The one place for code that touches private attributes of eventlet, gevent, python-engineio,
python-socketio, Flask-SocketIO or SQLAlchemy, and the one switch that installs it.

`create_app` calls `install(app)` last, so `python app.py`, gunicorn (`wsgi:app`) and `flask`
commands get the same patches. PATCHES (patches.py) lists each one: what it replaces, the library
versions it was written for, what happens when it is off. A patch is installed when it is for
the configured ASYNC_MODE, its setting asks for it, and the installed libraries fit its row;
otherwise it stays off with a reason (one warning line when the libraries do not fit). /metrics
shows `devtracker_engine_patch_active{patch=...}` for every row; one log line lists them.

- `fastpath`: one frame per broadcast written straight to idle sockets (eventlet).
- `acks`: tells the namespace whether a client event asked for an ack.
- `backlog`, `inbound`: bounds on each socket's unsent bytes and on the bytes it sends.
- `pubsub`: the Redis listener's short backoff and catch-up after re-subscribing.
- `memory`: lean sockets (shallow reader, ping timer, lazy writer, shared environ, short
  deques) and the C-heap trimmer (eventlet).
- `unmask`: fast websocket unmasking; `tuning`: eventlet's buffer sizes and the collector's
  settings; `freezer`: held sockets' objects kept out of full collections.
- `http`: deadlines for request heads and keep-alive waits (eventlet.wsgi, gevent).
- `offload`: SQLite's commit off eventlet's hub (storage's blocking runner).
- `client`: the SDK's Socket.IO client (its rows are checked when a client is created).
"""
import logging

from .patches import BY_NAME, CLIENT, PATCHES, Patch, library_problem, mode_problem, warn_off

log = logging.getLogger("devtracker.engine")
EXTENSION_KEY = "devtracker.engine"
TESTING = "TESTING: the process is the test runner's"


class EngineState:
    """Which patches are active for an app, and why the others are not."""

    def __init__(self):
        self.active = {}
        self.reasons = {}

    def record(self, name, reason=None):
        self.active[name] = reason is None
        if reason is not None:
            self.reasons[name] = reason


def _installers(app, socketio):
    """Patch name -> a function that installs it for `app`: returns None when installed, or why
    not (a setting that turns it off, or the library found not as expected)."""
    from . import acks, backlog, freezer, inbound, memory, offload, pubsub, tuning, unmask

    config = app.config
    server = socketio.server
    manager = server.manager
    differs = "the library is not as expected (logged above)"

    def fast_path():
        if not config["BROADCAST_FAST_PATH"]:
            return "BROADCAST_FAST_PATH is off"
        from . import fastpath

        if not fastpath.install():
            return differs
        fastpath.attach(manager, server)
        return None

    def ack_probe():
        from ..sockets.acks import note_ack

        return None if acks.install_ack_probe(server, note_ack) else differs

    def socket_backlog_bound():
        if not config["MAX_SOCKET_BACKLOG_BYTES"]:
            return "MAX_SOCKET_BACKLOG_BYTES is 0"
        return None if backlog.install(config["MAX_SOCKET_BACKLOG_BYTES"]) else differs

    def socket_input_budget():
        if not config["MAX_SOCKET_INPUT_BYTES_PER_SECOND"]:
            return "MAX_SOCKET_INPUT_BYTES_PER_SECOND is 0"
        return None if inbound.install(config["MAX_SOCKET_INPUT_BYTES_PER_SECOND"],
                                       config["MAX_SOCKET_INPUT_BURST_BYTES"]) else differs

    def redis_catch_up():
        if not config["REDIS_URL"]:
            return "REDIS_URL is not set"
        return None if pubsub.install(manager, manager.catch_up_later) else differs

    def sqlite_offload():
        from ..storage.idempotency import set_blocking_runner

        if not offload.available():
            return "eventlet has not monkey-patched threads in this process"
        set_blocking_runner(offload.run_blocking)
        return None

    def heap_trimmer():
        if app.testing:
            return TESTING
        if memory.running_trimmer is None and memory.start_trimmer() is None:
            return "no glibc malloc_trim here"
        return None

    def gc_tuning():
        return TESTING if app.testing else (None if tuning.tune_garbage_collection() else differs)

    def socket_freezer():
        if app.testing:
            return TESTING
        return None if freezer.start(socketio) is not None else "no Socket.IO server"

    def once(install):
        return lambda: None if install() else differs

    return {
        "fast_path": fast_path,
        "ack_probe": ack_probe,
        "socket_backlog_bound": socket_backlog_bound,
        "socket_input_budget": socket_input_budget,
        "redis_catch_up": redis_catch_up,
        "shallow_receive": once(memory.install_shallow_receive),
        "ping_timer": once(memory.install_ping_timer),
        "lazy_writer": once(memory.install_lazy_writer),
        "shared_environ": once(memory.share_environ),
        "short_deques": once(memory.short_deques),
        "websocket_unmask": once(unmask.install),
        "small_buffers": once(tuning.small_buffers),
        "eventlet_http_deadlines": lambda: None,  # built by `http_handler` when serving
        "gevent_http_deadlines": lambda: None,
        "sqlite_offload": sqlite_offload,
        "heap_trimmer": heap_trimmer,
        "gc_tuning": gc_tuning,
        "socket_freezer": socket_freezer,
    }


# Class-level patches: installed once per process, whatever app asks again.
_ONCE = frozenset({"shallow_receive", "ping_timer", "lazy_writer", "shared_environ", "short_deques",
                   "websocket_unmask", "small_buffers", "gc_tuning"})
_installed = set()  # those of _ONCE installed in this process


def install(app):
    """Install every PATCHES row that applies to `app`, in table order, register the engine's
    /metrics collectors, and log which patches are active. Once per app; a class-level patch
    is installed once per process."""
    from ..extensions import socketio
    from ..metrics import register_collector
    from .collectors import EngineCollector

    state = app.extensions[EXTENSION_KEY] = EngineState()
    mode = app.config["ASYNC_MODE"]
    installers = _installers(app, socketio)
    for patch in PATCHES:
        reason = mode_problem(patch, mode)
        if reason is None and patch.name not in _installed:
            reason = library_problem(patch)
            if reason is not None:
                warn_off(patch, reason)
            else:
                reason = installers[patch.name]()
            if reason is None and patch.name in _ONCE:
                _installed.add(patch.name)
        state.record(patch.name, reason)
    register_collector(app, EngineCollector(state))
    active = [name for name, on in state.active.items() if on]
    (log.debug if app.testing else log.info)(
        "engine patches active (%d of %d): %s; off: %s", len(active), len(PATCHES),
        ", ".join(active) or "none",
        "; ".join(f"{name} ({reason})" for name, reason in state.reasons.items()) or "none")
    return state


def is_active(app, name):
    """Whether patch `name` is active for `app` (False before `install(app)`)."""
    state = app.extensions.get(EXTENSION_KEY)
    return bool(state and state.active.get(name))


def http_handler(app, base):
    """The connection handler to serve `app` with: `base` (eventlet's HttpProtocol, or gevent's
    WSGIHandler) with the head and idle deadlines when that patch is active, else `base`."""
    from . import http

    head, idle = app.config["HTTP_HEADER_TIMEOUT_SECONDS"], app.config["HTTP_IDLE_TIMEOUT_SECONDS"]
    if app.config["ASYNC_MODE"] == "eventlet" and is_active(app, "eventlet_http_deadlines"):
        return http.eventlet_protocol(head, idle) or base
    if app.config["ASYNC_MODE"] == "gevent" and is_active(app, "gevent_http_deadlines"):
        return http.gevent_handler(base, head, idle)
    return base


def closing_gevent_handler():
    """gevent's WSGI handler that closes a connection once its websocket has ended (http.py)."""
    from .http import closing_gevent_handler as handler

    return handler()


def closing_request_handler():
    """Werkzeug's request handler that closes a connection once its websocket has ended (http.py)."""
    from .http import closing_request_handler as handler

    return handler()


__all__ = ["CLIENT", "EXTENSION_KEY", "PATCHES", "BY_NAME", "Patch", "closing_gevent_handler",
           "closing_request_handler", "http_handler", "install", "is_active"]
