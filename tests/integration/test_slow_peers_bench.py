"""The short variant of bench/slow_peers.py: a slowloris and a never-reading socket against
the real server, with /health answering and memory bounded throughout."""
import os
import sys

from tests.support.server import ROOT

sys.path.insert(0, os.path.join(ROOT, "bench"))

import slow_peers  # noqa: E402


def test_the_short_slow_peers_bench_keeps_health_answering_and_memory_bounded():
    results = slow_peers.main(["--short"])
    loris, greedy = results["slowloris"], results["greedy"]
    assert loris["connections"] == loris["cutByServer"] == 100
    assert loris["healthFailed"] == 0 and loris["healthMaxMs"] < 4000
    assert greedy["readerReceived"] == greedy["broadcasts"]
    assert greedy["backlogDrops"] == 1
    assert greedy["healthFailed"] == 0
    assert greedy["rssPeakMiB"] - greedy["rssBeforeMiB"] < 16
