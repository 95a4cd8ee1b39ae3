"""The Socket.IO client manager: python-socketio's, with the replay gate in front of emits."""
import socketio

from .gate import ReplayGate


class GatedEmitMixin:
    """Hold room emits for sockets being caught up (see gate.py); direct emits pass."""

    gate: ReplayGate

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None,
             **kwargs):
        room = to or room
        gate = self.gate
        if gate and callback is None and not self._is_sid(namespace, room):
            skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
            held = gate.hold(self.rooms, event, data, namespace, room, skip)
            if held:
                skip_sid = skip + held
        return super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                            callback=callback, **kwargs)

    def _is_sid(self, namespace, room):
        return isinstance(room, str) and room in self.rooms.get(namespace, {}).get(None, {})


class RealtimeManager(GatedEmitMixin, socketio.Manager):
    """One process: rooms in memory."""

    def __init__(self):
        super().__init__()
        self.gate = ReplayGate()


class RealtimeRedisManager(socketio.RedisManager, RealtimeManager):
    """Several processes: emits travel through Redis pub/sub.

    The method order puts the gate between Redis and local delivery: messages arriving from
    Redis (`_handle_emit`) pass `GatedEmitMixin.emit` before reaching this node's sockets.
    """
