"""gunicorn settings, read from the working directory: `gunicorn -k eventlet wsgi:app`."""
import os

# One worker per process: a Socket.IO client must reach the same process on every request.
workers = 1
# Green workers accept this many concurrent connections (gunicorn's default is 1,000).
worker_connections = int(os.environ.get("MAX_CONNECTIONS") or 10000)
bind = f"{os.environ.get('HOST') or '127.0.0.1'}:{os.environ.get('PORT') or 5000}"
graceful_timeout = 10


def post_worker_init(worker):
    """The worker's app is loaded: keep its start-up objects, then those of the sockets it holds,
    out of garbage collection, and collect less often what requests leave behind
    (devtracker/server.py)."""
    from devtracker.server import freeze_socket_objects, tune_garbage_collection

    tune_garbage_collection()
    freeze_socket_objects()
