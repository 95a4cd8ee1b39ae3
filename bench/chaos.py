"""Chaos figures for docs/RELIABILITY.md: real servers, a private PostgreSQL and Redis.

    .venv/bin/python bench/chaos.py                      # the three scenarios, long sizes
    .venv/bin/python bench/chaos.py --scenario kill --short
    .venv/bin/python bench/chaos.py --json chaos.json    # the figures as JSON too

It starts its own PostgreSQL (initdb/pg_ctl) and redis-server on free ports, never the
machine's shared ones, and removes them afterwards. tests/chaos/ asserts on the same scenarios.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.chaos.scenarios import (LONG, SHORT, kill_node_during_burst,  # noqa: E402
                                   postgres_restart_under_load, redis_restart_in_cluster)
from tests.support.services import PrivatePostgres, PrivateRedis, missing_binaries  # noqa: E402

SCENARIOS = ("kill", "postgres", "redis")


def machine():
    """nproc, CPU model and the checkout's commit."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        commit += " (with uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"nproc": os.cpu_count(), "cpu": model, "commit": commit,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def run(name, sizes, workdir):
    """Run one scenario on fresh private services; return its figures."""
    postgres = PrivatePostgres().start()
    redis = PrivateRedis().start() if name != "postgres" else None
    try:
        if name == "kill":
            return kill_node_during_burst(postgres.create_database(), redis.url, workdir, **sizes)
        if name == "postgres":
            return postgres_restart_under_load(postgres, workdir, **sizes)
        return redis_restart_in_cluster(postgres.create_database(), redis, workdir, **sizes)
    finally:
        if redis:
            redis.close()
        postgres.close()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="bench/chaos.py", description=__doc__.split("\n\n")[0],
        epilog="kill: kill -9 of one of two nodes in a notify burst; postgres: PostgreSQL stopped "
               "and started under load; redis: Redis killed and started under two nodes.")
    parser.add_argument("--scenario", choices=SCENARIOS + ("all",), default="all",
                        help="which scenario to run (default: all)")
    parser.add_argument("--short", action="store_true", help="the short sizes the test suite uses")
    parser.add_argument("--repeat", type=int, default=1, help="run each scenario this many times")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to PATH")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    problem = missing_binaries()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    sizes = SHORT if args.short else LONG
    names = SCENARIOS if args.scenario == "all" else (args.scenario,)
    report = {"machine": machine(), "sizes": {n: sizes[n] for n in names}, "runs": {}}
    print(json.dumps(report["machine"]))
    for name in names:
        for i in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix=f"dt-chaos-{name}-") as workdir:
                started = time.time()
                figures = run(name, sizes[name], workdir)
            figures["run_seconds"] = round(time.time() - started, 1)
            report["runs"].setdefault(name, []).append(figures)
            print(f"{name} #{i + 1} {json.dumps(figures, allow_nan=False)}", flush=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2, allow_nan=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
