"""The chaos scenarios: real server processes, a private PostgreSQL and Redis, real clients.

Each scenario returns a dict of figures; tests/chaos/test_chaos.py asserts on them with short
parameters, and bench/chaos.py prints them with long ones (docs/RELIABILITY.md).
"""
import collections
import os
import signal
import threading
import time
import uuid

import requests
import socketio
from sqlalchemy import create_engine, text

from devtracker.client.service import ApiError, ServiceClient
from devtracker.config import normalise_database_url
from tests.support.clients import RecordingClient
from tests.support.server import LiveServer

API = "/api/v1/realtime"

# The short runs (CI, `make test`) and the long ones (CHAOS_LONG=1, bench/chaos.py --long).
SHORT = {"kill": {"writers": 4, "per_writer": 60, "kills": 1},
         "postgres": {"warmup": 1.5, "down_seconds": 3.0, "after": 3.0},
         "redis": {"down_seconds": 3.0, "probes": 3}}
LONG = {"kill": {"writers": 8, "per_writer": 250, "kills": 3},
        "postgres": {"warmup": 5.0, "down_seconds": 15.0, "after": 10.0, "writers": 4},
        "redis": {"down_seconds": 15.0, "probes": 10}}
SERVICE = ("svc-chaos", "service")


class Cluster:
    """Server processes on one database (and one Redis when given); stops them all on close."""

    def __init__(self, database_url, workdir, redis_url=None, **settings):
        self.database_url = database_url
        self.workdir = workdir
        self.settings = dict(settings)
        if redis_url:
            self.settings.update(REDIS_URL=redis_url, REDIS_KEY_PREFIX=f"chaos-{uuid.uuid4().hex[:6]}",
                                 NODE_TTL_SECONDS=3)
        self.nodes = []
        self.sockets = []

    def start(self, count):
        """Start `count` nodes one after the other (the first applies the migrations)."""
        for _ in range(count):
            node = LiveServer(self.database_url, os.path.join(self.workdir, f"node{len(self.nodes)}.log"),
                              **self.settings)
            self.nodes.append(node.start(timeout=60))
        return self.nodes

    def connect(self, node, user_id, reconnect=False, transport="websocket"):
        """A recording socket of `user_id` on `node`, ready (replay done)."""
        client = RecordingClient(node.url, node.token(user_id), transport, reconnect=reconnect)
        self.sockets.append(client)
        return client.connect()

    def close(self):
        for client in self.sockets:
            try:
                client.disconnect()
            except Exception:  # a socket of a killed node may already be gone
                pass
        for node in self.nodes:
            node.stop()


def kill9(node):
    """SIGKILL the node's process and reap it."""
    os.kill(node.process.pid, signal.SIGKILL)
    node.process.wait()


def ids_of(client, event="notification"):
    """Ids a socket received for `event`, in arrival order (duplicates kept)."""
    return [item["id"] for item in client.named(event)]


