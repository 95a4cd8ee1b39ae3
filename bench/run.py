#!/usr/bin/env python
"""Benchmark DevTracker Realtime against bare Flask-SocketIO and Node socket.io.

    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/run.py --quick --servers devtracker     # about a minute
    .venv/bin/python bench/run.py --sizes 1000,5000                # the real thing
    .venv/bin/python bench/run.py --postgresql postgresql://postgres@127.0.0.1:5432/postgres

See bench/README.md for what each scenario measures.
"""
import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from servers import SERVER_NAMES, cpu_times, machine_info, make_server, steal_percent  # noqa: E402

SCENARIO_NAMES = ("storm", "rooms", "fanout", "notifications", "churn")
from workers import WorkerPool, raise_open_files  # noqa: E402


@dataclasses.dataclass
class Plan:
    """Every knob of a run (saved in the JSON)."""

    quick: bool
    servers: list
    sizes: list
    scenarios: tuple
    deflate_share: float
    client_procs: int
    devices_per_user: int
    storm_timeout: float
    connect_concurrency: int
    payload: str
    latency_sockets: int = 32
    warmup_sockets: int = 5  # opened and closed before a storm's "before" memory
    http_threads: int = 32
    step_seconds: float = 4.0
    org_rates: tuple = (1, 2, 5, 10, 20, 50, 100, 150, 200, 300, 400, 500, 700, 1000)
    room_viewers: tuple = (10, 100)
    room_rate: float = 20.0
    room_messages: int = 200
    notify_users: int = 1000
    notify_rates: tuple = (10, 20, 50, 100, 200, 500, 1000)
    churn_observers: int = 1000
    churn_rate: float = 10.0
    churn_seconds: float = 20.0
    churn_hold: float = 2.0
    offline_wait: float = 13.0
    quiet: float = 2.0
    min_wait: float = 10.0
    settle: float = 2.0
    rss_wait: float = 20.0  # at most this long for a storm's server RSS to settle
    ladder_budget: float = 300.0


QUICK = dict(step_seconds=1.0, org_rates=(1, 2, 5), room_viewers=(10, 50), room_rate=10.0,
             room_messages=10, notify_users=50, notify_rates=(5, 10), churn_observers=20,
             churn_rate=5.0, churn_seconds=2.0, churn_hold=0.5, offline_wait=12.0, quiet=1.0,
             min_wait=5.0, settle=0.5, rss_wait=5.0, ladder_budget=60.0)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__.split("\n\n")[0],
        epilog="Traffic goes only to 127.0.0.1; the servers are started and stopped by the bench. "
               "Writes <out>/<timestamp>.json and <out>/<timestamp>.png and prints a table.")
    p.add_argument("--servers", default=",".join(SERVER_NAMES),
                   help="comma-separated, of devtracker,flask,node (default: all three; a reference "
                        "that cannot be started is skipped with the reason)")
    p.add_argument("--sizes", default=None,
                   help="socket counts for the connect storm and org-wide fan-out "
                        "(default 1000,5000,10000; 50 with --quick)")
    p.add_argument("--scenarios", default=",".join(SCENARIO_NAMES),
                   help="comma-separated, of storm,rooms,fanout,notifications,churn (default: all; "
                        "fanout runs on the sockets of a connect storm, whose numbers are then "
                        "recorded too; notifications and churn run on the real server only)")
    p.add_argument("--quick", action="store_true", help="tiny sizes and short steps (CI)")
    p.add_argument("--deflate-share", type=float, default=0.3,
                   help="share of sockets that offer permessage-deflate (default 0.3)")
    p.add_argument("--client-procs", type=int, default=2, help="client processes (default 2)")
    p.add_argument("--out", default=os.path.join(HERE, "results"),
                   help="output folder (default bench/results)")
    p.add_argument("--database-url", default=None,
                   help="the real server's DATABASE_URL (default: a fresh SQLite file per start)")
    p.add_argument("--postgresql", metavar="URL", default=None,
                   help="a PostgreSQL server (any database on it): the real server also runs the "
                        "rooms and notifications scenarios there, in a fresh database dropped "
                        "afterwards, as the column devtracker-pg, in the same run")
    p.add_argument("--devices-per-user", type=int, default=1,
                   help="sockets per user in the connect storm (default 1: every socket a user)")
    p.add_argument("--storm-timeout", type=float, default=None,
                   help="give up a connect storm after this many seconds (default 600; 60 with --quick)")
    p.add_argument("--connect-concurrency", type=int, default=250,
                   help="handshakes in flight per client process (default 250)")
    p.add_argument("--latency-sockets", type=int, default=32,
                   help="connect-storm sockets (spread evenly) whose deliveries are timed as they "
                        "arrive; the others are only counted, in bulk (default 32)")
    p.add_argument("--payload-bytes", type=int, default=200,
                   help="filler in each trigger's data besides seq and sentAt (default 200)")
    args = p.parse_args(argv)
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in servers if s not in SERVER_NAMES]
    if unknown or not servers:
        p.error(f"unknown server(s) {unknown}; choose from {','.join(SERVER_NAMES)}")
    scenario_names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in scenario_names if s not in SCENARIO_NAMES]
    if unknown or not scenario_names:
        p.error(f"unknown scenario(s) {unknown}; choose from {','.join(SCENARIO_NAMES)}")
    sizes = args.sizes or ("50" if args.quick else "1000,5000,10000")
    try:
        sizes = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        p.error("--sizes takes comma-separated whole numbers")
    if not sizes or min(sizes) < 1 or max(sizes) > 12000:
        p.error("--sizes must be between 1 and 12000")
    if not 0 <= args.deflate_share <= 1:
        p.error("--deflate-share is a share between 0 and 1")
    if not 1 <= args.client_procs <= 64:
        p.error("--client-procs must be between 1 and 64")
    if args.postgresql:
        if not args.postgresql.startswith(("postgresql:", "postgresql+", "postgres:")):
            p.error("--postgresql takes a postgresql:// URL")
        at = servers.index("devtracker") + 1 if "devtracker" in servers else 0
        servers.insert(at, "devtracker-pg")
    plan = Plan(quick=args.quick, servers=servers, sizes=sizes,
                scenarios=tuple(n for n in SCENARIO_NAMES if n in scenario_names), deflate_share=args.deflate_share,
                client_procs=args.client_procs, devices_per_user=max(1, args.devices_per_user),
                storm_timeout=args.storm_timeout or (60.0 if args.quick else 600.0),
                connect_concurrency=max(1, args.connect_concurrency),
                latency_sockets=max(1, args.latency_sockets),
                payload="x" * max(0, args.payload_bytes))
    if args.quick:
        plan = dataclasses.replace(plan, **QUICK)
    return args, plan


