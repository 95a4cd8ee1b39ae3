"""Concurrent writes share commits (storage/commits.py) and keep every promise of a write alone:
ids in commit order, live events in that order, idempotency, one bad write failing no other."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from devtracker.models import Activity, Notification
from devtracker.models.base import utcnow
from devtracker.realtime.delivery.rooms import AUTHENTICATED_ROOM, user_room
from devtracker.storage import commits, idempotency
from tests.helpers import assert_ok, received

API = "/api/v1/realtime"
NOTE = {"type": "mention", "title": "Hi", "message": "Look"}
THIS_DATABASE = "database = (SELECT oid FROM pg_database WHERE datname = current_database())"


@pytest.fixture
def slow_commits(monkeypatch):
    """Each commit takes 30 ms, so the requests that come meanwhile queue up behind it."""
    real = commits.durable_commit

    def slow(*connection):
        time.sleep(0.03)
        real(*connection)

    monkeypatch.setattr(commits, "durable_commit", slow)


def run_concurrently(app, calls, threads=16):
    """Send every (method, path, body, headers) from its own thread with its own test client."""
    barrier = threading.Barrier(min(threads, len(calls)))

    def one(call):
        method, path, body, headers = call
        client = app.test_client()
        try:
            barrier.wait(timeout=5)
        except threading.BrokenBarrierError:
            pass
        return client.open(path, method=method, json=body, headers=headers)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, calls))


def group(app):
    return commits.group_for(app)


def test_concurrent_notifications_are_batched_and_delivered_in_id_order(app, db, auth, socket_client,
                                                                        slow_commits):
    users = ["u1", "u2", "u3"]
    socks = {u: socket_client(user_room(u)) for u in users}
    headers = auth("svc", "service")
    calls = [("POST", f"{API}/notify/{users[i % 3]}", {**NOTE, "data": {"i": i}}, headers)
             for i in range(48)]
    responses = run_concurrently(app, calls)
    stored = [assert_ok(r, 201) for r in responses]
    assert group(app).writes == 48
    assert group(app).batches < 48, "nothing was batched"
    for user in users:
        pushed = [payload for _, payload in received(socks[user], "notification")]
        ids = [p["id"] for p in pushed]
        assert ids == sorted(ids) and len(set(ids)) == len(ids) == 16
        in_db = db.session.execute(select(Notification.id).where(Notification.user_id == user)
                                   .order_by(Notification.id)).scalars().all()
        assert ids == in_db
        assert {p["id"]: p for p in pushed} == {s["id"]: s for s in stored if s["id"] in set(ids)}


def test_concurrent_activity_and_task_updates_stream_in_id_order(app, db, auth, socket_client,
                                                                  slow_commits):
    feed = socket_client(AUTHENTICATED_ROOM)
    headers = auth("svc", "service")
    calls = []
    for i in range(40):
        if i % 2:
            calls.append(("POST", f"{API}/activity",
                          {"type": "comment", "action": "commented", "target": f"t{i}"}, headers))
        else:
            calls.append(("POST", f"{API}/task/update",
                          {"taskId": "task_1", "action": "updated", "task": {"title": f"t{i}"}}, headers))
    responses = run_concurrently(app, calls)
    assert all(r.status_code in (200, 201) for r in responses)
    ids = [payload["id"] for _, payload in received(feed, "activity:feed")]
    assert len(ids) == 40 and ids == sorted(ids) and len(set(ids)) == 40
    assert ids == db.session.execute(select(Activity.id).order_by(Activity.id)).scalars().all()
    assert group(app).batches < 40


def test_racing_copies_of_one_request_store_and_send_once(app, db, auth, socket_client, slow_commits):
    sock = socket_client(user_room("bob"))
    headers = auth("alice", **{"Idempotency-Key": "same-key"})
    responses = run_concurrently(app, [("POST", f"{API}/notify/bob", NOTE, headers)] * 12)
    bodies = [r.get_json() for r in responses]
    assert all(r.status_code == 201 for r in responses)
    assert all(b == bodies[0] for b in bodies)
    assert db.session.query(Notification).count() == 1
    assert len(received(sock, "notification")) == 1


def test_a_write_that_fails_inside_a_batch_fails_no_other(app, db, auth, socket_client, monkeypatch):
    """Another process stores the same Idempotency-Key between our look-up and our insert: the
    batch is redone one write at a time; that write answers with the first answer, the others
    are stored and sent."""
    sock = socket_client(user_room("bob"))
    client = app.test_client()
    keyed = auth("alice", **{"Idempotency-Key": "k1"})
    first = assert_ok(client.post(f"{API}/notify/bob", json=NOTE, headers=keyed), 201)
    received(sock)
    real_replay = idempotency.replay
    missed = []

    def replay_that_misses_once(key, *connection):
        if not missed:
            missed.append(key)
            return None     # as if the other copy had not committed yet
        return real_replay(key, *connection)

    monkeypatch.setattr(commits, "replay", replay_that_misses_once)
    real_commit = commits.durable_commit
    monkeypatch.setattr(commits, "durable_commit",
                        lambda *connection: (time.sleep(0.03), real_commit(*connection)))
    plain = auth("alice")
    calls = [("POST", f"{API}/notify/bob", {**NOTE, "data": {"i": i}}, plain) for i in range(6)]
    calls.insert(3, ("POST", f"{API}/notify/bob", NOTE, keyed))
    responses = run_concurrently(app, calls, threads=7)
    assert all(r.status_code == 201 for r in responses), [r.get_json() for r in responses]
    assert responses[3].get_json()["data"] == first
    assert db.session.query(Notification).count() == 7
    pushed = [p["id"] for _, p in received(sock, "notification")]
    assert len(pushed) == 6 and pushed == sorted(pushed) and first["id"] not in pushed


def test_a_failed_commit_fails_its_writes_and_the_next_ones_go_on(app, db, auth, monkeypatch):
    client = app.test_client()
    real_commit = commits.durable_commit

    def broken(*connection):
        raise RuntimeError("disk full")

    monkeypatch.setattr(commits, "durable_commit", broken)
    response = client.post(f"{API}/notify/bob", json=NOTE, headers=auth("alice"))
    assert response.status_code == 500
    monkeypatch.setattr(commits, "durable_commit", real_commit)
    assert db.session.query(Notification).count() == 0
    assert_ok(client.post(f"{API}/notify/bob", json=NOTE, headers=auth("alice")), 201)
    assert db.session.query(Notification).count() == 1


def test_copies_of_a_keyed_write_in_one_batch_store_once_and_another_body_is_a_409(app, db):
    from devtracker.errors import Conflict
    from devtracker.storage.idempotency import IdempotencyKey

    published = []
    key = IdempotencyKey.build("k", "alice", "POST /notify/bob", {"n": 1})
    other = IdempotencyKey.build("k", "alice", "POST /notify/bob", {"n": 2})

    def write(k):
        row = {"user_id": "bob", "type": "mention", "title": "t", "message": "m", "read": False}
        return commits.Write(k, 201, Notification.__table__, [row], lambda ids: {"id": ids[0]},
                             [], published.append)

    batch = [write(key), write(None), write(key), write(other)]
    commits.group_for(app)._run(batch)
    first, plain, copy, conflict = batch
    assert first.outcome.fresh and plain.outcome.fresh
    assert (copy.outcome.body, copy.outcome.fresh) == (first.outcome.body, False)
    assert isinstance(conflict.error, Conflict) and conflict.error.code == "IDEMPOTENCY_KEY_REUSED"
    assert first.outcome.body["id"] < plain.outcome.body["id"]
    assert published == [first.outcome.body, plain.outcome.body]
    assert db.session.query(Notification).count() == 2


def test_postgresql_stream_locks_are_held_until_the_batch_commits(postgres_url):
    """Advisory locks are PostgreSQL's: this runs on PostgreSQL whichever database the suite uses."""
    from sqlalchemy import create_engine, text

    from devtracker import create_app
    from devtracker.extensions import db
    from devtracker.storage.ordering import NOTIFICATION_STREAM, _int32, lock_stream_keys
    from tests.conftest import make_config

    app = create_app(make_config(postgres_url))
    wanted = {(NOTIFICATION_STREAM, _int32(u) & 0xFFFFFFFF) for u in ("bob", "carol")}
    query = "SELECT classid::int, objid::int FROM pg_locks WHERE locktype = 'advisory' AND "
    with app.app_context():
        other = create_engine(db.engine.url)
        try:
            lock_stream_keys([(NOTIFICATION_STREAM, ["carol", "bob"]), (NOTIFICATION_STREAM, ["bob"])])
            with other.connect() as conn:
                held = conn.execute(text(query + "granted AND " + THIS_DATABASE)).all()
                assert {(s, k & 0xFFFFFFFF) for s, k in held} >= wanted
                db.session.commit()
                still = conn.execute(text(query + THIS_DATABASE)).all()
                assert not {(s, k & 0xFFFFFFFF) for s, k in still} & wanted
        finally:
            other.dispose()
            app.extensions["devtracker.namespace"].stop()
            db.session.remove()
            db.engine.dispose()


