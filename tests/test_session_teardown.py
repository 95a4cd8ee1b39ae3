"""A request whose database connection dies under its transaction (a PostgreSQL restart) keeps
the answer it made: the session is dropped at teardown instead of failing the request with a
bare 500 from the server (the rollback of a dead connection raised out of Flask)."""
import logging

import pytest
from sqlalchemy import create_engine, text

from devtracker import create_app
from devtracker.extensions import db
from tests.conftest import make_config


@pytest.fixture
def pg_app(postgres_url):
    app = create_app(make_config(postgres_url))
    app.config["PROPAGATE_EXCEPTIONS"] = True  # a teardown error reaches the test, as it reached the server

    @app.get("/probe/connection-dies")
    def connection_dies():
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()  # opens a transaction
        killer = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1))
        with killer.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killer.dispose()
        return {"answered": True}

    yield app
    app.extensions["devtracker.namespace"].stop()
    with app.app_context():
        db.engine.dispose()


def test_a_session_whose_connection_died_is_dropped_and_the_answer_stands(pg_app, caplog):
    with caplog.at_level(logging.WARNING, logger="devtracker.extensions"):
        response = pg_app.test_client().get("/probe/connection-dies")
    assert response.status_code == 200 and response.get_json() == {"answered": True}
    assert any("dropped a database session whose connection broke" in r.getMessage() for r in caplog.records)
    with pg_app.app_context():  # the pool hands out a working connection afterwards
        assert db.session.execute(text("SELECT 1")).scalar() == 1
        db.session.remove()