class Status:
    """One updating line on stderr: server, scenario, sockets ready / target, deliveries, elapsed."""

    def __init__(self, pool):
        self.pool, self.fields = pool, {"server": "-", "scenario": "starting", "target": 0}
        self.started = time.time()
        self.tty = sys.stderr.isatty()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def update(self, **fields):
        self.fields.update(fields)

    def line(self):
        ready, deliveries = self.pool.progress()
        f = self.fields
        return (f"[{f['server']}] {f['scenario']} | sockets {ready:,}/{f['target']:,} | "
                f"deliveries {deliveries:,} | {time.time() - self.started:,.0f} s")

    def _run(self):
        last_plain = 0.0
        while not self._stop.wait(0.5):
            if self.tty:
                sys.stderr.write("\r\033[K" + self.line())
                sys.stderr.flush()
            elif time.time() - last_plain >= 10:
                last_plain = time.time()
                print(self.line(), file=sys.stderr, flush=True)

    def say(self, message):
        sys.stderr.write(("\r\033[K" if self.tty else "") + message + "\n")
        sys.stderr.flush()

    def stop(self):
        self._stop.set()
        self._thread.join(2)
        if self.tty:
            sys.stderr.write("\r\033[K")


def run_phase(server, pool, plan, status, errors, phase, body, phases=None):
    """Start the server for one phase, run `body(bench)`, always stop the server. A failure is
    recorded in `errors` (None is returned) and the run goes on with the next phase. `phases`
    gets the phase's length and the share of CPU time the hypervisor took meanwhile."""
    from scenarios import Bench

    bench = None
    started, cpu_before = time.time(), cpu_times()
    try:
        status.update(scenario=f"{phase}: starting server", target=0)
        server.start()
        bench = Bench(server, pool, plan, status)
        return body(bench)
    except Exception as exc:  # noqa: BLE001  (recorded; the next phase still runs)
        errors.append({"phase": phase, "error": f"{type(exc).__name__}: {exc}",
                       "trace": traceback.format_exc(limit=6)})
        status.say(f"[{server.name}] {phase} failed: {type(exc).__name__}: {exc}")
        return None
    finally:
        status.update(scenario=f"{phase}: stopping")
        if bench:
            bench.close()
        server.stop()  # first: then the clients' closes need no answer, and cost the server nothing
        with contextlib.suppress(Exception):
            pool.call_all("watch", [], timeout=30)
            pool.call_all("close_all", timeout=180)
        if phases is not None:
            phases.append({"phase": phase, "seconds": round(time.time() - started, 1),
                           "stealPercent": steal_percent(cpu_before, cpu_times())})


