"""Whether the client asked for an ack of the event being handled.

SPEC §3: a failed event with an ack gets the error envelope in the ack; one without gets an
`error` event instead. python-socketio does not tell handlers whether an ack was asked for:
engine/acks.py wraps the server's event entry point and notes it here (per green thread /
thread) through `note_ack`.
"""
import threading

_local = threading.local()


def ack_requested():
    """True or False inside an event handler; None when it cannot be known."""
    return getattr(_local, "requested", None)


def note_ack(requested):
    """Record whether the event now being handled asked for an ack (None once it is done)."""
    _local.requested = requested
