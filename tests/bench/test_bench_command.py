"""The benchmark command works: `bench/run.py --quick` against the real server writes a JSON with
every scenario and a PNG. Its numbers are not judged here, only that they are numbers."""
import glob
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN = os.path.join(ROOT, "bench", "run.py")



def number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def test_help_exits_zero():
    result = subprocess.run([sys.executable, RUN, "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--deflate-share" in result.stdout and "--client-procs" in result.stdout
    assert "--scenarios" in result.stdout and "storm,rooms,fanout,notifications,churn" in result.stdout


def test_scenarios_option_selects_and_rejects():
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from run import parse_args

    assert parse_args([])[1].scenarios == ("storm", "rooms", "fanout", "notifications", "churn")
    assert parse_args(["--scenarios", "churn,fanout"])[1].scenarios == ("fanout", "churn")
    with pytest.raises(SystemExit):
        parse_args(["--scenarios", "fanout,nope"])


@pytest.mark.integration
def test_quick_run_against_the_real_server(tmp_path):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        from tests.conftest import require_service
        require_service("matplotlib", "bench deps: .venv/bin/pip install -r bench/requirements.txt")
    result = subprocess.run([sys.executable, RUN, "--quick", "--servers", "devtracker",
                             "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [json_path] = glob.glob(str(tmp_path / "*.json"))
    assert os.path.exists(json_path[:-len(".json")] + ".png")
    assert "devtracker" in result.stdout  # the table's column

    report = json.load(open(json_path))
    assert number(report["machine"]["cores"]) and report["machine"]["python"]
    dt = report["servers"]["devtracker"]
    assert dt["errors"] == []
    scen = dt["scenarios"]

    [storm] = scen["connectStorm"]
    assert storm["ready"] == storm["target"] == 50
    assert number(storm["seconds"]) and number(storm["kibPerSocket"])
    assert number(storm["drainedSeconds"]), "every socket read the marker before memory was read"
    assert storm["rssPeakKiB"] >= storm["rssAtReadyKiB"]
    memory = storm["serverMemory"]  # the server's own account, from /metrics
    assert memory["heapInUseKiB"] > 0 and memory["frozenObjects"] > 0 and memory["heapTrims"] >= 0

    assert [room["viewers"] for room in scen["roomFanout"]] == [10, 50]
    for room in scen["roomFanout"]:
        assert number(room["step"]["latencyMs"]["p50"]) and number(room["step"]["latencyMs"]["p99"])
        assert room["step"]["delivered"] > 0
        first, last = room["step"]["firstSocketMs"], room["step"]["lastSocketMs"]
        assert number(first["p50"]) and first["min"] <= last["min"] and first["max"] <= last["max"]

    [org] = scen["orgFanout"]
    assert org["steps"], "the ladder ran at least one step"
    for step in org["steps"]:
        assert number(step["latencyMs"]["p99"]) and number(step["deliveriesPerSecond"])
        assert number(step["offeredPerSecond"])
        assert step["completeMessages"] == step["messages"] and step["duplicates"] == 0
        assert number(step["triggers"]["sentPerSecond"]) and number(step["triggers"]["lagMs"]["p99"])
        assert number(step["clientsCpu"]) and number(step["serverCpu"]) and number(step["benchCpu"])
        assert number(step["serverThread"]["running"]) and number(step["serverThread"]["waiting"])

    assert scen["notify"]["steps"] and number(scen["notify"]["steps"][0]["latencyMs"]["p99"])
    churn = scen["churn"]
    assert churn["churnersConnected"] > 0 and number(churn["onlineMs"]["p99"])

    # each phase's length and the hypervisor's share of the CPU time meanwhile
    assert [p["phase"] for p in dt["phases"]] == ["task-room fan-out", "connect storm 50",
                                                  "notifications", "presence churn"]
    assert all(number(p["seconds"]) and 0 <= p["stealPercent"] <= 100 for p in dt["phases"])
    assert "CPU time the hypervisor took (steal)" in result.stdout


@pytest.mark.integration
def test_one_scenario_alone(tmp_path):
    """`--scenarios fanout` runs the connect storm and the org-wide ladder, nothing else."""
    result = subprocess.run([sys.executable, RUN, "--quick", "--servers", "devtracker", "--scenarios",
                             "fanout", "--out", str(tmp_path)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [json_path] = glob.glob(str(tmp_path / "*.json"))
    report = json.load(open(json_path))
    assert report["plan"]["scenarios"] == ["fanout"]
    scen = report["servers"]["devtracker"]["scenarios"]
    assert [storm["ready"] for storm in scen["connectStorm"]] == [50]
    [org] = scen["orgFanout"]
    assert org["sustained"] and org["steps"][0]["delivered"] == 50 * org["steps"][0]["messages"]
    assert scen["roomFanout"] == [] and "notify" not in scen and "churn" not in scen


def test_postgresql_option_is_checked():
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from run import parse_args

    args, plan = parse_args(["--postgresql", "postgresql://pg.invalid/x"])
    assert plan.servers == ["devtracker", "devtracker-pg", "flask", "node"]
    assert parse_args(["--servers", "node", "--postgresql", "postgresql://h/x"])[1].servers == [
        "devtracker-pg", "node"]
    with pytest.raises(SystemExit):
        parse_args(["--postgresql", "sqlite:///x.db"])
    with pytest.raises(SystemExit):
        parse_args(["--servers", "devtracker-pg"])  # only through --postgresql


@pytest.mark.integration
def test_postgresql_column_in_the_same_run(tmp_path, postgres_url):
    """`--postgresql` adds the real server on PostgreSQL as a column of the same run, for the
    scenarios that write, in a database of its own that is gone afterwards."""
    from sqlalchemy import create_engine, text

    from devtracker.config import normalise_database_url

    result = subprocess.run([sys.executable, RUN, "--quick", "--servers", "devtracker", "--scenarios",
                             "rooms,notifications,churn", "--postgresql", postgres_url,
                             "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.splitlines()[0].split()[2:] == ["devtracker", "devtracker-pg"]  # the columns
    [json_path] = glob.glob(str(tmp_path / "*.json"))
    report = json.load(open(json_path))
    assert report["plan"]["servers"] == ["devtracker", "devtracker-pg"]
    sqlite, pg = (report["servers"][name] for name in ("devtracker", "devtracker-pg"))
    assert sqlite["errors"] == [] and pg["errors"] == []
    assert "churn" in sqlite["scenarios"] and "churn" not in pg["scenarios"]
    for room in pg["scenarios"]["roomFanout"]:
        assert room["step"]["completeMessages"] == room["step"]["messages"]
    steps = pg["scenarios"]["notify"]["steps"]
    assert steps and all(step["completeMessages"] == step["messages"] for step in steps)
    assert number(steps[-1]["latencyMs"]["p99"])
    engine = create_engine(normalise_database_url(postgres_url))
    try:
        with engine.connect() as conn:
            left = conn.execute(text("SELECT datname FROM pg_database "
                                     "WHERE datname LIKE 'devtracker_bench%'")).scalars().all()
    finally:
        engine.dispose()
    assert left == []