def test_postgresql_stream_locks_taken_with_an_insert_are_held_until_it_commits(postgres_url):
    """With psycopg2 a single row goes in the same round trip as its stream locks; the locks are
    still the transaction's, taken before the row's id, and the id returned is the row's."""
    from sqlalchemy import create_engine, text

    from devtracker import create_app
    from devtracker.extensions import db
    from devtracker.storage.inserts import insert_returning_ids
    from devtracker.storage.ordering import NOTIFICATION_STREAM, _int32
    from tests.conftest import make_config
    from tests.databases import fresh_database

    wanted = {(NOTIFICATION_STREAM, _int32(u) & 0xFFFFFFFF) for u in ("bob", "carol")}
    query = "SELECT classid::int, objid::int FROM pg_locks WHERE locktype = 'advisory' AND "
    row = {"user_id": "bob", "seq": 1, "type": "mention", "title": "t", "message": "m", "read": False,
           "data": None, "created_at": utcnow()}
    with fresh_database(postgres_url, "devtracker_locks") as url:
        app = create_app(make_config(url))
        with app.app_context():
            db.create_all()
            writer, other = db.writer_engine(app), create_engine(db.engine.url)
            try:
                with writer.connect() as connection:
                    connection.begin()
                    [new_id] = insert_returning_ids(Notification.__table__, [row], connection,
                                                    [(NOTIFICATION_STREAM, ["carol", "bob"])])
                    with other.connect() as conn:
                        held = conn.execute(text(query + "granted AND " + THIS_DATABASE)).all()
                        assert {(s, k & 0xFFFFFFFF) for s, k in held} >= wanted
                        connection.commit()
                        still = conn.execute(text(query + THIS_DATABASE)).all()
                        assert not {(s, k & 0xFFFFFFFF) for s, k in still} & wanted
                        stored = conn.execute(text("SELECT id, user_id FROM notifications")).all()
                assert [tuple(r) for r in stored] == [(new_id, "bob")]
            finally:
                other.dispose()
                writer.dispose()
                app.extensions["devtracker.namespace"].stop()
                db.session.remove()
                db.engine.dispose()


