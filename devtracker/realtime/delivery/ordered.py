"""Ordered streams on delivery (SPEC §9): each node sends every stream to its sockets in `seq` order.

A stream is one room's `notification` or `activity:feed` events (a user's room, or the room of
every authenticated socket); their payloads carry `seq`, 1, 2, 3 ... with no hole
(storage/ordering.py). Two nodes' emits can reach a third out of order through the message
queue, so the order is restored here, once per node and stream, before the fan-out: every
caught-up socket of a node is at the same point of a stream, so one `sent` position per stream
stands for all of them.

- An item at `sent + 1` goes out; one at or below `sent` is a repeat and is dropped.
- An item further ahead is held; the missing ones are read from the database and sent first,
  then the held one. One the database no longer has (pruned activity) is passed over.
- A socket being caught up (realtime/delivery/gate.py) starts at its replay's position: `release` sends
  what its pen holds in `seq` order from there, fills a hole from the database, and, when the
  replay reached further than the node has sent, marks the socket `ahead` until the stream
  catches up with it (those items are skipped for that socket alone).

The streams share the gate's lock: an item passes `sent` and the gate in one step, so a socket
released in between sees either both or neither. Database reads happen outside the lock, but
in `release`, which is rare to need one and must not let a live item in meanwhile.
"""
import logging

log = logging.getLogger(__name__)

ORDERED_EVENTS = frozenset({"notification", "activity:feed"})
CATCH_UP_MOST = 1000


def seq_of(data):
    """An item's `seq`, or None when it has none."""
    if isinstance(data, dict):
        seq = data.get("seq")
        if isinstance(seq, int) and not isinstance(seq, bool):
            return seq
    return None


class StreamState:
    """One stream on this node: the last seq sent, what waits for an older item, and sockets ahead."""

    __slots__ = ("sent", "held", "filling", "ahead", "fetch", "send")

    def __init__(self, sent, fetch):
        self.sent = sent
        self.held = {}         # seq -> (data, send)
        self.filling = False   # a green thread is sending (or reading a hole) for this stream
        self.ahead = {}        # sid -> the seq a socket already has beyond `sent`
        self.fetch = fetch     # (after, before) -> payloads with after < seq < before, in order
        self.send = None       # how the stream's last live item was sent (for `catch_up`)


