"""Under eventlet, concurrent writes on SQLite share commits whose fsync runs off the hub
(on engine/offload.py's thread) while other green threads have work.

Run under eventlet in a fresh interpreter (tests/support/eventlet_run.py): its monkey-patching
must come before everything else and must not leak into the rest of the suite."""
from tests.support.eventlet_run import run_under_eventlet

SCRIPT = '''
    import json, sys
    import eventlet
    from devtracker import create_app
    from devtracker.extensions import db
    from devtracker.engine import offload
    from devtracker.storage import commits
    from tests.conftest import make_config
    from tests.support.tokens import mint_token

    app = create_app(make_config("sqlite:///" + sys.argv[1], ASYNC_MODE="eventlet"))
    with app.app_context():
        db.create_all()
    assert offload.available()
    headers = {"Authorization": "Bearer " + mint_token("svc", "service", expires_in=600)}

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
'''


def test_eventlet_sqlite_writes_are_batched_and_committed_off_the_hub(tmp_path):
    result = run_under_eventlet(SCRIPT, tmp_path / "green.db")
    assert result["statuses"] == [201]
    assert sorted(result["ids"]) == list(range(1, 201))
    assert result["writes"] == 200
    assert result["batches"] < 200, "concurrent writes were not batched"
    assert result["offloaded"] == result["batches"], "each batch's commit runs on the offload thread"
