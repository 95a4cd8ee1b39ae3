"""The Alembic migrations build exactly the models' schema, on SQLite and on PostgreSQL, and undo it."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from devtracker import create_app
from devtracker.extensions import db
from devtracker.models import Activity, IdempotencyRecord, Notification, User  # noqa: F401  (register the tables)
from tests.conftest import make_config

HEAD = "0002_stream_seq"


@pytest.fixture(params=["sqlite", "postgresql"])
def migration_app(request, tmp_path):
    """An app on an empty database of the given kind, inside its app context."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrations.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    app = create_app(make_config(url))
    with app.app_context():
        assert table_names() == set(), "the database must start empty"
        yield app
        db.session.remove()
        if request.param == "postgresql":  # the database is shared by the session: leave it empty
            db.metadata.drop_all(db.engine)
            with db.engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.engine.dispose()


def table_names():
    return set(inspect(db.engine).get_table_names())


def model_tables():
    return set(db.metadata.tables)


def current_revision():
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_differences():
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "compare_server_default": True})
        return compare_metadata(context, db.metadata)


def test_the_models_define_the_four_tables():
    assert model_tables() == {"activity", "idempotency_keys", "notifications", "users"}


def test_upgrade_from_empty_creates_every_table_at_head(migration_app):
    upgrade()
    assert table_names() == model_tables() | {"alembic_version"}
    assert current_revision() == HEAD


def test_upgrade_creates_every_index_of_the_models(migration_app):
    upgrade()
    inspector = inspect(db.engine)
    for table in db.metadata.sorted_tables:
        created = {ix["name"]: tuple(ix["column_names"]) for ix in inspector.get_indexes(table.name)}
        declared = {ix.name: tuple(c.name for c in ix.columns) for ix in table.indexes}
        assert created == declared, table.name


def test_upgrade_creates_the_named_primary_keys(migration_app):
    upgrade()
    inspector = inspect(db.engine)
    for table in db.metadata.sorted_tables:
        created = inspector.get_pk_constraint(table.name)
        assert created["constrained_columns"] == [c.name for c in table.primary_key.columns]
        if db.engine.dialect.name == "postgresql":  # SQLite does not keep constraint names
            assert created["name"] == f"pk_{table.name}"


def test_autogenerate_finds_no_difference_between_migrations_and_models(migration_app):
    upgrade()
    assert schema_differences() == []


def test_downgrade_to_base_removes_every_table(migration_app):
    upgrade()
    downgrade(revision="base")
    assert table_names() - {"alembic_version"} == set()
    assert current_revision() is None


def test_upgrade_downgrade_upgrade_round_trips(migration_app):
    upgrade()
    downgrade(revision="base")
    upgrade()
    assert table_names() == model_tables() | {"alembic_version"}
    assert schema_differences() == []


def test_the_migrated_schema_stores_and_numbers_rows(migration_app, auth):
    upgrade()
    client = migration_app.test_client()
    headers = auth("svc", "service")
    ids = []
    for n in range(3):
        response = client.post("/api/v1/realtime/notify/bob", headers=headers,
                               json={"type": "update", "title": f"t{n}", "message": "m",
                                     "data": {"n": n, "nested": {"ok": True}}})
        assert response.status_code == 201, response.get_data(as_text=True)
        ids.append(response.get_json()["data"]["id"])
        assert response.get_json()["data"]["data"] == {"n": n, "nested": {"ok": True}}
    assert ids == sorted(ids) and ids[0] >= 1 and len(set(ids)) == 3


def _insert_at_0001(table, rows):
    with db.engine.begin() as conn:
        for row in rows:
            conn.execute(text(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})"),
                         row)


def test_upgrade_numbers_existing_rows_in_id_order_per_stream(migration_app, auth):
    """A database populated before `seq` existed: each stream is numbered 1, 2, 3 ... in id
    order, and the next write goes on from there."""
    upgrade(revision="0001_initial")
    now = "2026-01-01 00:00:00"
    users = ["bob", "alice", "bob", "carol", "alice", "bob"]
    _insert_at_0001("notifications", [
        {"user_id": u, "type": "update", "title": f"t{i}", "message": "m", "read": False,
         "created_at": now} for i, u in enumerate(users)])
    _insert_at_0001("activity", [
        {"user_id": "alice", "username": "Alice", "type": "task", "action": "created",
         "target": f"a{i}", "created_at": now} for i in range(4)])
    with db.engine.begin() as conn:  # a hole in the ids, as pruning leaves
        conn.execute(text("DELETE FROM activity WHERE target = 'a1'"))
    upgrade()
    assert current_revision() == HEAD
    with db.engine.connect() as conn:
        notes = conn.execute(text("SELECT user_id, seq FROM notifications ORDER BY id")).all()
        activity = conn.execute(text("SELECT target, seq FROM activity ORDER BY id")).all()
    assert [tuple(n) for n in notes] == [("bob", 1), ("alice", 1), ("bob", 2), ("carol", 1),
                                         ("alice", 2), ("bob", 3)]
    assert [tuple(a) for a in activity] == [("a0", 1), ("a2", 2), ("a3", 3)]
    assert schema_differences() == []
    client = migration_app.test_client()
    response = client.post("/api/v1/realtime/notify", headers=auth("svc", "service"),
                           json={"userIds": ["bob", "dave", "alice"], "type": "update",
                                 "title": "t", "message": "m"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert [n["seq"] for n in response.get_json()["data"]["notifications"]] == [4, 1, 3]
    response = client.post("/api/v1/realtime/activity", headers=auth("alice"),
                           json={"type": "task", "action": "created", "target": "a4"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["data"]["seq"] == 4


def test_upgrade_keeps_ids_from_being_reused(migration_app):
    """The SQLite table rebuild keeps AUTOINCREMENT: a deleted newest id is not handed out again."""
    upgrade()
    now = "2026-01-01 00:00:00"
    _insert_at_0001("activity", [{"user_id": "a", "username": "A", "type": "task", "action": "x",
                                  "target": "t", "created_at": now, "seq": s} for s in (1, 2)])
    with db.engine.begin() as conn:
        newest = conn.execute(text("SELECT max(id) FROM activity")).scalar()
        conn.execute(text("DELETE FROM activity WHERE id = :id"), {"id": newest})
    _insert_at_0001("activity", [{"user_id": "a", "username": "A", "type": "task", "action": "x",
                                  "target": "t", "created_at": now, "seq": 3}])
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT max(id) FROM activity")).scalar() == newest + 1
