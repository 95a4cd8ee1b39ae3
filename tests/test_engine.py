"""devtracker/engine: the PATCHES table, install(app) under eventlet (in a fresh eventlet-patched
interpreter: tests/support/eventlet_run.py), patches turned off by a library that does not fit
(one log line each), and what the other async modes report."""
import logging
import re
from pathlib import Path

import pytest

from devtracker import create_app
from devtracker.engine import PATCHES, is_active, patches
from devtracker.engine.client import OrderedClient, StockClient, new_client
from tests.conftest import make_config
from tests.support.eventlet_run import run_under_eventlet

ROOT = Path(__file__).resolve().parents[1]
EVENTLET_ONLY = [patch.name for patch in PATCHES if patch.modes == ("eventlet",)]
SERVER_ROWS = [patch.name for patch in PATCHES if patch.modes != (patches.CLIENT,)]


def pins():
    """requirements.txt's pins: distribution (lower case) -> version."""
    found = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"([A-Za-z0-9_.-]+)==([^\s#]+)", line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_every_row_names_what_it_replaces_its_versions_and_its_fallback():
    names = [patch.name for patch in PATCHES]
    assert len(names) == len(set(names))
    pinned = pins()
    for patch in PATCHES:
        assert patch.fallback.strip(), patch.name
        assert patch.modes, patch.name
        for distribution, (lowest, below) in patch.versions.items():
            version = patches.version_tuple(pinned[distribution.lower()])
            assert patches.version_tuple(lowest) <= version < patches.version_tuple(below), \
                f"{patch.name}: {distribution} {pinned[distribution.lower()]} (requirements.txt) is outside its range"
        if patch.replaces and any(":" in path and path.split(":")[1].split(".")[-1].startswith("_")
                                  for path in patch.replaces):
            assert patch.versions, f"{patch.name} touches private attributes: it needs a version range"
        assert patches.library_problem(patch) is None, patch.name  # the installed libraries fit


def test_every_server_row_has_an_installer():
    from devtracker.engine import _installers
    from devtracker.extensions import socketio

    app = create_app(make_config("sqlite://"))
    assert set(_installers(app, socketio)) == set(SERVER_ROWS)


INSTALL_UNDER_EVENTLET = '''
    import json, logging, sys
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append((record.levelname, record.getMessage()))
    logging.getLogger("devtracker.engine").addHandler(handler)
    %(before)s
    from devtracker import create_app
    from tests.conftest import make_config
    import engineio.socket, eventlet.websocket, eventlet.wsgi, socketio.server
    stock = {"receive": engineio.socket.Socket.receive, "mask": eventlet.websocket.RFC6455WebSocket.__dict__.get("_apply_mask")}
    app = create_app(make_config("sqlite:///" + sys.argv[1], ASYNC_MODE="eventlet", TESTING=False))
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    active = {m.group(1): m.group(2) == "1.0" for m in
              __import__("re").finditer(r'devtracker_engine_patch_active\\{patch="([^"]+)"\\} (\\S+)', metrics)}
    print(json.dumps({
        "active": active,
        "warnings": [message for level, message in records if level == "WARNING"],
        "receive_replaced": engineio.socket.Socket.receive is not stock["receive"],
        "mask_replaced": eventlet.websocket.RFC6455WebSocket.__dict__.get("_apply_mask") is not stock["mask"],
        "rbufsize": eventlet.wsgi.HttpProtocol.rbufsize,
        "manager_fast": app.extensions["socketio"].server.manager.send_idle is not None,
    }))
'''


def install_under_eventlet(tmp_path, before=""):
    return run_under_eventlet(INSTALL_UNDER_EVENTLET % {"before": before}, tmp_path / "engine.db")


def test_under_eventlet_every_server_patch_is_installed_and_reported(tmp_path):
    out = install_under_eventlet(tmp_path)
    assert set(out["active"]) == {patch.name for patch in PATCHES}, "one line per row in /metrics"
    off = {name for name, on in out["active"].items() if not on}
    # Off only for want of Redis, for another async mode, or being the SDK's.
    assert off == {"redis_catch_up", "gevent_http_deadlines", "sdk_ordered_client", "sdk_long_poll_packets"}
    assert out["warnings"] == []
    assert out["receive_replaced"] and out["mask_replaced"] and out["manager_fast"]
    assert out["rbufsize"] == 1024


