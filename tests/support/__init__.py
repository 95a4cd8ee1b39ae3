"""What the tests and bench/ share: one of each.

- `ports.free_port()`: a TCP port of 127.0.0.1 that nobody listens on.
- `tokens.mint_token()`, `tokens.SECRET`: JWTs signed as the main DevTracker app signs them.
- `server.ServerProcess`: any server as a real process on a free port, waited for until it
  answers, stopped cleanly, its log's tail in the error when it fails; `server.LiveServer`: the
  app itself (`python app.py`), as the README runs it.
- `clients.RecordingClient`: python-socketio, recording every event in arrival order.
- `lean.LeanSocket`, `lean.open_many()`: a hand-written Socket.IO client on asyncio, for
  thousands of sockets in one process (the integration tests and the bench).
- `raw.RawSocket`: a hand-written blocking Socket.IO client that sends any text or bytes.
- `peers`: raw TCP peers (half-sent heads, a websocket that never reads) and /metrics reads.
- `eventlet_run.run_under_eventlet()`: a snippet in a fresh, eventlet-patched interpreter.

bench/ scripts import these with the repository root on sys.path.
"""
