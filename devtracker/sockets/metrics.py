"""What /metrics reads from the Socket.IO side at scrape time: presence, connections, packets
the stack could not handle, ordered-stream repairs and fan-out deliveries."""
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ..realtime.presence import EXTENSION_KEY as PRESENCE_KEY
from . import packet_log


class RealtimeCollector:
    """Reads the presence store, the Engine.IO server and the client manager of `socketio`."""

    def __init__(self, app, socketio):
        self.app = app
        self.socketio = socketio

    def collect(self):
        store = self.app.extensions.get(PRESENCE_KEY)
        stats = store.stats() if store is not None else {}
        for key, name in (("connectedSockets", "sockets"), ("connectedUsers", "connected_users"),
                          ("onlineUsers", "online_users"), ("activeRooms", "active_rooms")):
            gauge = GaugeMetricFamily(f"devtracker_{name}", f"{key} now")
            gauge.add_metric([], stats.get(key, 0))
            yield gauge
        server = self.socketio.server
        engine = getattr(server, "eio", None)
        gauge = GaugeMetricFamily("devtracker_connections", "Engine.IO connections held by this process "
                                                            "(authenticated or not)")
        gauge.add_metric([], len(engine.sockets) if engine is not None else 0)
        yield gauge
        malformed = CounterMetricFamily("devtracker_socket_packet_errors", "Client packets the "
                                        "Socket.IO stack could not handle (malformed, or raising)")
        malformed.add_metric([], packet_log.install().total)
        yield malformed
        manager = getattr(server, "manager", None)
        ordered = getattr(manager, "ordered", None)
        if ordered is not None:
            streams = CounterMetricFamily("devtracker_stream_repairs", "Ordered streams (SPEC §9): "
                                          "holes filled from the database, items dropped as "
                                          "already sent", labels=["kind"])
            streams.add_metric(["gap_fill"], ordered.gap_fills)
            streams.add_metric(["repeat"], ordered.repeats)
            yield streams
        if getattr(manager, "send_idle", None) is not None:
            counter = CounterMetricFamily("devtracker_fanout_deliveries",
                                          "Broadcast deliveries by path: fast (one frame, direct send) or queued",
                                          labels=["path"])
            counter.add_metric(["fast"], manager.fast_deliveries)
            counter.add_metric(["queued"], manager.queued_deliveries)
            yield counter
            writes = CounterMetricFamily("devtracker_fanout_writes",
                                         "Socket writes of the fast path; one write carries several "
                                         "deliveries when emits come in quick succession")
            writes.add_metric([], manager.fast_writes)
            yield writes