def test_a_library_version_outside_the_range_turns_its_patches_off_with_one_line_each(tmp_path):
    out = install_under_eventlet(tmp_path, before='''
    from devtracker.engine import patches
    real = patches.installed_version
    patches.installed_version = lambda name: "5.0.0" if name == "python-engineio" else real(name)
    ''')
    engineio_rows = {patch.name for patch in PATCHES if "python-engineio" in patch.versions
                     and patch.modes != (patches.CLIENT,)}
    assert engineio_rows >= {"fast_path", "shallow_receive", "socket_backlog_bound"}
    for name in engineio_rows:
        assert out["active"][name] is False, name
        lines = [line for line in out["warnings"] if line.startswith(f"engine patch {name} off:")]
        assert len(lines) == 1, (name, out["warnings"])
        assert "python-engineio 5.0.0 is outside [4.15.1, 4.16)" in lines[0]
    assert len(out["warnings"]) == len(engineio_rows)
    assert not out["receive_replaced"], "a patch that is off leaves the library as it is"
    assert not out["manager_fast"]
    assert out["active"]["websocket_unmask"] and out["mask_replaced"], "the others are still on"


def test_a_missing_attribute_turns_its_patch_off_with_one_line(tmp_path):
    out = install_under_eventlet(tmp_path, before='''
    import eventlet.websocket
    del eventlet.websocket.RFC6455WebSocket._apply_mask
    ''')
    assert out["active"]["websocket_unmask"] is False
    assert out["warnings"] == ["engine patch websocket_unmask off: eventlet.websocket:"
                               "RFC6455WebSocket._apply_mask is missing; instead "
                               + patches.BY_NAME["websocket_unmask"].fallback]
    assert out["active"]["fast_path"] and out["active"]["shallow_receive"]


def test_under_threading_eventlet_patches_are_off_with_their_reason(app):
    state = app.extensions["devtracker.engine"]
    for name in EVENTLET_ONLY:
        assert state.active[name] is False
        assert state.reasons[name] == "ASYNC_MODE is threading; it is for eventlet"
    assert is_active(app, "ack_probe") and is_active(app, "socket_backlog_bound")
    assert state.reasons["gc_tuning"].startswith("TESTING")
    text = app.test_client().get("/metrics").get_data(as_text=True)
    for patch in PATCHES:
        on = 1.0 if state.active[patch.name] else 0.0
        assert f'devtracker_engine_patch_active{{patch="{patch.name}"}} {on}' in text


def test_under_gevent_its_deadlines_are_on_and_eventlet_patches_off():
    app = create_app(make_config("sqlite://", ASYNC_MODE="gevent"))
    assert is_active(app, "gevent_http_deadlines")
    assert not is_active(app, "eventlet_http_deadlines") and not is_active(app, "fast_path")
    assert app.extensions["devtracker.engine"].reasons["fast_path"] == "ASYNC_MODE is gevent; it is for eventlet"


@pytest.fixture
def fresh_client_checks(monkeypatch):
    monkeypatch.setattr(patches, "_client_checks", {})


def test_the_sdk_client_is_the_ordered_one_where_its_rows_hold(fresh_client_checks):
    assert isinstance(new_client(reconnection=False), OrderedClient)


def test_the_sdk_falls_back_to_the_stock_client_with_one_line(fresh_client_checks, monkeypatch, caplog):
    real = patches.installed_version
    monkeypatch.setattr(patches, "installed_version",
                        lambda name: "6.0.0" if name == "python-socketio" else real(name))
    with caplog.at_level(logging.WARNING, logger="devtracker.engine"):
        first = new_client(reconnection=False)
        new_client(reconnection=False)
    assert isinstance(first, StockClient) and not isinstance(first, OrderedClient)
    lines = [r.getMessage() for r in caplog.records if r.name == "devtracker.engine"]
    assert lines == ["engine patch sdk_ordered_client off: python-socketio 6.0.0 is outside "
                     "[5.18.1, 5.19), the versions it was written for; instead "
                     + patches.BY_NAME["sdk_ordered_client"].fallback]
