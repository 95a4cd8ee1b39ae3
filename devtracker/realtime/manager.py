"""The Socket.IO client manager: python-socketio's, with the replay gate in front of emits and,
under eventlet, the broadcast fast path behind them (fastpath.py)."""
import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

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


class FastEmitMixin:
    """Write each broadcast's frame once to idle sockets (`send_idle`, set under eventlet only)."""

    send_idle = None
    fast_deliveries = 0  # written by the fast path
    queued_deliveries = 0  # handed to the stock path while the fast path was on

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None,
             **kwargs):
        room = to or room
        send_idle = self.send_idle
        if send_idle is None or callback is not None or namespace not in self.rooms:
            return super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                                callback=callback, **kwargs)
        args = list(data) if isinstance(data, tuple) else ([] if data is None else [data])
        encoded = self.server.packet_class(sio_packet.EVENT, namespace=namespace,
                                           data=[event] + args).encode()
        if not isinstance(encoded, str):  # binary attachments: the stock path knows them
            return super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                                callback=callback, **kwargs)
        eio_pkt = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        frame = self.frame(eio_pkt.encode())
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        engine_sockets = self.server.eio.sockets
        fast = queued = 0
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            engine_socket = engine_sockets.get(eio_sid)
            if engine_socket is not None and send_idle(engine_socket, frame):
                fast += 1
            else:
                self.server._send_eio_packet(eio_sid, eio_pkt)
                queued += 1
        self.fast_deliveries += fast
        self.queued_deliveries += queued
        return None

    def use_fast_path(self):
        """Switch the fast path on (eventlet); False when this environment cannot have it."""
        from . import fastpath

        if fastpath.install():
            self.send_idle = fastpath.send_idle
            self.frame = fastpath.frame_text
            return True
        return False


class RealtimeManager(GatedEmitMixin, FastEmitMixin, socketio.Manager):
    """One process: rooms in memory."""

    def __init__(self):
        super().__init__()
        self.gate = ReplayGate()


class RealtimeRedisManager(socketio.RedisManager, RealtimeManager):
    """Several processes: emits travel through Redis pub/sub.

    The method order puts the gate between Redis and local delivery: messages arriving from
    Redis (`_handle_emit`) pass `GatedEmitMixin.emit` before reaching this node's sockets.
    """
