"""The Socket.IO client manager: python-socketio's, with ordered streams (ordered.py) and the
replay gate in front of emits and, under eventlet, the broadcast fast path behind them (its
writer comes from engine/fastpath.py, handed over by `engine.install` through `use_fast_path`)."""
import contextlib
import json
import time

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from ..encoded import EncodedList
from .gate import ReplayGate
from .ordered import ORDERED_EVENTS, OrderedStreams, seq_of


class Outgoing:
    """One emit, encoded at most once however many sockets it reaches (or is held for)."""

    __slots__ = ("event", "data", "_encoded")

    def __init__(self, event, data):
        self.event = event
        self.data = data
        self._encoded = None

    def encoded(self, manager, namespace):
        """`(websocket frame, engine.io packet)`, or None when the data needs binary attachments."""
        if self._encoded is None:
            self._encoded = manager.encode(self.event, self.data, namespace) or False
        return self._encoded or None


class OrderedEmitMixin:
    """Send each ordered stream (a room's `notification` or `activity:feed`) in `seq` order
    (see ordered.py): once per node and stream, before the gate and the fan-out."""

    ordered: OrderedStreams

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None,
             **kwargs):
        room = to or room
        if event in ORDERED_EVENTS and callback is None and isinstance(room, str):
            seq = seq_of(data)
            namespace_rooms = self.rooms.get(namespace, {})
            if seq is not None and room not in namespace_rooms.get(None, {}):
                parent = super()

                def send(item, skip):
                    if skip:
                        skip = skip + (skip_sid if isinstance(skip_sid, list) else [skip_sid])
                    parent.emit(event, item, namespace, room=room, skip_sid=skip or skip_sid, **kwargs)

                self.ordered.deliver((event, room), seq, data, send, bool(namespace_rooms.get(room)))
                return None
        return super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                            callback=callback, **kwargs)

    def stream_sender(self, key, namespace="/"):
        """How `OrderedStreams.catch_up` sends stream `key` ((event, room)) past the ordering."""
        event, room = key
        parent = super()

        def send(item, skip):
            parent.emit(event, item, namespace, room=room, skip_sid=skip)

        return send


class GatedEmitMixin:
    """Hold room emits for sockets being caught up (see gate.py); direct emits pass."""

    gate: ReplayGate

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None,
             **kwargs):
        room = to or room
        gate = self.gate
        if gate and callback is None and not self._is_sid(namespace, room):
            skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
            message = kwargs.get("outgoing") or Outgoing(event, data)
            held = gate.hold(self.rooms, event, data, namespace, room, skip, message=message)
            if held:
                skip_sid = skip + held
            kwargs["outgoing"] = message
        return super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                            callback=callback, **kwargs)

    def _is_sid(self, namespace, room):
        return isinstance(room, str) and room in self.rooms.get(namespace, {}).get(None, {})


