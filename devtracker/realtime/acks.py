"""Whether the client asked for an ack of the event being handled.

SPEC §3: a failed event with an ack gets the error envelope in the ack; one without gets an
`error` event instead. python-socketio does not tell handlers whether an ack was asked for,
so the server's event entry point is wrapped to note it (per green thread / thread).
"""
import threading

_local = threading.local()


def ack_requested():
    """True or False inside an event handler; None when it cannot be known."""
    return getattr(_local, "requested", None)


def install_ack_probe(server):
    """Wrap `server._handle_event_internal` (python-socketio 5.x); no-op when it is absent."""
    original = getattr(server, "_handle_event_internal", None)
    if original is None:
        return False

    def probe(server_, sid, eio_sid, data, namespace, id):
        _local.requested = id is not None
        try:
            return original(server_, sid, eio_sid, data, namespace, id)
        finally:
            _local.requested = None

    server._handle_event_internal = probe
    return True
