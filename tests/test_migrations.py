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

HEAD = "0001_initial"


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
