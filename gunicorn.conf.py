"""gunicorn settings, read from the working directory: `gunicorn -k eventlet wsgi:app`."""
import os

# One worker per process: a Socket.IO client must reach the same process on every request.
workers = 1
# Green workers accept this many concurrent connections (gunicorn's default is 1,000).
worker_connections = int(os.environ.get("MAX_CONNECTIONS") or 10000)
bind = f"{os.environ.get('HOST') or '127.0.0.1'}:{os.environ.get('PORT') or 5000}"
graceful_timeout = 10
# Green workers read each request head under one timer of `keepalive` seconds, which also bounds
# how long a keep-alive connection waits for its next request: the header timeout is used for
# both (HTTP_HEADER_TIMEOUT_SECONDS; with 0, gunicorn would wait forever). It does not apply once
# a request is being served, so websockets and long-polls are not cut.
# gunicorn takes whole seconds.
keepalive = max(1, round(float(os.environ.get("HTTP_HEADER_TIMEOUT_SECONDS") or 10)))
# The request head's size: the line, the number of header fields and each field's size.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# A worker whose hub does not get to tell the arbiter it is alive for this long is restarted.
timeout = 30

# The garbage collector's settings and the socket freezer (engine patches gc_tuning and
# socket_freezer) start when the worker loads wsgi:app, after gunicorn's own modules: create_app
# installs them last, as for `python app.py`.