def wait_until(predicate, timeout, step=0.05):
    """True once `predicate()` holds, False after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


# --- 1. kill -9 of one of two nodes during a notify burst -------------------------------------

class FailoverWriter(threading.Thread):
    """Sends `count` notifications through the SDK, each with its own Idempotency-Key; when the
    SDK gives up on its home node (connection refused, 5xx) the same key goes to the other."""

    def __init__(self, name, home, other, token, user_id, count):
        super().__init__(name=name, daemon=True)
        self.clients = [ServiceClient(node.url, token, retries=2, timeout=5, backoff_initial=0.05,
                                      backoff_max=0.3) for node in (home, other)]
        self.user_id = user_id
        self.count = count
        self.acked = {}        # title → id answered with 201
        self.failovers = 0
        self.failed = []       # titles no node acknowledged within the deadline
        self.stop = threading.Event()  # set: finish the write in flight, then end

    def run(self):
        for i in range(self.count):
            if self.stop.is_set():
                return
            title = f"{self.name}-{i}"
            key = str(uuid.uuid4())
            deadline = time.time() + 30
            turn = 0
            while True:
                try:
                    note = self.clients[turn % 2].notify(self.user_id, "update", title, "chaos",
                                                         idempotency_key=key)
                    self.acked[title] = note["id"]
                    break
                except ApiError as exc:
                    if exc.status is not None and exc.status < 500 or time.time() > deadline:
                        self.failed.append((title, str(exc)))
                        break
                    turn += 1
                    self.failovers += 1


def kill_node_during_burst(database_url, redis_url, workdir, *, writers=4, per_writer=60, kills=1,
                           survivors=2, reconnecting=2, down_seconds=1.0, delivery_timeout=30):
    """Two nodes; `writers` SDK writers (half homed on each node) notify one user while node B
    is killed with SIGKILL `kills` times and restarted. The user has `survivors` sockets on node A
    and `reconnecting` sockets on node B that reconnect with their cursors."""
    cluster = Cluster(database_url, workdir, redis_url)
    try:
        a, b = cluster.start(2)
        user = "bob"
        kept = [cluster.connect(a, user) for _ in range(survivors)]
        moving = [cluster.connect(b, user, reconnect=True) for _ in range(reconnecting)]
        token = a.token(*SERVICE)
        pool = [FailoverWriter(f"w{i}", *((a, b) if i % 2 else (b, a)), token, user, per_writer)
                for i in range(writers)]
        started = time.time()
        for writer in pool:
            writer.start()
        total = writers * per_writer
        restarts = []
        for k in range(kills):
            # Kill when the burst has reached (k+1)/(kills+1) of its writes.
            target = total * (k + 1) / (kills + 1)
            wait_until(lambda: sum(len(w.acked) for w in pool) >= target, 120, 0.01)
            kill9(b)
            time.sleep(down_seconds)
            back = time.time()
            b.start(timeout=60)
            restarts.append(round(time.time() - back, 2))
        for writer in pool:
            writer.join(300)
        burst_seconds = time.time() - started

        acked = {}
        for writer in pool:
            acked.update(writer.acked)
        acked_ids = set(acked.values())
        rows = _notification_rows(database_url, user)
        stored_titles = collections.Counter(title for _, title in rows)
        stored_ids = {note_id for note_id, _ in rows}

        def delivered_all(client):
            return acked_ids <= set(ids_of(client))

        wait_until(lambda: all(delivered_all(c) for c in kept + moving), delivery_timeout, 0.1)
        groups = {}
        for name, clients in (("survivor", kept), ("reconnecting", moving)):
            received = [ids_of(c) for c in clients]
            groups[name] = {
                "sockets": len(clients),
                "delivered_min": min(len(acked_ids & set(r)) for r in received),
                "missing": sorted({i for r in received for i in acked_ids - set(r)}),
                "duplicates": sum(len(r) - len(set(r)) for r in received),
                "reconnects": sum(len(c.named("replay:done")) - 1 for c in clients),
            }
        return {
            "writes": total,
            "acknowledged": len(acked),
            "not_acknowledged": sum(len(w.failed) for w in pool),
            "failovers": sum(w.failovers for w in pool),
            "stored": len(rows),
            "lost": len(acked_ids - stored_ids) + sum(1 for t in acked if t not in stored_titles),
            "duplicated": sum(n - 1 for n in stored_titles.values() if n > 1),
            "kills": kills,
            "restart_seconds": restarts,
            "burst_seconds": round(burst_seconds, 2),
            "delivery": groups,
        }
    finally:
        cluster.close()


def _notification_rows(database_url, user_id):
    """(id, title) of every stored notification of `user_id`, read from the database itself."""
    engine = create_engine(normalise_database_url(database_url))
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(
                text("SELECT id, title FROM notifications WHERE user_id = :u"), {"u": user_id})]
    finally:
        engine.dispose()


# --- 2. PostgreSQL restarted under load --------------------------------------------------------

class Prober(threading.Thread):
    """Calls one REST operation in a loop and records (time, status, error code, seconds)."""

    def __init__(self, node, name, method, path, token, body=None, pause=0.02):
        super().__init__(name=name, daemon=True)
        self.url = node.url + API + path
        self.method, self.body, self.pause = method, body, pause
        self.headers = {"Authorization": f"Bearer {token}"}
        self.samples = []
        self.odd = []  # (started, status, content type, text) of answers that are no envelope or a 5xx but 503
        self.stop = threading.Event()

    def run(self):
        session = requests.Session()
        while not self.stop.is_set():
            started = time.time()
            try:
                response = session.request(self.method, self.url, json=self.body, headers=self.headers,
                                           timeout=30)
                status = response.status_code
                code = _envelope_code(response)
                if code == "NOT_AN_ENVELOPE" or status >= 500 and status != 503:
                    self.odd.append((started, status, response.headers.get("Content-Type"),
                                     response.text[:300]))
            except requests.RequestException as exc:
                status, code = None, type(exc).__name__
                self.odd.append((started, None, None, repr(exc)[:300]))
            self.samples.append((started, status, code, time.time() - started))
            time.sleep(self.pause)


def _envelope_code(response):
    """The envelope's error code, "" for a success envelope, "NOT_AN_ENVELOPE" otherwise."""
    try:
        body = response.json()
    except ValueError:
        return "NOT_AN_ENVELOPE"
    if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
        return "NOT_AN_ENVELOPE"
    code = "" if body["success"] else body.get("error", {}).get("code", "NOT_AN_ENVELOPE")
    data = body.get("data")
    if isinstance(data, dict) and data.get("status") in ("healthy", "degraded"):
        code = f"{code} {data['status']}".strip()  # /health says which in its data too
    return code


