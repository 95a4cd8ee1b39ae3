"""Serve the app on the configured async mode (`python app.py`); gunicorn uses wsgi.py instead.

The engine's patches are already installed (create_app); here only the HTTP deadlines, which
need the server's own handler class, are asked of it (`engine.http_handler`)."""
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
    from . import engine
    from .extensions import socketio

    mode = app.config["ASYNC_MODE"]
    max_connections = app.config["MAX_CONNECTIONS"]
    files = raise_open_file_limit(max_connections + 256)
    if files < max_connections:
        log.warning("open-file limit is %s, below MAX_CONNECTIONS=%s", files, max_connections)
    access_log = app.config["ACCESS_LOG"]
    log.info("DevTracker Realtime listening on http://%s:%s (%s, %s, database %s)", host, port,
             mode, app.config["ENV_NAME"], app.config["SQLALCHEMY_DATABASE_URI"].split("://")[0])
    if mode == "eventlet":
        import eventlet.wsgi

        listener = listen(host, port)
        # A request head within HTTP_HEADER_TIMEOUT_SECONDS, the next request on a keep-alive
        # connection within HTTP_IDLE_TIMEOUT_SECONDS (engine/http.py); no socket timeout, which
        # would also cut quiet websockets and long-polls.
        protocol = engine.http_handler(app, eventlet.wsgi.HttpProtocol)
        # eventlet's server stops accepting at max_size connections (1,024 unless raised).
        eventlet.wsgi.server(listener, app, max_size=max_connections, log_output=access_log,
                             log=logging.getLogger("devtracker.access"), debug=False,
                             protocol=protocol)
    elif mode == "gevent":
        from gevent.pool import Pool
        from gevent.pywsgi import WSGIServer

        handler = engine.http_handler(app, engine.closing_gevent_handler())
        # Websockets through simple-websocket, as under `gunicorn -k gevent`.
        server = WSGIServer((host, port), app, spawn=Pool(max_connections), backlog=LISTEN_BACKLOG,
                            log=logging.getLogger("devtracker.access") if access_log else None,
                            handler_class=handler)
        server.serve_forever()
    else:
        socketio.run(app, host=host, port=port, debug=False, use_reloader=False,
                     log_output=access_log, allow_unsafe_werkzeug=True,
                     request_handler=engine.closing_request_handler())

