"""Slow and greedy peers: server memory and /health latency over time under a slowloris and
under a socket that never reads (docs/RELIABILITY.md, "Slow and greedy peers").

    .venv/bin/python bench/slow_peers.py                 # both scenarios, defences on
    .venv/bin/python bench/slow_peers.py --defences off  # the same with the settings at 0
    .venv/bin/python bench/slow_peers.py --short         # the CI variant (a few seconds)

Slowloris: MAX_CONNECTIONS connections each send half a request head and stall, while /health
is asked every `--interval` seconds on a new connection. Greedy: one websocket authenticates
and never reads, one reads everything, and `--mebibytes` of broadcasts are sent. Each prints
a line per sample and a JSON summary at the end (`--json` writes it to a file).
"""
import argparse
import json
import os
import sys
import tempfile
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.support.peers import (closed_by_server, half_head, metric,  # noqa: E402
                                     never_reading_socket, server_rss, timed_health)
from tests.support.server import LiveServer  # noqa: E402

OFF = {"HTTP_HEADER_TIMEOUT_SECONDS": 0, "HTTP_IDLE_TIMEOUT_SECONDS": 0, "MAX_SOCKET_BACKLOG_BYTES": 0}
MIB = 1024 * 1024


def sample(server, started, label):
    """One point: seconds since start, server RSS (MiB), /health status and latency (ms)."""
    status, seconds = timed_health(server.url, timeout=5)
    point = {"t": round(time.monotonic() - started, 2), "rssMiB": round(server_rss(server.process.pid) / MIB, 1),
             "health": status, "healthMs": round(seconds * 1000, 1)}
    print(f"{label} t={point['t']:6.1f}s rss={point['rssMiB']:7.1f} MiB health={status} "
          f"{point['healthMs']:8.1f} ms", flush=True)
    return point


def summary(points, rss_before):
    answered = [p["healthMs"] for p in points if p["health"] == 200]
    return {"rssBeforeMiB": round(rss_before / MIB, 1), "rssPeakMiB": max(p["rssMiB"] for p in points),
            "rssEndMiB": points[-1]["rssMiB"], "healthProbes": len(points),
            "healthFailed": len(points) - len(answered),
            "healthMaxMs": max(answered) if answered else None, "samples": points}


def slowloris(server, connections, seconds, interval):
    """Half-sent heads on every connection slot; returns the summary with how many the server cut."""
    rss_before = server_rss(server.process.pid)
    stalled = []
    for _ in range(connections):
        try:
            stalled.append(half_head(server.port))
        except OSError:
            break
    started = time.monotonic()
    points = []
    while time.monotonic() - started < seconds:
        points.append(sample(server, started, "slowloris"))
        time.sleep(max(0.0, interval - points[-1]["healthMs"] / 1000))
    cut = sum(closed_by_server(sock, 0.01) for sock in stalled)
    for sock in stalled:
        sock.close()
    return {"connections": len(stalled), "cutByServer": cut, **summary(points, rss_before)}


def greedy(server, mebibytes, interval, rate):
    """One never-reading socket and one reader; `mebibytes` of broadcasts at `rate` MiB/s, then a pause."""
    from tests.support.clients import RecordingClient

    reader = RecordingClient(server.url, server.token("reader")).connect()
    hog = never_reading_socket(server.port, server.token("greedy"))
    admin = server.token("root", "admin")
    pad = "x" * 100_000
    count = int(mebibytes * MIB / len(pad))
    time.sleep(0.5)
    rss_before = server_rss(server.process.pid)
    started = time.monotonic()
    points, next_sample = [], 0.0
    for seq in range(count):
        time.sleep(max(0.0, started + seq * len(pad) / (rate * MIB) - time.monotonic()))
        requests.post(server.url + "/api/v1/realtime/broadcast", timeout=30,
                      headers={"Authorization": f"Bearer {admin}"},
                      json={"event": "system:load", "message": "m", "data": {"seq": seq, "pad": pad}})
        if time.monotonic() - started >= next_sample:
            points.append(sample(server, started, "greedy"))
            next_sample += interval
    for _ in range(3):
        time.sleep(interval)
        points.append(sample(server, started, "greedy"))
    received = len(reader.wait_for("system:load", count=count, timeout=60))
    drops = metric(server.url, "devtracker_socket_backlog_drops_total")
    reader.disconnect()
    hog.close()
    return {"broadcasts": count, "broadcastMiB": round(count * len(pad) / MIB, 1),
            "readerReceived": received, "backlogDrops": drops, **summary(points, rss_before)}


def run(args):
    settings = {"MAX_CONNECTIONS": args.connections, "MAX_DATA_BYTES": 101_000,
                "HTTP_HEADER_TIMEOUT_SECONDS": args.header_timeout}
    if args.defences == "off":
        settings.update(OFF)
    results = {"defences": args.defences, "settings": settings}
    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(f"sqlite:///{tmp}/bench.db", os.path.join(tmp, "server.log"), **settings)
        server.start()
        try:
            if "slowloris" in args.scenarios:
                results["slowloris"] = slowloris(server, args.connections, args.seconds, args.interval)
            if "greedy" in args.scenarios:
                results["greedy"] = greedy(server, args.mebibytes, args.interval, args.rate)
        finally:
            server.stop()
    return results


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--defences", choices=("on", "off"), default="on",
                        help="off: HTTP_HEADER_TIMEOUT_SECONDS, HTTP_IDLE_TIMEOUT_SECONDS and "
                             "MAX_SOCKET_BACKLOG_BYTES at 0 (the server before they existed)")
    parser.add_argument("--scenarios", nargs="+", choices=("slowloris", "greedy"),
                        default=["slowloris", "greedy"])
    parser.add_argument("--connections", type=int, default=500, help="MAX_CONNECTIONS and slow connections")
    parser.add_argument("--seconds", type=float, default=30, help="how long the slowloris lasts")
    parser.add_argument("--header-timeout", type=float, default=10, help="HTTP_HEADER_TIMEOUT_SECONDS")
    parser.add_argument("--mebibytes", type=float, default=20, help="broadcast volume of the greedy scenario")
    parser.add_argument("--rate", type=float, default=2, help="broadcast MiB per second (greedy)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    parser.add_argument("--short", action="store_true",
                        help="the CI variant: 100 connections for 6 s, 2 s header timeout, 4 MiB")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if args.short:
        args.connections, args.seconds, args.header_timeout, args.mebibytes, args.interval = 100, 6, 2, 4, 0.5
    return args


def main(argv=None):
    args = parse(argv)
    results = run(args)
    text = json.dumps(results, indent=1, allow_nan=False)
    if args.json:
        with open(args.json, "w") as out:
            out.write(text)
    print(json.dumps({name: {k: v for k, v in part.items() if k != "samples"}
                      for name, part in results.items() if isinstance(part, dict) and "samples" in part},
                     indent=1, allow_nan=False))
    return results


if __name__ == "__main__":
    main()