def bench_server(name, plan, pool, status, log_dir, data_dir, database_url, partial):
    import scenarios

    server = make_server(name, log_dir, database_url, data_dir=data_dir)
    reason = server.unavailable()
    if reason:
        status.say(f"skipping {name}: {reason}")
        return {"skipped": reason}
    status.update(server=name)
    errors, scen, phases = [], {"connectStorm": [], "roomFanout": [], "orgFanout": []}, []
    # filled in place: kept if interrupted
    partial[name] = {"scenarios": scen, "errors": errors, "phases": phases}

    def phase(label, body):
        return run_phase(server, pool, plan, status, errors, label, body, phases)

    wanted = set(plan.scenarios)
    if getattr(server, "scenarios", None) is not None:
        wanted &= server.scenarios
    if "rooms" in wanted:
        scen["roomFanout"] = phase("task-room fan-out", lambda bench: [
            scenarios.room_fanout(bench, viewers) for viewers in plan.room_viewers]) or []
    if wanted & {"storm", "fanout"}:
        fanout = "fanout" in wanted
        for size in plan.sizes:
            outcome = phase(f"connect storm {size}", lambda bench: scenarios.connect_storm_and_org_fanout(
                bench, size, fanout=fanout))
            if outcome:
                scen["connectStorm"].append(outcome[0])
                if outcome[1] is not None:
                    scen["orgFanout"].append(outcome[1])
    if "notifications" in wanted and "notify" in server.features:
        scen["notify"] = phase("notifications", scenarios.notify_throughput)
    if "churn" in wanted and "churn" in server.features:
        scen["churn"] = phase("presence churn", scenarios.presence_churn)
    return {"scenarios": scen, "errors": errors, "phases": phases}


def postgresql_database(server_url):
    """A fresh database on that PostgreSQL server, as a context manager (dropped on exit)."""
    root = os.path.dirname(HERE)
    if root not in sys.path:
        sys.path.insert(0, root)
    from tests.databases import fresh_database  # the test suite's throwaway databases

    return fresh_database(server_url, "devtracker_bench")


def steal_summary(results):
    """"devtracker 3.1 % (rooms), node ..." : each server's phase with the most steal."""
    parts = []
    for name, result in results.items():
        measured = [p for p in result.get("phases", []) if p.get("stealPercent") is not None]
        if measured:
            worst = max(measured, key=lambda p: p["stealPercent"])
            parts.append(f"{name} {worst['stealPercent']} % ({worst['phase']})")
    return ", ".join(parts)


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    args, plan = parse_args(argv)
    from plot import write_plot
    from report import render_table

    raise_open_files()
    signal.signal(signal.SIGTERM, _terminate)  # stop servers and clients, write what was measured
    os.makedirs(args.out, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log_dir = os.path.join(args.out, f"{stamp}-logs")   # the servers' output, kept
    os.makedirs(log_dir, exist_ok=True)
    data_dir = tempfile.mkdtemp(prefix="devtracker-bench-")  # SQLite files, removed at the end
    started = time.time()
    load_before = os.getloadavg()
    databases = contextlib.ExitStack()
    pool = WorkerPool(plan.client_procs)
    status = Status(pool)
    results = {}
    try:
        for name in plan.servers:
            url = args.database_url
            if name == "devtracker-pg":
                url = databases.enter_context(postgresql_database(args.postgresql))
            results[name] = bench_server(name, plan, pool, status, log_dir, data_dir, url, results)
    except KeyboardInterrupt:
        status.say("interrupted: writing what was measured so far")
    finally:
        status.stop()
        pool.close()
        databases.close()
    report = {"startedAt": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
              "seconds": round(time.time() - started, 1),
              "machine": machine_info() | {"loadAverageBefore": load_before,
                                           "loadAverageAfter": os.getloadavg()},
              "plan": {k: v for k, v in dataclasses.asdict(plan).items() if k != "payload"}
              | {"payloadBytes": len(plan.payload)}, "serverLogs": log_dir, "servers": results}
    json_path = os.path.join(args.out, f"{stamp}.json")
    png_path = os.path.join(args.out, f"{stamp}.png")
    with open(json_path, "w") as out:
        json.dump(report, out, indent=2)
    write_plot({k: v for k, v in results.items() if "scenarios" in v}, png_path,
               f"DevTracker Realtime bench {stamp} ({report['machine'].get('cores')} cores)")
    measured = {k: v for k, v in results.items() if "scenarios" in v}
    print(render_table(measured) if measured else "nothing was measured")
    stolen = steal_summary(results)
    if stolen:
        print(f"\nCPU time the hypervisor took (steal), most in one phase: {stolen}")
    failures = [(name, e) for name, r in results.items() for e in r.get("errors", [])]
    for name, error in failures:
        print(f"\n{name}: {error['phase']} failed: {error['error']}\n{error['trace']}", file=sys.stderr)
    print(f"\nwrote {json_path} and {png_path} ({report['seconds']:.0f} s); server logs in {log_dir}")
    shutil.rmtree(data_dir, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