def postgres_restart_under_load(postgres, workdir, *, warmup=1.5, down_seconds=3.0, after=3.0,
                                writers=2):
    """One node on `postgres` (a PrivatePostgres) under REST and socket load; PostgreSQL is
    stopped (fast shutdown), kept down `down_seconds`, and started again."""
    database_url = postgres.create_database()
    cluster = Cluster(database_url, workdir)
    try:
        (node,) = cluster.start(1)
        service, user = node.token(*SERVICE), node.token("bob")
        socket = cluster.connect(node, "bob", reconnect=True)
        note = {"type": "update", "title": "load", "message": "m"}
        probers = [Prober(node, "health", "GET", "/health", user, pause=0.05),
                   Prober(node, "inbox", "GET", "/notifications", user),
                   Prober(node, "status", "GET", "/user/bob/status", user)]
        probers += [Prober(node, f"notify{i}", "POST", "/notify/bob", service, note) for i in range(writers)]
        sdk = FailoverWriter("sdk", node, node, service, "bob", 10 ** 6)
        for client in sdk.clients:
            client.retries, client.backoff_initial, client.backoff_max = 10, 0.2, 1.0
        for prober in probers:
            prober.start()
        sdk.start()
        time.sleep(warmup)
        postgres.stop("fast")  # returns once the server is down
        down_at = time.time()
        time.sleep(down_seconds / 2)
        acks = [_socket_ack(socket, "notification:read_all") for _ in range(3)]
        time.sleep(down_seconds / 2)
        starting_at = time.time()
        postgres.start()  # returns once it answers a query
        up_at = time.time()
        time.sleep(after)
        sdk.stop.set()
        for prober in probers:
            prober.stop.set()
        for prober in probers:
            prober.join(60)
        stopping = time.time()
        sdk.join(120)  # its write in flight must end (201 or given up) within the SDK's retries
        sdk_tail = time.time() - stopping

        samples = [(p.name, *s) for p in probers for s in p.samples]
        # A request that starts 0.2 s after pg_ctl said "stopped" meets a server that is gone.
        during = [s for s in samples if down_at + 0.2 <= s[1] < starting_at]
        after_up = [s for s in samples if s[1] >= up_at]
        ok_writes = [s[1] + s[4] for s in after_up if s[0].startswith("notify") and s[2] == 201]
        ok_health = [s[1] + s[4] for s in after_up if s[0] == "health" and s[2] == 200]
        first_fail_after_ok = _failures_after_recovery(after_up)
        rows = _notification_rows(database_url, "bob")
        titles = collections.Counter(title for _, title in rows)
        return {
            "requests_during_outage": len(during),
            "statuses_during_outage": dict(collections.Counter(
                f"{s[2]} {s[3]}".strip() for s in during)),
            "http_500": sum(1 for s in samples if s[2] is not None and s[2] >= 500 and s[2] != 503),
            "not_envelopes": sum(1 for s in samples if s[3] == "NOT_AN_ENVELOPE" or s[2] is None),
            "odd_answers": [(p.name, round(o[0] - down_at, 3), *o[1:]) for p in probers for o in p.odd],
            "slowest_seconds": round(max(s[4] for s in samples), 3),
            "health_during_outage": dict(collections.Counter(
                f"{s[2]} {s[3]}".strip() for s in during if s[0] == "health")),
            "socket_acks_during_outage": acks,
            "down_seconds": round(starting_at - down_at, 2),
            "write_recovery_seconds": round(max(0.0, min(ok_writes) - up_at), 3) if ok_writes else None,
            "health_recovery_seconds": round(max(0.0, min(ok_health) - up_at), 3) if ok_health else None,
            "failures_after_recovery": first_fail_after_ok,
            "sdk_write_in_flight_seconds": round(sdk_tail, 2),
            "sdk_acknowledged": len(sdk.acked),
            "sdk_not_acknowledged": len(sdk.failed),
            "sdk_lost": sum(1 for t in sdk.acked if t not in titles),
            "sdk_duplicated": sum(titles[t] - 1 for t in sdk.acked if titles[t] > 1),
        }
    finally:
        cluster.close()


