"""`python app.py` and gunicorn's eventlet worker (`gunicorn -k eventlet -w 1 wsgi:app`, with
gunicorn.conf.py) install the same engine patches: create_app installs them for both. Each runs
as a real process on a free port; their /metrics are read over TCP and compared."""
import re
import sys
from pathlib import Path

import requests

from devtracker.engine import PATCHES
from tests.support.server import LiveServer

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
LINE = re.compile(r'^devtracker_engine_patch_active\{patch="([^"]+)"\} (\S+)$', re.M)


def patch_lines(server):
    text = requests.get(server.url + "/metrics", timeout=10).text
    return {name: float(value) for name, value in LINE.findall(text)}


def test_app_py_and_a_gunicorn_eventlet_worker_report_the_same_active_patches(database_url, tmp_path):
    app_py = LiveServer(database_url, tmp_path / "app.log")
    app_py.start()  # migrates the database both use
    try:
        gunicorn = LiveServer(database_url, tmp_path / "gunicorn.log",
                              command=[GUNICORN, "-k", "eventlet", "-w", "1", "wsgi:app"])
        gunicorn.start(timeout=60)
        try:
            served, worker = patch_lines(app_py), patch_lines(gunicorn)
            worker_log = gunicorn.log_tail()
        finally:
            gunicorn.stop()
    finally:
        app_py.stop()
    assert set(served) == {patch.name for patch in PATCHES}
    assert worker == served, worker_log
    on = {name for name, value in served.items() if value == 1.0}
    # Everything for eventlet, the collector's settings included; off only for want of Redis,
    # for gevent, or being the SDK's.
    assert on == {patch.name for patch in PATCHES} - {
        "redis_catch_up", "gevent_http_deadlines", "sdk_ordered_client", "sdk_long_poll_packets"}
