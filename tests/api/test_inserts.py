"""The write path's compiled inserts (services/inserts.py) store exactly what SQLAlchemy's own
execution of the same insert stores, on SQLite and on PostgreSQL."""
from datetime import datetime, timezone

from sqlalchemy import insert, select

from devtracker.models import Activity, Notification
from devtracker.services import inserts


def notification_row(user_id, data):
    return {"user_id": user_id, "type": "mention", "title": "Tï", "message": "m\u00e9", "task_id": None,
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
    slow = db.session.execute(insert(table).returning(table.c.id), dict(row)).scalar_one()
    db.session.commit()
    assert slow == fast + 1
    assert stored(db, table, [fast]) == stored(db, table, [slow])
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
    row = {"user_id": "alice", "username": "Alice", "type": "task", "action": "updated", "target": "T",
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