class OrderedStreams:
    """This node's streams, keyed by (event, room)."""

    def __init__(self, gate, sender=None):
        self.gate = gate
        self.sender = sender   # (event, room) -> send(data, skip_sids), for `catch_up`
        self.lock = gate.lock
        self.streams = {}
        self._ahead_of = {}    # sid -> the keys of the streams it was marked ahead in
        self.gap_fills = 0     # holes read from the database
        self.repeats = 0       # items dropped as already sent

    def deliver(self, key, seq, data, send, members):
        """Send `data` (item `seq` of stream `key`) with `send(data, skip_sids)` in seq order.

        A stream no socket of this node has been caught up in is not tracked: its sockets, if
        any, are all still held by the gate, whose release orders them. `members` says whether
        the stream's room has sockets here (a stream without any is forgotten)."""
        with self.lock:
            state = self.streams.get(key)
            if state is None:
                send(data, None)
                return
            if not members and not state.filling:
                del self.streams[key]
                return
            state.send = send
            if seq <= state.sent or seq in state.held:
                self.repeats += 1
                return
            state.held[seq] = (data, send)
            if state.filling:
                return
            state.filling = True
        try:
            self._drain(state)
        except BaseException:
            with self.lock:
                state.filling = False
            raise

    def _drain(self, state):
        """Send what is next in `state`, reading holes from the database, until nothing is."""
        while True:
            with self.lock:
                while True:
                    item = state.held.pop(state.sent + 1, None)
                    if item is None:
                        break
                    state.sent += 1
                    data, send = item
                    send(data, _skip(state, state.sent))
                if not state.held:
                    state.filling = False
                    return
                after, upto = state.sent, min(state.held)
                send = state.held[upto][1]
            found = self._read(state.fetch, after, upto)
            with self.lock:
                for payload in found:
                    seq = seq_of(payload)
                    if seq is not None and state.sent < seq < upto and seq not in state.held:
                        state.held[seq] = (payload, send)
                if state.sent + 1 not in state.held:  # gone from the database: pass over it
                    log.warning("stream items %d-%d are not in the database; going on past them",
                                state.sent + 1, min(state.held) - 1)
                    state.sent = min(state.held) - 1

    def catch_up(self, most=CATCH_UP_MOST):
        """Send every stream what the database has beyond what this node sent (at most `most`
        items each): what was published while this node was not listening (its message queue
        reconnected) is otherwise only found when the stream's next item arrives."""
        with self.lock:
            streams = list(self.streams.items())
        for key, state in streams:
            send = state.send or self.sender(key)
            for payload in self._read(state.fetch, state.sent, state.sent + most + 1):
                seq = seq_of(payload)
                if seq is not None:
                    self.deliver(key, seq, payload, send, True)

    def _read(self, fetch, after, before):
        self.gap_fills += 1
        try:
            return fetch(after, before)
        except Exception:  # the clients see the hole and resync from the database
            log.exception("could not read stream items %d-%d", after + 1, before - 1)
            return []

    def release(self, sid, positions, send, keep, send_message=None, loose=()):
        """Stop holding for `sid` and send its pen: ordered streams in seq order after the
        replay's positions, the rest as held (those `keep` accepts).

        `positions`: {stream key: (the seq the replay reached, fetch)}; fetch(after, before)
        reads the stream's items between two seqs. A `loose` stream (one the socket did not
        replay) starts with the first item held for it, when there is one."""
        with self.lock:
            reached = {key: position for key, (position, _) in positions.items()}
            pen = self.gate.take(sid)
            for key in loose:
                seqs = [seq_of(data) for event, data, _, room in pen if (event, room) == key]
                seqs = [seq for seq in seqs if seq is not None]
                if seqs and key in reached:
                    reached[key] = min(seqs) - 1
            waiting = {}
            for event, data, message, room in pen:
                key = (event, room)
                seq = seq_of(data) if key in reached else None
                if seq is None:
                    if keep(event, data):
                        _send_held(send, send_message, event, data, message)
                    continue
                if seq <= reached[key]:
                    continue
                if seq == reached[key] + 1 and not waiting.get(key):
                    _send_held(send, send_message, event, data, message)
                    reached[key] = seq
                    continue
                waiting.setdefault(key, {})[seq] = (data, message)
            for key, items in waiting.items():
                self._send_in_order(key, items, reached, positions[key][1], send, send_message)
            for key, (_, fetch) in positions.items():
                state = self.streams.get(key)
                if state is None:
                    self.streams[key] = StreamState(reached[key], fetch)
                elif reached[key] > state.sent:
                    state.ahead[sid] = reached[key]
                    self._ahead_of.setdefault(sid, []).append(key)

    def _send_in_order(self, key, items, reached, fetch, send, send_message):
        """Send a pen's held items of one stream after `reached[key]`, holes read from the database."""
        event = key[0]
        while items:
            upto = min(items)
            if upto <= reached[key]:
                items.pop(upto)
                continue
            if upto > reached[key] + 1:
                for payload in self._read(fetch, reached[key], upto):
                    seq = seq_of(payload)
                    if seq is not None and reached[key] < seq < upto:
                        send(event, payload)
                        reached[key] = seq
            data, message = items.pop(upto)
            _send_held(send, send_message, event, data, message)
            reached[key] = upto

    def forget(self, sid):
        """A socket went away: it is ahead in no stream."""
        with self.lock:
            for key in self._ahead_of.pop(sid, ()):
                state = self.streams.get(key)
                if state is not None:
                    state.ahead.pop(sid, None)


def _skip(state, seq):
    """The sockets that already have item `seq` (ahead of the stream); those that reach their
    position with it stop being ahead."""
    ahead = state.ahead
    if not ahead:
        return None
    skip = [sid for sid, position in ahead.items() if position >= seq]
    for sid in [sid for sid, position in ahead.items() if position <= seq]:
        del ahead[sid]
    return skip


def _send_held(send, send_message, event, data, message):
    if message is not None and send_message is not None:
        send_message(message)
    else:
        send(event, data)
