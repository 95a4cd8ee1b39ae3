"""The Flask request context Socket.IO events run in (devtracker/sockets/context.py): it
matches a route, so no event leaves a `NotFound` and its traceback in a reference cycle, and it
opens no cookie session."""
import gc

import pytest
from flask import request, session
from flask.sessions import NullSession
from werkzeug.exceptions import HTTPException
from werkzeug.test import EnvironBuilder

from tests.realtime.support import ack_ok
from tests.realtime.support import sockets  # noqa: F401  (fixture)

HANDSHAKES = {
    "websocket": {"Upgrade": "websocket", "Connection": "Upgrade"},
    "polling": {},
}


@pytest.mark.parametrize("path", ["/socket.io/", "/socket.io"])
@pytest.mark.parametrize("transport", sorted(HANDSHAKES))
def test_an_events_context_matches_a_rule_and_has_no_cookie_session(app, path, transport):
    environ = EnvironBuilder(path=path, query_string=f"EIO=4&transport={transport}",
                             headers={**HANDSHAKES[transport], "Cookie": "session=x"}).get_environ()
    with app.request_context(environ):
        assert request.routing_exception is None
        assert request.url_rule.rule == "/socket.io/"
        assert isinstance(session._get_current_object(), NullSession)


def test_the_dashboards_pages_still_get_the_cookie_session(app):
    with app.test_request_context("/"):
        assert not isinstance(session._get_current_object(), NullSession)


def test_http_on_the_socketio_path_is_still_engine_io(client):
    response = client.get("/socket.io/?EIO=4&transport=polling")
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith("0{")  # engine.io's open packet


def test_events_leave_no_exception_in_a_reference_cycle(sockets):  # noqa: F811
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        sock = sockets.connect("ann")
        for task in ("task_1", "task_2", "task_3"):
            ack_ok(sock.emit("task:join", task, callback=True))
        ack_ok(sock.emit("task:typing", {"taskId": "task_1", "isTyping": True}, callback=True))
        gc.collect()
        left = [obj for obj in gc.garbage if isinstance(obj, BaseException)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert not [exc for exc in left if isinstance(exc, HTTPException)], left
