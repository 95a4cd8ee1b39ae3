"""The eventlet listener turns Nagle's algorithm off for every connection it accepts.

Run in a fresh interpreter (tests/support/eventlet_run.py): eventlet is imported there only, as
in the server."""
from tests.support.eventlet_run import run_python

SCRIPT = '''
import json, socket
from devtracker.server import listen
listener = listen("127.0.0.1", 0)
client = socket.create_connection(listener.getsockname())
accepted, _ = listener.accept()
print(json.dumps({"listener": listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
                  "accepted": accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)}))
'''


def test_accepted_connections_have_tcp_nodelay():
    result = run_python(SCRIPT, timeout=60)
    assert result["listener"] and result["accepted"], result
