"""Prometheus metrics at /metrics: HTTP traffic, writes, and live presence gauges."""
import time

from flask import Response, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

EXTENSION_KEY = "devtracker.metrics"


class Metrics:
    """One registry per app, so several apps (tests) never collide."""

    def __init__(self, app):
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "devtracker_http_requests", "HTTP requests handled", ["method", "route", "status"],
            registry=self.registry)
        self.http_latency = Histogram(
            "devtracker_http_request_duration_seconds", "HTTP request duration", ["route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.writes = Counter(
            "devtracker_writes", "Stored notifications and activity", ["kind"], registry=self.registry)
        self.registry.register(_PresenceCollector(app))
        self.registry.register(_MemoryCollector())


class _PresenceCollector:
    """Reads the presence store at scrape time."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        from .realtime.presence import EXTENSION_KEY as PRESENCE_KEY
        store = self.app.extensions.get(PRESENCE_KEY)
        stats = store.stats() if store is not None else {}
        for key, name in (("connectedSockets", "sockets"), ("connectedUsers", "connected_users"),
                          ("onlineUsers", "online_users"), ("activeRooms", "active_rooms")):
            gauge = GaugeMetricFamily(f"devtracker_{name}", f"{key} now")
            gauge.add_metric([], stats.get(key, 0))
            yield gauge
        from .extensions import socketio
        engine = getattr(socketio.server, "eio", None)
        gauge = GaugeMetricFamily("devtracker_connections", "Engine.IO connections held by this process "
                                                            "(authenticated or not)")
        gauge.add_metric([], len(engine.sockets) if engine is not None else 0)
        yield gauge
        from .engine import backlog
        drops = CounterMetricFamily("devtracker_socket_backlog_drops", "Sockets dropped for having "
                                    "more than MAX_SOCKET_BACKLOG_BYTES queued and not yet written")
        drops.add_metric([], backlog.drops)
        yield drops
        from .engine import inbound
        input_drops = CounterMetricFamily("devtracker_socket_input_drops", "Sockets dropped for "
                                          "sending more than MAX_SOCKET_INPUT_BYTES_PER_SECOND allows")
        input_drops.add_metric([], inbound.drops)
        yield input_drops
        from .realtime.entry import packet_log
        malformed = CounterMetricFamily("devtracker_socket_packet_errors", "Client packets the "
                                        "Socket.IO stack could not handle (malformed, or raising)")
        malformed.add_metric([], packet_log.install().total)
        yield malformed
        manager = getattr(socketio.server, "manager", None)
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


class _MemoryCollector:
    """Where the process's memory is, at scrape time: the C heap as glibc sees it (a
    `mallinfo2()`, as the heap trimmer makes every second), the trimmer's trims, and the objects
    kept out of garbage collections (counted at the last freeze). After a connect storm they
    tell memory still in use from free memory not given back. Nothing is reported where the
    trimmer or the freezer does not run (threading, gevent, another C library)."""

    def collect(self):
        from .realtime import freezer, memory

        trimmer = memory.running_trimmer
        heap = trimmer.heap() if trimmer is not None else None
        if heap is not None:
            gauge = GaugeMetricFamily("devtracker_c_heap_bytes", "glibc's heap: allocated and in "
                                      "use, free (kept by the allocator), or mmapped (large blocks)",
                                      labels=["state"])
            gauge.add_metric(["in_use"], heap["inUse"])
            gauge.add_metric(["free"], heap["free"])
            gauge.add_metric(["mmapped"], heap["mmapped"])
            yield gauge
            trims = CounterMetricFamily("devtracker_heap_trims", "Free heap pages given back to "
                                        "the kernel (malloc_trim)")
            trims.add_metric([], trimmer.trims)
            yield trims
        running = freezer.running
        if running is not None:
            frozen = GaugeMetricFamily("devtracker_gc_frozen_objects", "Objects kept out of "
                                       "Python's garbage collections (start-up objects and held "
                                       "sockets'), as of the last freeze")
            frozen.add_metric([], running.frozen_objects)
            yield frozen
            actions = CounterMetricFamily("devtracker_gc_freezer_actions", "What the socket "
                                          "freezer did: froze sockets' objects, gave back those of "
                                          "sockets gone (a full collection), or swept the garbage "
                                          "collector's middle generation", labels=["action"])
            actions.add_metric(["freeze"], running.freezes)
            actions.add_metric(["refresh"], running.refreshes)
            actions.add_metric(["sweep"], running.sweeps)
            yield actions


def count_write(kind, amount=1):
    """Count stored rows of a kind (notification, activity)."""
    current_app.extensions[EXTENSION_KEY].writes.labels(kind).inc(amount)


def init_metrics(app):
    """Time every request and serve /metrics."""
    metrics = app.extensions[EXTENSION_KEY] = Metrics(app)

    @app.before_request
    def start_timer():
        g.request_started = time.perf_counter()

    @app.after_request
    def observe(response):
        started = g.pop("request_started", None)
        route = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.http_requests.labels(request.method, route, str(response.status_code)).inc()
        if started is not None:
            metrics.http_latency.labels(route).observe(time.perf_counter() - started)
        return response

    def serve_metrics():
        return Response(generate_latest(metrics.registry), content_type=CONTENT_TYPE_LATEST)

    app.add_url_rule("/metrics", "metrics", serve_metrics)
