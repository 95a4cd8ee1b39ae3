"""The ack probe: tells the namespace whether the client asked for an ack of the event being
handled (sockets/acks.py), by wrapping python-socketio's `Server._handle_event_internal`.
"""


def install_ack_probe(server, note):
    """Wrap `server._handle_event_internal` so that `note(True/False)` runs before each event's
    handling and `note(None)` after it; False, changing nothing, when it is absent."""
    original = getattr(server, "_handle_event_internal", None)
    if original is None:
        return False

    def probe(server_, sid, eio_sid, data, namespace, id):
        note(id is not None)
        try:
            return original(server_, sid, eio_sid, data, namespace, id)
        finally:
            note(None)

    server._handle_event_internal = probe
    return True
