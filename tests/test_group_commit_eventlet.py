"""Under eventlet, concurrent writes on SQLite share commits whose fsync runs off the hub
(on engine/offload.py's thread) while other green threads have work.

Run in a subprocess: eventlet's monkey-patching must come before everything else and must not
leak into the rest of the suite."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent('''
    import eventlet
    eventlet.monkey_patch()
    import json, sys, time
    import jwt
    from devtracker import create_app
    from devtracker.extensions import db
    from devtracker.engine import offload
    from devtracker.storage import commits
    from tests.conftest import SECRET, make_config

    app = create_app(make_config("sqlite:///" + sys.argv[1], ASYNC_MODE="eventlet"))
    with app.app_context():
        db.create_all()
    assert offload.available()
    now = int(time.time())
    token = jwt.encode({"sub": "svc", "role": "service", "iat": now, "exp": now + 600}, SECRET,
                       algorithm="HS256")
    headers = {"Authorization": "Bearer " + token}

    def notify(i):
        client = app.test_client()
        response = client.post(f"/api/v1/realtime/notify/u{i % 4}", headers=headers,
                               json={"type": "mention", "title": "t", "message": "m", "data": {"i": i}})
        return response.status_code, response.get_json()["data"]["id"]

    # A green thread that is always ready to run: the hub is never idle, so every commit must
    # leave it (an idle hub commits in place: test_offload.py).
    busy = [True]

    def spinner():
        while busy[0]:
            eventlet.sleep(0)

    spinning = eventlet.spawn(spinner)
    pool = eventlet.GreenPool(64)
    results = list(pool.imap(notify, range(200)))
    busy[0] = False
    spinning.wait()
    group = commits.group_for(app)
    print(json.dumps({"statuses": sorted({s for s, _ in results}), "ids": [i for _, i in results],
                      "batches": group.batches, "writes": group.writes,
                      "offloaded": offload.runner().calls}))
''')


def test_eventlet_sqlite_writes_are_batched_and_committed_off_the_hub(tmp_path):
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "green.db")], capture_output=True,
                         text=True, timeout=120, cwd=str(ROOT))
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["statuses"] == [201]
    assert sorted(result["ids"]) == list(range(1, 201))
    assert result["writes"] == 200
    assert result["batches"] < 200, "concurrent writes were not batched"
    assert result["offloaded"] == result["batches"], "each batch's commit runs on the offload thread"
