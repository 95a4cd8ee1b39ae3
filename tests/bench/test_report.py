"""Per-message numbers of a step (bench/report.py `step_result`): the first and the last socket
that read each message, from records built the way the workers hand them over."""
import os
import sys
from array import array

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))

from report import merge_drains, step_result, table_rows  # noqa: E402


def drain(records):
    """A worker's drain of timed (bulk precise) deliveries: [(seq, received at)]."""
    return {"seqs": b"", "sent": b"", "recv": b"", "presence": [],
            "bulk": {"seqs": [seq for seq, _ in records], "recv": [at for _, at in records],
                     "counts": {seq: sum(1 for s, _ in records if s == seq) for seq, _ in records},
                     "last": {seq: max(at for s, at in records if s == seq) for seq, _ in records}}}


def test_first_and_last_socket_per_message():
    # Messages 10, 11, 12 were due at 100.000, 100.050, 100.100; three viewers over two workers.
    sent_at = [100.000, 100.050, 100.100]
    worker_a = [(10, 100.002), (11, 100.053), (12, 100.104)]
    worker_b = [(10, 100.003), (10, 100.006), (11, 100.051), (11, 100.052), (12, 100.101),
                (12, 100.109), (9, 99.0)]  # a late delivery of an earlier step: not counted
    result = step_result(merge_drains([drain(worker_a), drain(worker_b)]), (10, 13), 3, 100.0,
                         [200, 200, 200], 20.0, 0.15, sent_at=sent_at)
    assert result["completeMessages"] == 3 and result["delivered"] == 9
    # firsts: 2, 1, 1 ms; lasts: 6, 3, 9 ms
    assert result["firstSocketMs"]["min"] == 1.0 and result["firstSocketMs"]["max"] == 2.0
    assert result["firstSocketMs"]["p50"] == 1.0
    assert result["lastSocketMs"]["min"] == 3.0 and result["lastSocketMs"]["max"] == 9.0
    assert result["latencyMs"]["min"] == 1.0 and result["latencyMs"]["max"] == 9.0


def test_a_message_nobody_read_has_no_first_socket():
    sent_at = [100.0, 100.05]
    result = step_result(merge_drains([drain([(0, 100.004)])]), (0, 2), 1, 100.0, [200, 200], 20.0,
                         0.1, sent_at=sent_at)
    assert result["completeMessages"] == 1
    assert result["firstSocketMs"]["min"] == result["firstSocketMs"]["max"] == 4.0


def test_the_table_shows_the_first_viewer_of_a_room():
    step = {"offeredPerSecond": 20.0, "latencyMs": {"p50": 3.0, "p99": 5.0},
            "firstSocketMs": {"p50": 2.5, "p99": 3.5}, "completeMessages": 200, "messages": 200}
    rows = table_rows({"devtracker": {"scenarios": {"roomFanout": [{"viewers": 100, "step": step}]}}})
    label = "task room 100 viewers @20/s"
    assert rows[(label, "first viewer p99 ms")] == {"devtracker": 3.5}
    assert list(rows) == [(label, "p50 ms"), (label, "p99 ms"), (label, "first viewer p99 ms"),
                          (label, "complete")]
