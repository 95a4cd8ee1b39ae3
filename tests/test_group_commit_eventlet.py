"""Under eventlet, concurrent writes on SQLite share commits whose fsync runs off the hub.

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
    import eventlet.tpool
    import jwt
    from devtracker import create_app
    from devtracker.extensions import db
    from devtracker.services import commits
    from tests.conftest import SECRET, make_config

    app = create_app(make_config("sqlite:///" + sys.argv[1], ASYNC_MODE="eventlet"))
    with app.app_context():
        db.create_all()
    offloaded = []
    real_execute = eventlet.tpool.execute

    def counting_execute(fn, *args, **kwargs):
        offloaded.append(getattr(fn, "__name__", str(fn)))
        return real_execute(fn, *args, **kwargs)

    eventlet.tpool.execute = counting_execute
    now = int(time.time())
    token = jwt.encode({"sub": "svc", "role": "service", "iat": now, "exp": now + 600}, SECRET,
                       algorithm="HS256")
    headers = {"Authorization": "Bearer " + token}

    def notify(i):
        client = app.test_client()
        response = client.post(f"/api/v1/realtime/notify/u{i % 4}", headers=headers,
                               json={"type": "mention", "title": "t", "message": "m", "data": {"i": i}})
        return response.status_code, response.get_json()["data"]["id"]

    pool = eventlet.GreenPool(64)
    results = list(pool.imap(notify, range(200)))
    group = commits.group_for(app)
    print(json.dumps({"statuses": sorted({s for s, _ in results}), "ids": [i for _, i in results],
                      "batches": group.batches, "writes": group.writes,
                      "offloaded": len(offloaded)}))
''')


def test_eventlet_sqlite_writes_are_batched_and_committed_in_the_thread_pool(tmp_path):
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "green.db")], capture_output=True,
                         text=True, timeout=120, cwd=str(ROOT))
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["statuses"] == [201]
    assert sorted(result["ids"]) == list(range(1, 201))
    assert result["writes"] == 200
    assert result["batches"] < 200, "concurrent writes were not batched"
    assert result["offloaded"] == result["batches"], "each batch's commit runs in eventlet's thread pool"