def test_a_replay_waits_for_batches_committed_before_it_to_publish():
    from devtracker.storage.commits import GroupCommit
    group = GroupCommit()
    group.committing, group.published = 3, 1  # two batches between commit and publish
    naps = []

    def sleep(seconds):  # the batches publish while the reader naps
        naps.append(seconds)
        group.published += 1

    assert group.wait_published(sleep) is True
    assert len(naps) == 2 and group.published == 3
    group.committing = 4  # a batch that never publishes: the wait gives up, it does not hang
    assert group.wait_published(lambda seconds: None, timeout=0.01) is False


SMALL_POOL = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 1}


@pytest.mark.parametrize("config_overrides", [{"SQLALCHEMY_ENGINE_OPTIONS": SMALL_POOL}])
def test_batches_are_written_on_a_connection_of_their_own(app, db, auth, config_overrides):
    """Requests that wait for a batch may hold every connection of the app's pool; the batch
    does not need one of them."""
    client = app.test_client()
    held = db.engine.connect()
    held.exec_driver_sql("SELECT 1")
    try:
        response = client.post(f"{API}/notify/bob", json=NOTE, headers=auth("svc", "service"))
    finally:
        held.close()
    stored = assert_ok(response, 201)
    assert db.session.execute(select(Notification.id)).scalars().all() == [stored["id"]]
    assert group(app).batches == 1


def test_an_in_memory_database_is_written_through_the_session(auth):
    """Only the app engine's one connection sees an in-memory SQLite database: batches use it."""
    from devtracker import create_app
    from devtracker.extensions import db
    from tests.conftest import make_config

    app = create_app(make_config("sqlite://"))
    try:
        with app.app_context():
            db.create_all()
            assert group(app).writer() is None
            client = app.test_client()
            ids = [assert_ok(client.post(f"{API}/notify/bob", json=NOTE, headers=auth("svc", "service")),
                             201)["id"] for _ in range(3)]
            assert ids == [1, 2, 3]
            assert db.session.execute(select(Notification.id)).scalars().all() == ids
    finally:
        app.extensions["devtracker.namespace"].stop()


def test_batches_keep_their_connection(app, db, auth):
    """One checkout for many batches: on PostgreSQL each checkout costs a liveness ping."""
    from sqlalchemy import event

    writer = group(app).writer()
    checkouts = []
    event.listen(writer.pool, "checkout", lambda *args: checkouts.append(1))
    client = app.test_client()
    for _ in range(3):
        assert_ok(client.post(f"{API}/notify/bob", json=NOTE, headers=auth("svc", "service")), 201)
    assert group(app).batches == 3
    assert len(checkouts) == 1


def _drop_connection(db, connection):
    """The database ends the connection under the batches' feet (a restart, an idle timeout)."""
    if connection.dialect.name == "postgresql":
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        connection.commit()
        db.session.execute(select(db.func.pg_terminate_backend(pid)))
        db.session.commit()
    else:
        connection.connection.dbapi_connection.close()


def test_a_batch_whose_connection_was_dropped_is_written_and_the_next_gets_a_new_one(app, db, auth):
    client = app.test_client()
    headers = auth("svc", "service")
    first = assert_ok(client.post(f"{API}/notify/bob", json=NOTE, headers=headers), 201)["id"]
    kept = group(app)._connection
    _drop_connection(db, kept)

    second = assert_ok(client.post(f"{API}/notify/bob", json=NOTE, headers=headers), 201)["id"]
    third = assert_ok(client.post(f"{API}/notify/bob", json=NOTE, headers=headers), 201)["id"]
    assert group(app)._connection is not kept
    db.session.expire_all()
    assert db.session.execute(select(Notification.id).order_by(Notification.id)).scalars().all() == [
        first, second, third]
