"""The eventlet listener turns Nagle's algorithm off for every connection it accepts.

Run in a subprocess: eventlet is imported there only, as in the server."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

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
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, cwd=str(ROOT))
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["listener"] and result["accepted"], result
