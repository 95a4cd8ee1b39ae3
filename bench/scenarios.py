"""The five scenarios. Each takes a `Bench` (server, client processes, options, status line)
and returns plain data for the JSON. Every loop is bounded in count and in time."""
import gc
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

from report import best_sustained, merge_drains, percentiles, step_result


class Bench:
    """What a scenario needs: the running server, the client pool, the options, the status line."""

    def __init__(self, server, pool, plan, status):
        self.server, self.pool, self.plan, self.status = server, pool, plan, status
        self.seq = itertools.count(1)
        self.executor = ThreadPoolExecutor(plan.http_threads, thread_name_prefix="trigger")

    def close(self):
        self.executor.shutdown(wait=False, cancel_futures=True)

    def deliveries(self):
        return self.pool.progress()[1]

    def drain(self):
        return merge_drains(self.pool.call_all("drain", timeout=120))


def _spread(index, share):
    """Pick a share of the sockets evenly (deflate offers, timed sockets): socket i is picked when
    i*share crosses an integer."""
    return int((index + 1) * share) > int(index * share)


def open_population(bench, count, prefix, task=None, devices=1, timeout=None, bulk=False,
                    all_timed=False):
    """Open `count` sockets (users `prefix-<i // devices>`) across the client processes and wait
    until each got replay:done (and its task:join ack). Returns timings and failures.
    With `bulk`, they are bulk.BulkSockets, `plan.latency_sockets` of them (spread evenly; all
    with `all_timed`) timed as they read, the others only counted."""
    server, pool, plan = bench.server, bench.pool, bench.plan
    bench.status.update(target=count)
    timed = 1.0 if all_timed else min(count, plan.latency_sockets) / count
    specs = [{"token": server.token(f"{prefix}-{i // devices}"), "task": task,
              "deflate": _spread(i, plan.deflate_share)} for i in range(count)]
    if bulk:
        for i, spec in enumerate(specs):
            spec.update(bulk=True, precise=_spread(i, timed))
    timeout = timeout or plan.storm_timeout
    started = time.time()
    answers = pool.call_each("connect", [(server.url, part, plan.connect_concurrency, timeout)
                                         for part in pool.split(specs)], timeout=timeout + 120)
    ready = sorted(t for a in answers for t in a["readyAt"] if t)
    opened = sum(a["opened"] for a in answers)
    errors = [e for a in answers for e in a["errors"]][:5]
    return {"target": count, "ready": opened, "failed": count - opened, "errors": errors,
            "seconds": round(ready[-1] - started, 2) if ready else None,
            "halfReadySeconds": round(ready[len(ready) // 2] - started, 2) if ready else None,
            "socketsPerSecond": round(opened / (ready[-1] - started), 1) if ready else 0.0,
            "deflateOffered": sum(s["deflate"] for s in specs),
            "deflateNegotiated": sum(a["deflate"] for a in answers)}


def client_health(bench, since):
    """Sockets still open at the clients, and those the server ended (when, relative to `since`, and how)."""
    answers = bench.pool.call_all("health", timeout=60)
    dropped_at = sorted(t for a in answers for t in a["droppedAt"])
    reasons = {}
    for a in answers:
        for reason, n in a["reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + n
    open_for = percentiles([t * 1000 for a in answers for t in a["openFor"]])
    return {"live": sum(a["live"] for a in answers), "droppedByServer": len(dropped_at),
            "firstDropSeconds": round(dropped_at[0] - since, 1) if dropped_at else None,
            "dropReasons": reasons,
            "droppedAfterReadySeconds": {k: v if v is None else round(v / 1000, 1)
                                         for k, v in open_for.items()}}


def close_population(bench, timeout=60):
    """Close every client socket and wait (bounded) until the server counts none."""
    bench.pool.call_all("close_all", timeout=timeout + 60)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if bench.server.connected_sockets() == 0:
                return True
        except Exception:  # noqa: BLE001  (a busy server: try again)
            pass
        time.sleep(0.25)
    return False


def run_step(bench, trigger, rate, duration, expected_per_message):
    """Send round(rate*duration) triggers at `rate` per second (open loop: sentAt is when each
    was due), wait (bounded) for the deliveries, and measure them. CPU is measured from the first
    trigger until the deliveries are in (or the wait gave up), before the drain.

    The sender's garbage collector is off during the step: a full collection of this process
    (its futures and results pile up) paused every sender thread for ~50 ms at the same point of
    each step, and that pause counted as every server's latency."""
    gc.disable()
    try:
        return _run_step(bench, trigger, rate, duration, expected_per_message)
    finally:
        gc.enable()


def _run_step(bench, trigger, rate, duration, expected_per_message):
    plan = bench.plan
    count = max(1, round(rate * duration))
    low = next(bench.seq)
    for _ in range(count - 1):
        next(bench.seq)
    baseline = bench.deliveries()
    expected = count * expected_per_message
    cpu_before = cpu_snapshot(bench)
    started = time.time()
    futures, sent_at = [], []

    def send(seq, data, due):
        began = time.time()
        status = trigger(seq, data)
        return status, began - due, time.time()

    for i in range(count):
        due = started + i / rate
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        data = {"seq": low + i, "sentAt": due, "bench": plan.payload}
        sent_at.append(due)
        futures.append(bench.executor.submit(send, low + i, data, due))
    dispatched = time.time()
    last_change, seen = time.time(), bench.deliveries()
    cap = time.time() + max(plan.min_wait, duration * 3)
    while time.time() < cap and seen - baseline < expected:
        time.sleep(0.05)
        now = bench.deliveries()
        if now != seen:
            seen, last_change = now, time.time()
        elif time.time() - last_change > plan.quiet and all(f.done() for f in futures):
            break
    cpu = cpu_shares(bench, cpu_before, time.time() - started)
    done, _ = wait(futures, timeout=max(0.0, cap - time.time()) + 5)
    answers = [f.result() if f in done else (0, None, None) for f in futures]
    statuses = [a[0] for a in answers]
    time.sleep(0.3)  # the workers publish progress every 0.25 s; the last frames are in by now
    result = step_result(bench.drain(), (low, low + count), expected_per_message, started, statuses,
                         rate, duration, sent_at=sent_at)
    # The senders: did they keep up with the offered rate? (lag = sent − due; ms = the REST call)
    ends = [a[2] for a in answers if a[2] is not None]
    result["triggers"] = {
        "sentPerSecond": round(count / (ends[-1] - started), 1) if ends and ends[-1] > started else None,
        "dispatchSeconds": round(dispatched - started, 3),
        "lagMs": percentiles([a[1] * 1000 for a in answers if a[1] is not None]),
        "callMs": percentiles([(a[2] - sent_at[i] - a[1]) * 1000 for i, a in enumerate(answers)
                               if a[2] is not None])}
    result.update(cpu)
    return result


def cpu_snapshot(bench):
    return (bench.server.cpu_seconds(), bench.pool.call_all("cpu", timeout=30), time.process_time(),
            bench.server.schedstat())


def cpu_shares(bench, before, wall):
    """CPU used during a step, in cores: the server's, the busiest client process's (near 1.0
    means the clients, not the server, may have been the limit), all client processes', and the
    bench process's (the trigger senders). `serverThread`: the share of the step the server's main
    thread (its only one serving, for all three) ran (`running`) or was runnable but waited for a
    core (`waiting`): together near 1.0, the server was saturated; a large `waiting` means it was
    short of CPU (clients, senders, or anything else on the machine took it)."""
    server_before, clients_before, bench_before, sched_before = before
    server_after, clients_after, bench_after, sched_after = cpu_snapshot(bench)
    out = {"serverCpu": None, "busiestClientCpu": None, "clientsCpu": None, "benchCpu": None,
           "serverThread": None}
    if wall <= 0:
        return out
    if sched_before and sched_after:
        out["serverThread"] = {"running": round((sched_after[0] - sched_before[0]) / wall, 2),
                               "waiting": round((sched_after[1] - sched_before[1]) / wall, 2)}
    if server_before is not None and server_after is not None:
        out["serverCpu"] = round((server_after - server_before) / wall, 2)
    used = [a - b for a, b in zip(clients_after, clients_before)]
    out["busiestClientCpu"] = round(max(used) / wall, 2)
    out["clientsCpu"] = round(sum(used) / wall, 2)
    out["benchCpu"] = round((bench_after - bench_before) / wall, 2)
    return out


def ladder(bench, trigger, rates, duration, expected_per_message, label):
    """Offered-load ladder: each rate for `duration` seconds; stops after the first step that is
    not sustained (something missing, or p99 over the budget), or when the time budget is spent."""
    steps, deadline = [], time.time() + bench.plan.ladder_budget
    bench.drain()
    for rate in rates:
        if time.time() > deadline:
            break
        bench.status.update(scenario=f"{label} @{rate}/s")
        step = run_step(bench, trigger, rate, duration, expected_per_message)
        steps.append(step)
        if not step["sustained"]:
            break
    return steps


class RssPeak:
    """The server's highest RSS while the block runs (read every 0.2 s on a thread)."""

    def __init__(self, server, every=0.2):
        self.server, self.every, self.kib = server, every, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def read(self):
        """The server's RSS now (counted in the peak)."""
        rss = self.server.rss_kib()
        if rss:
            self.kib = max(self.kib or 0, rss)
        return rss

    def _watch(self):
        while True:
            self.read()
            if self._stop.wait(self.every):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


DRAIN_TIMEOUT = 120.0


def written_out(bench, sockets, timeout):
    """Broadcast one marker and wait until `sockets` sockets read it: each socket then has
    everything the server sent it before (a socket's frames arrive in order). Returns the
    seconds it took, or None when it timed out.

    A connect storm's last presence events and `presence:list`s (one per new socket, listing
    everyone online: ~1.2 MiB at 10,000 users) are still being written when the last socket is
    ready, and a socket whose client reads slowly keeps its share in the server until it is
    read: RSS then stands still, with the server idle, at up to twice what the sockets hold."""
    if not sockets:
        return 0.0
    bench.pool.call_all("watch", ["system:bench"])
    try:
        baseline = bench.deliveries()
        started = time.time()
        bench.server.broadcast({"seq": next(bench.seq), "sentAt": started, "bench": ""})
        deadline = started + timeout
        while bench.deliveries() - baseline < sockets:
            if time.time() > deadline:
                return None
            time.sleep(0.05)
        return round(time.time() - started, 2)
    finally:
        bench.pool.call_all("watch", [])
        bench.drain()  # the marker is no step's


def settled_rss(server, wait):
    """The server's RSS once it is at rest: two readings 0.5 s apart within 1 % while the server
    used under a tenth of a core between them, or after `wait` seconds. When the last socket is
    ready, a DevTracker storm is still delivering the last presence events to thousands of
    sockets: RSS 2 s after the last socket was ready swung between 43 and 81 KiB per socket from
    one 10,000 storm to the next, and in one 5,000 storm it held still for 0.5 s at 67 KiB per
    socket (44 once the server was idle) while that backlog was written."""
    deadline = time.time() + wait
    last, cpu = server.rss_kib(), server.cpu_seconds()
    while time.time() < deadline:
        time.sleep(0.5)
        now, cpu_now = server.rss_kib(), server.cpu_seconds()
        busy = cpu is None or cpu_now is None or cpu_now - cpu > 0.05
        if last and now and abs(now - last) <= 0.01 * last and not busy:
            return now
        last, cpu = now, cpu_now
    return last


# --- 1 + 3: connect storm, then org-wide fan-out on the same sockets -------------------------------
def connect_storm_and_org_fanout(bench, size, fanout=True):
    """The storm's numbers, and the org-wide ladder on its sockets (None without `fanout`)."""
    server, plan = bench.server, bench.plan
    # Memory per socket is what N more sockets cost, not what the first connection costs once
    # (lazy imports, caches, pools): a few sockets come and go before "before" is read.
    bench.status.update(scenario=f"connect storm {size}: warming up")
    open_population(bench, plan.warmup_sockets, "warmup", timeout=60)
    close_population(bench)
    bench.status.update(scenario=f"connect storm {size}")
    rss_before = server.rss_kib()
    started = time.time()
    with RssPeak(server) as peak:
        storm = open_population(bench, size, "org", devices=plan.devices_per_user, bulk=True)
        time.sleep(plan.settle)
        rss_at_ready = peak.read()
        bench.status.update(scenario=f"connect storm {size}: until every socket read what it was sent")
        drained = written_out(bench, client_health(bench, started)["live"], DRAIN_TIMEOUT)
    rss_after = settled_rss(server, plan.rss_wait)
    storm.update(client_health(bench, started))
    # Per socket the server still holds (it may have dropped some of those that were ready).
    storm.update(rssBeforeKiB=rss_before, rssAtReadyKiB=rss_at_ready, rssPeakKiB=peak.kib,
                 drainedSeconds=drained, rssAfterKiB=rss_after,
                 kibPerSocket=round((rss_after - rss_before) / storm["live"], 1)
                 if storm["live"] and rss_after and rss_before else None)
    try:
        storm["serverConnectedSockets"] = server.connected_sockets()
    except Exception as exc:  # noqa: BLE001
        storm["serverConnectedSockets"] = f"error: {exc}"
    if hasattr(server, "memory_report"):  # where the memory is, by the server's own account
        try:
            storm["serverMemory"] = server.memory_report()
        except Exception as exc:  # noqa: BLE001
            storm["serverMemory"] = f"error: {exc}"
    if not fanout:
        return storm, None
    # Every socket still open at the clients must get every broadcast (one the server dropped
    # without the client noticing counts as missing).
    live = storm["live"]
    org = {"target": size, "sockets": live, "steps": [], "sustained": None}
    if live:
        bench.pool.call_all("watch", ["system:bench"])
        org["steps"] = ladder(bench, lambda seq, data: server.broadcast(data), plan.org_rates,
                              plan.step_seconds, live, f"org fan-out {live}")
        org["sustained"] = best_sustained(org["steps"])
    bench.pool.call_all("watch", [])
    return storm, org  # the phase stops the server, then closes the sockets


# --- 2: task-room fan-out ---------------------------------------------------------------------------
def room_fanout(bench, viewers):
    server, plan = bench.server, bench.plan
    task_id = f"bench-room-{viewers}"
    bench.status.update(scenario=f"task room {viewers} viewers: joining")
    # Every viewer timed, on the lightest client there is: the latency of the last viewer is
    # what a room's p99 is about, and a heavier client adds its own work to it.
    joined = open_population(bench, viewers, f"viewer{viewers}", task=task_id, timeout=120,
                             bulk=True, all_timed=True)
    result = {"viewers": viewers, "joined": joined["ready"], "errors": joined["errors"], "step": None}
    bench.pool.call_all("watch", ["task:updated"])
    bench.drain()
    bench.status.update(scenario=f"task room {viewers} viewers @{plan.room_rate}/s")
    result["step"] = run_step(bench, lambda seq, data: server.room_update(task_id, data),
                              plan.room_rate, plan.room_messages / plan.room_rate, joined["ready"])
    bench.pool.call_all("watch", [])
    close_population(bench)
    return result


# --- 4: notifications with persistence (real server) -----------------------------------------------
def notify_throughput(bench):
    server, plan = bench.server, bench.plan
    users = plan.notify_users
    bench.status.update(scenario=f"notify: connecting {users} users")
    started = time.time()
    # Every user timed, on the lightest client (as the task rooms): the websockets client cost
    # its process twice the CPU for the same deliveries.
    joined = open_population(bench, users, "nu", timeout=plan.storm_timeout, bulk=True,
                             all_timed=True)
    bench.pool.call_all("watch", ["notification"])
    steps = ladder(bench, lambda seq, data: server.notify(f"nu-{seq % users}", data),
                   plan.notify_rates, plan.step_seconds, 1, "notify")
    bench.pool.call_all("watch", [])
    return {"users": users, "connected": joined["ready"], "connectSeconds": joined["seconds"],
            "steps": steps, "sustained": best_sustained(steps)} | client_health(bench, started)


# --- 5: presence churn (real server) -----------------------------------------------------------
def presence_churn(bench):
    """Observers stay; churners (fresh users) connect at a rate, stay `hold` s and leave. Measured:
    churner connect start → `user:online` at each observer; close → `user:offline` (after the grace)."""
    server, plan, pool = bench.server, bench.plan, bench.pool
    bench.status.update(scenario=f"churn: {plan.churn_observers} observers")
    observers = open_population(bench, plan.churn_observers, "observer", timeout=plan.storm_timeout)
    pool.call_all("watch", ["user:online", "user:offline", "presence:update"])
    bench.drain()
    run_id = int(time.time())
    count = max(1, round(plan.churn_rate * plan.churn_seconds))
    specs = [{"userId": f"churn-{run_id}-{k}", "token": server.token(f"churn-{run_id}-{k}")}
             for k in range(count)]
    bench.status.update(scenario=f"churn @{plan.churn_rate}/s", target=plan.churn_observers)
    per_worker_rate = plan.churn_rate / len(pool)
    churners = [c for part in pool.call_each("churn", [(server.url, part, per_worker_rate, plan.churn_hold)
                                                        for part in pool.split(specs)],
                                             timeout=plan.churn_seconds + plan.churn_hold + 180)
                for c in part]
    bench.status.update(scenario="churn: waiting for user:offline (grace period)")
    time.sleep(plan.offline_wait)
    presence = bench.drain().presence
    pool.call_all("watch", [])
    started = {c[0]: c for c in churners if c[2] is not None}
    online, offline = [], []
    for event, user_id, _devices, at in presence:
        churner = started.get(user_id)
        if churner is None:
            continue
        if event == "user:online":
            online.append((at - churner[1]) * 1000)
        elif event == "user:offline" and churner[3]:
            offline.append((at - churner[3]) * 1000)
    pairs = len(started) * observers["ready"]
    connect_ms = [(c[2] - c[1]) * 1000 for c in started.values()]
    return {"observers": observers["ready"], "churnPerSecond": plan.churn_rate, "churners": count,
            "churnersConnected": len(started), "holdSeconds": plan.churn_hold,
            "onlineMs": percentiles(online), "onlineSeenShare": round(len(online) / pairs, 3) if pairs else None,
            "offlineMs": percentiles(offline),
            "offlineSeenShare": round(len(offline) / pairs, 3) if pairs else None,
            "churnerConnectMs": percentiles(connect_ms),
            "note": "offline delay includes the server's PRESENCE_GRACE_SECONDS (default 10 s)"}

