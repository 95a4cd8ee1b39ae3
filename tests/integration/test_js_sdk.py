"""The JavaScript SDK (static/js/realtime-client.js) in Node against the real server.

The Node script (node/sdk_client.mjs) connects alice (two devices) and bob through the SDK and
reports what its handlers saw. Half-way it prints READY; the server is then stopped, and once
both clients have failed to reconnect (OFFLINE) the script is paused, the server started again
on the same port and database, notifications and activity are created through REST, and the
script resumes: the SDK must reconnect with its cursors, deliver what it missed exactly once and
in order, re-join the task room and restore the `away` status.
"""
import json
import os
import queue
import shutil
import signal
import subprocess
import threading

from tests.conftest import require_service
from tests.support.server import ROOT

SCRIPT = os.path.join(os.path.dirname(__file__), "node", "sdk_client.mjs")
TASK = "task_sdk"


class NodeScript:
    """A Node process speaking JSON lines on stdout and reading commands on stdin."""

    def __init__(self, node, *args, script=SCRIPT):
        self.process = subprocess.Popen([node, script, *args], cwd=ROOT, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.stderr = []
        threading.Thread(target=self._pump, args=(self.process.stdout, self.lines.put),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(self.process.stderr, self.stderr.append),
                         daemon=True).start()

    @staticmethod
    def _pump(stream, sink):
        for line in stream:
            sink(line)
        sink(None)

    def expect(self, kind, timeout=60):
        """The next stdout message, which must be of `kind`."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {kind} from node within {timeout} s; stderr: {self.errors()}")
        if line is None:
            self.process.wait(5)
            raise AssertionError(f"node exited ({self.process.returncode}) before {kind}: {self.errors()}")
        message = json.loads(line)
        assert message["type"] == kind, message
        return message

    def send(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def errors(self):
        return "".join(line for line in self.stderr if line)[-6000:]

    def close(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
        self.process.wait(10)


def test_the_sdk_in_node_survives_a_server_restart(live_server):
    node = shutil.which("node")
    if node is None or not os.path.isdir(os.path.join(ROOT, "node_modules", "socket.io-client")):
        require_service("Node.js with socket.io-client", "run `npm ci` (make test does)")
    service = live_server.token("svc", "service")

    def notify(user_id, title):
        return live_server.api("POST", f"/notify/{user_id}", service,
                               json={"event": "assignment", "title": title, "message": title})["id"]

    def activity(target):
        return live_server.api("POST", "/activity", service,
                               json={"type": "task", "action": "updated", "target": target})["id"]

    # Before anyone connects: an unread notification for alice and one activity.
    first_note = notify("alice", "waiting for you")
    first_activity = activity("before the clients")

    script = NodeScript(node, live_server.url, live_server.token("alice", username="Alice"),
                        live_server.token("bob", username="Bob"), service,
                        live_server.token("alice", expires_in=-3600))
    try:
        ready = script.expect("READY")
        live_server.stop()
        script.expect("OFFLINE")
        # Paused, the clients cannot reconnect before everything below has been created.
        script.process.send_signal(signal.SIGSTOP)
        try:
            live_server.start()
            outage = {"alice": [notify("alice", f"outage {i}") for i in range(3)],
                      "bob": [notify("bob", "outage for bob")],
                      "activity": [activity("during the outage")]}
            sockets = live_server.api("GET", "/stats", service)["connectedSockets"]
        finally:
            script.process.send_signal(signal.SIGCONT)
        script.send("RESTARTED " + json.dumps(outage))
        done = script.expect("DONE")
        script.process.wait(10)
        assert script.process.returncode == 0, script.errors()
    finally:
        script.close()

    result, log = done["result"], done["log"]

    def seen(who, event, phase=None):
        return [e["payload"] for e in log
                if e["who"] == who and e["event"] == event and (phase is None or e["phase"] == phase)]

    # Refused handshakes reject connect() with the server's code.
    assert result["refused"]["invalid"]["code"] == "TOKEN_INVALID"
    assert result["refused"]["expired"]["code"] == "TOKEN_EXPIRED"
    assert result["refused"]["invalid"]["isError"] is True

    # connect() resolves with replay:done: the unread notification was replayed.
    assert result["aliceReplay"] == {"notifications": 1, "activity": 0, "truncated": False,
                                     "lastNotificationId": first_note, "lastActivityId": first_activity,
                                     "lastNotificationSeq": 1, "lastActivitySeq": 1}
    assert (result["connectedBefore"], result["connectedAfter"]) == (False, True)
    assert result["unsubscribedCalls"] == 0

    # joinTask answers with the viewers; the other viewer is told once.
    assert set(result["aliceJoin"]) == {"taskId", "viewingUsers", "typingUsers", "totalViewing"}
    assert {v["userId"] for v in result["bobJoin"]["viewingUsers"]} == {"alice", "bob"}
    assert result["bobJoin"]["totalViewing"] == 2
    assert seen("alice", "task:user_joined", "before") == [{"userId": "bob", "username": "Bob", "taskId": TASK}]
    assert result["badJoin"]["code"] == "VALIDATION_ERROR" and "taskId" in result["badJoin"]["details"]

    # Typing: one true and one false reach alice although bob typed for longer than the
    # server's timeout (refreshes kept it alive); false came by itself after the idle delay.
    assert result["typingSeenRound1"] == [True, False]
    assert result["typingSentRound1"].count(False) == 1 and result["typingSentRound1"][-1] is False
    assert result["typingSentRound1"].count(True) >= 4  # the first, then refreshes every 300 ms
    assert 500 <= result["typingIdleMs"] <= 1500
    assert result["typingSentRound2"] == [True, False]
    assert [t["isTyping"] for t in seen("alice", "task:typing")] == [True, False, True, False]
    assert seen("bob", "task:typing") == []
    assert [e for e in seen("bob", "error") if e["code"] == "NOT_IN_TASK"][0]["event"] == "task:typing"

    # The REST notification reached each of alice's devices once; markRead synced them.
    note = result["note"]["id"]
    assert [n["id"] for n in seen("alice2", "notification")] == [first_note, note]
    assert result["readAck"] == {"ids": [note], "unreadCount": 1}
    assert result["readSynced"] == {"ids": [note], "unreadCount": 1}
    assert result["awayAck"]["status"] == "away"

    # The handshake carries the cursors: the newest notification, and for activity (none seen)
    # the position replay:done gave at connection time, so that the outage's activity is replayed.
    # The seq cursors (SPEC §9) go beside them: bob's stream is empty (0).
    assert ready["alice"] == {"lastNotificationId": note, "lastActivityId": first_activity,
                              "lastNotificationSeq": 2, "lastActivitySeq": 1}
    assert ready["bob"] == {"lastActivityId": first_activity, "lastNotificationSeq": 0,
                            "lastActivitySeq": 1}

    # The outage: nobody was connected while the server was back and the events were created.
    assert sockets == 0
    assert result["connectedDuringOutage"] is False
    assert len(seen("alice", "reconnecting", "outage")) >= 2
    assert seen("alice", "disconnect", "outage")[0]["willReconnect"] is True

    # Exactly once, in order, across the restart; the live one after the replay too.
    assert [n["id"] for n in seen("alice", "notification")] == [
        first_note, note, *outage["alice"], result["live"]["id"]]
    assert [n["id"] for n in seen("bob", "notification")] == outage["bob"]
    assert [a["id"] for a in seen("alice", "activity:feed")] == outage["activity"]
    assert [a["id"] for a in seen("bob", "activity:feed")] == outage["activity"]
    assert seen("alice", "replay:done", "after") == [{
        "notifications": 3, "activity": 1, "truncated": False,
        "lastNotificationId": outage["alice"][-1], "lastActivityId": outage["activity"][-1],
        "lastNotificationSeq": 5, "lastActivitySeq": 2}]
    assert [c["reconnected"] for c in seen("alice", "connect")] == [False, True]
    assert result["cursorsAfter"] == {"notification": result["live"]["id"],
                                      "activity": outage["activity"][-1]}
    assert result["authAfter"] == {"lastNotificationId": result["live"]["id"],
                                   "lastActivityId": outage["activity"][-1],
                                   "lastNotificationSeq": 6, "lastActivitySeq": 2}

    # The task room was re-joined by both, and alice's away status restored.
    assert {v["userId"] for v in result["viewersAfter"]["viewingUsers"]} == {"alice", "bob"}
    assert result["aliceStatusAfter"]["status"] == "away"
    assert not [e for e in seen("alice", "error") if e["code"] != "NOT_IN_TASK"]
    assert result["connectedAfterDisconnect"] is False