class FastEmitMixin:
    """Under eventlet (`use_fast_path`): write each emit's frame once to idle sockets, and
    coalesce what is emitted in quick succession into one write per socket.

    After a delivery to many sockets (`small_delivery` or more), emits during a quiet period
    of `coalesce_seconds` are collected per socket, in order, and written together when it
    ends: one `send()` per socket for a burst (a busy feed) instead of one per message.
    `lazy_events` (presence) may wait as long as the last delivery took: in a connect storm
    every socket's `user:online` goes to every other socket, and a delivery to thousands of
    sockets takes long enough for many connects to share the next one.

    A delivery to a few sockets (a notification, a small room, a replay) waits only for the
    sockets that were themselves written less than `coalesce_seconds` ago: a replay's burst to
    one socket still shares writes, but a notification to a user who was sent nothing lately
    is not held back because some other user was (at 1,000 notifications a second, each waited
    for the previous one's quiet period).

    Emits made inside `together()` (one change told as several events: a task update and its
    activity) are collected and written at the end of the block, one write per socket.

    An emit with nothing before it goes out at once, and a socket with something collected gets
    it in the same write as the next emit that cannot wait. Every packet a socket is sent
    outside this class (acks, the handshake) first flushes what is collected for it, so each
    socket gets everything in the order it was emitted.
    """

    send_idle = None
    coalesce_seconds = 0.0
    fast_deliveries = 0  # written by the fast path
    fast_writes = 0  # the socket writes that carried them (fewer when coalesced)
    queued_deliveries = 0  # handed to the stock path while the fast path was on
    lazy_events = frozenset()  # may wait as long as the last delivery took (presence)
    small_delivery = 64  # fewer sockets than this: the quiet period is per socket
    _pending = None
    _recent = None  # eio_sid -> until when a socket written by a small delivery collects
    _quiet_short = 0.0  # until then, emits are collected: `coalesce_seconds` after a delivery
    _quiet_long = 0.0  # the same for lazy events: as long as that delivery took, when longer
    _flush_timer = None
    _flush_at = 0.0
    _together = 0  # inside together(): collect every emit, write them all when the block ends

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None,
             **kwargs):
        room = to or room
        message = kwargs.pop("outgoing", None)
        encoded = None
        if self.send_idle is not None and callback is None and namespace in self.rooms:
            encoded = (message or Outgoing(event, data)).encoded(self, namespace)
        if encoded is None:  # the stock path: no fast path, an ack wanted, or binary data
            self.flush()
            return super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                                callback=callback, **kwargs)
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        self._deliver(encoded, [eio_sid for sid, eio_sid in self.get_participants(namespace, room)
                                if sid not in skip], event in self.lazy_events)
        return None

    def send_to(self, namespace, sid, message):
        """Send an `Outgoing` to one socket of this process, bypassing rooms and the queue."""
        encoded = message.encoded(self, namespace) if self.send_idle is not None else None
        eio_sid = self.eio_sid_from_sid(sid, namespace)
        if encoded is None or eio_sid is None:
            self.flush()
            return socketio.Manager.emit(self, message.event, message.data, namespace, room=sid)
        self._deliver(encoded, [eio_sid])
        return None

    def encode(self, event, data, namespace):
        """The websocket frame and engine.io packet of an event, or None for binary data."""
        args = list(data) if isinstance(data, tuple) else ([] if data is None else [data])
        if len(args) == 1 and isinstance(args[0], EncodedList):
            prefix = "2" if namespace in (None, "/") else f"2{namespace},"
            encoded = f'{prefix}[{json.dumps(event)},{args[0].json}]'
        else:
            encoded = self.server.packet_class(sio_packet.EVENT, namespace=namespace,
                                               data=[event] + args).encode()
            if not isinstance(encoded, str):
                return None
        eio_pkt = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        return self.frame(eio_pkt.encode()), eio_pkt

    @contextlib.contextmanager
    def together(self):
        """Emits inside the block reach each socket in one write when it ends, in order (with the
        fast path; without it they go out as they are made). Nothing in the block may yield to
        other green threads before it ends, or they would see the emits held."""
        if self.send_idle is None:
            yield
            return
        self._together += 1
        try:
            yield
        finally:
            self._together -= 1
            if not self._together:
                self.flush()

    # --- delivery -------------------------------------------------------------------------------
    def _deliver(self, encoded, eio_sids, lazy=False):
        now = time.monotonic()
        until = self._quiet_long if lazy else self._quiet_short
        pending = self._pending
        if self._together or now < until:  # collect it; written when the block or quiet period ends
            for eio_sid in eio_sids:
                items = pending.get(eio_sid)
                if items is None:
                    pending[eio_sid] = [encoded]
                else:
                    items.append(encoded)
            if not self._together:
                self._schedule_flush(until)
            return
        if len(eio_sids) < self.small_delivery and self.coalesce_seconds:
            self._deliver_few(encoded, eio_sids, now)
            return
        self._count(*self._write_now(encoded, eio_sids), now, len(eio_sids))

    def _write_now(self, encoded, eio_sids):
        """Write to each socket now, with what is collected for it first; (fast, queued, writes)."""
        frame, eio_pkt = encoded
        pending = self._pending
        engine_sockets = self.server.eio.sockets
        send_idle = self.send_idle
        fast = queued = writes = 0
        for eio_sid in eio_sids:
            items = pending.pop(eio_sid, None) if pending else None
            if items:
                items.append(encoded)
                sent, handed = self._write(eio_sid, items)
                fast += sent
                queued += handed
                writes += bool(sent)
                continue
            engine_socket = engine_sockets.get(eio_sid)
            if engine_socket is not None and send_idle(engine_socket, frame):
                fast += 1
                writes += 1
            else:
                self.server.eio.send_packet(eio_sid, eio_pkt)
                queued += 1
        return fast, queued, writes

    def _deliver_few(self, encoded, eio_sids, now):
        """A small delivery: sockets written less than `coalesce_seconds` ago collect it, the
        others are written now and collect what follows for that long."""
        recent, pending = self._recent, self._pending
        flush_at = None
        now_sids = []
        for eio_sid in eio_sids:
            until = recent.get(eio_sid)
            if until is not None and until > now:
                items = pending.get(eio_sid)
                if items is None:
                    pending[eio_sid] = [encoded]
                else:
                    items.append(encoded)
                flush_at = until if flush_at is None else min(flush_at, until)
            else:
                now_sids.append(eio_sid)
        if flush_at is not None:
            self._schedule_flush(flush_at)
        if now_sids:
            self._count(*self._write_now(encoded, now_sids), now, 0, now_sids)

    def _schedule_flush(self, at):
        if self._flush_timer is not None:
            if self._flush_at <= at:
                return
            self._flush_timer.cancel()  # must not yield: see engine/fastpath.py call_after
        self._flush_at = at
        self._flush_timer = self._spawn_after(max(0.0, at - time.monotonic()), self._flush_later)

    def _flush_later(self):
        self._flush_timer = None
        self.flush()

    def flush(self):
        """Write everything collected during the quiet period, one write per socket."""
        pending = self._pending
        if not pending:
            return
        started = time.monotonic()
        self._pending = {}
        fast = queued = writes = 0
        blobs = {}  # most sockets were sent the same messages: join their frames once
        for eio_sid, items in pending.items():
            sent, handed = self._write(eio_sid, items, blobs)
            fast += sent
            queued += handed
            writes += bool(sent)
        few = len(pending) < self.small_delivery
        self._count(fast, queued, writes, started, 0 if few else len(pending), pending if few else ())

    def flush_socket(self, eio_sid):
        """Write what is collected for one socket now (a packet outside this class follows)."""
        items = self._pending.pop(eio_sid, None) if self._pending else None
        if items:
            sent, handed = self._write(eio_sid, items)
            self.fast_deliveries += sent
            self.fast_writes += bool(sent)
            self.queued_deliveries += handed

    def _write(self, eio_sid, items, blobs=None):
        engine_socket = self.server.eio.sockets.get(eio_sid)
        if len(items) == 1:
            blob = items[0][0]
        else:
            key = tuple(map(id, items))  # the items are alive until the flush ends: ids are unique
            blob = blobs.get(key) if blobs is not None else None
            if blob is None:
                blob = b"".join([frame for frame, _ in items])
                if blobs is not None:
                    blobs[key] = blob
        if engine_socket is not None and self.send_idle(engine_socket, blob):
            return len(items), 0
        for _, eio_pkt in items:
            self.server.eio.send_packet(eio_sid, eio_pkt)
        return 0, len(items)

    def _count(self, fast, queued, writes, started, sockets, few=()):
        """Count a delivery; after one to `sockets` (many) the quiet period is for every
        socket, after one to `few` sockets it is for those."""
        self.fast_deliveries += fast
        self.fast_writes += writes
        self.queued_deliveries += queued
        if not self.coalesce_seconds:
            return
        now = time.monotonic()
        if sockets:
            self._quiet_short = now + self.coalesce_seconds
            self._quiet_long = now + max(self.coalesce_seconds, now - started)
            return
        recent = self._recent
        if len(recent) > 4096:  # forget sockets whose quiet period is over
            recent = self._recent = {k: v for k, v in recent.items() if v > now}
        until = now + self.coalesce_seconds
        for eio_sid in few:
            recent[eio_sid] = until

    def coalesce(self, seconds, lazy_events=()):
        """Collect what is emitted within `seconds` of a delivery into one write per socket;
        `lazy_events` may wait as long as the last delivery took. Takes effect with the fast path."""
        self.coalesce_seconds = seconds
        self.lazy_events = frozenset(lazy_events)

    def use_fast_path(self, send_idle, frame, call_after):
        """Switch the fast path on: `send_idle(engine_socket, frame)` writes a frame to an idle
        socket (True) or declines (False), `frame(text)` builds a websocket frame, and
        `call_after(delay, fn)` schedules a flush and returns something with `cancel()`."""
        self.send_idle = send_idle
        self.frame = frame
        self._pending = {}
        self._recent = {}
        self._spawn_after = call_after


class RealtimeManager(OrderedEmitMixin, GatedEmitMixin, FastEmitMixin, socketio.Manager):
    """One process: rooms in memory."""

    def __init__(self):
        super().__init__()
        self.gate = ReplayGate()
        self.ordered = OrderedStreams(self.gate, self.stream_sender)


class RealtimeRedisManager(socketio.RedisManager, RealtimeManager):
    """Several processes: emits travel through Redis pub/sub.

    The method order puts the gate between Redis and local delivery: messages arriving from
    Redis (`_handle_emit`) pass `GatedEmitMixin.emit` before reaching this node's sockets.
    Once its listener is subscribed again after losing Redis, the node sends its sockets what
    was published meanwhile, read from the database (`catch_up_later`, ordered.py).
    """

    def catch_up_later(self):
        """Send this node's sockets what was published while its listener was not subscribed
        (read from the database), in a background task: engine/pubsub.py calls it after each
        re-subscription."""
        self.server.start_background_task(self.ordered.catch_up)

    def together(self):
        """Emits go out through Redis and reach this node's sockets as the listener receives
        them, one by one: there is nothing to write together here."""
        return contextlib.nullcontext()
