"""Ordered streams on the client (SPEC §9): every item once, in `seq` order, holes filled.

`notification` and `activity:feed` carry `seq`, 1, 2, 3 ... with no hole per stream. A live
item more than one past the last one delivered means the socket missed some: they are read
from the REST API and delivered first, then the held item. An item at or below the last seq
is a repeat and is dropped. When the REST read fails, the client reconnects instead: the
handshake carries the seq cursors, so the replay brings the hole and the held item in order.

A hole the REST API does not fill (activity this user may not see, pruned activity) is passed
over, logged at debug: the next item is delivered and the cursor moves on, without looping.
During a replay (between connecting and `replay:done`) holes are expected and not filled:
without a cursor the replay is the unread notifications only, and the activity replay is capped.
"""
import logging
import threading

from .service import ApiError

log = logging.getLogger(__name__)

STREAMS = ("notification", "activity")
PAGE = 100  # the REST API's largest page


def seq_of(item):
    """An item's `seq`, or None (a server older than SPEC §9)."""
    seq = item.get("seq") if isinstance(item, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def _id_of(item):
    value = item.get("id") if isinstance(item, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class OrderedStreams:
    """Where each stream stands (last id and seq delivered), and what to deliver for an arrival."""

    def __init__(self, rest, ids, seqs):
        self._rest = rest  # a ServiceClient with the user's token
        self._lock = threading.Lock()  # auth() runs on the reconnect thread, admit() on the events'
        self.ids = {stream: ids.get(stream) for stream in STREAMS}
        self.seqs = {stream: seqs.get(stream) for stream in STREAMS}
        self.replaying = False
        self.awaiting_replay = set()  # streams whose hole a reconnect's replay fills
        self.stats = {"duplicates": 0, "rest": 0, "reconnect": 0, "missing": 0}

    def auth(self):
        """The cursors for a handshake `auth`: ids and seqs (a server of SPEC §9 prefers the seq)."""
        with self._lock:
            auth = {}
            for stream, id_key, seq_key in (("notification", "lastNotificationId", "lastNotificationSeq"),
                                            ("activity", "lastActivityId", "lastActivitySeq")):
                if self.ids[stream] is not None:
                    auth[id_key] = self.ids[stream]
                if self.seqs[stream] is not None:
                    auth[seq_key] = self.seqs[stream]
            return auth

    def start_replay(self):
        """A connection opened: until `replay:done`, items arrive as replay (holes are expected)."""
        with self._lock:
            self.replaying = True

    def end_replay(self, replay):
        """`replay:done` says where each stream stands: everything up to there was delivered."""
        with self._lock:
            self.replaying = False
            self.awaiting_replay.clear()
            if not isinstance(replay, dict):
                return
            for stream, id_key, seq_key in (("notification", "lastNotificationId", "lastNotificationSeq"),
                                            ("activity", "lastActivityId", "lastActivitySeq")):
                self._raise(self.ids, stream, replay.get(id_key))
                self._raise(self.seqs, stream, replay.get(seq_key))

    def admit(self, stream, item):
        """`(items to deliver in order, resync record or None)` for an arriving item.

        The resync record's `via` is "reconnect" when the caller must reconnect (REST failed)."""
        seq = seq_of(item)
        with self._lock:
            last = self.seqs[stream]
            if seq is None:  # no seq: the id cursor alone drops repeats
                newest = self.ids[stream]
                if newest is not None and _id_of(item) is not None and _id_of(item) <= newest:
                    self.stats["duplicates"] += 1
                    return [], None
                self._advance(stream, item)
                return [item], None
            if last is not None and seq <= last:
                self.stats["duplicates"] += 1
                log.debug("%s seq %d repeated (at %d): dropped", stream, seq, last)
                return [], None
            if last is None or seq == last + 1 or self.replaying:
                self._advance(stream, item)
                return [item], None
            if stream in self.awaiting_replay:
                log.debug("%s seq %d dropped: the reconnect's replay brings it after %d", stream, seq, last)
                return [], None
            after_id = self.ids[stream]
        record = {"stream": stream, "afterSeq": last, "beforeSeq": seq, "fetched": 0, "missing": 0,
                  "via": "rest"}
        try:
            found = self._fetch(stream, last, seq, after_id, _id_of(item))
        except ApiError as exc:
            log.warning("could not fill %s seq %d..%d from the REST API (%s): reconnecting",
                        stream, last + 1, seq - 1, exc)
            with self._lock:
                self.awaiting_replay.add(stream)
                self.stats["reconnect"] += 1
            return [], {**record, "missing": seq - last - 1, "via": "reconnect"}
        record["fetched"] = len(found)
        record["missing"] = seq - last - 1 - len(found)
        if record["missing"]:
            # Not ours to see, or no longer stored: move on rather than ask again.
            log.debug("%s seq %d..%d: %d not in the REST API, passed over", stream, last + 1, seq - 1,
                      record["missing"])
        with self._lock:
            self.stats["rest"] += 1
            self.stats["missing"] += record["missing"]
            delivered = [x for x in [*found, item] if seq_of(x) > self.seqs[stream]]
            for x in delivered:
                self._advance(stream, x)
        return delivered, record

    def _fetch(self, stream, after_seq, before_seq, after_id, before_id):
        """Items with after_seq < seq < before_seq from the REST API, in seq order."""
        found = {}
        cursor = before_id
        while True:
            if stream == "notification":
                page = self._rest.list_notifications(limit=PAGE, before=cursor)
                rows = page.get("notifications") or []
            else:  # with both `after` and `before`, the page is newest first, as notifications'
                page = self._rest.list_activity(limit=PAGE, before=cursor, after=after_id)
                rows = page.get("activities") or []
            for row in rows:
                seq = seq_of(row)
                if seq is not None and after_seq < seq < before_seq:
                    found[seq] = row
            oldest = seq_of(rows[-1]) if rows else None
            if not page.get("hasMore") or page.get("nextCursor") is None or oldest is None \
                    or oldest <= after_seq + 1:
                return [found[seq] for seq in sorted(found)]
            cursor = page["nextCursor"]

    def _advance(self, stream, item):
        self._raise(self.seqs, stream, seq_of(item))
        self._raise(self.ids, stream, _id_of(item))

    @staticmethod
    def _raise(cursors, stream, value):
        if isinstance(value, int) and not isinstance(value, bool) and (
                cursors[stream] is None or value > cursors[stream]):
            cursors[stream] = value
