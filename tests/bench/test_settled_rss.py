"""The connect storm's memory is read once the server is at rest, not while it still writes the
storm's presence backlog (bench/scenarios.py `settled_rss`)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import scenarios  # noqa: E402


class Clock:
    def __init__(self):
        self.now = 1000.0

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class DeliveringServer:
    """For its first `busy` seconds it writes a backlog (a full core) with its RSS held still at
    the peak; then it is idle, its RSS lower."""

    def __init__(self, clock, busy):
        self.clock, self.start, self.busy = clock, clock.now, busy

    def _elapsed(self):
        return self.clock.now - self.start

    def rss_kib(self):
        return 600_000 if self._elapsed() < self.busy else 400_000

    def cpu_seconds(self):
        elapsed = self._elapsed()
        return min(elapsed, self.busy) + 0.01 * max(0.0, elapsed - self.busy)


def test_the_rss_is_read_after_the_backlog_not_while_it_holds_still(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(scenarios, "time", clock)
    assert scenarios.settled_rss(DeliveringServer(clock, busy=3.0), wait=20) == 400_000
    assert 1003.0 <= clock.now <= 1005.0


def test_a_server_that_never_rests_is_read_when_the_wait_is_over(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(scenarios, "time", clock)
    assert scenarios.settled_rss(DeliveringServer(clock, busy=60.0), wait=5) == 600_000
    assert 1005.0 <= clock.now <= 1006.0
