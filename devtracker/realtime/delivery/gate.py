"""The replay gate: live events for a socket that is being caught up wait until it is.

A reconnecting socket joins its rooms first and is then sent what it missed, read from the
database. Live events addressed to it meanwhile are held here, in order, and released after
`replay:done`, minus those the replay already delivered: no gap (the socket is in its rooms
before the database is read) and no duplicate (held events the replay covered are dropped).
"""
import threading


class ReplayGate:
    """Per-socket holding pens for live events, keyed by sid."""

    def __init__(self):
        self.lock = threading.RLock()
        self._held = {}

    def __bool__(self):
        return bool(self._held)

    def open(self, sid):
        """Start holding live events for `sid`."""
        with self.lock:
            self._held[sid] = []

    def discard(self, sid):
        """Forget a socket (it went away)."""
        with self.lock:
            self._held.pop(sid, None)

    def hold(self, rooms, event, data, namespace, room, skip_sid, message=None):
        """Hold the event for every gated socket it is addressed to; return their sids.

        `message` is what to hand to `release`'s `send_message` (an encoded form, shared by every
        socket the event is held for)."""
        namespace_rooms = rooms.get(namespace, {})
        skip = set(skip_sid)
        item = (event, data, message, room)
        with self.lock:
            pens = self._held
            if isinstance(room, str) or room is None:  # one room: a set lookup per gated socket
                members = namespace_rooms.get(room, {})
                held = [sid for sid in pens if sid in members and sid not in skip]
            else:
                held = [sid for sid in pens
                        if sid not in skip and _addressed(namespace_rooms, room, sid)]
            for sid in held:
                pens[sid].append(item)
        return held

    def release(self, sid, send, keep=lambda event, data: True, send_message=None):
        """Stop holding for `sid`: send what was held (those `keep` accepts), in order, atomically.

        Each is sent with `send_message(message)` when it was held with a message and that is
        given, else with `send(event, data)`."""
        with self.lock:
            for event, data, message, _ in self._held.pop(sid, []):
                if not keep(event, data):
                    continue
                if message is not None and send_message is not None:
                    send_message(message)
                else:
                    send(event, data)


    def take(self, sid):
        """Stop holding for `sid`; what was held, in order: (event, data, message, room). Call
        with the lock held, and send them before letting it go."""
        return self._held.pop(sid, [])


def _addressed(namespace_rooms, room, sid):
    if room is None:
        return sid in namespace_rooms.get(None, {})
    if isinstance(room, str):
        return sid in namespace_rooms.get(room, {})
    return any(sid in namespace_rooms.get(r, {}) for r in room)
