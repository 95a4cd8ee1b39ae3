"""Emits from services, after their commit. Works with or without connected sockets."""
import contextlib

from ...extensions import socketio

NAMESPACE = "/"


def emit(event, payload, to):
    """Send `event` to a room (or list of rooms): each socket in them receives it once."""
    socketio.emit(event, payload, to=to, namespace=NAMESPACE)


def together():
    """A context in which emits that reach the same socket go out in one write when it ends, in
    order (under eventlet's fast path; elsewhere they go out as they are made): for one change
    told as several events. Nothing inside may wait on the network or the database."""
    manager = socketio.server.manager if socketio.server is not None else None
    batch = getattr(manager, "together", None)
    return batch() if batch is not None else contextlib.nullcontext()
