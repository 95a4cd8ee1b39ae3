"""HTTP connection deadlines for the eventlet and gevent servers.

Written for eventlet 0.41.3 (`eventlet.wsgi.HttpProtocol`: `handle_one_request`,
`get_environ`, `finish`, `rfile`, `connection`, `close_connection`) and gevent 26.9.0
(`gevent.pywsgi.WSGIHandler`: the same names, `socket`).

Neither server limits how long a client may take to send a request head: a connection that
sends half a head and stalls holds a slot of MAX_CONNECTIONS forever. A socket timeout does
not fit: it would apply to every read and write of the connection, so a websocket or a
long-poll that is quiet for longer would be cut. Here the limits apply only while no request
is being served:

- `head_timeout`: from the accept, or from the first byte of a keep-alive connection's next
  request, to the end of that request's head;
- `idle_timeout`: how long a keep-alive connection may wait for its next request's first byte.

Once the head is read the deadline is cancelled: the app, a websocket, or a long-poll run
without it. A missed deadline closes the connection (eventlet and gevent take the raised
`socket.timeout` for a dropped client).

`environ[CLOSE_KEY]()` lets the app ask for the connection to be closed after its answer
(a refused body: 413) instead of reading and discarding the unread body first. The close
lingers for `linger_seconds` (write side shut, what the client still sends read and thrown
away), so a client that sends its whole body before reading gets the answer rather than a
reset.
"""
import logging
import socket

from ..sockets.body_limit import CLOSE_KEY

log = logging.getLogger(__name__)
LINGER_SECONDS = 2.0


class HeadTimeout(socket.timeout):
    """A request head not read in time, or no request in the idle time."""


def _linger(connection, seconds, timeout_class):
    """Shut the write side, then read and drop what the client still sends, for `seconds`."""
    try:
        connection.shutdown(socket.SHUT_WR)
    except OSError:
        return
    with timeout_class(seconds, False):
        try:
            while connection.recv(65536):
                pass
        except OSError:
            pass


class _Deadlines:
    """What the eventlet and gevent handlers share: the idle wait, the deadline's end, and the
    close-after-answer hook. `Timeout` (the library's) and `idle_timeout` are set by each."""

    Timeout = None
    idle_timeout = None
    _served = False
    _deadline = None
    _linger = False

    def _wait_for_request(self):
        """True once the next request's first byte is here; False on idle timeout or EOF."""
        with self.Timeout(self.idle_timeout, False):
            try:
                return bool(self.rfile.peek(1))
            except (OSError, ValueError):
                return False
        return False

    def _cancel_deadline(self):
        deadline, self._deadline = self._deadline, None
        if deadline is not None:
            deadline.cancel()

    def get_environ(self):
        self._cancel_deadline()  # the head is read: the app runs without a deadline
        env = super().get_environ()
        env[CLOSE_KEY] = self._close_after_answer
        return env

    def _close_after_answer(self):
        self.close_connection = True
        self._linger = True


def eventlet_protocol(head_timeout, idle_timeout, linger_seconds=LINGER_SECONDS):
    """eventlet's HttpProtocol with the deadlines; None (one warning logged) when eventlet's is
    not the expected one."""
    import eventlet
    import eventlet.wsgi

    base = getattr(eventlet.wsgi, "HttpProtocol", None)
    if base is None or not all(hasattr(base, name) for name in
                               ("handle_one_request", "get_environ", "finish", "_read_request_line")):
        log.warning("HTTP header and idle timeouts off: eventlet's HttpProtocol is not the expected one")
        return None
    Timeout = eventlet.Timeout

    class DeadlineProtocol(_Deadlines, base):
        def handle_one_request(self):
            if self._served and idle_timeout and not self._wait_for_request():
                self.close_connection = 1
                return
            self._served = True
            self._deadline = Timeout(head_timeout, HeadTimeout) if head_timeout else None
            try:
                super().handle_one_request()
            finally:
                self._cancel_deadline()

        def finish(self):
            if self._linger:
                try:
                    self.wfile.flush()
                except OSError:
                    pass
                _linger(self.connection, linger_seconds, Timeout)
            super().finish()

    DeadlineProtocol.Timeout, DeadlineProtocol.idle_timeout = Timeout, idle_timeout
    return DeadlineProtocol


def gevent_handler(base, head_timeout, idle_timeout, linger_seconds=LINGER_SECONDS):
    """`base` (a gevent WSGIHandler class) with the deadlines; `base` itself (one warning
    logged) when gevent's handler is not the expected one."""
    from gevent import Timeout

    if not all(hasattr(base, name) for name in ("handle_one_request", "get_environ", "_handle_client_error")):
        log.warning("HTTP header and idle timeouts off: gevent's WSGIHandler is not the expected one")
        return base

    class DeadlineHandler(_Deadlines, base):
        def handle_one_request(self):
            if self._served and idle_timeout and not self._wait_for_request():
                return None
            self._served = True
            self._deadline = Timeout.start_new(head_timeout, HeadTimeout) if head_timeout else None
            try:
                result = super().handle_one_request()
            except HeadTimeout:
                return None
            finally:
                self._cancel_deadline()
            if self._linger:
                self._finish_lingering()
                return None
            return result

        def _handle_client_error(self, ex):
            if isinstance(ex, HeadTimeout):  # a missed deadline: close, no traceback, no answer
                self.close_connection = True
                return None
            return super()._handle_client_error(ex)

        def _finish_lingering(self):
            if self.socket is not None:
                _linger(self.socket, linger_seconds, Timeout)

    DeadlineHandler.Timeout, DeadlineHandler.idle_timeout = Timeout, idle_timeout
    return DeadlineHandler


def closing_gevent_handler():
    """gevent's WSGI handler, closing a connection once the websocket on it has ended: the
    websocket's handler returns an empty response, and gevent would otherwise read the client's
    last frames as the next request."""
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

    python-engineio ends a websocket under werkzeug by raising ConnectionError; werkzeug takes
    that for a dropped client but keeps the connection and would read the client's last frames
    (a close frame, DISCONNECT, CLOSE) as the next request, keeping the connection open."""
    from werkzeug.serving import WSGIRequestHandler

    class ClosingRequestHandler(WSGIRequestHandler):
        def connection_dropped(self, error, environ=None):
            self.close_connection = True

    return ClosingRequestHandler
