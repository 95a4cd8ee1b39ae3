"""`bench/ab.py` runs two revisions of the server side by side and reports both. Its numbers are
not judged here, only that both servers answered every call and were measured."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AB = os.path.join(ROOT, "bench", "ab.py")


def test_help_exits_zero():
    result = subprocess.run([sys.executable, AB, "--help"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--base" in result.stdout and "--gap" in result.stdout


@pytest.mark.parametrize("call", [["notify"], ["typing"], ["room", "--viewers", "3"]],
                         ids=["notify", "typing", "room-with-viewers"])
def test_two_revisions_are_fed_the_same_calls_and_both_are_reported(call):
    worktrees_before = subprocess.run(["git", "-C", ROOT, "worktree", "list"], capture_output=True,
                                      text=True).stdout
    result = subprocess.run([sys.executable, AB, "--base", "HEAD", "--call", *call, "--calls", "5",
                             "--gap", "0"], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = {m.group(1): m.groups()[1:] for m in re.finditer(
        r"^  ([AB]): p50 ([\d.]+) ms, p90 ([\d.]+), p99 ([\d.]+); (\d+) µs of server CPU per call$",
        result.stdout, re.M)}
    assert set(lines) == {"A", "B"}, result.stdout
    # latencies are measured; CPU is read in clock ticks (10 ms), so five calls may show 0 µs
    assert all(float(value) > 0 for values in lines.values() for value in values[:3])
    # the temporary checkout of the base revision is gone again
    assert subprocess.run(["git", "-C", ROOT, "worktree", "list"], capture_output=True,
                          text=True).stdout == worktrees_before


def test_an_unknown_base_revision_is_a_clear_error():
    result = subprocess.run([sys.executable, AB, "--base", "no-such-revision"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "cannot check out 'no-such-revision'" in result.stderr
    assert "Traceback" not in result.stderr


def test_on_postgresql_each_server_gets_a_fresh_database_dropped_afterwards(postgres_url):
    from sqlalchemy import create_engine, text

    result = subprocess.run([sys.executable, AB, "--base", "HEAD", "--call", "notify", "--calls", "5",
                             "--gap", "0", "--database-url", postgres_url], cwd=ROOT,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "PostgreSQL)" in result.stdout
    assert len(re.findall(r"^  [AB]: p50 [\d.]+ ms", result.stdout, re.M)) == 2, result.stdout
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        with engine.connect() as conn:
            left = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE 'devtracker_ab_%'"))
            assert left.all() == []
    finally:
        engine.dispose()
