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

    assert [room["viewers"] for room in scen["roomFanout"]] == [10, 50]
    for room in scen["roomFanout"]:
        assert number(room["step"]["latencyMs"]["p50"]) and number(room["step"]["latencyMs"]["p99"])
        assert room["step"]["delivered"] > 0

    [org] = scen["orgFanout"]
    assert org["steps"], "the ladder ran at least one step"
    for step in org["steps"]:
        assert number(step["latencyMs"]["p99"]) and number(step["deliveriesPerSecond"])
        assert number(step["offeredPerSecond"])

    assert scen["notify"]["steps"] and number(scen["notify"]["steps"][0]["latencyMs"]["p99"])
    churn = scen["churn"]
    assert churn["churnersConnected"] > 0 and number(churn["onlineMs"]["p99"])
