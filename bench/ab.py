#!/usr/bin/env python
"""Compare two revisions of the server: both run side by side and are fed the same calls in turn.

    .venv/bin/python bench/ab.py --base HEAD~1                 # room updates, one every 50 ms
    .venv/bin/python bench/ab.py --base main --call notify --gap 0
    .venv/bin/python bench/ab.py --base main --call typing      # a socket event and its ack
    .venv/bin/python bench/ab.py --base main --viewers 100      # room updates fanned out to 100
    .venv/bin/python bench/ab.py --base main --database-url postgresql://postgres@127.0.0.1:5432/test

This machine's speed moves by ±20 % within minutes, so two runs of `bench/run.py` minutes apart
cannot tell a 5 % change from the noise. Here server A runs from a temporary checkout of
`--base`, server B from this checkout, each on its own SQLite file (or, with `--database-url`,
its own fresh database on that PostgreSQL server, dropped afterwards), and every call goes to one
then the other (the order alternating): both see the same stretch of the machine. Both
servers are pinned to the same core and this process to the others, so neither shares a core
with the client more than the other (unpinned, two copies of one revision fed back to back
differed by 20 %). Prints each server's call latency and its CPU per call (which includes what
it does while idle between calls).
"""
import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from servers import ROOT, DevTracker  # noqa: E402  (it puts ROOT on sys.path too)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="bench/ab.py", description="Feed two revisions of the server the same calls (REST, or "
                                        "socket events), in turn, and compare their latency and CPU "
                                        "per call.")
    parser.add_argument("--base", default="HEAD", help="git revision of server A (default HEAD; B is "
                                                       "this checkout as it is, uncommitted changes included)")
    parser.add_argument("--call", choices=("room", "notify", "typing"), default="room",
                        help="POST /task/update (room), POST /notify/<user>, or the socket event "
                             "task:typing with its ack, over a websocket joined to the task "
                             "(default room)")
    parser.add_argument("--calls", type=int, default=400, help="calls to each server (default 400)")
    parser.add_argument("--gap", type=float, default=0.05,
                        help="seconds between calls (default 0.05; 0 for back to back)")
    parser.add_argument("--viewers", type=int, default=0,
                        help="websockets per server joined to the task (reading what its room is "
                             "sent: room updates fan out to them; default 0)")
    parser.add_argument("--no-pin", action="store_true",
                        help="leave the servers and this process wherever the scheduler puts them")
    parser.add_argument("--database-url", metavar="URL",
                        help="a PostgreSQL server (any database on it): each server gets a fresh "
                             "database of its own there, dropped afterwards (default: SQLite files)")
    return parser.parse_args(argv)


def pin(servers):
    """Both servers on the last core, this process on the others; False when there is one core."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return False
    for server in servers:
        os.sched_setaffinity(server.process.pid, {cores[-1]})
    os.sched_setaffinity(0, set(cores[:-1]))
    return True


def percentile(values, share):
    values = sorted(values)
    return values[min(len(values) - 1, int(share * len(values)))]


class EventCaller:
    """Websockets (tests/support/lean.py) to each server, on an event loop thread of their own, all
    joined to the task: one that sends task:typing (`typing(server, i)` waits for its ack), and
    `viewers` that only read what the room is sent."""

    def __init__(self, servers, viewers=0):
        from tests.support.lean import LeanSocket

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sockets, self.typists = [], {}
        for server in servers:
            for n in range(viewers + 1):
                user = "ab-typist" if n == 0 else f"ab-viewer-{n}"
                sock = self._run(LeanSocket(server.url, {"token": server.token(user)}).connect())
                self.sockets.append(sock)
                if not self._run(sock.call("task:join", "ab-task")).get("success"):
                    raise RuntimeError("task:join failed")
                if n == 0:
                    self.typists[server] = sock

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def typing(self, server, i):
        ack = self._run(self.typists[server].call("task:typing", {"taskId": "ab-task",
                                                                 "isTyping": i % 2 == 0}))
        return 200 if isinstance(ack, dict) and ack.get("success") else ack

    def close(self):
        for sock in self.sockets:
            self._run(sock.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def call(server, kind, i, events=None):
    data = {"seq": i, "bench": "x" * 200}
    if kind == "room":
        return server.room_update("ab-task", data)
    if kind == "typing":
        return events.typing(server, i)
    return server.notify(f"ab-{i % 1000}", data)


def compare(servers, kind, calls, gap, progress=print, events=None):
    """Warm both up, then alternate; {name: (latencies ms, CPU µs per call)}."""
    for i in range(50):
        for server in servers.values():
            call(server, kind, i, events)
    latencies = {name: [] for name in servers}
    cpu_before = {name: server.cpu_seconds() for name, server in servers.items()}
    order = list(servers.items())
    for i in range(calls):
        for name, server in order if i % 2 else order[::-1]:
            started = time.perf_counter()
            status = call(server, kind, i, events)
            latencies[name].append((time.perf_counter() - started) * 1000)
            if status not in (200, 201):
                raise RuntimeError(f"server {name} answered {status}")
            time.sleep(gap)
        if (i + 1) % 100 == 0:
            progress(f"  {i + 1}/{calls} calls each")
    return {name: (latencies[name], (server.cpu_seconds() - cpu_before[name]) / calls * 1e6)
            for name, server in servers.items()}


def main(argv=None):
    args = parse_args(argv)
    work = tempfile.mkdtemp(prefix="devtracker-ab-")
    base = os.path.join(work, "base")
    checkout = subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", base, args.base],
                              capture_output=True, text=True)
    if checkout.returncode:
        shutil.rmtree(work, ignore_errors=True)
        print(f"error: cannot check out {args.base!r}: {checkout.stderr.strip()}", file=sys.stderr)
        return 2
    servers = {}
    events = None
    databases = contextlib.ExitStack()
    try:
        urls = {}
        if args.database_url:
            from tests.databases import fresh_database  # the test suite's throwaway databases

            for name in ("A", "B"):
                urls[name] = databases.enter_context(
                    fresh_database(args.database_url, f"devtracker_ab_{name.lower()}"))
        for name, root in (("A", base), ("B", ROOT)):
            logs = os.path.join(work, name)
            os.makedirs(logs)
            server = DevTracker(logs, "ab-secret-" + "x" * 32, database_url=urls.get(name))
            server.root = root
            print(f"starting {name} from {root}", flush=True)
            servers[name] = server.start()
        if not args.no_pin and not pin(servers.values()):
            print("one core: the servers and this process share it", flush=True)
        if args.call == "typing" or args.viewers:
            events = EventCaller(servers.values(), args.viewers)
        results = compare(servers, args.call, args.calls, args.gap, events=events)
        print(f"{args.call}, one call every {args.gap * 1000:.0f} ms, {args.calls} calls each, "
              f"{args.viewers} viewers "
              f"(A: {args.base}, B: this checkout; {'PostgreSQL' if urls else 'SQLite'})")
        for name, (latencies, cpu) in results.items():
            print(f"  {name}: p50 {percentile(latencies, 0.5):.2f} ms, p90 {percentile(latencies, 0.9):.2f}, "
                  f"p99 {percentile(latencies, 0.99):.2f}; {cpu:.0f} µs of server CPU per call")
    finally:
        if events is not None:
            events.close()
        for server in servers.values():
            server.stop()
        databases.close()
        subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", base], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
