"""The one place for code that touches private attributes of eventlet, gevent, python-engineio,
python-socketio, Flask-SocketIO or SQLAlchemy.

Each module here names the library versions it was written for (requirements.txt pins them),
checks at install that the attributes it needs are there, and otherwise leaves the library as
it is and logs one warning line saying what is off.

- `http`: eventlet's and gevent's HTTP connection handlers with a deadline for the request
  head, an idle timeout between keep-alive requests, and a prompt close after a refused body.
- `backlog`: a bound on each Socket.IO connection's outgoing bytes not yet written
  (`MAX_SOCKET_BACKLOG_BYTES`); a socket over it is dropped.
- `pubsub`: the Redis message queue's listener with a short reconnect backoff and a call after
  each re-subscription (the node then catches up from the database).
- `inbound`: a budget on the bytes each Socket.IO connection sends, checked before decoding
  (`MAX_SOCKET_INPUT_BYTES_PER_SECOND`); a socket that overdraws it is dropped.
"""
