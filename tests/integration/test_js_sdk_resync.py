"""The JavaScript SDK's ordered streams (SPEC §9) in Node against the real server.

node/sdk_resync.mjs drives one client through tests/integration/frame_proxy.py, which drops (or
repeats) the one websocket frame carrying a chosen `seq`: a real hole in what the client receives.
"""
import json
import os
import shutil

import pytest
import sqlalchemy

from tests.conftest import require_service
from tests.support.ports import free_port
from tests.support.server import ROOT

from .test_js_sdk import NodeScript

SCRIPT = os.path.join(os.path.dirname(__file__), "node", "sdk_resync.mjs")


@pytest.fixture
def node():
    """The node binary, with socket.io-client installed."""
    found = shutil.which("node")
    if found is None or not os.path.isdir(os.path.join(ROOT, "node_modules", "socket.io-client")):
        require_service("Node.js with socket.io-client", "run `npm ci` (make test does)")
    return found


@pytest.fixture
def sdk(node, live_server, proxy):
    """Start node/sdk_resync.mjs for a user through the proxy: sdk("bob", apiUrl=...)."""
    scripts = []

    def start(user_id, **options):
        script = NodeScript(node, proxy.url, live_server.token(user_id), json.dumps(options),
                            script=SCRIPT)
        scripts.append(script)
        script.replay = script.expect("READY")["replay"]
        return script

    yield start
    for script in scripts:
        script.close()


def command(script, kind, **fields):
    """Send one command; return the answer."""
    script.send(json.dumps({"cmd": kind, **fields}))
    return script.expect("STATE" if kind == "state" else "OK")


def events(state, name):
    return [e["payload"] for e in state["log"] if e["event"] == name]


def test_holes_are_read_over_rest_repeats_dropped_and_a_cut_resumes_from_seq(sdk, proxy, service,
                                                                            database_url):
    bob = sdk("bob")
    proxy.drop("notification", 2)
    proxy.repeat("notification", 3)
    for seq in (2, 3, 5):
        proxy.drop("activity:feed", seq)
    notes = [service.notify("bob", "comment", f"n{i}", "m") for i in range(4)]
    activity = [service.record_activity("task", "updated", f"t{i}") for i in range(3)]
    # seq 2 is gone before bob sees the hole (seq 3's frame was dropped too): the REST API lacks it.
    engine = sqlalchemy.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("DELETE FROM activity WHERE id = :id"), {"id": activity[1]["id"]})
    engine.dispose()
    activity += [service.record_activity("task", "updated", f"t{i}") for i in range(3, 7)]
    command(bob, "wait", event="notification", id=notes[-1]["id"])
    command(bob, "wait", event="activity:feed", id=activity[-1]["id"])

    proxy.cut()  # the network drops: the reconnect resumes from the seq cursors
    during = [service.notify("bob", "comment", f"d{i}", "m") for i in range(3)]
    command(bob, "wait", event="notification", id=during[-1]["id"])
    state = command(bob, "state")

    assert [n["seq"] for n in notes + during] == [1, 2, 3, 4, 5, 6, 7]
    assert events(state, "notification") == notes + during, "each once, in seq order"
    assert events(state, "activity:feed") == [activity[0], activity[2], *activity[3:]]
    assert events(state, "resync") == [
        {"stream": "notification", "afterSeq": 1, "beforeSeq": 3, "fetched": 1, "missing": 0, "via": "rest"},
        {"stream": "activity", "afterSeq": 1, "beforeSeq": 4, "fetched": 1, "missing": 1, "via": "rest"},
        {"stream": "activity", "afterSeq": 4, "beforeSeq": 6, "fetched": 1, "missing": 0, "via": "rest"}]
    assert state["resyncs"] == {"duplicates": 1, "rest": 3, "reconnect": 0, "missing": 1}
    assert [c["reconnected"] for c in events(state, "connect")] == [False, True]
    assert events(state, "replay:done")[1]["lastNotificationSeq"] == 7
    assert state["seqs"] == {"notification": 7, "activity": 7}
    assert state["auth"] == {"lastNotificationId": during[-1]["id"], "lastActivityId": activity[-1]["id"],
                             "lastNotificationSeq": 7, "lastActivitySeq": 7}


def test_a_failed_rest_read_reconnects_and_seq_cursors_start_a_session(sdk, proxy, service):
    sent = [service.notify("bob", "comment", f"n{i}", "m") for i in range(3)]
    # Saved seq cursors: the replay starts after them. The REST API is asked on a dead port.
    bob = sdk("bob", lastNotificationSeq=2, apiUrl=f"http://127.0.0.1:{free_port()}/api/v1/realtime")
    assert (bob.replay["notifications"], bob.replay["lastNotificationSeq"]) == (1, 3)
    proxy.drop("notification", 5)
    sent += [service.notify("bob", "comment", f"n{i}", "m") for i in range(3, 6)]
    command(bob, "wait", event="notification", id=sent[-1]["id"])
    state = command(bob, "state")

    assert events(state, "notification") == sent[2:], "each once, in seq order"
    assert events(state, "resync") == [{"stream": "notification", "afterSeq": 4, "beforeSeq": 6,
                                        "fetched": 0, "missing": 1, "via": "reconnect"}]
    assert [c["reconnected"] for c in events(state, "connect")] == [False, True]
    assert events(state, "replay:done")[1]["notifications"] == 2
    assert state["resyncs"]["reconnect"] == 1 and state["seqs"]["notification"] == 6
