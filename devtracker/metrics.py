"""Prometheus metrics at /metrics: HTTP traffic and writes, and what others register.

A leaf: it imports nothing of devtracker. Live gauges are collectors registered by the parts
that own the numbers (`register_collector`): sockets (presence, connections, packets,
streams, fan-out) and engine (socket bounds, memory, the garbage collector, its patches).
"""
import time

from flask import Response, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

EXTENSION_KEY = "devtracker.metrics"


class Metrics:
    """One registry per app, so several apps (tests) never collide."""

    def __init__(self):
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


def register_collector(app, collector):
    """Add a collector (an object with `collect()` yielding metric families, read at scrape
    time) to the app's /metrics; `init_metrics(app)` must have run."""
    app.extensions[EXTENSION_KEY].registry.register(collector)


def count_write(kind, amount=1):
    """Count stored rows of a kind (notification, activity)."""
    current_app.extensions[EXTENSION_KEY].writes.labels(kind).inc(amount)


def init_metrics(app):
    """Time every request and serve /metrics."""
    metrics = app.extensions[EXTENSION_KEY] = Metrics()

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
