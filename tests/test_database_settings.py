"""SQLite runs in WAL mode with every commit fsynced (synchronous=FULL) unless told otherwise."""
import sqlite3

import pytest
from sqlalchemy import text

from devtracker import create_app
from devtracker.config import ConfigError, load_config
from devtracker.extensions import db
from tests.conftest import make_config

FULL, NORMAL = 2, 1


def pragmas(app):
    with app.app_context():
        with db.engine.connect() as conn:
            journal = conn.execute(text("PRAGMA journal_mode")).scalar()
            synchronous = conn.execute(text("PRAGMA synchronous")).scalar()
            busy = conn.execute(text("PRAGMA busy_timeout")).scalar()
        db.engine.dispose()
    return journal, synchronous, busy


def test_file_database_is_wal_with_full_synchronous_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("SQLITE_SYNCHRONOUS", raising=False)
    path = tmp_path / "durable.db"
    app = create_app(make_config(f"sqlite:///{path}"))
    assert pragmas(app) == ("wal", FULL, 5000)
    # WAL is a property of the file: any other connection (a backup tool, the CLI) sees it.
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_normal_synchronous_is_an_explicit_choice(tmp_path, monkeypatch):
    monkeypatch.setenv("SQLITE_SYNCHRONOUS", "normal")
    monkeypatch.setenv("SQLITE_BUSY_TIMEOUT_SECONDS", "2.5")
    app = create_app(make_config(f"sqlite:///{tmp_path / 'fast.db'}"))
    assert app.config["SQLITE_SYNCHRONOUS"] == "NORMAL"
    assert pragmas(app) == ("wal", NORMAL, 2500)


@pytest.mark.parametrize("value", ["OFF", "0", "fast"])
def test_synchronous_off_is_refused(monkeypatch, value):
    monkeypatch.setenv("SQLITE_SYNCHRONOUS", value)
    with pytest.raises(ConfigError, match="SQLITE_SYNCHRONOUS"):
        load_config("development")


def test_commits_survive_a_new_connection(tmp_path):
    """What a commit wrote is in the file for the next connection, WAL or not."""
    path = tmp_path / "visible.db"
    app = create_app(make_config(f"sqlite:///{path}"))
    with app.app_context():
        db.create_all()
        db.session.execute(text("INSERT INTO users (id, username, role, created_at) "
                                "VALUES ('u1', 'U', 'user', CURRENT_TIMESTAMP)"))
        db.session.commit()
        with sqlite3.connect(path) as raw:
            assert raw.execute("SELECT username FROM users WHERE id = 'u1'").fetchone() == ("U",)
        db.session.remove()
        db.engine.dispose()


def test_only_server_databases_check_connections_taken_from_the_pool(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///instance/x.db")
    assert "pool_pre_ping" not in load_config("development").SQLALCHEMY_ENGINE_OPTIONS
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    assert load_config("development").SQLALCHEMY_ENGINE_OPTIONS["pool_pre_ping"] is True