def _socket_ack(client, event, payload=None):
    """(error code or "", seconds) of one acked socket event; ("NO_ACK", seconds) on a timeout."""
    started = time.time()
    try:
        envelope = client.call(event, payload, timeout=15)
    except socketio.exceptions.TimeoutError:
        return ("NO_ACK", round(time.time() - started, 3))
    code = "" if envelope.get("success") else envelope.get("error", {}).get("code")
    return (code, round(time.time() - started, 3))


def _failures_after_recovery(samples):
    """Failed requests that came after an operation had already succeeded once since recovery."""
    recovered, failures = set(), 0
    for name, _, status, _code, _ in sorted(samples, key=lambda s: s[1]):
        if status is not None and status < 400:
            recovered.add(name)
        elif name in recovered:
            failures += 1
    return failures


# --- 3. Redis restarted in cluster mode --------------------------------------------------------

def redis_restart_in_cluster(database_url, redis, workdir, *, down_seconds=3.0, probes=3,
                             recovery_timeout=30):
    """Two nodes on `redis` (a PrivateRedis); bob has a socket on each. Redis is killed (it keeps
    nothing), kept down `down_seconds`, and started again. Notifications go out through each node
    meanwhile; afterwards, through node A until bob's socket on node B receives one live."""
    cluster = Cluster(database_url, workdir, redis.url)
    try:
        a, b = cluster.start(2)
        service = a.token(*SERVICE)
        on_a = cluster.connect(a, "bob", reconnect=True)
        on_b = cluster.connect(b, "bob", reconnect=True)
        writers = {node: ServiceClient(node.url, service, retries=6, backoff_initial=0.2, backoff_max=1)
                   for node in (a, b)}
        acked = []

        def notify(node, title):
            note = writers[node].notify("bob", "update", title, "chaos")
            acked.append(note["id"])
            return note["id"]

        before = notify(a, "before")
        wait_until(lambda: before in ids_of(on_b), 10)
        redis.kill()
        down_at = time.time()
        local = {"a": [], "b": []}
        statuses = collections.Counter()
        for i in range(probes):
            for name, node, socket in (("a", a, on_a), ("b", b, on_b)):
                try:
                    note_id = notify(node, f"during-{name}-{i}")
                except ApiError as exc:
                    statuses[f"{exc.status} {exc.code}"] += 1
                    continue
                statuses["201"] += 1
                started = time.time()
                delivered = wait_until(lambda: note_id in ids_of(socket), 2)
                local[name].append(round(time.time() - started, 3) if delivered else None)
            time.sleep(max(0.0, down_seconds / probes - 0.1))
        time.sleep(max(0.0, down_at + down_seconds - time.time()))
        redis.start()
        up_at = time.time()
        cross = None
        while time.time() < up_at + recovery_timeout:
            try:
                note_id = notify(a, "after")
            except ApiError:
                time.sleep(0.2)
                continue
            # Live, not replayed: the socket on B has been connected since before this write.
            if wait_until(lambda: note_id in ids_of(on_b), 0.5):
                cross = round(time.time() - up_at, 2)
                break
        final = notify(b, "final")
        wait_until(lambda: all(set(acked) <= set(ids_of(s)) for s in (on_a, on_b)), 30, 0.1)
        rows = _notification_rows(database_url, "bob")
        stored = {note_id for note_id, _ in rows}
        return {
            "down_seconds": round(up_at - down_at, 2),
            "writes_during_outage": dict(statuses),
            "local_delivery_seconds": local,
            "local_delivered": sum(1 for v in local["a"] + local["b"] if v is not None),
            "local_missed": sum(1 for v in local["a"] + local["b"] if v is None),
            "cross_node_recovery_seconds": cross,
            "acknowledged": len(acked),
            "lost": len(set(acked) - stored),
            "undelivered": {name: len(set(acked) - set(ids_of(s)))
                            for name, s in (("a", on_a), ("b", on_b))},
            "undelivered_ids": {name: sorted(set(acked) - set(ids_of(s)))
                                for name, s in (("a", on_a), ("b", on_b))},
            "received_ids": {name: ids_of(s) for name, s in (("a", on_a), ("b", on_b))},
            "duplicates": {name: len(ids_of(s)) - len(set(ids_of(s)))
                           for name, s in (("a", on_a), ("b", on_b))},
            "final_id": final,
        }
    finally:
        cluster.close()
