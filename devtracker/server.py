"""Serve the app on the configured async mode (`python app.py`); gunicorn uses wsgi.py instead."""
import logging
import resource

log = logging.getLogger("devtracker.server")
LISTEN_BACKLOG = 2048


def raise_open_file_limit(wanted):
    """Each socket is a file descriptor: lift the soft limit towards what MAX_CONNECTIONS needs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def tune_eventlet_buffers():
    """Smaller per-connection buffers in eventlet's WSGI server.

    Each connection keeps its request reader (8 KiB) and response writer (16 KiB) buffers for
    its whole life, though a websocket stops using them after the upgrade. Both are allocated
    when the connection is accepted. 1 KiB each: a REST call's head and body are read in one or
    two reads, an answer under 1 KiB leaves in one send, and a larger one is written through
    (with TCP_NODELAY, see `listen`, a second send costs no wait). Measured on 10,000 held
    connections: 63.4 → 60.6 KiB of RSS each with 2 and 4 KiB; tracemalloc then still counted
    6.4 KiB of them per idle websocket.
    """
    import eventlet.wsgi

    eventlet.wsgi.HttpProtocol.rbufsize = 1024
    eventlet.wsgi.HttpProtocol.wbufsize = 1024
    tune_eventlet_memory()
    tune_eventlet_websockets()


def tune_eventlet_websockets():
    """Client frames unmasked in a few integer operations instead of a Python loop per byte
    (realtime/unmask.py): 21.8 → 2.2 µs for a 60-byte event, 6.0 ms → 68 µs for 16 KiB."""
    from .realtime import unmask

    if not unmask.install():
        log.warning("fast websocket unmasking off: eventlet's websocket is not the expected one")


def tune_eventlet_memory():
    """The rest of issue 6 (see realtime/memory.py): Socket.IO messages handled in short-lived
    green threads so the connection's own stays shallow, pings on hub timers and websocket
    writers started only when there is something to send (one green thread per idle socket
    instead of three), the WSGI environ kept once, and free C-heap pages returned after connect
    storms. 1,000 authenticated idle websockets: 71.5 → 47.6 KiB of RSS each (memory.py)."""
    from .realtime import memory

    memory.install()
    memory.start_trimmer()


# Collect the middle generation every 100 young collections instead of Python's 10.
GC_THRESHOLDS = (700, 100, 10)


def tune_garbage_collection():
    """Garbage collection for a server that holds many sockets and serves requests all the while.

    1. Everything alive after start-up is moved out of the collector's sight. Full collections
       walk every tracked object; ~170,000 of them are modules, functions and classes that live
       as long as the process. Under load such a collection paused the server for 90-140 ms
       every 15-20 s, which showed up in every p99. Frozen, they are never walked.
    2. The middle generation is collected ten times less often (GC_THRESHOLDS). Each of its
       collections moves whatever is alive at that moment to the oldest generation: at 1,000
       requests/s, the objects of the requests in flight. They die moments later, but they
       count towards the next full collection, which walks every socket's objects (~150 per
       socket): at 1,000 sockets and 1,000 notifications/s, a 70-100 ms pause every few
       seconds, and the backlog it left took seconds to clear at that load (p99 135-478 ms in
       three runs). With the middle generation collected every 100 young collections, no full
       collection ran during those steps in four runs (p99 23-34 ms). Young collections are
       unchanged; cyclic garbage that outlives one waits a little longer to be freed.
    """
    import gc

    gc.set_threshold(*GC_THRESHOLDS)
    gc.collect()
    gc.freeze()


def freeze_socket_objects():
    """As sockets accumulate, keep their objects out of full collections too (realtime/freezer.py)."""
    from .extensions import socketio
    from .realtime import freezer

    return freezer.start(socketio)


def listen(host, port):
    """The eventlet listening socket, with Nagle's algorithm off for every connection it accepts
    (Linux hands TCP_NODELAY down from the listener).

    A socket pushes small frames as they happen; with Nagle on, a frame written while the one
    before is not yet acknowledged waits for that acknowledgement, and a client that only
    listens may delay it."""
    import socket

    import eventlet

    listener = eventlet.listen((host, port), backlog=LISTEN_BACKLOG)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return listener


def serve(app, host, port):
    """Listen and serve forever; eventlet (default), gevent or threading."""
    from .extensions import socketio

    mode = app.config["ASYNC_MODE"]
    max_connections = app.config["MAX_CONNECTIONS"]
    files = raise_open_file_limit(max_connections + 256)
    if files < max_connections:
        log.warning("open-file limit is %s, below MAX_CONNECTIONS=%s", files, max_connections)
    access_log = app.config["ACCESS_LOG"]
    log.info("DevTracker Realtime listening on http://%s:%s (%s, %s, database %s)", host, port,
             mode, app.config["ENV_NAME"], app.config["SQLALCHEMY_DATABASE_URI"].split("://")[0])
    tune_garbage_collection()
    freeze_socket_objects()
    if mode == "eventlet":
        import eventlet.wsgi

        from .engine.http import eventlet_protocol

        tune_eventlet_buffers()
        listener = listen(host, port)
        # A request head within HTTP_HEADER_TIMEOUT_SECONDS, the next request on a keep-alive
        # connection within HTTP_IDLE_TIMEOUT_SECONDS (engine/http.py); no socket timeout, which
        # would also cut quiet websockets and long-polls.
        protocol = eventlet_protocol(app.config["HTTP_HEADER_TIMEOUT_SECONDS"],
                                     app.config["HTTP_IDLE_TIMEOUT_SECONDS"])
        # eventlet's server stops accepting at max_size connections (1,024 unless raised).
        eventlet.wsgi.server(listener, app, max_size=max_connections, log_output=access_log,
                             log=logging.getLogger("devtracker.access"), debug=False,
                             protocol=protocol or eventlet.wsgi.HttpProtocol)
    elif mode == "gevent":
        from gevent.pool import Pool
        from gevent.pywsgi import WSGIServer

        from .engine.http import gevent_handler

        handler = gevent_handler(closing_gevent_handler(), app.config["HTTP_HEADER_TIMEOUT_SECONDS"],
                                 app.config["HTTP_IDLE_TIMEOUT_SECONDS"])
        # Websockets through simple-websocket, as under `gunicorn -k gevent`.
        server = WSGIServer((host, port), app, spawn=Pool(max_connections), backlog=LISTEN_BACKLOG,
                            log=logging.getLogger("devtracker.access") if access_log else None,
                            handler_class=handler)
        server.serve_forever()
    else:
        socketio.run(app, host=host, port=port, debug=False, use_reloader=False,
                     log_output=access_log, allow_unsafe_werkzeug=True,
                     request_handler=closing_request_handler())


def closing_gevent_handler():
    """gevent's WSGI handler, closing a connection once the websocket on it has ended.

    Same fault as under werkzeug (see closing_request_handler): the websocket's handler returns
    an empty response and gevent reads the client's last frames as the next request.
    """
    from gevent.pywsgi import WSGIHandler

    class ClosingWSGIHandler(WSGIHandler):
        def run_application(self):
            try:
                super().run_application()
            finally:
                if self.environ.get("HTTP_UPGRADE", "").lower() == "websocket":
                    self.close_connection = True

    return ClosingWSGIHandler


def closing_request_handler():
    """Werkzeug's request handler, closing a connection once the websocket on it has ended.

    python-engineio ends a websocket under werkzeug by raising ConnectionError. Werkzeug takes
    that for a dropped client but keeps the connection and reads the next request from it: the
    client's last frames (a close frame, or DISCONNECT and CLOSE sent after it) were logged as
    `400 Bad request syntax`, and the connection stayed open until the client gave up on it
    (websocket-client waits 3 s for a close reply its reader thread may already have taken)."""
    from werkzeug.serving import WSGIRequestHandler

    class ClosingRequestHandler(WSGIRequestHandler):
        def connection_dropped(self, error, environ=None):
            self.close_connection = True

    return ClosingRequestHandler
