"""The write path's compiled inserts (storage/inserts.py) store exactly what SQLAlchemy's own
execution of the same insert stores, on SQLite and on PostgreSQL."""
from datetime import datetime, timezone

from sqlalchemy import insert, select

from devtracker.models import Activity, Notification
from devtracker.storage import inserts


def notification_row(user_id, data, seq=1):
    return {"user_id": user_id, "seq": seq, "type": "mention", "title": "Tï", "message": "m\u00e9", "task_id": None,
            "data": data, "read": False, "created_by": "svc",
            "created_at": datetime(2026, 11, 26, 4, 51, 7, 123456, tzinfo=timezone.utc)}


def stored(db, table, ids):
    return [dict(row._mapping) | {"id": None}
            for row in db.session.execute(select(table).where(table.c.id.in_(ids)).order_by(table.c.id))]


def test_a_compiled_insert_stores_what_sqlalchemy_stores(db):
    table = Notification.__table__
    data = {"nested": {"list": [1, 2.5, None, True], "text": "\u2603"}, "seq": 7}
    row = notification_row("alice", data)
    assert inserts.row_insert(table, tuple(sorted(row)), db.session.connection().dialect).usable
    [fast] = inserts.insert_returning_ids(table, [dict(row)])
    slow = db.session.execute(insert(table).returning(table.c.id), dict(row, seq=2)).scalar_one()
    db.session.commit()
    assert slow == fast + 1
    assert stored(db, table, [fast]) == [r | {"seq": 1} for r in stored(db, table, [slow])]
    assert stored(db, table, [fast])[0]["data"] == data


def test_batches_keep_their_order_and_nulls(db):
    table = Notification.__table__
    rows = [notification_row(f"u{i}", None if i % 2 else {"i": i}) for i in range(5)]
    ids = inserts.insert_returning_ids(table, [dict(r) for r in rows])
    db.session.commit()
    assert ids == sorted(ids) and len(set(ids)) == 5
    got = db.session.execute(select(Notification.user_id, Notification.data).where(Notification.id.in_(ids))
                             .order_by(Notification.id)).all()
    assert [tuple(g) for g in got] == [(f"u{i}", None if i % 2 else {"i": i}) for i in range(5)]


def test_a_row_without_every_column_goes_through_sqlalchemy(db):
    """`read` and `created_at` have column defaults: a row without them needs SQLAlchemy to
    fill them in, so the compiled insert is not used for it."""
    table = Notification.__table__
    row = {k: v for k, v in notification_row("bob", None).items() if k not in ("read", "created_at")}
    assert not inserts.row_insert(table, tuple(sorted(row)), db.session.connection().dialect).usable
    [new_id] = inserts.insert_returning_ids(table, [row])
    db.session.commit()
    notification = db.session.get(Notification, new_id)
    assert notification.read is False and notification.created_at is not None


def test_activity_rows_use_the_compiled_insert(db):
    table = Activity.__table__
    row = {"user_id": "alice", "seq": 1, "username": "Alice", "type": "task", "action": "updated", "target": "T",
           "task_id": "task_1", "data": {"task": {"seq": 1}}, "recorded_by": "svc",
           "created_at": datetime(2026, 11, 26, 4, 51, 7, tzinfo=timezone.utc)}
    assert inserts.row_insert(table, tuple(sorted(row)), db.session.connection().dialect).usable
    [new_id] = inserts.insert_returning_ids(table, [row])
    db.session.commit()
    assert db.session.get(Activity, new_id).data == {"task": {"seq": 1}}


def test_the_rest_write_path_uses_the_compiled_inserts(client, auth, monkeypatch):
    ran = []
    real = inserts.RowInsert.run

    def counting(self, cursor, row, before=None):
        ran.append(self.sql.split()[2])
        return real(self, cursor, row, before)

    monkeypatch.setattr(inserts.RowInsert, "run", counting)
    api = "/api/v1/realtime"
    assert client.post(f"{api}/notify/bob", headers=auth("svc", "service"),
                       json={"type": "mention", "title": "t", "message": "m"}).status_code == 201
    assert client.post(f"{api}/task/update", headers=auth("svc", "service"),
                       json={"taskId": "task_1", "action": "updated", "task": {"title": "T"}}).status_code == 200
    assert client.post(f"{api}/activity", headers=auth("alice"),
                       json={"type": "task", "action": "commented", "target": "T"}).status_code == 201
    assert [name.strip('"') for name in ran] == ["notifications", "activity", "activity"]


def test_a_compiled_batch_stores_what_sqlalchemy_stores(db):
    """Several rows: one statement on PostgreSQL (RowsInsert), one per row on SQLite; the same
    rows as SQLAlchemy's own multi-row insert, in the same order."""
    table = Notification.__table__
    rows = [notification_row(f"u{i}", [None, {"i": i, "s": "\u2603"}, [1, "two"]][i % 3]) | {
        "task_id": None if i % 2 else f"task_{i}", "read": bool(i % 2)} for i in range(7)]
    dialect = db.session.connection().dialect
    if dialect.name == "postgresql":
        assert inserts.rows_insert(table, tuple(sorted(rows[0])), len(rows), dialect).usable
    fast = inserts.insert_returning_ids(table, [dict(r) for r in rows])
    slow = list(db.session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                                   [dict(r, seq=2) for r in rows]).scalars())
    db.session.commit()
    assert fast == sorted(fast) and slow == sorted(slow) and fast[-1] < slow[0]
    assert stored(db, table, fast) == [r | {"seq": 1} for r in stored(db, table, slow)]
    assert [s["user_id"] for s in stored(db, table, fast)] == [f"u{i}" for i in range(7)]


def test_more_rows_than_one_compiled_statement_takes_go_through_sqlalchemy(db):
    table = Notification.__table__
    count = inserts.MAX_ROWS + 3
    ids = inserts.insert_returning_ids(table, [notification_row(f"u{i}", {"i": i}) for i in range(count)])
    db.session.commit()
    assert ids == sorted(ids) and len(set(ids)) == count
    assert [s["data"] for s in stored(db, table, ids)] == [{"i": i} for i in range(count)]


def test_postgresql_batches_refuse_a_value_too_long_rather_than_cut_it(postgres_url):
    """An explicit cast to VARCHAR(n) would cut the value to n characters: the batch casts to
    VARCHAR, so the column refuses it as a one-row insert does."""
    import psycopg2
    import pytest
    from sqlalchemy import create_engine, func

    from devtracker.extensions import db
    from tests.databases import fresh_database

    with fresh_database(postgres_url, "devtracker_batch") as url:
        engine = create_engine(url)
        try:
            db.metadata.create_all(engine)
            rows = [notification_row("u" * 200, None), notification_row("bob", None)]
            with engine.connect() as connection:
                connection.begin()
                with pytest.raises(psycopg2.DataError, match="too long"):
                    inserts.insert_returning_ids(Notification.__table__, rows, connection)
            with engine.connect() as connection:
                assert connection.execute(select(func.count()).select_from(Notification.__table__)).scalar() == 0
        finally:
            engine.dispose()
