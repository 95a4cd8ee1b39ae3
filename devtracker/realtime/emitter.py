"""Emits from services, after their commit. Works with or without connected sockets."""
from ..extensions import socketio

NAMESPACE = "/"


def emit(event, payload, to):
    """Send `event` to a room (or list of rooms): each socket in them receives it once."""
    socketio.emit(event, payload, to=to, namespace=NAMESPACE)
